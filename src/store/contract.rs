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
    ApiTokenInfo, Basis, ClaimedJob, EmailPurpose, EstimateJob, EstimateOutcome, Imported, Invitation,
    InvitationPreview, Member, Membership, NewApiToken, NewInvitation, NewSession, NewTodo, OpenWork, Page,
    PageRequest, Result, SessionInfo, Tenant, TenantImport, Timer, Todo, TodoPatch, User, UserWithHash,
};
use crate::domain::{Email, Role, TenantId, TenantName, TodoFilter, TodoId, TokenScope, UserId};

#[cfg(doc)]
use super::{Store, StoreError, TenantStore};

/// Accounts: users, passwords, verified emails, email links (global context).
pub trait Accounts {
    /// Creates a user and its password credential atomically.
    /// [`StoreError::Conflict`] when the email is taken; nothing is written then.
    async fn create_user(&self, email: &Email, name: Option<&str>, password_hash: &str) -> Result<User>;

    /// The user with this email and its password hash, if any.
    async fn user_with_password(&self, email: &Email) -> Result<Option<UserWithHash>>;

    async fn user(&self, id: UserId) -> Result<Option<User>>;

    /// The user's password hash (argon2id PHC string).
    async fn password_hash(&self, user: UserId) -> Result<Option<String>>;

    /// Replaces the user's password, in one transaction with what must go
    /// with the old one: every live credential ends (sessions but `keep`,
    /// every API token) and unused reset links die.
    /// [`StoreError::NotFound`] if the user is gone; nothing changes then.
    async fn change_password(&self, user: UserId, password_hash: &str, keep: Option<Uuid>) -> Result<()>;

    /// Sets a new password with a reset link, in one transaction: takes the
    /// link, sets the password, ends every credential, kills the user's
    /// other reset links and marks the address the link went to verified.
    /// `None` (nothing changed) if the link is unknown, used or expired.
    async fn reset_password(&self, token_hash: &str, password_hash: &str) -> Result<Option<UserId>>;

    /// Whether a link with this hash and purpose exists and has not expired
    /// (a cheap look before the expensive password hash; nothing is taken).
    async fn email_link_is_live(&self, token_hash: &str, purpose: EmailPurpose) -> Result<bool>;

    /// Marks the user's email verified, if it is still `email` (a link sent
    /// to an address proves only that address). Whether it was marked.
    async fn mark_email_verified(&self, user: UserId, email: &str) -> Result<bool>;

    /// Stores a single-use email link (hashed), replacing the user's earlier
    /// links of the same purpose; expired links are purged on the way.
    async fn create_email_token(
        &self,
        user: UserId,
        purpose: EmailPurpose,
        token_hash: &str,
        email: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;

    /// Uses up a link: `Some(user, email it was sent to)` if it exists, has
    /// this purpose and has not expired; it is gone afterwards either way.
    async fn take_email_token(&self, token_hash: &str, purpose: EmailPurpose) -> Result<Option<(UserId, String)>>;

    /// Deletes the account and everything that is only its own: its
    /// sessions, tokens and memberships, and the tenants it is the only
    /// member of (their todos too). [`StoreError::LastOwner`] — nothing
    /// deleted — while it is the last owner of a tenant with other members.
    /// Returns the tenants deleted with it.
    async fn delete_user(&self, user: UserId) -> Result<Vec<TenantId>>;

    /// Every account's id and email (the email check of `aswan migrate`).
    async fn user_emails(&self) -> Result<Vec<(UserId, String)>>;
}

/// A user's running timer (global context; src/store/timers.rs): one per
/// user, started through the tenant handle ([`TodoTimers`]).
pub trait Timers {
    /// `user`'s running timer, if any.
    async fn running_timer(&self, user: UserId) -> Result<Option<Timer>>;

    /// Stops `user`'s timer: what it timed, or `None` if none was running.
    async fn stop_timer(&self, user: UserId) -> Result<Option<Timer>>;
}

/// Starting a timer on one of the tenant's todos.
pub trait TodoTimers {
    /// Starts `user`'s timer on `todo` now, replacing any running one (one
    /// timer per user), in one transaction with the check of the todo:
    /// [`StoreError::NotFound`] if this tenant has no such todo,
    /// [`StoreError::Refused`] if it is done. Deleting the todo stops every
    /// timer on it.
    async fn start_timer(&self, user: UserId, todo: TodoId) -> Result<Timer>;
}

/// Sign-in sessions and personal API tokens (global context). Either is a
/// credential; a credential is live while its row is: not revoked, not
/// expired, its user still there.
pub trait Sessions {
    /// Records a sign-in; the session's id is its token's `jti`.
    async fn create_session(&self, session: &NewSession) -> Result<()>;

    /// Whether `user`'s credential `id` (a session or an API token) is live.
    /// (A deleted user's token is a dead session, not a request that fails
    /// later on a foreign key.)
    async fn credential_is_live(&self, id: Uuid, user: UserId) -> Result<bool>;

    /// `user`'s live sessions, most recently seen first.
    async fn sessions_of(&self, user: UserId) -> Result<Vec<SessionInfo>>;

    /// Ends one of `user`'s sessions. `false` if it has no such live session
    /// (another user's session id is "no such").
    async fn revoke_session(&self, user: UserId, id: Uuid) -> Result<bool>;

    /// Ends every live credential of `user` at once: its sessions except
    /// `keep`, and all its API tokens ("log out everywhere"); how many ended.
    async fn end_credentials(&self, user: UserId, keep: Option<Uuid>) -> Result<u64>;

