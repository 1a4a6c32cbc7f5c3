//! Rows as the rest of the app sees them. They serialise to the API's JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::StoreError;
use crate::domain::{Role, TenantId, TodoId, TodoTitle, UserId};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    #[sqlx(try_from = "Uuid")]
    pub id: UserId,
    pub email: String,
    pub name: Option<String>,
    /// Whether the address was proven (a link sent to it was followed).
    pub email_verified: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserWithHash {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Tenant {
    #[sqlx(try_from = "Uuid")]
    pub id: TenantId,
    pub name: String,
}

/// A user's membership in a tenant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Membership {
    #[serde(flatten)]
    pub tenant: Tenant,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Todo {
    pub id: TodoId,
    pub tenant_id: TenantId,
    pub title: String,
    pub complete: bool,
    /// The seed's human-readable estimate; `null` until one exists.
    pub estimate: Option<String>,
    pub estimate_status: EstimateStatus,
    pub estimate_minutes: Option<i32>,
    /// The similar past tasks the estimate was based on: a JSON array of
    /// [`Basis`], passed from the database to the response as it is. Parsing
    /// it into values only to write it out again took a quarter of a list's
    /// CPU (BENCHMARKS.md). Always in a single todo's answers; in lists only
    /// with `?include=basis`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Basis>>, required = false)]
    pub estimate_basis: Option<Box<RawValue>>,
    /// Why the estimate failed, or why there is too little history.
    #[serde(rename = "estimate_reason")]
    pub estimate_error: Option<String>,
    /// How long the task really took, when recorded on completion.
    pub actual_minutes: Option<i32>,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// The range the similar tasks' spread gives around `estimate_minutes`
    /// ("1–2 h"); `null` without two similar tasks with durations, or when
    /// they agree.
    pub estimate_low_minutes: Option<i32>,
    pub estimate_high_minutes: Option<i32>,
    /// The chat model's own number, before this tenant's calibration
    /// adjusted it into `estimate_minutes`; `null` for history estimates.
    pub estimate_model_minutes: Option<i32>,
}

/// A tenant's open work at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OpenWork {
    /// Open (not done) todos.
    pub open: i64,
    /// Open todos with an estimate in minutes.
    pub estimated: i64,
    /// Open todos without one (pending, not enough history, failed, off).
    pub unestimated: i64,
    /// The sum of the open todos' estimates, in minutes.
    pub estimated_minutes: i64,
}

/// The same text as chrono's own serialisation (RFC 3339, UTC, `Z`, as many
/// fraction digits as needed), formatted once and written as one string:
/// chrono's serialiser streams it character by character through
/// serde_json's escaper, ~10 % of a list's CPU (BENCHMARKS.md).
pub(super) fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 30];
    match format_rfc3339(t, &mut buf) {
        Some(text) => s.serialize_str(text),
        None => s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
    }
}

/// chrono's `to_rfc3339_opts(AutoSi, true)` written digit by digit into a
/// stack buffer: chrono's formatter costs ~1,100 instructions a timestamp,
/// an eighth of a list's CPU (BENCHMARKS.md). `None` for what this fast path
/// does not cover (years outside 0–9999, leap seconds): chrono writes those.
fn format_rfc3339<'b>(t: &DateTime<Utc>, buf: &'b mut [u8; 30]) -> Option<&'b str> {
    use chrono::{Datelike, Timelike};
    // Through the naive date and time: DateTime's own accessors go through
    // the offset arithmetic each time.
    let naive = t.naive_utc();
    let (date, time) = (naive.date(), naive.time());
    let (year, nanos) = (date.year(), time.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return None;
    }
    fn put(buf: &mut [u8], at: usize, value: u32, digits: usize) {
        let mut v = value;
        for i in (0..digits).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    put(buf, 0, year as u32, 4);
    buf[4] = b'-';
    put(buf, 5, date.month(), 2);
    buf[7] = b'-';
    put(buf, 8, date.day(), 2);
    buf[10] = b'T';
    put(buf, 11, time.hour(), 2);
    buf[13] = b':';
    put(buf, 14, time.minute(), 2);
    buf[16] = b':';
    put(buf, 17, time.second(), 2);
    // As many fraction digits as needed: none, 3, 6 or 9 (chrono's AutoSi).
    let mut len = 19;
    let (value, digits) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    if digits > 0 {
        buf[len] = b'.';
        put(buf, len + 1, value, digits);
        len += 1 + digits;
    }
    buf[len] = b'Z';
    std::str::from_utf8(&buf[..=len]).ok()
}

/// Where a page of a list starts: just after the row whose sort key is
/// `(at, key)` (keyset pagination: stable while rows come and go, and as fast
/// on the hundredth page as on the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor<K> {
    pub at: DateTime<Utc>,
    pub key: K,
}

