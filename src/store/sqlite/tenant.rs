//! Tenant-scoped operations on SQLite. Every statement binds the tenant id
//! and filters on it: with no row-level security, this is the isolation.

use chrono::Utc;
use uuid::Uuid;

use super::SqliteStore;
use crate::domain::{Email, Role, TenantId, TenantName, TodoFilter, TodoId, UserId};
use crate::store::models::MemberRow;
use crate::store::{Member, NewTodo, Result, StoreError, Tenant, Todo, TodoPatch};

/// The columns a [`Todo`] is read from, spliced in at compile time by
/// `concat!` (SQL text is never formatted at run time).
macro_rules! todo_columns {
    () => {
        "id, tenant_id, title, complete, estimate, created_at, updated_at"
    };
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
        self.member(tenant, user.into())
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub async fn set_member_role(
        &self,
        tenant: TenantId,
        user: UserId,
        role: Role,
    ) -> Result<Member> {
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
        let sql = concat!(
            "INSERT INTO todos (tenant_id, id, title, complete, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
            todo_columns!(),
            ""
        );
        Ok(sqlx::query_as(sql)
            .bind(tenant.0)
            .bind(TodoId::new().0)
            .bind(new.title.as_str())
            .bind(new.complete)
            .bind(now)
            .fetch_one(&self.write)
            .await?)
    }

    pub async fn update_todo(
        &self,
        tenant: TenantId,
        id: TodoId,
        patch: &TodoPatch,
    ) -> Result<Option<Todo>> {
        let sql = concat!("UPDATE todos SET title = coalesce($3, title), complete = coalesce($4, complete), updated_at = $5
             WHERE tenant_id = $1 AND id = $2 RETURNING ", todo_columns!(), "");
        Ok(sqlx::query_as(sql)
            .bind(tenant.0)
            .bind(id.0)
            .bind(patch.title.as_ref().map(|t| t.as_str()))
            .bind(patch.complete)
            .bind(Utc::now())
            .fetch_optional(&self.write)
            .await?)
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
}
