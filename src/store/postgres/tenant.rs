//! Tenant-scoped operations on PostgreSQL. Todos are read and written only
//! inside [`PgStore::tenant_tx`], where row-level security confines every
//! statement to the tenant; the explicit `tenant_id` filters are kept for
//! Citus routing and as a second lock.

use pgvector::Vector;
use uuid::Uuid;

use super::{vector_index, PgStore};
use crate::domain::{Email, Role, TenantId, TenantName, TodoFilter, TodoId, UserId};
use crate::store::models::{BasisRow, MemberRow};
use crate::store::{Basis, EstimateOutcome, Member, NewTodo, Result, StoreError, Tenant, Todo, TodoPatch, JOB_LEASE};

/// The columns a [`Todo`] is read from, spliced in at compile time.
/// The order is the one `Todo`'s `FromRow` decodes by (models.rs).
macro_rules! todo_columns {
    () => {
        "id, tenant_id, title, complete, estimate, estimate_status, estimate_minutes, estimate_basis,
         estimate_error, actual_minutes, created_at, updated_at"
    };
}

/// A member query: the shared SELECT with `$where` appended at compile time.
macro_rules! member_query {
    ($where:literal) => {
        concat!(
            "SELECT u.id, u.email, u.name, tu.role, tu.created_at
             FROM users.tenant_users tu JOIN users.users u ON u.id = tu.user_id ",
            $where
        )
    };
}

