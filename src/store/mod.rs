//! The persistence seam (ARCHITECTURE.md, "The store"). Two handles:
//!
//! * [`Store`]: the global context — accounts, tenants, the estimate queue.
//!   It has no method that reads or writes a tenant-aware table.
//! * [`TenantStore`]: one tenant's data, every query scoped to that tenant.
//!
//! A [`TenantStore`] comes from exactly two doors: a session's membership
//! check ([`Store::tenant_for_session`]) and a claimed estimate job
//! ([`EstimateQueue::claim_estimate_jobs`]). Whole-database maintenance
//! (reindex, `aswan sql --tenant`) has a third, [`Store::unchecked_tenant`],
//! which `clippy.toml` forbids everywhere but at its allowed call sites.
//! The backends and their types are private, [`Store`] is opaque, and a tenant
//! handle never hands back the global one: isolation holds by construction.
//!
//! ```compile_fail
//! // A backend type cannot be named outside the store.
//! use aswan::store::sqlite::SqliteDb;
//! ```
//! ```compile_fail
//! // Nor can a tenant handle be built from an id, or the global handle be
//! // taken back from one.
//! fn door(t: aswan::store::TenantStore) -> aswan::store::Store { t.store().clone() }
//! ```
//! ```compile_fail
//! fn forge(s: &aswan::store::Store) -> aswan::store::TenantStore {
//!     aswan::store::TenantStore { db: todo!(), tenant: aswan::domain::TenantId::new() }
//! }
//! ```

mod accounts;
mod backend;
mod console;
mod contract;
mod error;
mod invitations;
mod models;
mod postgres;
mod queue;
mod release_check;
mod sessions;
mod sql;
mod sqlite;
mod tenants;
mod timers;
mod todos;
mod transfer;

pub use console::SqlTable;
pub use contract::{
    Accounts, Embeddings, EstimateQueue, Jobs, OwnerAdmin, Sessions, TenantAdmin, Tenants, Timers, TodoTimers, Todos,
};
pub use error::StoreError;
pub use invitations::{Invitation, InvitationPreview, NewInvitation};
pub use models::{
    Basis, Cursor, EmailPurpose, EstimateJob, EstimateOutcome, EstimateStatus, EstimatedActual, Imported, ImportedTodo,
    Member, Membership, NewTodo, OpenWork, Page, PageRequest, Tenant, TenantImport, Todo, TodoPatch, User,
    UserWithHash,
};
pub use postgres::Distribution;
pub use sessions::{ApiTokenInfo, NewApiToken, NewSession, SessionInfo};
pub use timers::Timer;

use uuid::Uuid;

use crate::domain::{TenantId, UserId};
use backend::{on, Db};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Now, to the microsecond: PostgreSQL's precision, so a timestamp reads the
/// same on both backends and survives an export from one to the other.
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// How long a claimed estimate job stays locked to its claimer. A process
/// that dies mid-estimate releases its jobs when the lease runs out.
pub const JOB_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// Every trait of the contract, for `use crate::store::prelude::*`.
pub mod prelude {
    pub use super::{
        Accounts, Embeddings, EstimateQueue, Jobs, OwnerAdmin, Sessions, TenantAdmin, Tenants, Timers, TodoTimers,
        Todos,
    };
}

/// The global handle. Cheap to clone (pools inside). Opaque: which backend
/// it talks to is its own business.
#[derive(Clone)]
pub struct Store {
    db: Db,
}

/// How to connect.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// How long a query waits for a pooled connection before the store
    /// reports the database unavailable ([`StoreError::Unavailable`]).
    pub acquire_timeout: std::time::Duration,
    /// How wide PostgreSQL's HNSW search is (`hnsw.ef_search`) for similar
    /// tasks: recall against latency (BENCHMARKS.md, "Vector search").
    pub ef_search: EfSearch,
}

impl StoreOptions {
    pub fn new(max_connections: u32) -> Self {
        Self {
            max_connections,
            acquire_timeout: std::time::Duration::from_secs(3),
            ef_search: EfSearch::default(),
        }
    }
}

/// `hnsw.ef_search`, one of the widths the benchmark measured. A closed set
/// so that each has its own constant `SET LOCAL` statement: a setting's
/// value is never formatted into SQL, and `SET LOCAL` (unlike
/// `set_config`) is what Citus forwards to its workers (docs/scaling.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EfSearch(u16);

/// A search's settings in one simple-protocol round trip: iterative scans
/// (a tenant's rows are a sliver of the index: the scan goes on until enough
/// pass the filter; pgvector >= 0.8) and the width.
macro_rules! search_setup {
    ($width:literal) => {
        concat!(
            "SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL hnsw.ef_search = ",
            stringify!($width)
        )
    };
}

