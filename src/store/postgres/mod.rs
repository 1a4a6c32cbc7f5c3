//! The PostgreSQL backend. Isolation is enforced by the database itself:
//! tenant-aware tables have forced row-level security keyed on the
//! transaction-local setting `nile.tenant_id`, and every pooled connection
//! runs as `aswan_app`, a role that cannot bypass it (see the migration).
//! The explicit `tenant_id` filters below stay anyway: Citus needs them to
//! route, and two locks are better than one.

mod tenant;
mod vector_index;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Column, Executor, Postgres, Row, Statement, Transaction};
use uuid::Uuid;

use super::{EstimateJob, Membership, Result, SqlTable, StoreError, Tenant, User, UserWithHash, JOB_LEASE};
use crate::domain::{Email, TenantId, TenantName, UserId};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The role every server query runs as (created by the first migration).
pub const APP_ROLE: &str = "aswan_app";

#[derive(Clone)]
pub struct PgStore {
    /// Connections as the URL's user: migrations only.
    options: std::sync::Arc<PgConnectOptions>,
    /// Connections that have switched to `aswan_app`: everything else.
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // Runs as the app role from here on, so RLS applies even
                    // when DATABASE_URL names a superuser or the tables' owner.
                    conn.execute("SET ROLE aswan_app").await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options.clone());
        Ok(Self {
            options: std::sync::Arc::new(options),
            pool,
        })
    }

    /// Applies migrations as the URL's user, then checks that the app role
    /// really is subject to row-level security.
    pub async fn migrate(&self) -> Result<()> {
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
    pub async fn ensure_vector_index(&self, dimensions: usize) -> Result<bool> {
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

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A transaction in `tenant`'s context. The setting is transaction-local
    /// (`true`): a pooled connection never carries it into the next request.
    pub(crate) async fn tenant_tx(&self, tenant: TenantId) -> Result<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config('nile.tenant_id', $1, true)")
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn create_user(&self, email: &Email, name: Option<&str>, password_hash: &str) -> Result<User> {
        let id = UserId::new();
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO users.users (id, email, name) VALUES ($1, $2, $3)")
            .bind(id.0)
            .bind(email.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::conflict_on_unique)?;
        sqlx::query(
            "INSERT INTO auth.credentials (user_id, method, payload)
             VALUES ($1, 'PASSWORD', jsonb_build_object('crypt', 'argon2id', 'hash', $2::text))",
        )
        .bind(id.0)
        .bind(password_hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(User {
            id,
            email: email.as_str().to_owned(),
            name: name.map(str::to_owned),
        })
    }

    pub async fn user_with_password(&self, email: &Email) -> Result<Option<UserWithHash>> {
        Ok(sqlx::query_as(
            "SELECT u.id, u.email, u.name, c.payload->>'hash' AS password_hash
             FROM users.users u JOIN auth.credentials c ON c.user_id = u.id AND c.method = 'PASSWORD'
             WHERE u.email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn user(&self, id: UserId) -> Result<Option<User>> {
        Ok(sqlx::query_as("SELECT id, email, name FROM users.users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn revoke_token(&self, jti: Uuid, expires_at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM auth.revoked_tokens WHERE expires_at < now()")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO auth.revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn is_token_revoked(&self, jti: Uuid) -> Result<bool> {
        let row: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM auth.revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    pub async fn create_tenant(&self, name: &TenantName, owner: UserId) -> Result<Tenant> {
        let id = TenantId::new();
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO tenants (id, name) VALUES ($1, $2)")
            .bind(id.0)
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO users.tenant_users (tenant_id, user_id, role) VALUES ($1, $2, 'owner')")
            .bind(id.0)
            .bind(owner.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Tenant {
            id,
            name: name.as_str().to_owned(),
        })
    }

    pub async fn tenant_ids(&self) -> Result<Vec<TenantId>> {
        let ids: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM tenants ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(ids.into_iter().map(|(id,)| id.into()).collect())
    }

    pub async fn tenants_of(&self, user: UserId) -> Result<Vec<Membership>> {
        let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
            "SELECT t.id, t.name, tu.role FROM users.tenant_users tu JOIN tenants t ON t.id = tu.tenant_id
             WHERE tu.user_id = $1 ORDER BY tu.created_at, t.id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Membership::from_row).collect()
    }

    /// Whether `jti` is revoked, and `user`'s membership of `tenant`: one
    /// row, whatever the answers.
    pub async fn session_membership(
        &self,
        tenant: TenantId,
        user: UserId,
        jti: Uuid,
    ) -> Result<(bool, Option<Membership>)> {
        let row: (bool, Option<Uuid>, Option<String>, Option<String>) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM auth.revoked_tokens WHERE jti = $3), t.id, t.name, tu.role
             FROM (SELECT 1) AS one
             LEFT JOIN users.tenant_users tu ON tu.tenant_id = $1 AND tu.user_id = $2
             LEFT JOIN tenants t ON t.id = tu.tenant_id",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(jti)
        .fetch_one(&self.pool)
        .await?;
        let membership = match row {
            (_, Some(id), Some(name), Some(role)) => Some(Membership::from_row((id, name, role))?),
            _ => None,
        };
        Ok((row.0, membership))
    }
}

impl PgStore {
    /// `FOR UPDATE SKIP LOCKED`: several server processes claim disjoint jobs.
    pub async fn claim_estimate_jobs(&self, limit: i64) -> Result<Vec<EstimateJob>> {
        let rows: Vec<(Uuid, Uuid, i32)> = sqlx::query_as(
            "WITH due AS (
                 SELECT tenant_id, todo_id FROM estimate_jobs
                 WHERE next_at <= now() AND (locked_until IS NULL OR locked_until < now())
                 ORDER BY next_at LIMIT $1
                 FOR UPDATE SKIP LOCKED)
             UPDATE estimate_jobs j SET locked_until = now() + make_interval(secs => $2)
             FROM due WHERE j.tenant_id = due.tenant_id AND j.todo_id = due.todo_id
             RETURNING j.tenant_id, j.todo_id, j.attempts",
        )
        .bind(limit)
        .bind(JOB_LEASE.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(EstimateJob::from_row).collect())
    }

    pub async fn retry_estimate_job(&self, job: &EstimateJob, next_at: DateTime<Utc>, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE estimate_jobs SET attempts = attempts + 1, next_at = $3, locked_until = NULL, last_error = $4
             WHERE tenant_id = $1 AND todo_id = $2",
        )
        .bind(job.tenant_id.0)
        .bind(job.todo_id.0)
        .bind(next_at)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn finish_estimate_job(&self, job: &EstimateJob) -> Result<()> {
        sqlx::query("DELETE FROM estimate_jobs WHERE tenant_id = $1 AND todo_id = $2")
            .bind(job.tenant_id.0)
            .bind(job.todo_id.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Runs one statement as the app role; in `tenant`'s context when given,
    /// else with no context (tenant-aware tables then show nothing).
    pub async fn run_sql(&self, tenant: Option<TenantId>, sql: &str) -> Result<SqlTable> {
        let mut tx = match tenant {
            Some(t) => self.tenant_tx(t).await?,
            None => self.pool.begin().await?,
        };
        let stmt = (&mut *tx).prepare(sql).await?;
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
