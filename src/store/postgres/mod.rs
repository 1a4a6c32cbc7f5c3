//! The PostgreSQL backend. Isolation is enforced by the database itself:
//! tenant-aware tables have forced row-level security keyed on the
//! transaction-local setting `nile.tenant_id`, and every pooled connection
//! runs as `aswan_app`, a role that cannot bypass it (see the migration).
//! The explicit `tenant_id` filters below stay anyway: Citus needs them to
//! route, and two locks are better than one.

mod vector_index;

use std::str::FromStr;

use chrono::{DateTime, Utc};
use pgvector::Vector;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Acquire, Column, Executor, Postgres, Row, SqlSafeStr, Statement, Transaction};
use uuid::Uuid;

use super::console::{check_statement, Dialect};
use super::models::{MemberRow, SimilarRow};
use super::sql::member_query;
use super::{Member, Result, SqlTable, StoreError, StoreOptions};
use crate::domain::{Role, TenantId, TodoId, UserId};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The role every server query runs as (created by the first migration).
const APP_ROLE: &str = "aswan_app";

#[derive(Clone)]
pub(in crate::store) struct PgDb {
    /// Connections as the URL's user: migrations and index builds only.
    options: std::sync::Arc<PgConnectOptions>,
    /// Connections that have switched to `aswan_app`: everything else.
    pub(in crate::store) pool: PgPool,
    ef_search: super::EfSearch,
}

impl PgDb {
    pub(in crate::store) async fn connect(url: &str, o: StoreOptions) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(o.max_connections)
            .acquire_timeout(o.acquire_timeout)
            .after_release(super::release_check::postgres)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // Runs as the app role from here on, so RLS applies even
                    // when DATABASE_URL names a superuser or the tables' owner.
                    conn.execute("SET ROLE aswan_app").await?;
                    // Nile's schemas for the built-in tables (users.users,
                    // auth.credentials …) on the path: the queries shared
                    // with SQLite name them unqualified (ARCHITECTURE.md).
                    conn.execute("SET search_path = public, users, auth").await?;
                    // On Citus, a SET LOCAL reaches the workers only with this
                    // (docs/scaling.md). On plain PostgreSQL it is an unused
                    // placeholder setting: the same code path runs on both.
                    conn.execute("SET citus.propagate_set_commands = 'local'").await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options.clone());
        Ok(Self {
            options: std::sync::Arc::new(options),
            pool,
            ef_search: o.ef_search,
        })
    }

    /// Applies migrations as the URL's user, then checks that the app role
    /// really is subject to row-level security.
    pub(in crate::store) async fn migrate(&self) -> Result<()> {
        let mut conn = sqlx::ConnectOptions::connect(&*self.options).await?;
        let available: Option<(String,)> =
            sqlx::query_as("SELECT name FROM pg_available_extensions WHERE name = 'vector'")
                .fetch_optional(&mut conn)
                .await?;
        if available.is_none() {
            return Err(StoreError::Config(
                "the PostgreSQL server lacks the `vector` extension (pgvector): install pgvector, or use a server that has it"
                    .into(),
            ));
        }
        MIGRATIONS.run(&mut conn).await?;
        sqlx::Connection::close(conn).await?;
        self.check_role().await
    }

    /// Creates the HNSW index for embeddings of `dimensions` (as the URL's
    /// user: the app role may not create indexes). `false` if that dimension
    /// has no index form (queries then scan the tenant's rows exactly).
    pub(in crate::store) async fn ensure_vector_index(&self, dimensions: usize) -> Result<bool> {
        let Some(sql) = vector_index::for_dimension(dimensions) else {
            return Ok(false);
        };
        let mut conn = sqlx::ConnectOptions::connect(&*self.options).await?;
        sqlx::query(sql.create_index).execute(&mut conn).await?;
        sqlx::Connection::close(conn).await?;
        Ok(true)
    }

    /// Refuses to run if the effective role could bypass row-level security.
    async fn check_role(&self) -> Result<()> {
        let (role, can_bypass): (String, bool) = sqlx::query_as(
            "SELECT current_user::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::Config(format!("cannot switch to the role {APP_ROLE}: {e}")))?;
        if role != APP_ROLE || can_bypass {
            return Err(StoreError::Config(format!(
                "refusing to start: queries would run as {role}, which can bypass row-level security"
            )));
        }
        Ok(())
    }

    pub(in crate::store) async fn close(&self) {
        self.pool.close().await;
    }

    /// A transaction in `tenant`'s context. The setting is transaction-local
    /// (`true`): a pooled connection never carries it into the next request.
    pub(in crate::store) async fn tenant_tx(&self, tenant: TenantId) -> Result<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        // The one statement built by formatting, because `SET` takes no bind
        // parameter, and `SET LOCAL` is what Citus carries to the workers
        // (`set_config(…, true)` does not; docs/scaling.md). Safe: a TenantId
        // is a UUID parsed at the edge, and its canonical text is hex digits
        // and dashes only. Sent as a simple query: nothing to prepare.
        let set = format!("SET LOCAL nile.tenant_id = '{}'", tenant.0.hyphenated());
        tx.execute(sqlx::AssertSqlSafe(set)).await?;
        Ok(tx)
    }
}