/// What page of a list to read.
#[derive(Debug, Clone)]
pub struct PageRequest<K> {
    /// At most this many items (at least 1).
    pub limit: i64,
    pub after: Option<Cursor<K>>,
}

impl<K> PageRequest<K> {
    pub fn first(limit: i64) -> Self {
        Self {
            limit: limit.max(1),
            after: None,
        }
    }
}

/// A page of a list, in the list's order, and where the next one starts
/// (`None` on the last page).
#[derive(Debug, Clone)]
pub struct Page<T, K> {
    pub items: Vec<T>,
    pub next: Option<Cursor<K>>,
}

impl<T, K> Page<T, K> {
    /// From up to `limit + 1` rows: the extra one only says there is more.
    pub(super) fn from_rows(mut items: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> Cursor<K>) -> Self {
        let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor_of)
        } else {
            None
        };
        Self { items, next }
    }
}

/// What a single-use email link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailPurpose {
    VerifyEmail,
    ResetPassword,
}

impl EmailPurpose {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }
}

/// Where a todo's estimate stands. Stored as the text of [`Self::as_str`]
/// (the migrations' CHECK constraints list the same words); this is the one
/// mapping between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EstimateStatus {
    /// Queued: the inline attempt or the worker will settle it.
    Pending,
    Ready,
    /// The history estimator found too little history for a number.
    InsufficientHistory,
    Failed,
    /// Estimates are disabled (EMBEDDING_PROVIDER=none).
    Off,
}

impl EstimateStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::InsufficientHistory => "insufficient_history",
            Self::Failed => "failed",
            Self::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Ready,
            Self::InsufficientHistory,
            Self::Failed,
            Self::Off,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A similar past task: what an estimate is grounded in.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
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

/// A similar todo as the vector search reads it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct SimilarRow {
    pub id: Uuid,
    pub title: String,
    pub estimate_minutes: Option<i32>,
    pub actual_minutes: Option<i32>,
    pub distance: f64,
}

impl From<SimilarRow> for Basis {
    /// A similar task; its actual duration wins over its estimate.
    fn from(r: SimilarRow) -> Self {
        Self {
            id: r.id.into(),
            title: r.title,
            minutes: r.actual_minutes.or(r.estimate_minutes),
            actual: r.actual_minutes.is_some(),
            distance: r.distance as f32,
        }
    }
}

impl Basis {
    /// A todo whose title contains the words searched for, when there are no
    /// embeddings to measure a distance with: it counts as a match (0).
    pub(super) fn word_match(r: TitleRow) -> Self {
        Self::from(SimilarRow {
            id: r.id,
            title: r.title,
            estimate_minutes: r.estimate_minutes,
            actual_minutes: r.actual_minutes,
            distance: 0.0,
        })
    }
}

/// A todo's title and durations, for a search by words.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct TitleRow {
    pub id: Uuid,
    pub title: String,
    pub estimate_minutes: Option<i32>,
    pub actual_minutes: Option<i32>,
}

/// What to record about a todo's estimate.
#[derive(Debug, Clone)]
pub enum EstimateOutcome {
    Ready {
        minutes: i32,
        text: String,
        basis: Vec<Basis>,
        /// Low and high ends, when the similar tasks give a spread.
        range: Option<(i32, i32)>,
        /// The chat model's number before calibration (chat estimates only).
        model_minutes: Option<i32>,
    },
    /// Too little history for the history estimator to give a number.
    Insufficient {
        /// What the todo's `estimate` says instead of a number.
        text: String,
        reason: String,
        basis: Vec<Basis>,
    },
    Failed {
        reason: String,
    },
}

/// The columns a settled estimate writes.
pub(super) struct Settled<'a> {
    pub status: EstimateStatus,
    pub text: &'a str,
    pub minutes: Option<i32>,
    pub basis: &'a [Basis],
    pub reason: Option<&'a str>,
    pub range: Option<(i32, i32)>,
    pub model_minutes: Option<i32>,
}

impl EstimateOutcome {
    /// The columns of a settled (ready or insufficient) estimate, or a
    /// failure's reason (a failure keeps whatever estimate the todo had).
    pub(super) fn settled(&self) -> Result<Settled<'_>, &str> {
        match self {
            Self::Ready {
                minutes,
                text,
                basis,
                range,
                model_minutes,
            } => Ok(Settled {
                status: EstimateStatus::Ready,
                text,
                minutes: Some(*minutes),
                basis,
                reason: None,
                range: *range,
                model_minutes: *model_minutes,
            }),
            Self::Insufficient { text, reason, basis } => Ok(Settled {
                status: EstimateStatus::InsufficientHistory,
                text,
                minutes: None,
                basis,
                reason: Some(reason),
                range: None,
                model_minutes: None,
            }),
            Self::Failed { reason } => Err(reason),
        }
    }
}

