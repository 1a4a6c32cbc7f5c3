//! The background worker: claims due estimate jobs from the durable queue
//! (across tenants; the queue holds ids only) and runs each in its tenant's
//! context. Restarting the server loses nothing: unfinished jobs are rows,
//! and a dead claimer's lease runs out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Ai;
use crate::store::prelude::*;
use crate::store::Store;

/// Jobs in flight at once. A slot is refilled as soon as its job ends, so
/// one slow job (up to the vendor timeout) never holds the others back.
const SLOTS: usize = 8;
/// How often an idle worker looks for due retries.
const POLL: Duration = Duration::from_millis(500);

/// Runs until `stop` turns true; jobs in flight then finish (or are
/// rescheduled) before it returns, so a graceful restart leaves no job
/// locked to a process that is gone.
pub fn spawn_worker(ai: Arc<Ai>, store: Store, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut running = JoinSet::new();
        while !*stop.borrow() {
            let wait = if let Err(wait) = ai.breaker.allow_peek() {
                // The vendor is resting: claim nothing until it may be tried.
                wait.min(POLL * 4)
            } else if running.len() < SLOTS {
                // The one place that claims jobs (clippy.toml): the worker.
                #[expect(clippy::disallowed_methods)]
                let claimed = store.claim_estimate_jobs((SLOTS - running.len()) as i64).await;
                match claimed {
                    Ok(jobs) if !jobs.is_empty() => {
                        for claimed in jobs {
                            running.spawn(Arc::clone(&ai).run_job(claimed.tenant, claimed.job));
                        }
                        continue;
                    }
                    Ok(_) => POLL,
                    Err(e) => {
                        tracing::warn!(error = %e, "estimate worker: cannot claim jobs");
                        POLL * 4
                    }
                }
            } else {
                // Every slot is busy: the next free one is the next event.
                Duration::MAX
            };
            tokio::select! {
                _ = stop.changed() => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = ai.wake.notified() => {}
                () = tokio::time::sleep(wait.min(POLL * 4)) => {}
            }
        }
        // Let the jobs in flight settle (the caller bounds how long).
        while running.join_next().await.is_some() {}
    })
}