impl PgDb {
    /// Runs one statement as the app role; in `tenant`'s context when given,
    /// else with no context (tenant-aware tables then show nothing).
    pub(in crate::store) async fn run_sql(&self, tenant: Option<TenantId>, sql: &str) -> Result<SqlTable> {
        check_statement(sql, Dialect::Postgres).map_err(StoreError::Refused)?;
        let mut tx = match tenant {
            Some(t) => self.tenant_tx(t).await?,
            None => self.pool.begin().await?,
        };
        // The operator's own statement, checked above (console.rs): the SQL
        // console's whole point.
        let stmt = (&mut *tx).prepare(sqlx::AssertSqlSafe(sql).into_sql_str()).await?;
        let columns: Vec<String> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
        let mut table = SqlTable {
            columns,
            ..SqlTable::default()
        };
        if table.columns.is_empty() {
            table.rows_affected = stmt.query().execute(&mut *tx).await?.rows_affected();
        } else {
            for row in stmt.query().fetch_all(&mut *tx).await? {
                table.rows.push((0..row.len()).map(|i| pg_value(&row, i)).collect());
            }
        }
        tx.commit().await?;
        Ok(table)
    }
}

impl PgDb {
    /// Stores many embeddings in one statement.
    pub(in crate::store) async fn save_embeddings(
        &self,
        tenant: TenantId,
        model: &str,
        rows: &[(TodoId, Vec<f32>)],
    ) -> Result<()> {
        let ids: Vec<Uuid> = rows.iter().map(|(id, _)| id.0).collect();
        let vectors: Vec<Vector> = rows.iter().map(|(_, v)| Vector::from(v.clone())).collect();
        let mut tx = self.tenant_tx(tenant).await?;
        sqlx::query(
            "UPDATE todos SET embedding = u.embedding, embedding_model = $4
             FROM unnest($2::uuid[], $3::vector[]) AS u(id, embedding)
             WHERE todos.tenant_id = $1 AND todos.id = u.id",
        )
        .bind(tenant.0)
        .bind(&ids)
        .bind(&vectors)
        .bind(model)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Nearest neighbours by pgvector's cosine distance `<=>`, within the
    /// tenant (RLS and the explicit filter) and the same model.
    pub(in crate::store) async fn similar(
        &self,
        tenant: TenantId,
        embedding: &[f32],
        model: &str,
        k: i64,
        max_distance: f32,
        exclude: Option<TodoId>,
    ) -> Result<Vec<SimilarRow>> {
        let mut tx = self.tenant_tx(tenant).await?;
        // Iterative scans and the store's width (StoreOptions::ef_search).
        // relaxed_order may return neighbours slightly out of order, so
        // they are sorted again below.
        // A &str without arguments goes as one simple-protocol query.
        (&mut *tx).execute(self.ef_search.statement()).await?;
        let sql = vector_index::for_dimension(embedding.len()).map_or(vector_index::SIMILAR_EXACT, |d| d.similar);
        let mut rows: Vec<SimilarRow> = sqlx::query_as(sql)
            .bind(tenant.0)
            .bind(Vector::from(embedding.to_vec()))
            .bind(model)
            .bind(exclude.map(|e| e.0))
            .bind(f64::from(max_distance))
            .bind(k)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        Ok(rows)
    }

    /// Locks the tenant's owner rows, so two concurrent demotions or removals
    /// cannot both see "another owner remains".
    async fn other_owners_exist(tx: &mut sqlx::PgConnection, tenant: TenantId, user: UserId) -> Result<bool> {
        let owners: Vec<(Uuid,)> =
            sqlx::query_as("SELECT user_id FROM tenant_users WHERE tenant_id = $1 AND role = 'owner' FOR UPDATE")
                .bind(tenant.0)
                .fetch_all(&mut *tx)
                .await?;
        Ok(owners.iter().any(|(id,)| *id != user.0))
    }

    async fn member(tx: &mut sqlx::PgConnection, tenant: TenantId, user: UserId) -> Result<Option<Member>> {
        let row: Option<MemberRow> = sqlx::query_as(member_query!("WHERE tu.tenant_id = $1 AND tu.user_id = $2"))
            .bind(tenant.0)
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await?;
        row.map(Member::try_from).transpose()
    }

    /// The last-owner rule under concurrency: the owner rows are locked
    /// first (see [`Self::other_owners_exist`]).
    pub(in crate::store) async fn set_member_role(&self, tenant: TenantId, user: UserId, role: Role) -> Result<Member> {
        let mut tx = self.pool.begin().await?;
        let other_owners = Self::other_owners_exist(&mut tx, tenant, user).await?;
        let current = Self::member(&mut tx, tenant, user).await?.ok_or(StoreError::NotFound)?;
        if current.role == Role::Owner && role != Role::Owner && !other_owners {
            return Err(StoreError::LastOwner);
        }
        sqlx::query("UPDATE tenant_users SET role = $3 WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.0)
            .bind(user.0)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        if current.role == Role::Owner && role != Role::Owner {
            Self::forget_what_only_an_owner_could_do(&mut tx, tenant, user).await?;
        }
        let member = Self::member(&mut tx, tenant, user).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(member)
    }

    /// As [`Self::set_member_role`].
    pub(in crate::store) async fn remove_member(&self, tenant: TenantId, user: UserId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let other_owners = Self::other_owners_exist(&mut tx, tenant, user).await?;
        let current = Self::member(&mut tx, tenant, user).await?.ok_or(StoreError::NotFound)?;
        if current.role == Role::Owner && !other_owners {
            return Err(StoreError::LastOwner);
        }
        sqlx::query("DELETE FROM tenant_users WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        Self::forget_what_only_an_owner_could_do(&mut tx, tenant, user).await?;
        sqlx::query(super::sql::STOP_TIMER_IN_TENANT)
            .bind(tenant.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An owner who steps down or leaves takes back the invitations they
    /// sent: the invitation would otherwise still grant what its sender no
    /// longer may.
    async fn forget_what_only_an_owner_could_do(
        tx: &mut sqlx::PgConnection,
        tenant: TenantId,
        user: UserId,
    ) -> Result<()> {
        sqlx::query(super::sql::FORGET_INVITATIONS_BY)
            .bind(tenant.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

/// Shared tables: a full copy on every Citus node, so joins stay local.
const REFERENCE_TABLES: [&str; 9] = [
    "tenants",
    "users.users",
    "auth.credentials",
    "auth.sessions",
    "auth.api_tokens",
    "auth.email_tokens",
    "users.tenant_users",
    "users.invitations",
    "users.timers",
];

/// Tenant-aware tables, distributed by `tenant_id` and colocated with todos
/// (todos first: it is what the others are colocated with).
const DISTRIBUTED_TABLES: [&str; 2] = ["todos", "estimate_jobs"];

impl PgDb {
    /// The Citus version, if the extension is installed in this database.
    async fn citus_version(conn: &mut sqlx::PgConnection) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
            .fetch_optional(&mut *conn)
            .await?;
        Ok(row.map(|(v,)| v))
    }

    /// How each table is placed: `n` reference, `h` hash-distributed.
    async fn placements(conn: &mut sqlx::PgConnection) -> Result<std::collections::HashMap<String, String>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT logicalrelid::regclass::text, partmethod::text FROM pg_dist_partition")
                .fetch_all(&mut *conn)
                .await?;
        Ok(rows.into_iter().collect())
    }

    /// `aswan distribute` (docs/scaling.md): on Citus, makes the shared tables
    /// reference tables and distributes the tenant-aware ones by tenant, in
    /// one transaction; lets `aswan_app` log in (Citus opens worker
    /// connections as that role). Idempotent. Without Citus: nothing.
    pub(in crate::store) async fn distribute(&self) -> Result<Distribution> {
        let mut conn = sqlx::ConnectOptions::connect(&*self.options).await?;
        let Some(version) = Self::citus_version(&mut conn).await? else {
            return Ok(Distribution::NotCitus);
        };
        let placed = Self::placements(&mut conn).await?;
        let is = |table: &str, method: &str| placed.get(table).is_some_and(|m| m == method);
        let mut done = Vec::new();
        let mut tx = conn.begin().await?;
        tx.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")
            .await?;
        let todos_pending = !is("todos", "h");
        if todos_pending {
            // Citus refuses a foreign key from a local table to a distributed
            // one: dropped, and re-added once both are colocated.
            tx.execute("ALTER TABLE estimate_jobs DROP CONSTRAINT IF EXISTS estimate_jobs_tenant_id_todo_id_fkey")
                .await?;
        }
        for table in REFERENCE_TABLES {
            if !is(table, "n") {
                sqlx::query("SELECT create_reference_table($1::regclass)")
                    .bind(table)
                    .execute(&mut *tx)
                    .await?;
                done.push(format!("{table}: reference table"));
            }
        }
        if todos_pending {
            sqlx::query("SELECT create_distributed_table('todos', 'tenant_id')")
                .execute(&mut *tx)
                .await?;
            done.push("todos: distributed by tenant_id".to_owned());
        }
        if !is("estimate_jobs", "h") {
            sqlx::query("SELECT create_distributed_table('estimate_jobs', 'tenant_id', colocate_with => 'todos')")
                .execute(&mut *tx)
                .await?;
            done.push("estimate_jobs: distributed by tenant_id, colocated with todos".to_owned());
        }
        if todos_pending {
            tx.execute(
                "ALTER TABLE estimate_jobs ADD CONSTRAINT estimate_jobs_tenant_id_todo_id_fkey
                 FOREIGN KEY (tenant_id, todo_id) REFERENCES todos (tenant_id, id) ON DELETE CASCADE",
            )
            .await?;
        }
        tx.execute("ALTER ROLE aswan_app LOGIN").await?;
        tx.commit().await?;
        sqlx::Connection::close(conn).await?;
        Ok(Distribution::Citus { version, done })
    }

    /// At start: `None` on plain PostgreSQL; on Citus, its version and
    /// worker count, after checking that the tenant-aware tables are
    /// distributed and that the tenant context reaches the workers.
    pub(in crate::store) async fn cluster(&self) -> Result<Option<String>> {
        let mut conn = sqlx::ConnectOptions::connect(&*self.options).await?;
        let Some(version) = Self::citus_version(&mut conn).await? else {
            sqlx::Connection::close(conn).await?;
            return Ok(None);
        };
        let placed = Self::placements(&mut conn).await?;
        let (workers,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND isactive AND groupid <> 0",
        )
        .fetch_one(&mut conn)
        .await?;
        sqlx::Connection::close(conn).await?;
        if let Some(table) = DISTRIBUTED_TABLES
            .iter()
            .find(|t| placed.get(**t).is_none_or(|m| m != "h"))
        {
            return Err(StoreError::Config(format!(
                "Citus {version}: the tenant-aware table {table} is not distributed: run `aswan distribute` first"
            )));
        }
        let (propagate,): (String,) = sqlx::query_as("SELECT current_setting('citus.propagate_set_commands')")
            .fetch_one(&self.pool)
            .await?;
        if propagate != "local" {
            return Err(StoreError::Config(format!(
                "Citus {version}: citus.propagate_set_commands is {propagate}, not local: the tenant context would not reach the workers"
            )));
        }
        Ok(Some(format!("Citus {version}, {workers} workers")))
    }
}

/// What `aswan distribute` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distribution {
    /// Not a SQLite database, nor PostgreSQL with Citus: nothing to do.
    NotCitus,
    Citus {
        version: String,
        /// What changed (empty when everything was distributed already).
        done: Vec<String>,
    },
}

/// A column's value as JSON, by its PostgreSQL type; unknown types show as text.
fn pg_value(row: &sqlx::postgres::PgRow, i: usize) -> serde_json::Value {
    use serde_json::{json, Value};
    use sqlx::{TypeInfo, ValueRef};
    if row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(true) {
        return Value::Null;
    }
    let type_name = row.columns()[i].type_info().name().to_owned();
    let v = match type_name.as_str() {
        "BOOL" => row.try_get::<bool, _>(i).map(Value::from),
        "INT2" => row.try_get::<i16, _>(i).map(Value::from),
        "INT4" => row.try_get::<i32, _>(i).map(Value::from),
        "INT8" => row.try_get::<i64, _>(i).map(Value::from),
        "FLOAT4" => row.try_get::<f32, _>(i).map(Value::from),
        "FLOAT8" => row.try_get::<f64, _>(i).map(Value::from),
        "UUID" => row.try_get::<Uuid, _>(i).map(|u| json!(u)),
        "TIMESTAMPTZ" => row.try_get::<DateTime<Utc>, _>(i).map(|t| json!(t)),
        "JSON" | "JSONB" => row.try_get::<Value, _>(i),
        "TEXT" | "VARCHAR" | "NAME" | "BPCHAR" => row.try_get::<String, _>(i).map(Value::from),
        _ => return json!(format!("<{}>", type_name.to_lowercase())),
    };
    v.unwrap_or_else(|_| json!(format!("<{}>", type_name.to_lowercase())))
}
