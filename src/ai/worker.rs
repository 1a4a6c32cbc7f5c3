//! The background worker: claims due estimate jobs from the durable queue
//! (across tenants; the queue holds ids only) and runs each in its tenant's
//! context. Restarting the server loses nothing: unfinished jobs are rows,
//! and a dead claimer's lease runs out.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::watch;

use super::Ai;
use crate::store::Store;

/// Jobs claimed (and run concurrently) per round.
const BATCH: i64 = 8;
/// How often an idle worker looks for due retries.
const POLL: Duration = Duration::from_millis(500);

/// Runs until `stop` turns true; jobs in flight then finish (or are
/// rescheduled) before it returns, so a graceful restart leaves no job
/// locked to a process that is gone.
pub fn spawn_worker(ai: Arc<Ai>, store: Store, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            if let Err(wait) = ai.breaker.allow_peek() {
                tokio::select! {
                    _ = stop.changed() => {}
                    () = tokio::time::sleep(wait.min(POLL * 4)) => {}
                }
                continue;
            }
            let jobs = match store.claim_estimate_jobs(BATCH).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "estimate worker: cannot claim jobs");
                    tokio::time::sleep(POLL * 4).await;
                    continue;
                }
            };
            if jobs.is_empty() {
                tokio::select! {
                    _ = stop.changed() => {}
                    () = ai.wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
                continue;
            }
            join_all(jobs.into_iter().map(|job| {
                let tenant = store.tenant_for_system(job.tenant_id);
                Arc::clone(&ai).run_job(tenant, job)
            }))
            .await;
        }
    })
}