impl EfSearch {
    /// The widths on offer, each with the statements that set up a search.
    const STATEMENTS: [(u16, &'static str); 7] = [
        (40, search_setup!(40)),
        (64, search_setup!(64)),
        (100, search_setup!(100)),
        (200, search_setup!(200)),
        (400, search_setup!(400)),
        (800, search_setup!(800)),
        (1000, search_setup!(1000)),
    ];
    /// The choice of the 100k-todos-per-tenant sweep (BENCHMARKS.md).
    pub const DEFAULT: u16 = 200;

    pub fn parse(width: u16) -> Option<Self> {
        Self::STATEMENTS.iter().any(|(w, _)| *w == width).then_some(Self(width))
    }

    pub fn choices() -> impl Iterator<Item = u16> {
        Self::STATEMENTS.iter().map(|(w, _)| *w)
    }

    pub fn get(self) -> u16 {
        self.0
    }

    pub(crate) fn statement(self) -> &'static str {
        Self::STATEMENTS
            .iter()
            .find(|(w, _)| *w == self.0)
            .map(|(_, s)| *s)
            .expect("EfSearch holds only widths of STATEMENTS")
    }
}

#[cfg(test)]
mod ef_search_tests {
    use super::EfSearch;

    #[test]
    fn each_width_sets_itself_and_iterative_scans() {
        for width in EfSearch::choices() {
            let sql = EfSearch::parse(width).unwrap().statement();
            assert!(sql.ends_with(&format!("hnsw.ef_search = {width}")), "{sql}");
            assert!(
                sql.starts_with("SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL "),
                "{sql}"
            );
        }
        assert_eq!(EfSearch::parse(123), None);
        assert_eq!(EfSearch::default().get(), EfSearch::DEFAULT);
    }
}

impl Default for EfSearch {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

impl Store {
    /// Connects to `database_url` (`sqlite:…` or `postgres://…`) and applies
    /// migrations.
    pub async fn open(database_url: &str, max_connections: u32) -> Result<Self> {
        Self::open_with(database_url, StoreOptions::new(max_connections)).await
    }

    pub async fn open_with(database_url: &str, options: StoreOptions) -> Result<Self> {
        let store = Self::connect(database_url, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(database_url: &str, options: StoreOptions) -> Result<Self> {
        let db = if database_url.starts_with("sqlite:") {
            Db::Sqlite(sqlite::SqliteDb::connect(database_url, options).await?)
        } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            Db::Postgres(postgres::PgDb::connect(database_url, options).await?)
        } else {
            return Err(StoreError::Config(
                "DATABASE_URL must start with sqlite: or postgres://".into(),
            ));
        };
        Ok(Self { db })
    }

    /// Applies pending migrations; a no-op when the schema is current.
    pub async fn migrate(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite(s) => s.migrate().await,
            Db::Postgres(p) => p.migrate().await,
        }
    }

    pub fn backend(&self) -> &'static str {
        match &self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Runs one SQL statement as the app would (`aswan sql`): in the tenant's
    /// context when given one; without, tenant-aware tables show nothing.
    /// SQLite runs it read-only. An operator's tool, not a security boundary.
    pub async fn run_sql(&self, tenant: Option<&TenantStore>, sql: &str) -> Result<SqlTable> {
        let tenant = tenant.map(|t| t.tenant);
        match &self.db {
            Db::Sqlite(s) => s.run_sql(tenant, sql).await,
            Db::Postgres(p) => p.run_sql(tenant, sql).await,
        }
    }

    /// The connection pools' state: `(open, idle, max)` over all pools.
    pub fn pool_stats(&self) -> (u32, u32, u32) {
        fn of<DB: sqlx::Database>(p: &sqlx::Pool<DB>) -> (u32, u32, u32) {
            (p.size(), p.num_idle() as u32, p.options().get_max_connections())
        }
        match &self.db {
            Db::Sqlite(s) => {
                let (a, b) = (of(&s.read), of(&s.write));
                (a.0 + b.0, a.1 + b.1, a.2 + b.2)
            }
            Db::Postgres(p) => of(&p.pool),
        }
    }

    /// `aswan backup`: a consistent copy of the SQLite database at `path`,
    /// taken while the server may be writing (one read transaction's
    /// snapshot). [`StoreError::Refused`] on PostgreSQL (use pg_dump) or when
    /// `path` exists.
    pub async fn backup(&self, path: &std::path::Path) -> Result<u64> {
        match &self.db {
            Db::Sqlite(s) => s.backup(path).await,
            Db::Postgres(_) => Err(StoreError::Refused(
                "aswan backup copies SQLite databases; for PostgreSQL use pg_dump (README, \"Running it in production\")"
                    .into(),
            )),
        }
    }