    /// Records that a credential was used now (a session's `last_seen_at`,
    /// a token's `last_used_at`).
    async fn touch_credential(&self, id: Uuid, at: DateTime<Utc>) -> Result<()>;

    async fn create_api_token(&self, token: &NewApiToken) -> Result<ApiTokenInfo>;

    /// `user`'s live API tokens, newest first.
    async fn api_tokens_of(&self, user: UserId) -> Result<Vec<ApiTokenInfo>>;

    /// Revokes one of `user`'s tokens; `false` if it has no such live one.
    async fn revoke_api_token(&self, user: UserId, id: Uuid) -> Result<bool>;

    /// The live API token with this SHA-256: its id, its user, its scope.
    async fn api_token(&self, token_hash: &str) -> Result<Option<(Uuid, UserId, TokenScope)>>;

    /// Deletes what can no longer be used as of `now`: ended (revoked or
    /// expired) sessions and API tokens, expired mailed links. How many rows
    /// went. A dead credential is as dead without its row, and the table
    /// stays the size of the live ones.
    async fn prune_ended_credentials(&self, now: DateTime<Utc>) -> Result<u64>;
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

    /// The live invitation with this token hash, for the invitee to see
    /// before accepting.
    async fn invitation(&self, token_hash: &str) -> Result<Option<InvitationPreview>>;

    /// Accepts an invitation as `user`, whose email is `email`: the
    /// membership is made and the invitation used up, atomically.
    /// [`StoreError::NotFound`] if there is no such live invitation;
    /// [`StoreError::Refused`] if it was sent to another address (it stays);
    /// [`StoreError::Conflict`] if already a member (the invitation is used up).
    async fn accept_invitation(&self, token_hash: &str, user: UserId, email: &str) -> Result<Membership>;
}

/// The tenant itself and its members, as any member sees them.
pub trait TenantAdmin {
    /// The tenant itself. [`StoreError::NotFound`] if it is gone.
    async fn info(&self) -> Result<Tenant>;

    /// The members, oldest membership first (ties by email), a page at a time.
    async fn members(&self, page: PageRequest<String>) -> Result<Page<Member, String>>;

    /// Ends `user`'s own membership (the caller passes the signed-in user):
    /// as [`OwnerAdmin::remove_member`], the last owner cannot go.
    async fn leave(&self, user: UserId) -> Result<()>;
}

/// What only an owner may do to a tenant: implemented by [`OwnerTenant`]
/// alone, which the session door hands out only to an owner (a member's
/// [`TenantStore`] has none of these methods).
///
/// [`OwnerTenant`]: super::OwnerTenant
pub trait OwnerAdmin {
    /// Renames the tenant. [`StoreError::NotFound`] if it is gone.
    async fn rename(&self, name: &TenantName) -> Result<Tenant>;

    /// Adds the user with this email, directly: only an account whose email
    /// is verified (else anyone could pre-register someone's address and
    /// inherit what is meant for them; invite instead).
    /// [`StoreError::NotFound`] if there is no such user,
    /// [`StoreError::Refused`] if its email is not verified,
    /// [`StoreError::Conflict`] if already a member.
    async fn add_member(&self, email: &Email, role: Role) -> Result<Member>;

    /// [`StoreError::NotFound`] if `user` is not a member of this tenant;
    /// [`StoreError::LastOwner`] if this would leave the tenant without an
    /// owner, also when two such changes race (one of them wins). An owner
    /// who steps down takes back the invitations they sent.
    async fn set_member_role(&self, user: UserId, role: Role) -> Result<Member>;

    /// As [`OwnerAdmin::set_member_role`]: the last owner cannot go. The
    /// member's pending invitations and their timer here go with them.
    async fn remove_member(&self, user: UserId) -> Result<()>;

    /// Deletes the tenant and everything in it (todos, their embeddings and
    /// jobs, memberships, invitations) in one transaction.
    async fn delete_tenant(&self) -> Result<()>;

    /// Invites an email with a role. An invitation already pending for that
    /// email is replaced (new token, role and expiry). [`StoreError::Conflict`]
    /// if someone with that email is already a member.
    async fn invite(&self, invitation: &NewInvitation) -> Result<Invitation>;

    /// Pending (unexpired) invitations, newest first.
    async fn invitations(&self) -> Result<Vec<Invitation>>;

    /// Gives a pending invitation a new token and expiry (a resend).
    /// `None` if this tenant has no such invitation.
    async fn renew_invitation(
        &self,
        id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<Invitation>>;

    /// Revokes an invitation; `false` if this tenant has no such one.
    async fn revoke_invitation(&self, id: Uuid) -> Result<bool>;
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

    /// The latest `limit` timed todos that a chat model estimated, most
    /// recently updated first: `(actual minutes, the model's minutes)`, what
    /// calibration learns from (src/ai/calibration.rs).
    async fn calibration_samples(&self, limit: i64) -> Result<Vec<(i32, i32)>>;

    /// The latest `limit` timed todos that had an estimate, most recently
    /// updated first: what the accuracy view measures (the accuracy view).
    async fn estimated_actuals(&self, limit: i64) -> Result<Vec<super::EstimatedActual>>;

    /// The open todos' count, how many have an estimate, and its sum.
    async fn open_work(&self) -> Result<OpenWork>;

    /// Up to `limit` open todos estimated at `minutes` or less, the longest
    /// first (the most of the time used), then the newest.
    async fn open_todos_fitting(&self, minutes: i32, limit: i64) -> Result<Vec<Todo>>;
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
