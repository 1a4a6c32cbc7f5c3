//! Rows as the rest of the app sees them. They serialise to the API's JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::StoreError;
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

/// A role column's text as a [`Role`]; anything else is corrupt data.
pub(crate) fn parse_role(role: &str) -> Result<Role, StoreError> {
    role.parse()
        .map_err(|e: crate::domain::Invalid| StoreError::Database(sqlx::Error::Decode(e.into())))
}

impl Membership {
    /// From `(tenant id, tenant name, role)`.
    pub(crate) fn from_row((id, name, role): (Uuid, String, String)) -> Result<Self, StoreError> {
        Ok(Self {
            tenant: Tenant {
                id: id.into(),
                name,
            },
            role: parse_role(&role)?,
        })
    }
}

/// `(user id, email, name, role, joined at)`.
pub(crate) type MemberRow = (Uuid, String, Option<String>, String, DateTime<Utc>);

impl Member {
    pub(crate) fn from_row(
        (user_id, email, name, role, joined_at): MemberRow,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            user_id: user_id.into(),
            email,
            name,
            role: parse_role(&role)?,
            joined_at,
        })
    }
}
