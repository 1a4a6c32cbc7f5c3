//! The durable estimate queue. A table holding ids only (tenant, todo,
//! attempts, timing), keyed and (on Citus) distributed by tenant: the worker
//! finds work across tenants here, then reads and writes the todo through the
//! claimed job's tenant handle. Every statement is one body for both
//! backends, claiming included: it takes no row locks (Citus refuses
//! `FOR UPDATE` on distributed tables), see [`Store::claim_estimate_jobs`].

use chrono::{DateTime, Utc};

use uuid::Uuid;

use super::backend::on;
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

/// Queues the estimate of `$id` in `$tenant` on `$c`, due now (for the
/// worker: an imported todo whose estimate was pending).
macro_rules! enqueue_due {
    ($c:ident, $tenant:expr, $id:expr) => {{
        sqlx::query(
            "INSERT INTO estimate_jobs (tenant_id, todo_id, attempts, next_at) VALUES ($1, $2, 0, $3)
             ON CONFLICT (tenant_id, todo_id) DO NOTHING",
        )
        .bind($tenant.0)
        .bind($id.0)
        .bind(chrono::Utc::now())
        .execute(&mut *$c)
        .await?;
    }};
}
pub(super) use enqueue_due;

impl EstimateQueue for Store {
    /// Reads up to `limit` due jobs, then claims each with one conditional
    /// `UPDATE` that re-checks that it is still unclaimed. Two claimers racing
    /// for a job both run the `UPDATE`; the second sees the first's lease
    /// (PostgreSQL re-evaluates the condition once the first commits; SQLite
    /// has one writer) and gets no row. No row locks are held, so this runs on
    /// Citus as on plain PostgreSQL and SQLite: one read across shards, then
    /// one single-shard statement per job (docs/scaling.md).
    async fn claim_estimate_jobs(&self, limit: i64) -> Result<Vec<ClaimedJob>> {
        let now = Utc::now();
        let lease = lease_from(now);
        let due: Vec<(Uuid, Uuid)> = on!(read(&self.db), |c| sqlx::query_as(
            "SELECT tenant_id, todo_id FROM estimate_jobs
             WHERE next_at <= $1 AND (locked_until IS NULL OR locked_until < $1)
             ORDER BY next_at LIMIT $2"
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
        let mut rows = Vec::with_capacity(due.len());
        for (tenant, todo) in due {
            let claimed: Option<(Uuid, Uuid, i32)> = on!(write_one(&self.db), |c| sqlx::query_as(
                "UPDATE estimate_jobs SET locked_until = $4
                 WHERE tenant_id = $1 AND todo_id = $2
                   AND next_at <= $3 AND (locked_until IS NULL OR locked_until < $3)
                 RETURNING tenant_id, todo_id, attempts"
            )
            .bind(tenant)
            .bind(todo)
            .bind(now)
            .bind(lease)
            .fetch_optional(&mut *c)
            .await?);
            rows.extend(claimed);
        }
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

impl Store {
    /// The queue's depth, and since when the most overdue unclaimed job has
    /// been due (for the metrics).
    pub async fn queue_stats(&self) -> Result<(i64, Option<DateTime<Utc>>)> {
        Ok(on!(read(&self.db), |c| sqlx::query_as(
            "SELECT count(*), min(CASE WHEN next_at <= $1 AND (locked_until IS NULL OR locked_until < $1)
                                       THEN next_at END)
             FROM estimate_jobs"
        )
        .bind(Utc::now())
        .fetch_one(&mut *c)
        .await?))
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
