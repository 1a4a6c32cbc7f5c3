//! A tenant's todos and embeddings: the one column list and decoder of a
//! [`Todo`], and every todo query, once for both backends. Vector search and
//! saving embeddings differ per backend (a `vector` column and HNSW on
//! PostgreSQL, f32 blobs and sqlite-vec on SQLite) and live there.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::backend::{on, Db};
use super::models::TitleRow;
use super::queue::enqueue_leased;
use super::{
    Basis, Cursor, Embeddings, EstimateJob, EstimateOutcome, EstimateStatus, NewTodo, OpenWork, Page, PageRequest,
    Result, TenantStore, Todo, TodoPatch, Todos,
};
use crate::domain::{TodoFilter, TodoId};

/// The columns a [`Todo`] is read from, spliced in at compile time by
/// `concat!` (SQL text is never formatted at run time). The order is the
/// one the decoder below reads by.
macro_rules! todo_columns {
    () => {
        "id, tenant_id, title, complete, estimate, estimate_status, estimate_minutes, estimate_basis,
         estimate_error, actual_minutes, created_at, updated_at, estimate_low_minutes,
         estimate_high_minutes, estimate_model_minutes"
    };
    // A list without the basis: the same positions, NULL in its place (the
    // decoder leaves the field out of the answer).
    (lean) => {
        "id, tenant_id, title, complete, estimate, estimate_status, estimate_minutes, NULL,
         estimate_error, actual_minutes, created_at, updated_at, estimate_low_minutes,
         estimate_high_minutes, estimate_model_minutes"
    };
}

/// Decoded by position, in the order of `todo_columns!`: the derived
/// `FromRow` looks each column up by name, a hash per column per row (~10 %
/// of a list's CPU on PostgreSQL, BENCHMARKS.md).
impl<'r, R> sqlx::FromRow<'r, R> for Todo
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    Uuid: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    sqlx::types::Json<Box<RawValue>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let status: &str = row.try_get(5)?;
        Ok(Self {
            id: row.try_get::<Uuid, _>(0)?.into(),
            tenant_id: row.try_get::<Uuid, _>(1)?.into(),
            title: row.try_get(2)?,
            complete: row.try_get(3)?,
            estimate: row.try_get(4)?,
            estimate_status: EstimateStatus::parse(status).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "estimate_status".into(),
                source: format!("unknown estimate status {status:?}").into(),
            })?,
            estimate_minutes: row.try_get(6)?,
            estimate_basis: row
                .try_get::<Option<sqlx::types::Json<Box<RawValue>>>, _>(7)?
                .map(|j| j.0),
            estimate_error: row.try_get(8)?,
            actual_minutes: row.try_get(9)?,
            created_at: row.try_get(10)?,
            updated_at: row.try_get(11)?,
            estimate_low_minutes: row.try_get(12)?,
            estimate_high_minutes: row.try_get(13)?,
            estimate_model_minutes: row.try_get(14)?,
        })
    }
}

impl Todos for TenantStore {
    async fn list_todos(&self, filter: TodoFilter, page: PageRequest<TodoId>) -> Result<Page<Todo, TodoId>> {
        let (at, key) = page.after.map(|c| (c.at, c.key.0)).unzip();
        // Two statements, not a flag in one: each stays one prepared plan.
        macro_rules! list {
            ($($columns:tt)*) => {
                concat!(
                    "SELECT ",
                    todo_columns!($($columns)*),
                    " FROM todos WHERE tenant_id = $1 AND ($2 IS NULL OR complete = $2)
                        AND ($3 IS NULL OR created_at < $3 OR (created_at = $3 AND id < $4))
                      ORDER BY created_at DESC, id DESC
                      LIMIT $5"
                )
            };
        }
        let sql = if filter.with_basis { list!() } else { list!(lean) };
        let rows: Vec<Todo> = on!(tenant_read(&self.db, self.tenant), |c| sqlx::query_as(sql)
            .bind(self.tenant.0)
            .bind(filter.complete)
            .bind(at)
            .bind(key)
            .bind(page.limit + 1)
            .fetch_all(&mut *c)
            .await?);
        Ok(Page::from_rows(rows, page.limit, |t| Cursor {
            at: t.created_at,
            key: t.id,
        }))
    }

