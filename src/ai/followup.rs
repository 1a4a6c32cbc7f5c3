//! Estimates that keep up: when a task gets its actual duration, the open
//! tasks of the same tenant that are similar to it, and whose estimate had
//! nothing real to go on ("not enough history yet", or a number built only
//! from other estimates), are estimated again. Each one goes through the
//! durable queue (marked pending, its job a row), at most
//! [`MAX_PER_EVENT`] per recorded duration, so one completion never floods
//! the vendor; the UI sees them pending and then ready without a reload.

use std::sync::Arc;

use tracing::Instrument;

use super::Ai;
use crate::store::prelude::*;
use crate::store::{EstimateJob, EstimateStatus, TenantStore, Todo};

/// The most open tasks one recorded duration re-estimates.
pub const MAX_PER_EVENT: usize = 10;
/// How many neighbours are looked at to find them.
const CANDIDATES: i64 = 30;

/// An open task whose estimate the new actual duration could improve.
fn could_improve(todo: &Todo) -> bool {
    if todo.complete {
        return false;
    }
    match todo.estimate_status {
        EstimateStatus::InsufficientHistory => true,
        EstimateStatus::Ready => {
            let basis: Vec<serde_json::Value> = todo
                .estimate_basis
                .as_ref()
                .and_then(|raw| serde_json::from_str(raw.get()).ok())
                .unwrap_or_default();
            !basis.iter().any(|b| b["actual"] == serde_json::Value::Bool(true))
        }
        _ => false,
    }
}

impl Ai {
    /// Queues the re-estimates `done`'s new duration calls for. With the
    /// built-in model the neighbours are found and marked pending before
    /// this returns (embedding is microseconds), so the caller's next read
    /// already sees them; with a vendor the whole search runs in the
    /// background. The estimates themselves always run in the background,
    /// tracked (shutdown waits for them).
    pub async fn reestimate_neighbours(self: &Arc<Self>, tenant: TenantStore, done: Todo) {
        let ai = Arc::clone(self);
        let span = tracing::info_span!("reestimate_neighbours", tenant_id = %tenant.tenant_id(), todo_id = %done.id);
        let work = async move {
            let jobs = match ai.queue_neighbours(&tenant, &done).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "similar open tasks not re-estimated");
                    return;
                }
            };
            if jobs.is_empty() {
                return;
            }
            tracing::info!(count = jobs.len(), "re-estimating similar open tasks");
            let ai2 = Arc::clone(&ai);
            ai.tasks.spawn(
                async move {
                    for job in jobs {
                        Arc::clone(&ai2).run_job(tenant.clone(), job).await;
                    }
                }
                .in_current_span(),
            );
        }
        .instrument(span);
        if self.embedder.is_local() {
            work.await;
        } else {
            self.tasks.spawn(work);
        }
    }

    async fn queue_neighbours(&self, tenant: &TenantStore, done: &Todo) -> Result<Vec<EstimateJob>, String> {
        let (query, _) = self
            .embedder
            .embed_title(&done.title)
            .await
            .map_err(|e| e.to_string())?;
        let near = tenant
            .similar(
                &query,
                self.embedder.model(),
                CANDIDATES,
                self.config.max_distance,
                Some(done.id),
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut jobs = Vec::new();
        for neighbour in near {
            if jobs.len() == MAX_PER_EVENT {
                break;
            }
            let Some(todo) = tenant.todo(neighbour.id).await.map_err(|e| e.to_string())? else {
                continue;
            };
            if !could_improve(&todo) {
                continue;
            }
            if let Some((_, job)) = tenant.request_estimate(todo.id).await.map_err(|e| e.to_string())? {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }
}
