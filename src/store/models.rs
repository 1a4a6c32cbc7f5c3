//! Rows as the rest of the app sees them. They serialise to the API's JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
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

#[derive(Debug, Clone, Serialize)]
pub struct Todo {
    pub id: TodoId,
    pub tenant_id: TenantId,
    pub title: String,
    pub complete: bool,
    /// The seed's human-readable estimate; `null` until one exists.
    pub estimate: Option<String>,
    /// `pending` | `ready` | `insufficient_history` (too little history for
    /// a number) | `failed` | `off` (estimates disabled).
    pub estimate_status: String,
    pub estimate_minutes: Option<i32>,
    /// The similar past tasks the estimate was based on: a JSON array of
    /// [`Basis`], passed from the database to the response as it is. Parsing
    /// it into values only to write it out again took a quarter of a list's
    /// CPU (BENCHMARKS.md).
    pub estimate_basis: Box<RawValue>,
    /// Why the estimate failed, or why there is too little history.
    #[serde(rename = "estimate_reason")]
    pub estimate_error: Option<String>,
    /// How long the task really took, when recorded on completion.
    pub actual_minutes: Option<i32>,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// Decoded by position, in the column order of both backends'
/// `todo_columns!`: the derived `FromRow` looks each column up by name, a
/// hash per column per row (~10 % of a list's CPU on PostgreSQL).
impl<'r, R> sqlx::FromRow<'r, R> for Todo
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    Uuid: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    sqlx::types::Json<Box<RawValue>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get::<Uuid, _>(0)?.into(),
            tenant_id: row.try_get::<Uuid, _>(1)?.into(),
            title: row.try_get(2)?,
            complete: row.try_get(3)?,
            estimate: row.try_get(4)?,
            estimate_status: row.try_get(5)?,
            estimate_minutes: row.try_get(6)?,
            estimate_basis: row.try_get::<sqlx::types::Json<Box<RawValue>>, _>(7)?.0,
            estimate_error: row.try_get(8)?,
            actual_minutes: row.try_get(9)?,
            created_at: row.try_get(10)?,
            updated_at: row.try_get(11)?,
        })
    }
}

/// The same text as chrono's own serialisation (RFC 3339, UTC, `Z`, as many
/// fraction digits as needed), formatted once and written as one string:
/// chrono's serialiser streams it character by character through
/// serde_json's escaper, ~10 % of a list's CPU (BENCHMARKS.md).
fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// A similar past task: what an estimate is grounded in.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Basis {
    pub id: TodoId,
    pub title: String,
    /// Its actual duration if known, else its estimate.
    pub minutes: Option<i32>,
    /// Whether `minutes` is an actual duration (true) or an estimate.
    #[serde(default)]
    pub actual: bool,
    /// Cosine distance to the new task (0 = same direction, 2 = opposite).
    pub distance: f32,
}

/// `(id, title, estimate minutes, actual minutes, distance)`.
pub type BasisRow = (Uuid, String, Option<i32>, Option<i32>, f64);

impl Basis {
    /// A similar task; its actual duration wins over its estimate.
    pub fn from_row((id, title, estimate, actual, distance): BasisRow) -> Self {
        Self {
            id: id.into(),
            title,
            minutes: actual.or(estimate),
            actual: actual.is_some(),
            distance: distance as f32,
        }
    }
}

/// What to record about a todo's estimate.
#[derive(Debug, Clone)]
pub enum EstimateOutcome {
    Ready {
        minutes: i32,
        text: String,
        basis: Vec<Basis>,
    },
    /// Too little history for the history estimator to give a number.
    Insufficient {
        reason: String,
        basis: Vec<Basis>,
    },
    Failed {
        reason: String,
    },
}

/// A settled estimate's columns: status, text, minutes, basis, reason.
pub(crate) type SettledColumns<'a> = (&'static str, &'a str, Option<i32>, &'a [Basis], Option<&'a str>);

impl EstimateOutcome {
    /// The columns of a settled (ready or insufficient) estimate, or a
    /// failure's reason (a failure keeps whatever estimate the todo had).
    pub(crate) fn settled(&self) -> Result<SettledColumns<'_>, &str> {
        match self {
            Self::Ready { minutes, text, basis } => Ok(("ready", text, Some(*minutes), basis, None)),
            Self::Insufficient { reason, basis } => Ok((
                "insufficient_history",
                crate::ai::history::NOT_ENOUGH_HISTORY,
                None,
                basis,
                Some(reason),
            )),
            Self::Failed { reason } => Err(reason),
        }
    }
}

/// A todo waiting for its estimate, claimed from the durable queue.
#[derive(Debug, Clone, Copy)]
pub struct EstimateJob {
    pub tenant_id: TenantId,
    pub todo_id: TodoId,
    /// Attempts that failed so far.
    pub attempts: i32,
}

#[derive(Debug, Clone)]
pub struct NewTodo {
    pub title: TodoTitle,
    pub complete: bool,
    /// Queue an estimate (AI configured) or mark it `off`.
    pub estimate: bool,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TodoPatch {
    pub title: Option<TodoTitle>,
    pub complete: Option<bool>,
    /// Minutes the task really took (recorded on completion).
    pub actual_minutes: Option<i32>,
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
            tenant: Tenant { id: id.into(), name },
            role: parse_role(&role)?,
        })
    }
}

/// `(user id, email, name, role, joined at)`.
pub(crate) type MemberRow = (Uuid, String, Option<String>, String, DateTime<Utc>);

impl Member {
    pub(crate) fn from_row((user_id, email, name, role, joined_at): MemberRow) -> Result<Self, StoreError> {
        Ok(Self {
            user_id: user_id.into(),
            email,
            name,
            role: parse_role(&role)?,
            joined_at,
        })
    }
}

impl EstimateJob {
    /// From `(tenant id, todo id, attempts)`.
    pub(crate) fn from_row((tenant, todo, attempts): (Uuid, Uuid, i32)) -> Self {
        Self {
            tenant_id: tenant.into(),
            todo_id: todo.into(),
            attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn timestamps_serialise_as_chrono_does() {
        #[derive(Serialize)]
        struct Ours(#[serde(serialize_with = "rfc3339")] DateTime<Utc>);
        for nanos in [0, 120_000_000, 134_328_000, 134_328_260] {
            let t = Utc.with_ymd_and_hms(2026, 11, 28, 19, 12, 29).unwrap() + chrono::Duration::nanoseconds(nanos);
            assert_eq!(
                serde_json::to_string(&Ours(t)).unwrap(),
                serde_json::to_string(&t).unwrap()
            );
        }
    }
}