/// Queues `id`'s estimate, leased to the caller, who tries it inline first.
async fn enqueue_leased(tx: &mut sqlx::PgConnection, tenant: TenantId, id: TodoId) -> Result<()> {
    sqlx::query(
        "INSERT INTO estimate_jobs (tenant_id, todo_id, attempts, next_at, locked_until)
         VALUES ($1, $2, 0, now(), now() + make_interval(secs => $3))
         ON CONFLICT (tenant_id, todo_id) DO UPDATE
         SET attempts = 0, next_at = excluded.next_at, locked_until = excluded.locked_until, last_error = NULL",
    )
    .bind(tenant.0)
    .bind(id.0)
    .bind(JOB_LEASE.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl PgStore {
    pub async fn rename_tenant(&self, tenant: TenantId, name: &TenantName) -> Result<Tenant> {
        sqlx::query_as("UPDATE tenants SET name = $2 WHERE id = $1 RETURNING id, name")
            .bind(tenant.0)
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub async fn members(&self, tenant: TenantId) -> Result<Vec<Member>> {
        let rows: Vec<MemberRow> =
            sqlx::query_as(member_query!("WHERE tu.tenant_id = $1 ORDER BY tu.created_at, u.email"))
                .bind(tenant.0)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(Member::from_row).collect()
    }

    async fn member<'e>(
        &self,
        conn: impl sqlx::PgExecutor<'e>,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Option<Member>> {
        let row: Option<MemberRow> = sqlx::query_as(member_query!("WHERE tu.tenant_id = $1 AND tu.user_id = $2"))
            .bind(tenant.0)
            .bind(user.0)
            .fetch_optional(conn)
            .await?;
        row.map(Member::from_row).transpose()
    }

    pub async fn add_member(&self, tenant: TenantId, email: &Email, role: Role) -> Result<Member> {
        let mut tx = self.pool.begin().await?;
        let user: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users.users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let (user,) = user.ok_or(StoreError::NotFound)?;
        sqlx::query("INSERT INTO users.tenant_users (tenant_id, user_id, role) VALUES ($1, $2, $3)")
            .bind(tenant.0)
            .bind(user)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::conflict_on_unique)?;
        let member = self
            .member(&mut *tx, tenant, user.into())
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(member)
    }

    /// Locks the tenant's owner rows, so two concurrent demotions or removals
    /// cannot both see "another owner remains".
    async fn other_owners_exist(tx: &mut sqlx::PgConnection, tenant: TenantId, user: UserId) -> Result<bool> {
        let owners: Vec<(Uuid,)> =
            sqlx::query_as("SELECT user_id FROM users.tenant_users WHERE tenant_id = $1 AND role = 'owner' FOR UPDATE")
                .bind(tenant.0)
                .fetch_all(&mut *tx)
                .await?;
        Ok(owners.iter().any(|(id,)| *id != user.0))
    }

    pub async fn set_member_role(&self, tenant: TenantId, user: UserId, role: Role) -> Result<Member> {
        let mut tx = self.pool.begin().await?;
        let other_owners = Self::other_owners_exist(&mut tx, tenant, user).await?;
        let current = self.member(&mut *tx, tenant, user).await?.ok_or(StoreError::NotFound)?;
        if current.role == Role::Owner && role != Role::Owner && !other_owners {
            return Err(StoreError::LastOwner);
        }
        sqlx::query("UPDATE users.tenant_users SET role = $3 WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.0)
            .bind(user.0)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        let member = self.member(&mut *tx, tenant, user).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(member)
    }

    pub async fn remove_member(&self, tenant: TenantId, user: UserId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let other_owners = Self::other_owners_exist(&mut tx, tenant, user).await?;
        let current = self.member(&mut *tx, tenant, user).await?.ok_or(StoreError::NotFound)?;
        if current.role == Role::Owner && !other_owners {
            return Err(StoreError::LastOwner);
        }
        sqlx::query("DELETE FROM users.tenant_users WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_todos(&self, tenant: TenantId, filter: TodoFilter) -> Result<Vec<Todo>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let todos = sqlx::query_as(concat!(
            "SELECT ",
            todo_columns!(),
            " FROM todos WHERE tenant_id = $1 AND ($2::boolean IS NULL OR complete = $2)
              ORDER BY created_at DESC, id DESC"
        ))
        .bind(tenant.0)
        .bind(filter.complete)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(todos)
    }

    pub async fn todo(&self, tenant: TenantId, id: TodoId) -> Result<Option<Todo>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let todo = sqlx::query_as(concat!(
            "SELECT ",
            todo_columns!(),
            " FROM todos WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(todo)
    }

    pub async fn create_todo(&self, tenant: TenantId, new: &NewTodo) -> Result<Todo> {
        let id = TodoId::new();
        let mut tx = self.tenant_tx(tenant).await?;
        let todo = sqlx::query_as(concat!(
            "INSERT INTO todos (tenant_id, id, title, complete, estimate_status) VALUES ($1, $2, $3, $4, $5) RETURNING ",
            todo_columns!()
        ))
        .bind(tenant.0)
        .bind(id.0)
        .bind(new.title.as_str())
        .bind(new.complete)
        .bind(if new.estimate { "pending" } else { "off" })
        .fetch_one(&mut *tx)
        .await?;
        if new.estimate {
            enqueue_leased(&mut tx, tenant, id).await?;
        }
        tx.commit().await?;
        Ok(todo)
    }

    pub async fn update_todo(&self, tenant: TenantId, id: TodoId, patch: &TodoPatch) -> Result<Option<Todo>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let todo = sqlx::query_as(concat!(
            // A new title makes the old embedding wrong: it is dropped (the
            // right-hand sides see the old row) and made again by the caller.
            "UPDATE todos SET title = coalesce($3, title), complete = coalesce($4, complete),
                 actual_minutes = coalesce($5, actual_minutes),
                 embedding = CASE WHEN $3 IS NULL OR $3 = title THEN embedding END,
                 embedding_model = CASE WHEN $3 IS NULL OR $3 = title THEN embedding_model END,
                 updated_at = now()
             WHERE tenant_id = $1 AND id = $2 RETURNING ",
            todo_columns!()
        ))
        .bind(tenant.0)
        .bind(id.0)
        .bind(patch.title.as_ref().map(|t| t.as_str()))
        .bind(patch.complete)
        .bind(patch.actual_minutes)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(todo)
    }

    pub async fn request_estimate(&self, tenant: TenantId, id: TodoId) -> Result<Option<Todo>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let todo: Option<Todo> = sqlx::query_as(concat!(
            "UPDATE todos SET estimate_status = 'pending', estimate_error = NULL, updated_at = now()
             WHERE tenant_id = $1 AND id = $2 RETURNING ",
            todo_columns!()
        ))
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
        if todo.is_some() {
            enqueue_leased(&mut tx, tenant, id).await?;
        }
        tx.commit().await?;
        Ok(todo)
    }

    pub async fn save_embedding(&self, tenant: TenantId, id: TodoId, model: &str, embedding: &[f32]) -> Result<()> {
        let mut tx = self.tenant_tx(tenant).await?;
        sqlx::query("UPDATE todos SET embedding = $3, embedding_model = $4 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .bind(Vector::from(embedding.to_vec()))
            .bind(model)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Nearest neighbours by pgvector's cosine distance `<=>`, within the
    /// tenant (RLS and the explicit filter) and the same model.
    pub async fn similar(
        &self,
        tenant: TenantId,
        embedding: &[f32],
        model: &str,
        k: i64,
        max_distance: f32,
        exclude: Option<TodoId>,
    ) -> Result<Vec<Basis>> {
        let mut tx = self.tenant_tx(tenant).await?;
        // A tenant's rows are a sliver of the index: keep scanning the HNSW
        // graph until enough of them pass the filter (pgvector >= 0.8).
        // relaxed_order may return neighbours slightly out of order, so
        // they are sorted again below.
        sqlx::query("SET LOCAL hnsw.iterative_scan = relaxed_order")
            .execute(&mut *tx)
            .await?;
        let sql = vector_index::for_dimension(embedding.len()).map_or(vector_index::SIMILAR_EXACT, |d| d.similar);
        let mut rows: Vec<BasisRow> = sqlx::query_as(sql)
            .bind(tenant.0)
            .bind(Vector::from(embedding.to_vec()))
            .bind(model)
            .bind(exclude.map(|e| e.0))
            .bind(f64::from(max_distance))
            .bind(k)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.sort_by(|a, b| a.4.total_cmp(&b.4));
        Ok(rows.into_iter().map(Basis::from_row).collect())
    }

    pub async fn save_estimate(&self, tenant: TenantId, id: TodoId, outcome: &EstimateOutcome) -> Result<Option<Todo>> {
        let mut tx = self.tenant_tx(tenant).await?;
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
        let todo = query.fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        Ok(todo)
    }

    pub async fn delete_todo(&self, tenant: TenantId, id: TodoId) -> Result<bool> {
        let mut tx = self.tenant_tx(tenant).await?;
        let deleted = sqlx::query("DELETE FROM todos WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// How many of the tenant's todos have no embedding from `model`.
    pub async fn count_stale_embeddings(&self, tenant: TenantId, model: &str) -> Result<u64> {
        let mut tx = self.tenant_tx(tenant).await?;
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM todos WHERE tenant_id = $1 AND embedding_model IS DISTINCT FROM $2")
                .bind(tenant.0)
                .bind(model)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(n.max(0) as u64)
    }

    /// Up to `limit` todos with no embedding from `model`: `(id, title)`.
    pub async fn stale_embeddings(&self, tenant: TenantId, model: &str, limit: i64) -> Result<Vec<(TodoId, String)>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let rows: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT id, title FROM todos WHERE tenant_id = $1 AND embedding_model IS DISTINCT FROM $2
             ORDER BY id LIMIT $3",
        )
        .bind(tenant.0)
        .bind(model)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(|(id, title)| (id.into(), title)).collect())
    }

    /// Stores many embeddings from `model` in one transaction (one statement).
    pub async fn save_embeddings(&self, tenant: TenantId, model: &str, rows: &[(TodoId, Vec<f32>)]) -> Result<()> {
        let ids: Vec<Uuid> = rows.iter().map(|(id, _)| id.0).collect();
        let vectors: Vec<Vector> = rows.iter().map(|(_, v)| Vector::from(v.clone())).collect();
        let mut tx = self.tenant_tx(tenant).await?;
        sqlx::query(
            "UPDATE todos SET embedding = u.embedding, embedding_model = $4
             FROM unnest($2::uuid[], $3::vector[]) AS u(id, embedding)
             WHERE todos.tenant_id = $1 AND todos.id = u.id",
        )
        .bind(tenant.0)
        .bind(&ids)
        .bind(&vectors)
        .bind(model)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
