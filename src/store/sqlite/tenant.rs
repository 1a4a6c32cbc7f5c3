//! Tenant-scoped operations on SQLite. Every statement binds the tenant id
//! and filters on it: with no row-level security, this is the isolation.

use chrono::Utc;
use uuid::Uuid;

use super::SqliteStore;
use crate::domain::{Email, Role, TenantId, TenantName, TodoFilter, TodoId, UserId};
use crate::store::models::{BasisRow, MemberRow};
use crate::store::{Basis, EstimateOutcome, Member, NewTodo, Result, StoreError, Tenant, Todo, TodoPatch, JOB_LEASE};

/// The columns a [`Todo`] is read from, spliced in at compile time by
/// `concat!` (SQL text is never formatted at run time).
/// The order is the one `Todo`'s `FromRow` decodes by (models.rs).
macro_rules! todo_columns {
    () => {
        "id, tenant_id, title, complete, estimate, estimate_status, estimate_minutes, estimate_basis,
         estimate_error, actual_minutes, created_at, updated_at"
    };
}

/// A vector as sqlite-vec's float32 BLOB: little-endian f32s.
fn f32_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Queues `id`'s estimate, leased to the caller, who tries it inline first.
async fn enqueue_leased(tx: &mut sqlx::SqliteConnection, tenant: TenantId, id: TodoId) -> Result<()> {
    let now = Utc::now();
    let lease = now + chrono::Duration::from_std(JOB_LEASE).expect("lease fits");
    sqlx::query(
        "INSERT INTO estimate_jobs (tenant_id, todo_id, attempts, next_at, locked_until) VALUES ($1, $2, 0, $3, $4)
         ON CONFLICT (tenant_id, todo_id) DO UPDATE
         SET attempts = 0, next_at = excluded.next_at, locked_until = excluded.locked_until, last_error = NULL",
    )
    .bind(tenant.0)
    .bind(id.0)
    .bind(now)
    .bind(lease)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl SqliteStore {
    pub async fn rename_tenant(&self, tenant: TenantId, name: &TenantName) -> Result<Tenant> {
        sqlx::query_as("UPDATE tenants SET name = $2 WHERE id = $1 RETURNING id, name")
            .bind(tenant.0)
            .bind(name.as_str())
            .fetch_optional(&self.write)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub async fn members(&self, tenant: TenantId) -> Result<Vec<Member>> {
        let rows: Vec<MemberRow> = sqlx::query_as(
            "SELECT u.id, u.email, u.name, tu.role, tu.created_at
             FROM tenant_users tu JOIN users u ON u.id = tu.user_id
             WHERE tu.tenant_id = $1 ORDER BY tu.created_at, u.email",
        )
        .bind(tenant.0)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(Member::from_row).collect()
    }

    async fn member(&self, tenant: TenantId, user: UserId) -> Result<Option<Member>> {
        let row: Option<MemberRow> = sqlx::query_as(
            "SELECT u.id, u.email, u.name, tu.role, tu.created_at
             FROM tenant_users tu JOIN users u ON u.id = tu.user_id
             WHERE tu.tenant_id = $1 AND tu.user_id = $2",
        )
        .bind(tenant.0)
        .bind(user.0)
        .fetch_optional(&self.write)
        .await?;
        row.map(Member::from_row).transpose()
    }

    pub async fn add_member(&self, tenant: TenantId, email: &Email, role: Role) -> Result<Member> {
        let user: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&self.write)
            .await?;
        let (user,) = user.ok_or(StoreError::NotFound)?;
        sqlx::query("INSERT INTO tenant_users (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(tenant.0)
            .bind(user)
            .bind(role.as_str())
            .bind(Utc::now())
            .execute(&self.write)
            .await
            .map_err(StoreError::conflict_on_unique)?;
        self.member(tenant, user.into()).await?.ok_or(StoreError::NotFound)
    }

    pub async fn set_member_role(&self, tenant: TenantId, user: UserId, role: Role) -> Result<Member> {
        // One statement on the single writer connection: the owner count
        // cannot change between the check and the update.
        let changed = sqlx::query(
            "UPDATE tenant_users SET role = $3
             WHERE tenant_id = $1 AND user_id = $2
               AND ($3 = 'owner' OR role <> 'owner'
                    OR (SELECT count(*) FROM tenant_users WHERE tenant_id = $1 AND role = 'owner') > 1)",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(role.as_str())
        .execute(&self.write)
        .await?
        .rows_affected();
        match self.member(tenant, user).await? {
            None => Err(StoreError::NotFound),
            Some(_) if changed == 0 => Err(StoreError::LastOwner),
            Some(member) => Ok(member),
        }
    }

    pub async fn remove_member(&self, tenant: TenantId, user: UserId) -> Result<()> {
        let removed = sqlx::query(
            "DELETE FROM tenant_users
             WHERE tenant_id = $1 AND user_id = $2
               AND (role <> 'owner'
                    OR (SELECT count(*) FROM tenant_users WHERE tenant_id = $1 AND role = 'owner') > 1)",
        )
        .bind(tenant.0)
        .bind(user.0)
        .execute(&self.write)
        .await?
        .rows_affected();
        if removed == 1 {
            return Ok(());
        }
        match self.member(tenant, user).await? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(StoreError::LastOwner),
        }
    }

    pub async fn list_todos(&self, tenant: TenantId, filter: TodoFilter) -> Result<Vec<Todo>> {
        let sql = concat!(
            "SELECT ",
            todo_columns!(),
            " FROM todos WHERE tenant_id = $1 AND ($2 IS NULL OR complete = $2)
             ORDER BY created_at DESC, id DESC"
        );
        Ok(sqlx::query_as(sql)
            .bind(tenant.0)
            .bind(filter.complete)
            .fetch_all(&self.read)
            .await?)
    }

    pub async fn todo(&self, tenant: TenantId, id: TodoId) -> Result<Option<Todo>> {
        let sql = concat!(
            "SELECT ",
            todo_columns!(),
            " FROM todos WHERE tenant_id = $1 AND id = $2"
        );
        Ok(sqlx::query_as(sql)
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?)
    }

    pub async fn create_todo(&self, tenant: TenantId, new: &NewTodo) -> Result<Todo> {
        let now = Utc::now();
        let id = TodoId::new();
        let status = if new.estimate { "pending" } else { "off" };
        let mut tx = self.write.begin().await?;
        let todo = sqlx::query_as(concat!(
            "INSERT INTO todos (tenant_id, id, title, complete, estimate_status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ",
            todo_columns!()
        ))
        .bind(tenant.0)
        .bind(id.0)
        .bind(new.title.as_str())
        .bind(new.complete)
        .bind(status)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if new.estimate {
            enqueue_leased(&mut tx, tenant, id).await?;
        }
        tx.commit().await?;
        Ok(todo)
    }

    pub async fn update_todo(&self, tenant: TenantId, id: TodoId, patch: &TodoPatch) -> Result<Option<Todo>> {
        Ok(sqlx::query_as(concat!(
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
        .bind(tenant.0)
        .bind(id.0)
        .bind(patch.title.as_ref().map(|t| t.as_str()))
        .bind(patch.complete)
        .bind(patch.actual_minutes)
        .bind(Utc::now())
        .fetch_optional(&self.write)
        .await?)
    }

    pub async fn request_estimate(&self, tenant: TenantId, id: TodoId) -> Result<Option<Todo>> {
        let mut tx = self.write.begin().await?;
        let todo: Option<Todo> = sqlx::query_as(concat!(
            "UPDATE todos SET estimate_status = 'pending', estimate_error = NULL, updated_at = $3
             WHERE tenant_id = $1 AND id = $2 RETURNING ",
            todo_columns!()
        ))
        .bind(tenant.0)
        .bind(id.0)
        .bind(Utc::now())
        .fetch_optional(&mut *tx)
        .await?;
        if todo.is_some() {
            enqueue_leased(&mut tx, tenant, id).await?;
        }
        tx.commit().await?;
        Ok(todo)
    }

    pub async fn save_embedding(&self, tenant: TenantId, id: TodoId, model: &str, embedding: &[f32]) -> Result<()> {
        sqlx::query("UPDATE todos SET embedding = $3, embedding_model = $4 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .bind(f32_blob(embedding))
            .bind(model)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// An exact scan over the tenant's embeddings of the same model (the
    /// primary key's `tenant_id` prefix keeps it to one tenant's rows), with
    /// the distance computed inside SQLite by sqlite-vec: only the k nearest
    /// rows leave the database.
    pub async fn similar(
        &self,
        tenant: TenantId,
        embedding: &[f32],
        model: &str,
        k: i64,
        max_distance: f32,
        exclude: Option<TodoId>,
    ) -> Result<Vec<Basis>> {
        let rows: Vec<BasisRow> = sqlx::query_as(
            "SELECT id, title, estimate_minutes, actual_minutes, vec_distance_cosine(embedding, $2) AS distance
             FROM todos
             WHERE tenant_id = $1 AND embedding_model = $3 AND length(embedding) = length($2)
               AND ($4 IS NULL OR id <> $4) AND distance < $5
             ORDER BY distance
             LIMIT $6",
        )
        .bind(tenant.0)
        .bind(f32_blob(embedding))
        .bind(model)
        .bind(exclude.map(|e| e.0))
        .bind(f64::from(max_distance))
        .bind(k)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(Basis::from_row).collect())
    }

    pub async fn save_estimate(&self, tenant: TenantId, id: TodoId, outcome: &EstimateOutcome) -> Result<Option<Todo>> {
        let query = match outcome.settled() {
            Ok((status, text, minutes, basis, reason)) => sqlx::query_as(concat!(
                "UPDATE todos SET estimate_status = $3, estimate = $4, estimate_minutes = $5,
                     estimate_basis = $6, estimate_error = $7
                 WHERE tenant_id = $1 AND id = $2 RETURNING ",
                todo_columns!()
            ))
            .bind(tenant.0)
            .bind(id.0)
            .bind(status)
            .bind(text)
            .bind(minutes)
            .bind(sqlx::types::Json(basis))
            .bind(reason),
            Err(reason) => sqlx::query_as(concat!(
                "UPDATE todos SET estimate_status = 'failed', estimate_error = $3
                 WHERE tenant_id = $1 AND id = $2 RETURNING ",
                todo_columns!()
            ))
            .bind(tenant.0)
            .bind(id.0)
            .bind(reason),
        };
        Ok(query.fetch_optional(&self.write).await?)
    }

    pub async fn delete_todo(&self, tenant: TenantId, id: TodoId) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM todos WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .execute(&self.write)
            .await?
            .rows_affected();
        Ok(deleted == 1)
    }

    /// How many of the tenant's todos have no embedding from `model`.
    pub async fn count_stale_embeddings(&self, tenant: TenantId, model: &str) -> Result<u64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM todos WHERE tenant_id = $1 AND embedding_model IS NOT $2")
                .bind(tenant.0)
                .bind(model)
                .fetch_one(&self.read)
                .await?;
        Ok(n.max(0) as u64)
    }

    /// Up to `limit` todos with no embedding from `model`: `(id, title)`.
    pub async fn stale_embeddings(&self, tenant: TenantId, model: &str, limit: i64) -> Result<Vec<(TodoId, String)>> {
        let rows: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT id, title FROM todos WHERE tenant_id = $1 AND embedding_model IS NOT $2 ORDER BY id LIMIT $3",
        )
        .bind(tenant.0)
        .bind(model)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(|(id, title)| (id.into(), title)).collect())
    }

    /// Stores many embeddings from `model` in one transaction.
    pub async fn save_embeddings(&self, tenant: TenantId, model: &str, rows: &[(TodoId, Vec<f32>)]) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for (id, embedding) in rows {
            sqlx::query("UPDATE todos SET embedding = $3, embedding_model = $4 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id.0)
                .bind(f32_blob(embedding))
                .bind(model)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
