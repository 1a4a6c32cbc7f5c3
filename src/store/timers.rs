//! Timers: the [`Timers`] and [`TodoTimers`] contracts. One running timer
//! per user, on a task of one of their tenants, started through that
//! tenant's handle (the task checked in the same transaction); a row while
//! it runs, gone once stopped (or when its task or the membership goes).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::backend::on;
use super::{Result, Store, StoreError, TenantStore, Timers, TodoTimers};
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

impl TodoTimers for TenantStore {
    async fn start_timer(&self, user: UserId, todo: TodoId) -> Result<Timer> {
        let now = super::now();
        let row: TimerRow = on!(tenant_write(&self.db, self.tenant), |c| {
            let complete: Option<(bool,)> =
                sqlx::query_as("SELECT complete FROM todos WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant.0)
                    .bind(todo.0)
                    .fetch_optional(&mut *c)
                    .await?;
            match complete {
                None => return Err(StoreError::NotFound),
                Some((true,)) => return Err(StoreError::Refused("the task is done".into())),
                Some((false,)) => {}
            }
            sqlx::query_as(
                "INSERT INTO timers (user_id, tenant_id, todo_id, started_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id) DO UPDATE SET tenant_id = $2, todo_id = $3, started_at = $4
                 RETURNING tenant_id, todo_id, started_at",
            )
            .bind(user.0)
            .bind(self.tenant.0)
            .bind(todo.0)
            .bind(now)
            .fetch_one(&mut *c)
            .await?
        });
        Ok(row.at(now))
    }
}

impl Timers for Store {
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
