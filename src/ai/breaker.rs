//! A circuit breaker: after `threshold` consecutive transient failures the
//! vendor is left alone for `cooldown`; then one call probes it. A success
//! closes the circuit again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::default()),
        }
    }

    /// `Err(wait)` while open. Past the cooldown one caller gets through (the
    /// probe) and the circuit stays open for the others until it reports.
    pub fn allow(&self) -> Result<(), Duration> {
        let mut s = self.state.lock().expect("breaker lock");
        match s.open_until {
            Some(until) if until > Instant::now() => Err(until - Instant::now()),
            Some(_) => {
                s.open_until = Some(Instant::now() + self.cooldown);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Like [`Breaker::allow`], without taking the probe: for a worker that
    /// only wants to know whether to bother claiming work.
    pub fn allow_peek(&self) -> Result<(), Duration> {
        match self.state.lock().expect("breaker lock").open_until {
            Some(until) if until > Instant::now() => Err(until - Instant::now()),
            _ => Ok(()),
        }
    }

    /// Whether calls are being held back now (for the metrics).
    pub fn is_open(&self) -> bool {
        self.allow_peek().is_err()
    }

    pub fn success(&self) {
        *self.state.lock().expect("breaker lock") = State::default();
    }

    pub fn failure(&self) {
        let mut s = self.state.lock().expect("breaker lock");
        s.failures += 1;
        if s.failures >= self.threshold {
            s.open_until = Some(Instant::now() + self.cooldown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_probes_after_cooldown() {
        let b = Breaker::new(2, Duration::from_millis(30));
        assert!(b.allow().is_ok());
        b.failure();
        assert!(b.allow().is_ok());
        b.failure();
        assert!(b.allow().is_err(), "open after two failures");
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allow().is_ok(), "one probe after the cooldown");
        assert!(b.allow().is_err(), "others wait for the probe");
        b.success();
        assert!(b.allow().is_ok());
    }
}
