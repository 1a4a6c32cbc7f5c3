//! The persistence seam. Two handles, one per context (DESIGN.md §3):
//!
//! * [`Store`]: the global context — accounts, tenants, memberships. It has no
//!   method that reads or writes a tenant-aware table.
//! * [`TenantStore`]: one tenant's data. It can only be obtained through a
//!   membership check ([`Store::tenant_for_session`]) or, for background work
//!   that acts for the system, [`Store::tenant_for_system`]. Every query it
//!   runs is scoped to that tenant.
//!
//! Each backend implements the same contract; one contract test suite
//! (`tests/api`) runs against both.

mod console;
mod error;
mod models;
pub mod postgres;
pub mod sqlite;

pub use console::SqlTable;
pub use error::StoreError;
pub use models::{
    Basis, EstimateJob, EstimateOutcome, Member, Membership, NewTodo, Tenant, Todo, TodoPatch, User, UserWithHash,
};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Email, Role, TenantId, TenantName, TodoFilter, TodoId, UserId};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long a claimed estimate job stays locked to its claimer. A process
/// that dies mid-estimate releases its jobs when the lease runs out.
pub const JOB_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// The global handle. Cheap to clone (pools inside).
#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// Calls the same method on whichever backend this is.
macro_rules! dispatch {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            Store::Sqlite($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

impl Store {
    /// Connects to `database_url` (`sqlite://…`) and applies migrations.
    pub async fn open(database_url: &str, max_connections: u32) -> Result<Self> {
        let store = Self::connect(database_url, max_connections).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(database_url: &str, max_connections: u32) -> Result<Self> {
        if database_url.starts_with("sqlite:") {
            return Ok(Self::Sqlite(
                sqlite::SqliteStore::connect(database_url, max_connections).await?,
            ));
        }
        if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            return Ok(Self::Postgres(
                postgres::PgStore::connect(database_url, max_connections).await?,
            ));
        }
        Err(StoreError::Config(
            "DATABASE_URL must start with sqlite: or postgres://".into(),
        ))
    }

    /// Applies pending migrations; a no-op when the schema is current.
    pub async fn migrate(&self) -> Result<()> {
        dispatch!(self, s => s.migrate().await)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Runs one SQL statement as the app would (`aswan sql`): in `tenant`'s
    /// context when given; without one, tenant-aware tables show nothing.
    /// SQLite runs it read-only (see `SqliteStore::run_sql`).
    pub async fn run_sql(&self, tenant: Option<TenantId>, sql: &str) -> Result<SqlTable> {
        dispatch!(self, s => s.run_sql(tenant, sql).await)
    }

    /// Prepares approximate nearest-neighbour search for embeddings of this
    /// many dimensions: an HNSW index on PostgreSQL (for the common
    /// dimensions; `false` otherwise), nothing on SQLite (exact scan).
    pub async fn ensure_vector_index(&self, dimensions: usize) -> Result<bool> {
        match self {
            Self::Sqlite(_) => Ok(false),
            Self::Postgres(s) => s.ensure_vector_index(dimensions).await,
        }
    }

    /// Is the database answering?
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, s => s.ping().await)
    }

    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }

    // ---- accounts ----

    /// Creates a user and its password credential atomically.
    /// [`StoreError::Conflict`] when the email is taken.
    pub async fn create_user(&self, email: &Email, name: Option<&str>, password_hash: &str) -> Result<User> {
        dispatch!(self, s => s.create_user(email, name, password_hash).await)
    }

    /// The user with this email and its password hash, if any.
    pub async fn user_with_password(&self, email: &Email) -> Result<Option<UserWithHash>> {
        dispatch!(self, s => s.user_with_password(email).await)
    }

    pub async fn user(&self, id: UserId) -> Result<Option<User>> {
        dispatch!(self, s => s.user(id).await)
    }

    /// Revokes a session token until it would have expired anyway.
    pub async fn revoke_token(&self, jti: Uuid, expires_at: DateTime<Utc>) -> Result<()> {
        dispatch!(self, s => s.revoke_token(jti, expires_at).await)
    }

    pub async fn is_token_revoked(&self, jti: Uuid) -> Result<bool> {
        dispatch!(self, s => s.is_token_revoked(jti).await)
    }

    // ---- tenants ----

    /// Creates a tenant with `owner` as its first owner, atomically.
    pub async fn create_tenant(&self, name: &TenantName, owner: UserId) -> Result<Tenant> {
        dispatch!(self, s => s.create_tenant(name, owner).await)
    }

    /// The tenants `user` belongs to, oldest membership first.
    /// Every tenant's id: for maintenance that visits each tenant in turn
    /// (through [`Store::tenant_for_system`]).
    pub async fn tenant_ids(&self) -> Result<Vec<TenantId>> {
        dispatch!(self, s => s.tenant_ids().await)
    }

    pub async fn tenants_of(&self, user: UserId) -> Result<Vec<Membership>> {
        dispatch!(self, s => s.tenants_of(user).await)
    }

    // ---- the estimate queue (shared: ids only) ----

    /// Claims up to `limit` due jobs for [`JOB_LEASE`]. Concurrent claimers
    /// (other processes) never get the same job.
    pub async fn claim_estimate_jobs(&self, limit: i64) -> Result<Vec<EstimateJob>> {
        dispatch!(self, s => s.claim_estimate_jobs(limit).await)
    }

    /// Records a failed attempt; the job is due again at `next_at`.
    pub async fn retry_estimate_job(&self, job: &EstimateJob, next_at: DateTime<Utc>, error: &str) -> Result<()> {
        dispatch!(self, s => s.retry_estimate_job(job, next_at, error).await)
    }

    pub async fn finish_estimate_job(&self, job: &EstimateJob) -> Result<()> {
        dispatch!(self, s => s.finish_estimate_job(job).await)
    }

    // ---- the door to tenant data ----

    /// The only door to a tenant's data for a request, in one query: is the
    /// session (`jti`) revoked, and is `user` a member of `tenant`? is the
    /// session (`jti`) revoked, and is `user` a member of `tenant`?
    pub async fn tenant_for_session(&self, tenant: TenantId, user: UserId, jti: Uuid) -> Result<SessionTenant> {
        let (revoked, membership) = dispatch!(self, s => s.session_membership(tenant, user, jti).await)?;
        Ok(match (revoked, membership) {
            (true, _) => SessionTenant::Revoked,
            (false, None) => SessionTenant::NotMember,
            (false, Some(m)) => SessionTenant::Member(TenantStore::new(self.clone(), tenant), m),
        })
    }

    /// A tenant handle for work the system does on its own behalf (background
    /// jobs, maintenance commands), never for a user's request.
    pub fn tenant_for_system(&self, tenant: TenantId) -> TenantStore {
        TenantStore::new(self.clone(), tenant)
    }
}

