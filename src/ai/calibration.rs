//! Calibration from the team's own actuals: a chat model's estimates can run
//! consistently long or short for a team. Over the tenant's most recent
//! timed tasks that the model estimated, the typical ratio actual ÷ what the
//! model said is learned and applied to the model's next estimates — for
//! that tenant only (the samples are read through the tenant handle).
//!
//! Robust and cautious: the median ratio (on a log scale, so 2× long and
//! 2× short weigh the same), shrunk toward 1 by a prior worth a few tasks so
//! that three lucky tasks do not swing it, and left alone inside ±10 %
//! (an unbiased model stays untouched).

use super::parse::MAX_MINUTES;

/// How many of the latest timed tasks are looked at.
pub const WINDOW: i64 = 20;
/// Fewer samples than this: no adjustment at all.
const MIN_SAMPLES: usize = 3;
/// The prior's weight, in tasks, at ratio 1.
const PRIOR_TASKS: f64 = 4.0;
/// Adjustments smaller than this are noise: left alone.
const DEAD_BAND: f64 = 0.10;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// What the model's minutes are multiplied by.
    pub factor: f64,
    /// How many timed tasks it was learned from.
    pub samples: usize,
}

impl Calibration {
    /// Learns from (actual minutes, model minutes) pairs, newest first.
    /// `None` when there are too few, or the model is not off by enough.
    pub fn learn(pairs: &[(i32, i32)]) -> Option<Self> {
        let logs: Vec<f64> = pairs
            .iter()
            .filter(|(actual, model)| *actual > 0 && *model > 0)
            .map(|(actual, model)| (f64::from(*actual) / f64::from(*model)).ln())
            .collect();
        let n = logs.len();
        if n < MIN_SAMPLES {
            return None;
        }
        let median = super::stats::median(logs)?;
        let shrunk = median * n as f64 / (n as f64 + PRIOR_TASKS);
        let factor = shrunk.exp();
        ((factor - 1.0).abs() >= DEAD_BAND).then_some(Self { factor, samples: n })
    }

    /// The model's minutes, adjusted, rounded to whole minutes within range.
    pub fn apply(&self, minutes: u32) -> u32 {
        ((f64::from(minutes) * self.factor).round() as u32).clamp(1, MAX_MINUTES)
    }

    /// What the basis says: "adjusted +25 % from this team's last 12 timed tasks".
    pub fn note(&self) -> String {
        let percent = ((self.factor - 1.0) * 100.0).round() as i64;
        let tasks = if self.samples == 1 { "task" } else { "tasks" };
        format!(
            "adjusted {percent:+} % from this team's last {} timed {tasks}",
            self.samples
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_few_samples_change_nothing() {
        assert_eq!(Calibration::learn(&[]), None);
        assert_eq!(Calibration::learn(&[(200, 100), (200, 100)]), None);
    }

    #[test]
    fn a_consistent_bias_is_learned_and_shrunk_toward_one() {
        // The model says half of what it takes, twelve times.
        let pairs = vec![(120, 60); 12];
        let c = Calibration::learn(&pairs).unwrap();
        assert_eq!(c.samples, 12);
        // ln 2 · 12/16 → ×1.68: most of the way to 2, not all of it.
        assert!((c.factor - 2f64.powf(12.0 / 16.0)).abs() < 1e-9, "{c:?}");
        assert_eq!(c.apply(60), 101);
        assert_eq!(c.note(), "adjusted +68 % from this team's last 12 timed tasks");
        // Three tasks move it less than twelve.
        let few = Calibration::learn(&pairs[..3]).unwrap();
        assert!(few.factor < c.factor, "{few:?}");
    }

    #[test]
    fn the_median_ignores_one_wild_task() {
        let mut pairs = vec![(80, 100); 10];
        pairs.push((1000, 10)); // a task left running for days
        let c = Calibration::learn(&pairs).unwrap();
        assert!(c.factor < 1.0, "{c:?}");
        assert!(c.note().starts_with("adjusted -"), "{}", c.note());
    }

    #[test]
    fn an_unbiased_model_is_left_alone() {
        // Off both ways by up to 30 %, centred on the truth.
        let pairs: Vec<(i32, i32)> = [130, 70, 110, 90, 100, 125, 75, 105, 95, 100]
            .into_iter()
            .map(|actual| (actual, 100))
            .collect();
        assert_eq!(Calibration::learn(&pairs), None);
    }

    #[test]
    fn adjusted_minutes_stay_in_range() {
        let c = Calibration {
            factor: 3.0,
            samples: 20,
        };
        assert_eq!(c.apply(MAX_MINUTES), MAX_MINUTES);
        let c = Calibration {
            factor: 0.01,
            samples: 20,
        };
        assert_eq!(c.apply(10), 1);
    }
}