/// A tenant to create from an export (`aswan import`), validated.
#[derive(Debug, Clone)]
pub struct TenantImport {
    pub name: crate::domain::TenantName,
    /// Members by email; those without an account here are skipped.
    pub members: Vec<(crate::domain::Email, Role)>,
    /// Made owner when none of the exported owners has an account here.
    pub owner_fallback: Option<crate::domain::Email>,
    pub todos: Vec<ImportedTodo>,
}

/// A todo as exported: every field kept, its id too (the bases of other
/// todos' estimates refer to it).
#[derive(Debug, Clone)]
pub struct ImportedTodo {
    pub id: TodoId,
    pub title: TodoTitle,
    pub complete: bool,
    pub estimate: Option<String>,
    pub estimate_status: EstimateStatus,
    pub estimate_minutes: Option<i32>,
    pub estimate_basis: Box<RawValue>,
    pub estimate_reason: Option<String>,
    pub actual_minutes: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub estimate_low_minutes: Option<i32>,
    pub estimate_high_minutes: Option<i32>,
    pub estimate_model_minutes: Option<i32>,
}

/// What an import made.
#[derive(Debug, Clone)]
pub struct Imported {
    pub tenant: Tenant,
    pub todos: usize,
    pub members: usize,
    /// Exported members with no account on this instance.
    pub skipped_members: Vec<String>,
}

/// A todo waiting for its estimate, in the durable queue. The tenant is the
/// one of the [`TenantStore`](super::TenantStore) the job came with.
#[derive(Debug, Clone, Copy)]
pub struct EstimateJob {
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
pub(super) fn parse_role(role: &str) -> Result<Role, StoreError> {
    role.parse()
        .map_err(|e: crate::domain::Invalid| StoreError::Database(sqlx::Error::Decode(e.into())))
}

/// A membership as the database has it.
#[derive(sqlx::FromRow)]
pub(super) struct MembershipRow {
    pub id: Uuid,
    pub name: String,
    pub role: String,
}

impl TryFrom<MembershipRow> for Membership {
    type Error = StoreError;
    fn try_from(r: MembershipRow) -> Result<Self, StoreError> {
        Ok(Self {
            tenant: Tenant {
                id: r.id.into(),
                name: r.name,
            },
            role: parse_role(&r.role)?,
        })
    }
}

/// A member as the database has it.
#[derive(sqlx::FromRow)]
pub(super) struct MemberRow {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<MemberRow> for Member {
    type Error = StoreError;
    fn try_from(r: MemberRow) -> Result<Self, StoreError> {
        Ok(Self {
            user_id: r.id.into(),
            email: r.email,
            name: r.name,
            role: parse_role(&r.role)?,
            joined_at: r.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn estimate_status_text_round_trips() {
        for s in ["pending", "ready", "insufficient_history", "failed", "off"] {
            let status = EstimateStatus::parse(s).unwrap();
            assert_eq!(status.as_str(), s);
            assert_eq!(serde_json::to_value(status).unwrap(), s);
        }
        assert_eq!(EstimateStatus::parse("done"), None);
    }

    #[test]
    fn timestamps_serialise_as_chrono_does() {
        #[derive(Serialize)]
        struct Ours(#[serde(serialize_with = "rfc3339")] DateTime<Utc>);
        let mut cases = vec![
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 6, 1, 12, 0, 0).unwrap(),
        ];
        for nanos in [0, 1, 999, 1_000, 120_000_000, 134_328_000, 134_328_260, 999_999_999] {
            cases.push(Utc.with_ymd_and_hms(2026, 11, 28, 19, 12, 29).unwrap() + chrono::Duration::nanoseconds(nanos));
        }
        // A spread of instants over four centuries, at every precision.
        let mut x: i64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = x.rem_euclid(12_622_780_800) - 2_208_988_800; // 1900..2300
            let nanos = match x.rem_euclid(4) {
                0 => 0,
                1 => (x >> 20).rem_euclid(1000) * 1_000_000,
                2 => (x >> 20).rem_euclid(1_000_000) * 1_000,
                _ => (x >> 20).rem_euclid(1_000_000_000),
            };
            cases.push(DateTime::from_timestamp(secs, nanos as u32).unwrap());
        }
        for t in cases {
            assert_eq!(
                serde_json::to_string(&Ours(t)).unwrap(),
                serde_json::to_string(&t).unwrap(),
                "{t:?}"
            );
        }
    }
}

/// A timed task with its estimate, as the accuracy view plots it
/// (src/ai/accuracy.rs reads these).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EstimatedActual {
    pub id: TodoId,
    pub title: String,
    pub estimate_minutes: i32,
    pub actual_minutes: i32,
    /// When the task was last changed (recorded as done), the x of the trend.
    pub updated_at: DateTime<Utc>,
}
