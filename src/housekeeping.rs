//! Housekeeping: work no request does, on a timer beside the server. Now:
//! ended sessions and API tokens and expired mailed links are deleted, once
//! at start and then every [`EVERY`], so those tables hold what can still be
//! used, not every sign-in ever made.
//!
//! Each instance runs it; the deletions are idempotent, so several
//! instances on one database only repeat each other's empty work.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::prelude::*;
use crate::store::Store;

/// How often the pass runs.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Runs the pass now and every [`EVERY`] until `stop` says so.
pub fn spawn(store: Store, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => once(&store).await,
                _ = stop.changed() => return,
            }
        }
    })
}

/// One pass; a failure is logged and the next pass tries again.
pub async fn once(store: &Store) {
    match store.prune_ended_credentials(chrono::Utc::now()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "housekeeping: ended sessions, tokens and links deleted"),
        Err(e) => tracing::warn!(error = %e, "housekeeping: cannot delete ended credentials"),
    }
}
