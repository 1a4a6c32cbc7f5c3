//! The durable estimate queue. A shared table holding ids only (tenant, todo,
//! attempts, timing): the worker finds work across tenants here, then reads
//! and writes the todo through the claimed job's tenant handle. Claiming is
//! per backend (SQLite's single writer vs. PostgreSQL's row locks); queuing
//! and settling are one body for both.

use chrono::{DateTime, Utc};

use super::backend::{on, Db};
use super::{ClaimedJob, EstimateJob, EstimateQueue, Jobs, Result, Store, TenantStore, JOB_LEASE};

/// When a lease taken now runs out.
pub(super) fn lease_from(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::from_std(JOB_LEASE).expect("the lease fits a chrono duration")
}

/// Queues the estimate of `$id` in `$tenant` on the open transaction `$c`,
/// leased to the caller, who tries it inline first. A macro so that the one
/// statement runs on either backend's transaction.
macro_rules! enqueue_leased {
    ($c:ident, $tenant:expr, $id:expr) => {{
        let now = chrono::Utc::now();
        sqlx::query(
            "INSERT INTO estimate_jobs (tenant_id, todo_id, attempts, next_at, locked_until) VALUES ($1, $2, 0, $3, $4)
             ON CONFLICT (tenant_id, todo_id) DO UPDATE
             SET attempts = 0, next_at = excluded.next_at, locked_until = excluded.locked_until, last_error = NULL",
        )
        .bind($tenant.0)
        .bind($id.0)
        .bind(now)
        .bind($crate::store::queue::lease_from(now))
        .execute(&mut *$c)
        .await?;
    }};
}
pub(super) use enqueue_leased;

impl EstimateQueue for Store {
    async fn claim_estimate_jobs(&self, limit: i64) -> Result<Vec<ClaimedJob>> {
        let rows = match &self.db {
            Db::Sqlite(s) => s.claim_estimate_jobs(limit).await?,
            Db::Postgres(p) => p.claim_estimate_jobs(limit).await?,
        };
        Ok(rows
            .into_iter()
            .map(|(tenant, todo, attempts)| ClaimedJob {
                tenant: self.tenant_handle(tenant.into()),
                job: EstimateJob {
                    todo_id: todo.into(),
                    attempts,
                },
            })
            .collect())
    }
}

impl Jobs for TenantStore {
    async fn retry_estimate_job(&self, job: &EstimateJob, next_at: DateTime<Utc>, error: &str) -> Result<()> {
        on!(write(&self.db), |c| sqlx::query(
            "UPDATE estimate_jobs SET attempts = attempts + 1, next_at = $3, locked_until = NULL, last_error = $4
             WHERE tenant_id = $1 AND todo_id = $2",
        )
        .bind(self.tenant.0)
        .bind(job.todo_id.0)
        .bind(next_at)
        .bind(error)
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(())
    }

    async fn finish_estimate_job(&self, job: &EstimateJob) -> Result<()> {
        on!(write(&self.db), |c| sqlx::query(
            "DELETE FROM estimate_jobs WHERE tenant_id = $1 AND todo_id = $2"
        )
        .bind(self.tenant.0)
        .bind(job.todo_id.0)
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(())
    }
}
