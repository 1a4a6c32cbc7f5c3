//! Tenant-scoped operations on PostgreSQL. Todos are read and written only
//! inside [`PgStore::tenant_tx`], where row-level security confines every
//! statement to the tenant; the explicit `tenant_id` filters are kept for
//! Citus routing and as a second lock.

use uuid::Uuid;

use super::PgStore;
use crate::domain::{Email, Role, TenantId, TenantName, TodoFilter, TodoId, UserId};
use crate::store::models::MemberRow;
use crate::store::{Member, NewTodo, Result, StoreError, Tenant, Todo, TodoPatch};

/// The columns a [`Todo`] is read from, spliced in at compile time.
macro_rules! todo_columns {
    () => {
        "id, tenant_id, title, complete, estimate, created_at, updated_at"
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
        let rows: Vec<MemberRow> = sqlx::query_as(member_query!(
            "WHERE tu.tenant_id = $1 ORDER BY tu.created_at, u.email"
        ))
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
        let row: Option<MemberRow> =
            sqlx::query_as(member_query!("WHERE tu.tenant_id = $1 AND tu.user_id = $2"))
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
        sqlx::query(
            "INSERT INTO users.tenant_users (tenant_id, user_id, role) VALUES ($1, $2, $3)",
        )
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
    async fn other_owners_exist(
        tx: &mut sqlx::PgConnection,
        tenant: TenantId,
        user: UserId,
    ) -> Result<bool> {
        let owners: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT user_id FROM users.tenant_users WHERE tenant_id = $1 AND role = 'owner' FOR UPDATE",
        )
        .bind(tenant.0)
        .fetch_all(&mut *tx)
        .await?;
        Ok(owners.iter().any(|(id,)| *id != user.0))
    }

    pub async fn set_member_role(
        &self,
        tenant: TenantId,
        user: UserId,
        role: Role,
    ) -> Result<Member> {
        let mut tx = self.pool.begin().await?;
        let other_owners = Self::other_owners_exist(&mut tx, tenant, user).await?;
        let current = self
            .member(&mut *tx, tenant, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        if current.role == Role::Owner && role != Role::Owner && !other_owners {
            return Err(StoreError::LastOwner);
        }
        sqlx::query(
            "UPDATE users.tenant_users SET role = $3 WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
        let member = self
            .member(&mut *tx, tenant, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(member)
    }

    pub async fn remove_member(&self, tenant: TenantId, user: UserId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let other_owners = Self::other_owners_exist(&mut tx, tenant, user).await?;
        let current = self
            .member(&mut *tx, tenant, user)
            .await?
            .ok_or(StoreError::NotFound)?;
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
        let mut tx = self.tenant_tx(tenant).await?;
        let todo = sqlx::query_as(concat!(
            "INSERT INTO todos (tenant_id, id, title, complete) VALUES ($1, $2, $3, $4) RETURNING ",
            todo_columns!()
        ))
        .bind(tenant.0)
        .bind(TodoId::new().0)
        .bind(new.title.as_str())
        .bind(new.complete)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(todo)
    }

    pub async fn update_todo(
        &self,
        tenant: TenantId,
        id: TodoId,
        patch: &TodoPatch,
    ) -> Result<Option<Todo>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let todo = sqlx::query_as(concat!(
            "UPDATE todos SET title = coalesce($3, title), complete = coalesce($4, complete), updated_at = now()
             WHERE tenant_id = $1 AND id = $2 RETURNING ",
            todo_columns!()
        ))
        .bind(tenant.0)
        .bind(id.0)
        .bind(patch.title.as_ref().map(|t| t.as_str()))
        .bind(patch.complete)
        .fetch_optional(&mut *tx)
        .await?;
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
}
