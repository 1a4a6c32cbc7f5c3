//! Rows as the rest of the app sees them. They serialise to the API's JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{Role, TenantId, TodoId, TodoTitle, UserId};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    #[sqlx(try_from = "Uuid")]
    pub id: UserId,
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserWithHash {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Tenant {
    #[sqlx(try_from = "Uuid")]
    pub id: TenantId,
    pub name: String,
}

/// A user's membership in a tenant.
#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    #[serde(flatten)]
    pub tenant: Tenant,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Todo {
    #[sqlx(try_from = "Uuid")]
    pub id: TodoId,
    #[sqlx(try_from = "Uuid")]
    pub tenant_id: TenantId,
    pub title: String,
    pub complete: bool,
    /// The seed's human-readable estimate; `null` until one exists.
    pub estimate: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewTodo {
    pub title: TodoTitle,
    pub complete: bool,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TodoPatch {
    pub title: Option<TodoTitle>,
    pub complete: Option<bool>,
}
