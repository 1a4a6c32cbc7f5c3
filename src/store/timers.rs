//! Timers: the [`Timers`] contract. One running timer per user, on a task of
//! one of their tenants (the caller checks the task through the tenant
//! handle before starting one); a row while it runs, gone once stopped.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::backend::on;
use super::{Result, Store, Timers};
use crate::domain::{TenantId, TodoId, UserId};

/// A running (or just stopped) timer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Timer {
    pub tenant_id: TenantId,
    pub todo_id: TodoId,
    pub started_at: DateTime<Utc>,
    /// Seconds from `started_at` to when this answer was made.
    pub elapsed_seconds: i64,
}

#[derive(sqlx::FromRow)]
struct TimerRow {
    tenant_id: Uuid,
    todo_id: Uuid,
    started_at: DateTime<Utc>,
}

impl TimerRow {
    fn at(self, now: DateTime<Utc>) -> Timer {
        Timer {
            tenant_id: self.tenant_id.into(),
            todo_id: self.todo_id.into(),
            started_at: self.started_at,
            elapsed_seconds: (now - self.started_at).num_seconds().max(0),
        }
    }
}

impl Timers for Store {
    async fn start_timer(&self, user: UserId, tenant: TenantId, todo: TodoId) -> Result<Timer> {
        let now = super::now();
        let row: TimerRow = on!(write_one(&self.db), |c| sqlx::query_as(
            "INSERT INTO timers (user_id, tenant_id, todo_id, started_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET tenant_id = $2, todo_id = $3, started_at = $4
             RETURNING tenant_id, todo_id, started_at",
        )
        .bind(user.0)
        .bind(tenant.0)
        .bind(todo.0)
        .bind(now)
        .fetch_one(&mut *c)
        .await?);
        Ok(row.at(now))
    }

    async fn running_timer(&self, user: UserId) -> Result<Option<Timer>> {
        let row: Option<TimerRow> = on!(read(&self.db), |c| sqlx::query_as(
            "SELECT tenant_id, todo_id, started_at FROM timers WHERE user_id = $1"
        )
        .bind(user.0)
        .fetch_optional(&mut *c)
        .await?);
        Ok(row.map(|r| r.at(super::now())))
    }

    async fn stop_timer(&self, user: UserId) -> Result<Option<Timer>> {
        let row: Option<TimerRow> = on!(write_one(&self.db), |c| sqlx::query_as(
            "DELETE FROM timers WHERE user_id = $1 RETURNING tenant_id, todo_id, started_at"
        )
        .bind(user.0)
        .fetch_optional(&mut *c)
        .await?);
        Ok(row.map(|r| r.at(super::now())))
    }
}