/// What [`Store::tenant_for_session`] found.
pub enum SessionTenant {
    /// The session was logged out.
    Revoked,
    /// The user is not a member (or the tenant does not exist).
    NotMember,
    Member(TenantStore, Membership),
}

/// One tenant's data. Every method runs in that tenant's context only.
#[derive(Clone)]
pub struct TenantStore {
    store: Store,
    tenant: TenantId,
}

impl TenantStore {
    fn new(store: Store, tenant: TenantId) -> Self {
        Self { store, tenant }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    /// The global handle this tenant handle came from.
    pub fn store(&self) -> &Store {
        &self.store
    }

    // ---- the tenant itself and its members ----

    pub async fn rename(&self, name: &TenantName) -> Result<Tenant> {
        dispatch!(&self.store, s => s.rename_tenant(self.tenant, name).await)
    }

    pub async fn members(&self) -> Result<Vec<Member>> {
        dispatch!(&self.store, s => s.members(self.tenant).await)
    }

    /// Adds the user with this email. [`StoreError::NotFound`] if there is no
    /// such user, [`StoreError::Conflict`] if already a member.
    pub async fn add_member(&self, email: &Email, role: Role) -> Result<Member> {
        dispatch!(&self.store, s => s.add_member(self.tenant, email, role).await)
    }

    /// [`StoreError::LastOwner`] if this would leave the tenant without owners.
    pub async fn set_member_role(&self, user: UserId, role: Role) -> Result<Member> {
        dispatch!(&self.store, s => s.set_member_role(self.tenant, user, role).await)
    }

    /// [`StoreError::LastOwner`] if this would leave the tenant without owners.
    pub async fn remove_member(&self, user: UserId) -> Result<()> {
        dispatch!(&self.store, s => s.remove_member(self.tenant, user).await)
    }

    // ---- todos (tenant-aware) ----

    /// Newest first.
    pub async fn list_todos(&self, filter: TodoFilter) -> Result<Vec<Todo>> {
        dispatch!(&self.store, s => s.list_todos(self.tenant, filter).await)
    }

    pub async fn todo(&self, id: TodoId) -> Result<Option<Todo>> {
        dispatch!(&self.store, s => s.todo(self.tenant, id).await)
    }

    pub async fn create_todo(&self, new: &NewTodo) -> Result<Todo> {
        dispatch!(&self.store, s => s.create_todo(self.tenant, new).await)
    }

    /// `None` if the tenant has no such todo.
    pub async fn update_todo(&self, id: TodoId, patch: &TodoPatch) -> Result<Option<Todo>> {
        dispatch!(&self.store, s => s.update_todo(self.tenant, id, patch).await)
    }

    /// Marks the estimate pending again and queues it, leased to the caller
    /// (who tries it inline first). `None` if the tenant has no such todo.
    pub async fn request_estimate(&self, id: TodoId) -> Result<Option<Todo>> {
        dispatch!(&self.store, s => s.request_estimate(self.tenant, id).await)
    }

    /// Stores the title's embedding and the model that made it.
    pub async fn count_stale_embeddings(&self, model: &str) -> Result<u64> {
        dispatch!(&self.store, s => s.count_stale_embeddings(self.tenant, model).await)
    }

    /// Todos whose embedding is missing or from another model (reindexing).
    pub async fn stale_embeddings(&self, model: &str, limit: i64) -> Result<Vec<(TodoId, String)>> {
        dispatch!(&self.store, s => s.stale_embeddings(self.tenant, model, limit).await)
    }

    pub async fn save_embeddings(&self, model: &str, rows: &[(TodoId, Vec<f32>)]) -> Result<()> {
        dispatch!(&self.store, s => s.save_embeddings(self.tenant, model, rows).await)
    }

    pub async fn save_embedding(&self, id: TodoId, model: &str, embedding: &[f32]) -> Result<()> {
        dispatch!(&self.store, s => s.save_embedding(self.tenant, id, model, embedding).await)
    }

    /// The tenant's todos nearest to `embedding` (same model only), with a
    /// cosine distance below `max_distance`, nearest first, never `exclude`.
    pub async fn similar(
        &self,
        embedding: &[f32],
        model: &str,
        k: i64,
        max_distance: f32,
        exclude: Option<TodoId>,
    ) -> Result<Vec<Basis>> {
        dispatch!(&self.store, s => s.similar(self.tenant, embedding, model, k, max_distance, exclude).await)
    }

    /// Records the estimate's outcome. `None` if the todo is gone.
    pub async fn save_estimate(&self, id: TodoId, outcome: &EstimateOutcome) -> Result<Option<Todo>> {
        dispatch!(&self.store, s => s.save_estimate(self.tenant, id, outcome).await)
    }

    /// `false` if the tenant has no such todo.
    pub async fn delete_todo(&self, id: TodoId) -> Result<bool> {
        dispatch!(&self.store, s => s.delete_todo(self.tenant, id).await)
    }
}
