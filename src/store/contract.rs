//! The store contract: what every backend guarantees, method by method.
//!
//! The global handle ([`Store`]) implements [`Accounts`], [`Tenants`] and
//! [`EstimateQueue`]; a tenant handle ([`TenantStore`]) implements
//! [`TenantAdmin`], [`Todos`], [`Embeddings`] and [`Jobs`], and can only be
//! had through a membership check or a claimed job (see `store/mod.rs`).
//! Each body is written once for both backends (`backend.rs`); the
//! contract tests (`tests/api/store_contract.rs`) check every invariant
//! written here against SQLite and PostgreSQL.
//!
//! "Not found" on a tenant handle means "not in this tenant": a foreign id
//! behaves exactly like an id that does not exist, so a failed call never
//! reveals another tenant's rows.

// The futures are Send wherever the handles are used (they are concrete
// types, and callers never go through a generic bound), so the lint's
// concern, callers unable to require Send, does not arise.
#![allow(async_fn_in_trait)]

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Basis, ClaimedJob, EstimateJob, EstimateOutcome, Imported, Member, Membership, NewTodo, Page, PageRequest, Result,
    Tenant, TenantImport, Todo, TodoPatch, User, UserWithHash,
};
use crate::domain::{Email, Role, TenantId, TenantName, TodoFilter, TodoId, UserId};

#[cfg(doc)]
use super::{Store, StoreError, TenantStore};

/// Accounts and sessions (global context).
pub trait Accounts {
    /// Creates a user and its password credential atomically.
    /// [`StoreError::Conflict`] when the email is taken; nothing is written then.
    async fn create_user(&self, email: &Email, name: Option<&str>, password_hash: &str) -> Result<User>;

    /// The user with this email and its password hash, if any.
    async fn user_with_password(&self, email: &Email) -> Result<Option<UserWithHash>>;

    async fn user(&self, id: UserId) -> Result<Option<User>>;

    /// Revokes a session token until it would have expired anyway. Revoking
    /// twice is fine. Entries already expired are purged on the way.
    async fn revoke_token(&self, jti: Uuid, expires_at: DateTime<Utc>) -> Result<()>;

    /// Whether a session may go on: its token (`jti`) is not revoked and its
    /// user still exists. (A deleted user's token is a dead session, not a
    /// request that fails later on a foreign key.)
    async fn session_is_live(&self, jti: Uuid, user: UserId) -> Result<bool>;
}

/// Tenants as seen from outside any one of them (global context).
pub trait Tenants {
    /// Creates a tenant with `owner` as its first owner, atomically.
    async fn create_tenant(&self, name: &TenantName, owner: UserId) -> Result<Tenant>;

    /// The tenants `user` belongs to, oldest membership first (ties by
    /// tenant id), a page at a time.
    async fn tenants_of(&self, user: UserId, page: PageRequest<TenantId>) -> Result<Page<Membership, TenantId>>;

    /// Creates a tenant from an export: its members that have an account
    /// here (same email, same role), its todos with every field and id kept,
    /// pending estimates queued again. [`StoreError::Refused`] when no owner
    /// would remain (none of the exported owners has an account here and
    /// there is no fallback); nothing is left behind on failure.
    async fn import_tenant(&self, import: &TenantImport) -> Result<Imported>;

    /// Every tenant's id, ordered: for maintenance that visits each tenant
    /// in turn through [`Store::unchecked_tenant`].
    async fn tenant_ids(&self) -> Result<Vec<TenantId>>;
}

/// The tenant itself and its members.
pub trait TenantAdmin {
    /// The tenant itself. [`StoreError::NotFound`] if it is gone.
    async fn info(&self) -> Result<Tenant>;

    /// Renames the tenant. [`StoreError::NotFound`] if it is gone.
    async fn rename(&self, name: &TenantName) -> Result<Tenant>;

    /// The members, oldest membership first (ties by email), a page at a time.
    async fn members(&self, page: PageRequest<String>) -> Result<Page<Member, String>>;

    /// Adds the user with this email. [`StoreError::NotFound`] if there is no
    /// such user, [`StoreError::Conflict`] if already a member.
    async fn add_member(&self, email: &Email, role: Role) -> Result<Member>;