    /// `aswan distribute`: on PostgreSQL with Citus, distributes the tables
    /// (docs/scaling.md); anywhere else, nothing.
    pub async fn distribute(&self) -> Result<Distribution> {
        match &self.db {
            Db::Sqlite(_) => Ok(Distribution::NotCitus),
            Db::Postgres(p) => p.distribute().await,
        }
    }

    /// At start: "Citus <version>, N workers" on a ready Citus cluster, `None`
    /// elsewhere; [`StoreError::Config`] on a Citus cluster the server
    /// cannot run on (tables not distributed, context not propagated).
    pub async fn cluster(&self) -> Result<Option<String>> {
        match &self.db {
            Db::Sqlite(_) => Ok(None),
            Db::Postgres(p) => p.cluster().await,
        }
    }

    /// Prepares approximate nearest-neighbour search for embeddings of this
    /// many dimensions: an HNSW index on PostgreSQL (for the common
    /// dimensions; `false` otherwise), nothing on SQLite (exact scan).
    pub async fn ensure_vector_index(&self, dimensions: usize) -> Result<bool> {
        match &self.db {
            Db::Sqlite(_) => Ok(false),
            Db::Postgres(p) => p.ensure_vector_index(dimensions).await,
        }
    }

    /// Is the database answering, and does it take writes? (A read-only
    /// file or a standby answers reads but refuses this statement, which
    /// changes nothing.)
    pub async fn ping(&self) -> Result<()> {
        on!(write(&self.db), |c| sqlx::query("DELETE FROM sessions WHERE 1 = 0")
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(s) => s.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    // ---- the doors to tenant data ----

    /// The door for a request, in one query: is the session (`jti`) live (not
    /// revoked, its user still there), and is `user` a member of `tenant`?
    /// Only a member gets the handle.
    pub async fn tenant_for_session(&self, tenant: TenantId, user: UserId, jti: Uuid) -> Result<SessionTenant> {
        let (live, membership) = self.session_membership(tenant, user, jti).await?;
        Ok(match (live, membership) {
            (false, _) => SessionTenant::Ended,
            (true, None) => SessionTenant::NotMember,
            (true, Some(m)) if m.role == crate::domain::Role::Owner => {
                SessionTenant::Owner(OwnerTenant(self.tenant_handle(tenant)), m)
            }
            (true, Some(m)) => SessionTenant::Member(self.tenant_handle(tenant), m),
        })
    }

    /// A tenant handle with no membership check: whole-database maintenance
    /// only (`aswan reindex`, `aswan sql --tenant`), never a request.
    /// Forbidden by `clippy.toml` except where explicitly allowed.
    pub fn unchecked_tenant(&self, tenant: TenantId) -> TenantStore {
        self.tenant_handle(tenant)
    }

    fn tenant_handle(&self, tenant: TenantId) -> TenantStore {
        TenantStore {
            db: self.db.clone(),
            tenant,
        }
    }
}

/// What [`Store::tenant_for_session`] found.
pub enum SessionTenant {
    /// The session was logged out, or its account no longer exists.
    Ended,
    /// The user is not a member (or the tenant does not exist).
    NotMember,
    /// A member: the tenant's data, nothing only owners may do.
    Member(TenantStore, Membership),
    /// An owner: the same, and what only owners may do.
    Owner(OwnerTenant, Membership),
}

impl SessionTenant {
    /// The tenant's handle, for a member or an owner.
    pub fn tenant(&self) -> Option<&TenantStore> {
        match self {
            Self::Member(tenant, _) => Some(tenant),
            Self::Owner(owner, _) => Some(owner),
            Self::Ended | Self::NotMember => None,
        }
    }
}

/// A tenant's handle in an owner's hands: every [`TenantStore`] method
/// (it derefs to one) and [`OwnerAdmin`]'s. Made only by the store, for a
/// session whose membership it read as an owner's (and for its own
/// whole-account deletions).
///
/// A member's handle cannot do what only owners may:
///
/// ```compile_fail
/// use aswan::store::prelude::*;
/// async fn rename(member: aswan::store::TenantStore, name: aswan::domain::TenantName) {
///     member.rename(&name).await.unwrap();
/// }
/// ```
#[derive(Clone)]
pub struct OwnerTenant(TenantStore);

impl OwnerTenant {
    /// A deleted account's tenants where it was alone go whole with it.
    pub(super) fn for_deletion(tenant: TenantStore) -> Self {
        Self(tenant)
    }
}

impl std::ops::Deref for OwnerTenant {
    type Target = TenantStore;
    fn deref(&self) -> &TenantStore {
        &self.0
    }
}

/// A claimed estimate job with the handle of the tenant it belongs to.
pub struct ClaimedJob {
    pub tenant: TenantStore,
    pub job: EstimateJob,
}

/// One tenant's data. Every method runs in that tenant's context only.
#[derive(Clone)]
pub struct TenantStore {
    db: Db,
    tenant: TenantId,
}

impl TenantStore {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }
}
