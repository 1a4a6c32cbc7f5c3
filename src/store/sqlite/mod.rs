//! The SQLite backend: the embedded default.
//!
//! SQLite has no row-level security, so isolation rests on the store contract:
//! every tenant query below binds `tenant_id` explicitly. Writes go through a
//! one-connection pool: SQLite allows one writer at a time anyway, and queuing
//! in-process is fairer and faster than busy-waiting on the file lock. Reads
//! use their own pool and never block on writers (WAL).

mod tenant;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use uuid::Uuid;

use super::{EstimateJob, Membership, Result, SqlTable, StoreError, Tenant, User, UserWithHash, JOB_LEASE};
use crate::domain::{Email, TenantId, TenantName, UserId};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

#[derive(Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
}

/// Registers sqlite-vec (vector distance functions) for every SQLite
/// connection this process opens.
fn register_sqlite_vec() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_vec_init is sqlite-vec's extension entry point,
        // compiled against the same (bundled) SQLite; auto-extensions take it
        // as a plain function pointer, which is what the transmute gives.
        type EntryPoint = unsafe extern "C" fn(
            *mut libsqlite3_sys::sqlite3,
            *mut *mut std::os::raw::c_char,
            *const libsqlite3_sys::sqlite3_api_routines,
        ) -> std::os::raw::c_int;
        let rc = unsafe {
            libsqlite3_sys::sqlite3_auto_extension(Some(std::mem::transmute::<*const (), EntryPoint>(
                sqlite_vec::sqlite3_vec_init as *const (),
            )))
        };
        assert_eq!(rc, libsqlite3_sys::SQLITE_OK, "registering sqlite-vec");
    });
}

impl SqliteStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        register_sqlite_vec();
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options)
            .await?;
        Ok(Self { read, write })
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATIONS.run(&self.write).await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    pub async fn create_user(&self, email: &Email, name: Option<&str>, password_hash: &str) -> Result<User> {
        let id = UserId::new();
        let now = Utc::now();
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO users (id, email, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id.0)
            .bind(email.as_str())
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::conflict_on_unique)?;
        sqlx::query("INSERT INTO credentials (user_id, method, payload, created_at) VALUES ($1, 'PASSWORD', $2, $3)")
            .bind(id.0)
            .bind(password_hash)
            .bind(now)
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
            "SELECT u.id, u.email, u.name, c.payload AS password_hash
             FROM users u JOIN credentials c ON c.user_id = u.id AND c.method = 'PASSWORD'
             WHERE u.email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&self.read)
        .await?)
    }

    pub async fn user(&self, id: UserId) -> Result<Option<User>> {
        Ok(sqlx::query_as("SELECT id, email, name FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?)
    }

    pub async fn revoke_token(&self, jti: Uuid, expires_at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.write.begin().await?;
        // Expired entries can go: their tokens are refused for expiry anyway.
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn is_token_revoked(&self, jti: Uuid) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.is_some())
    }

    pub async fn create_tenant(&self, name: &TenantName, owner: UserId) -> Result<Tenant> {
        let id = TenantId::new();
        let now = Utc::now();
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id.0)
            .bind(name.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO tenant_users (tenant_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)")
            .bind(id.0)
            .bind(owner.0)
            .bind(now)
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
            .fetch_all(&self.read)
            .await?;
        Ok(ids.into_iter().map(|(id,)| id.into()).collect())
    }

    pub async fn tenants_of(&self, user: UserId) -> Result<Vec<Membership>> {
        let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
            "SELECT t.id, t.name, tu.role FROM tenant_users tu JOIN tenants t ON t.id = tu.tenant_id
             WHERE tu.user_id = $1 ORDER BY tu.created_at, t.id",
        )
        .bind(user.0)
        .fetch_all(&self.read)
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
            "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $3), t.id, t.name, tu.role
             FROM (SELECT 1) AS one
             LEFT JOIN tenant_users tu ON tu.tenant_id = $1 AND tu.user_id = $2
             LEFT JOIN tenants t ON t.id = tu.tenant_id",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(jti)
        .fetch_one(&self.read)
        .await?;
        let membership = match row {
            (_, Some(id), Some(name), Some(role)) => Some(Membership::from_row((id, name, role))?),
            _ => None,
        };
        Ok((row.0, membership))
    }
}