    /// [`StoreError::NotFound`] if `user` is not a member of this tenant;
    /// [`StoreError::LastOwner`] if this would leave the tenant without an
    /// owner, also when two such changes race (one of them wins).
    async fn set_member_role(&self, user: UserId, role: Role) -> Result<Member>;

    /// As [`TenantAdmin::set_member_role`]: the last owner cannot go.
    async fn remove_member(&self, user: UserId) -> Result<()>;
}

/// The tenant's todos.
pub trait Todos {
    /// Newest first (ties by id, descending), optionally only (in)complete
    /// ones, a page at a time.
    async fn list_todos(&self, filter: TodoFilter, page: PageRequest<TodoId>) -> Result<Page<Todo, TodoId>>;

    /// `None` if this tenant has no such todo.
    async fn todo(&self, id: TodoId) -> Result<Option<Todo>>;

    /// Stores the todo. With `new.estimate`, it is `pending` and its job is
    /// queued in the same transaction, leased to the caller (who tries it
    /// inline first): the returned job. Otherwise its estimate is `off`.
    async fn create_todo(&self, new: &NewTodo) -> Result<(Todo, Option<EstimateJob>)>;

    /// Changes the given fields. A new title drops the embedding (it
    /// described the old title). `None` if this tenant has no such todo.
    async fn update_todo(&self, id: TodoId, patch: &TodoPatch) -> Result<Option<Todo>>;

    /// Marks the estimate pending again and queues it, leased to the caller.
    /// `None` if this tenant has no such todo.
    async fn request_estimate(&self, id: TodoId) -> Result<Option<(Todo, EstimateJob)>>;

    /// Records the estimate's outcome; a failure keeps the estimate the todo
    /// had. `None` if the todo is gone (deleted meanwhile).
    async fn save_estimate(&self, id: TodoId, outcome: &EstimateOutcome) -> Result<Option<Todo>>;

    /// `false` if this tenant has no such todo. Its queued job goes with it.
    async fn delete_todo(&self, id: TodoId) -> Result<bool>;

    /// Up to `limit` todos whose title contains `needle` (case-insensitive
    /// for ASCII letters), newest first.
    async fn titles_containing(&self, needle: &str, limit: i64) -> Result<Vec<Basis>>;
}

/// The tenant's embeddings and similarity search.
pub trait Embeddings {
    /// Stores the title's embedding and the model that made it.
    async fn save_embedding(&self, id: TodoId, model: &str, embedding: &[f32]) -> Result<()>;

    /// Stores many embeddings from `model` in one transaction.
    async fn save_embeddings(&self, model: &str, rows: &[(TodoId, Vec<f32>)]) -> Result<()>;

    /// The tenant's todos nearest to `embedding`, among those embedded by the
    /// same model with the same dimensions, with a cosine distance below
    /// `max_distance`, nearest first, at most `k`, never `exclude`.
    async fn similar(
        &self,
        embedding: &[f32],
        model: &str,
        k: i64,
        max_distance: f32,
        exclude: Option<TodoId>,
    ) -> Result<Vec<Basis>>;

    /// How many todos have no embedding from `model` (reindexing).
    async fn count_stale_embeddings(&self, model: &str) -> Result<u64>;

    /// Up to `limit` todos with no embedding from `model`: `(id, title)`,
    /// ordered by id, so that a resumed run continues where it stopped.
    async fn stale_embeddings(&self, model: &str, limit: i64) -> Result<Vec<(TodoId, String)>>;
}

/// The durable estimate queue, across tenants (it holds ids only).
pub trait EstimateQueue {
    /// Claims up to `limit` due jobs (oldest due first), each leased to the
    /// caller for [`JOB_LEASE`](super::JOB_LEASE): until the lease runs out
    /// no other claimer, in this process or another, gets the same job. A
    /// claimer that dies releases its jobs when their leases run out. Each
    /// job comes with its tenant's handle (the second door to tenant data).
    async fn claim_estimate_jobs(&self, limit: i64) -> Result<Vec<ClaimedJob>>;
}

/// Settling one of this tenant's jobs.
pub trait Jobs {
    /// Records a failed attempt and releases the lease; the job is due again
    /// at `next_at`.
    async fn retry_estimate_job(&self, job: &EstimateJob, next_at: DateTime<Utc>, error: &str) -> Result<()>;

    /// Removes the job (done, for good or ill).
    async fn finish_estimate_job(&self, job: &EstimateJob) -> Result<()>;
}