    async fn todo(&self, id: TodoId) -> Result<Option<Todo>> {
        Ok(on!(tenant_read(&self.db, self.tenant), |c| sqlx::query_as(concat!(
            "SELECT ",
            todo_columns!(),
            " FROM todos WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(self.tenant.0)
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?))
    }

    async fn create_todo(&self, new: &NewTodo) -> Result<(Todo, Option<EstimateJob>)> {
        let id = TodoId::new();
        let now = super::now();
        let status = if new.estimate {
            EstimateStatus::Pending
        } else {
            EstimateStatus::Off
        };
        let todo: Todo = on!(tenant_write(&self.db, self.tenant), |c| {
            let todo = sqlx::query_as(concat!(
                "INSERT INTO todos (tenant_id, id, title, complete, estimate_status, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ",
                todo_columns!()
            ))
            .bind(self.tenant.0)
            .bind(id.0)
            .bind(new.title.as_str())
            .bind(new.complete)
            .bind(status.as_str())
            .bind(now)
            .fetch_one(&mut *c)
            .await?;
            if new.estimate {
                enqueue_leased!(c, self.tenant, id);
            }
            todo
        });
        let job = new.estimate.then_some(EstimateJob {
            todo_id: id,
            attempts: 0,
        });
        Ok((todo, job))
    }

    async fn update_todo(&self, id: TodoId, patch: &TodoPatch) -> Result<Option<Todo>> {
        Ok(on!(tenant_write(&self.db, self.tenant), |c| sqlx::query_as(concat!(
            // A new title makes the old embedding wrong: it is dropped (the
            // right-hand sides see the old row) and made again by the caller.
            "UPDATE todos SET title = coalesce($3, title), complete = coalesce($4, complete),
                 actual_minutes = coalesce($5, actual_minutes),
                 embedding = CASE WHEN $3 IS NULL OR $3 = title THEN embedding END,
                 embedding_model = CASE WHEN $3 IS NULL OR $3 = title THEN embedding_model END,
                 updated_at = $6
             WHERE tenant_id = $1 AND id = $2 RETURNING ",
            todo_columns!()
        ))
        .bind(self.tenant.0)
        .bind(id.0)
        .bind(patch.title.as_ref().map(|t| t.as_str()))
        .bind(patch.complete)
        .bind(patch.actual_minutes)
        .bind(super::now())
        .fetch_optional(&mut *c)
        .await?))
    }

    async fn request_estimate(&self, id: TodoId) -> Result<Option<(Todo, EstimateJob)>> {
        let todo: Option<Todo> = on!(tenant_write(&self.db, self.tenant), |c| {
            let todo = sqlx::query_as(concat!(
                "UPDATE todos SET estimate_status = $3, estimate_error = NULL, updated_at = $4
                 WHERE tenant_id = $1 AND id = $2 RETURNING ",
                todo_columns!()
            ))
            .bind(self.tenant.0)
            .bind(id.0)
            .bind(EstimateStatus::Pending.as_str())
            .bind(super::now())
            .fetch_optional(&mut *c)
            .await?;
            if todo.is_some() {
                enqueue_leased!(c, self.tenant, id);
            }
            todo
        });
        Ok(todo.map(|t| {
            (
                t,
                EstimateJob {
                    todo_id: id,
                    attempts: 0,
                },
            )
        }))
    }

    async fn save_estimate(&self, id: TodoId, outcome: &EstimateOutcome) -> Result<Option<Todo>> {
        Ok(match outcome.settled() {
            Ok(s) => on!(tenant_write(&self.db, self.tenant), |c| sqlx::query_as(concat!(
                "UPDATE todos SET estimate_status = $3, estimate = $4, estimate_minutes = $5,
                     estimate_basis = $6, estimate_error = $7, estimate_low_minutes = $8,
                     estimate_high_minutes = $9, estimate_model_minutes = $10
                 WHERE tenant_id = $1 AND id = $2 RETURNING ",
                todo_columns!()
            ))
            .bind(self.tenant.0)
            .bind(id.0)
            .bind(s.status.as_str())
            .bind(s.text)
            .bind(s.minutes)
            .bind(sqlx::types::Json(s.basis))
            .bind(s.reason)
            .bind(s.range.map(|r| r.0))
            .bind(s.range.map(|r| r.1))
            .bind(s.model_minutes)
            .fetch_optional(&mut *c)
            .await?),
            Err(reason) => on!(tenant_write(&self.db, self.tenant), |c| sqlx::query_as(concat!(
                "UPDATE todos SET estimate_status = $3, estimate_error = $4
                 WHERE tenant_id = $1 AND id = $2 RETURNING ",
                todo_columns!()
            ))
            .bind(self.tenant.0)
            .bind(id.0)
            .bind(EstimateStatus::Failed.as_str())
            .bind(reason)
            .fetch_optional(&mut *c)
            .await?),
        })
    }

    async fn delete_todo(&self, id: TodoId) -> Result<bool> {
        // The todo and the timers running on it, together.
        let deleted = on!(tenant_write(&self.db, self.tenant), |c| {
            sqlx::query("DELETE FROM timers WHERE tenant_id = $1 AND todo_id = $2")
                .bind(self.tenant.0)
                .bind(id.0)
                .execute(&mut *c)
                .await?;
            sqlx::query("DELETE FROM todos WHERE tenant_id = $1 AND id = $2")
                .bind(self.tenant.0)
                .bind(id.0)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        Ok(deleted == 1)
    }

    async fn calibration_samples(&self, limit: i64) -> Result<Vec<(i32, i32)>> {
        Ok(on!(tenant_read(&self.db, self.tenant), |c| sqlx::query_as(
            "SELECT actual_minutes, estimate_model_minutes FROM todos
             WHERE tenant_id = $1 AND actual_minutes IS NOT NULL AND estimate_model_minutes IS NOT NULL
             ORDER BY updated_at DESC, id DESC LIMIT $2"
        )
        .bind(self.tenant.0)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?))
    }

    async fn estimated_actuals(&self, limit: i64) -> Result<Vec<super::EstimatedActual>> {
        let rows: Vec<(Uuid, String, i32, i32, DateTime<Utc>)> =
            on!(tenant_read(&self.db, self.tenant), |c| sqlx::query_as(
                "SELECT id, title, estimate_minutes, actual_minutes, updated_at FROM todos
                 WHERE tenant_id = $1 AND actual_minutes IS NOT NULL AND estimate_minutes IS NOT NULL
                 ORDER BY updated_at DESC, id DESC LIMIT $2"
            )
            .bind(self.tenant.0)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(
                |(id, title, estimate_minutes, actual_minutes, updated_at)| super::EstimatedActual {
                    id: id.into(),
                    title,
                    estimate_minutes,
                    actual_minutes,
                    updated_at,
                },
            )
            .collect())
    }

    async fn open_work(&self) -> Result<OpenWork> {
        let (open, estimated, minutes): (i64, i64, Option<i64>) = on!(tenant_read(&self.db, self.tenant), |c| {
            sqlx::query_as(
                "SELECT count(*), count(estimate_minutes), sum(estimate_minutes) FROM todos
                 WHERE tenant_id = $1 AND complete = $2",
            )
            .bind(self.tenant.0)
            .bind(false)
            .fetch_one(&mut *c)
            .await?
        });
        Ok(OpenWork {
            open,
            estimated,
            unestimated: open - estimated,
            estimated_minutes: minutes.unwrap_or(0),
        })
    }

    async fn open_todos_fitting(&self, minutes: i32, limit: i64) -> Result<Vec<Todo>> {
        Ok(on!(tenant_read(&self.db, self.tenant), |c| sqlx::query_as(concat!(
            "SELECT ",
            todo_columns!(lean),
            " FROM todos WHERE tenant_id = $1 AND complete = $2
                 AND estimate_minutes IS NOT NULL AND estimate_minutes <= $3
             ORDER BY estimate_minutes DESC, created_at DESC, id DESC LIMIT $4"
        ))
        .bind(self.tenant.0)
        .bind(false)
        .bind(minutes)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?))
    }

    async fn titles_containing(&self, needle: &str, limit: i64) -> Result<Vec<Basis>> {
        // lower() folds ASCII on SQLite and all of Unicode on PostgreSQL; the
        // needle is folded here the same way SQLite does, and escaped for LIKE.
        let pattern = format!(
            "%{}%",
            needle
                .to_ascii_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows: Vec<TitleRow> = on!(tenant_read(&self.db, self.tenant), |c| sqlx::query_as(
            "SELECT id, title, estimate_minutes, actual_minutes FROM todos
             WHERE tenant_id = $1 AND lower(title) LIKE $2 ESCAPE '\\'
             ORDER BY created_at DESC, id DESC LIMIT $3"
        )
        .bind(self.tenant.0)
        .bind(pattern)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
        Ok(rows.into_iter().map(Basis::word_match).collect())
    }
}

impl Embeddings for TenantStore {
    async fn save_embedding(&self, id: TodoId, model: &str, embedding: &[f32]) -> Result<()> {
        self.save_embeddings(model, &[(id, embedding.to_vec())]).await
    }

    async fn save_embeddings(&self, model: &str, rows: &[(TodoId, Vec<f32>)]) -> Result<()> {
        match &self.db {
            Db::Sqlite(s) => s.save_embeddings(self.tenant, model, rows).await,
            Db::Postgres(p) => p.save_embeddings(self.tenant, model, rows).await,
        }
    }

    async fn similar(
        &self,
        embedding: &[f32],
        model: &str,
        k: i64,
        max_distance: f32,
        exclude: Option<TodoId>,
    ) -> Result<Vec<Basis>> {
        let rows = match &self.db {
            Db::Sqlite(s) => {
                s.similar(self.tenant, embedding, model, k, max_distance, exclude)
                    .await?
            }
            Db::Postgres(p) => {
                p.similar(self.tenant, embedding, model, k, max_distance, exclude)
                    .await?
            }
        };
        Ok(rows.into_iter().map(Basis::from).collect())
    }

    async fn count_stale_embeddings(&self, model: &str) -> Result<u64> {
        let (n,): (i64,) = on!(tenant_read(&self.db, self.tenant), |c| sqlx::query_as(
            "SELECT count(*) FROM todos WHERE tenant_id = $1 AND embedding_model IS DISTINCT FROM $2"
        )
        .bind(self.tenant.0)
        .bind(model)
        .fetch_one(&mut *c)
        .await?);
        Ok(n.max(0) as u64)
    }

    async fn stale_embeddings(&self, model: &str, limit: i64) -> Result<Vec<(TodoId, String)>> {
        let rows: Vec<(Uuid, String)> = on!(tenant_read(&self.db, self.tenant), |c| sqlx::query_as(
            "SELECT id, title FROM todos WHERE tenant_id = $1 AND embedding_model IS DISTINCT FROM $2
             ORDER BY id LIMIT $3",
        )
        .bind(self.tenant.0)
        .bind(model)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
        Ok(rows.into_iter().map(|(id, title)| (id.into(), title)).collect())
    }
}