impl SqliteStore {
    pub async fn claim_estimate_jobs(&self, limit: i64) -> Result<Vec<EstimateJob>> {
        let now = Utc::now();
        let lease = now + chrono::Duration::from_std(JOB_LEASE).expect("lease fits");
        let rows: Vec<(Uuid, Uuid, i32)> = sqlx::query_as(
            "UPDATE estimate_jobs SET locked_until = $2
             WHERE rowid IN (SELECT rowid FROM estimate_jobs
                             WHERE next_at <= $1 AND (locked_until IS NULL OR locked_until < $1)
                             ORDER BY next_at LIMIT $3)
             RETURNING tenant_id, todo_id, attempts",
        )
        .bind(now)
        .bind(lease)
        .bind(limit)
        .fetch_all(&self.write)
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
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn finish_estimate_job(&self, job: &EstimateJob) -> Result<()> {
        sqlx::query("DELETE FROM estimate_jobs WHERE tenant_id = $1 AND todo_id = $2")
            .bind(job.tenant_id.0)
            .bind(job.todo_id.0)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Runs one statement on a private connection. SQLite has no row-level
    /// security, so the tenant scoping is done by shadowing: a TEMP table
    /// named like each tenant-aware table, holding only `tenant`'s rows (none
    /// without a tenant), hides the real one for unqualified names. The
    /// statement runs read-only (`query_only`), since writes would land in
    /// the copy. This is a convenience for inspecting data, not a security
    /// boundary: whoever can run it can read the file.
    pub async fn run_sql(&self, tenant: Option<TenantId>, sql: &str) -> Result<SqlTable> {
        use sqlx::{Column, Connection, Executor, Row, Statement};
        let options = self.read.connect_options();
        let mut conn = sqlx::ConnectOptions::connect(&*options).await?;
        sqlx::query("CREATE TEMP TABLE todos AS SELECT * FROM main.todos WHERE tenant_id = $1")
            .bind(tenant.map(|t| t.0))
            .execute(&mut conn)
            .await?;
        conn.execute("PRAGMA query_only = ON").await?;
        let stmt = (&mut conn).prepare(sql).await?;
        let mut table = SqlTable {
            columns: stmt.columns().iter().map(|c| c.name().to_owned()).collect(),
            ..SqlTable::default()
        };
        if table.columns.is_empty() {
            table.rows_affected = stmt.query().execute(&mut conn).await?.rows_affected();
        } else {
            for row in stmt.query().fetch_all(&mut conn).await? {
                table.rows.push((0..row.len()).map(|i| sqlite_value(&row, i)).collect());
            }
        }
        conn.close().await?;
        Ok(table)
    }
}

/// A value as JSON by its storage class; 16-byte blobs are shown as UUIDs.
fn sqlite_value(row: &sqlx::sqlite::SqliteRow, i: usize) -> serde_json::Value {
    use serde_json::{json, Value};
    use sqlx::{Row, TypeInfo, ValueRef};
    let Ok(raw) = row.try_get_raw(i) else {
        return Value::Null;
    };
    if raw.is_null() {
        return Value::Null;
    }
    let v = match raw.type_info().name() {
        "INTEGER" => row.try_get::<i64, _>(i).map(Value::from),
        "REAL" => row.try_get::<f64, _>(i).map(Value::from),
        "BLOB" => row.try_get::<Vec<u8>, _>(i).map(|b| match Uuid::from_slice(&b) {
            Ok(id) => json!(id),
            Err(_) => json!(format!("<{} bytes>", b.len())),
        }),
        _ => row.try_get::<String, _>(i).map(Value::from),
    };
    v.unwrap_or(Value::Null)
}
