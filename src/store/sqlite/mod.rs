//! The SQLite backend: the embedded default.
//!
//! SQLite has no row-level security, so isolation rests on the store contract:
//! every tenant query below binds `tenant_id` explicitly. Writes go through a
//! one-connection pool: SQLite allows one writer at a time anyway, and queuing
//! in-process is fairer and faster than busy-waiting on the file lock. Reads
//! use their own pool and never block on writers (WAL).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlSafeStr;
use uuid::Uuid;

use super::console::{check_statement, Dialect};
use super::models::{MemberRow, SimilarRow};
use super::sql::member_query;
use super::{Member, Result, SqlTable, StoreError, StoreOptions};
use crate::domain::{Role, TenantId, TodoId, UserId};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

#[derive(Clone)]
pub(in crate::store) struct SqliteDb {
    pub(in crate::store) read: SqlitePool,
    /// One connection: SQLite's single writer, queued in-process.
    pub(in crate::store) write: SqlitePool,
    file: std::path::PathBuf,
}

#[cfg(unix)]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// chmod 600, when the file exists and is ours to change.
fn restrict_to_owner(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
}

/// SQLite opens a file it may not write read-only, silently; every write
/// would then fail. Said once at start instead, naming the file.
async fn refuse_read_only(write: &SqlitePool, file: &std::path::Path) -> Result<()> {
    let mut conn = write.acquire().await?;
    let mut handle = conn.lock_handle().await?;
    let main = c"main";
    // SAFETY: the handle is a live connection locked for this thread while
    // `handle` lives; sqlite3_db_readonly only reads its state.
    let read_only = unsafe { libsqlite3_sys::sqlite3_db_readonly(handle.as_raw_handle().as_ptr(), main.as_ptr()) };
    if read_only == 1 {
        return Err(StoreError::Config(format!(
            "the SQLite database {} can only be read (the file or its directory is read-only): writes would fail",
            file.display()
        )));
    }
    Ok(())
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

/// Read connections: DB_MAX_CONNECTIONS, but at most two per core. SQLite
/// reads run in-process on the connection's own thread, so connections past
/// the cores add no throughput, only memory: each holds its page cache,
/// statement cache and thread (RSS under load was 57–60 MiB with 2, 67 with
/// 4, 192 with 32 read connections; BENCHMARKS.md, "Memory").
fn read_pool_size(configured: u32) -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    configured.clamp(1, 2 * cores)
}

impl SqliteDb {
    pub(in crate::store) async fn connect(url: &str, o: StoreOptions) -> Result<Self> {
        register_sqlite_vec();
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Deleted rows are overwritten with zeros, not left in free
            // pages: a deleted account's email and hash are gone from the
            // file, not merely unreachable.
            .pragma("secure_delete", "ON");
        let file = options.get_filename().to_owned();
        if let Some(dir) = file.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                create_private_dir(dir)
                    .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        // One message naming the file, whatever went wrong (corrupt,
        // unreadable, not a database).
        let named =
            |e: sqlx::Error| StoreError::Config(format!("cannot open the SQLite database {}: {e}", file.display()));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(o.acquire_timeout)
            .after_release(super::release_check::sqlite)
            .connect_with(options.clone())
            .await
            .map_err(named)?;
        refuse_read_only(&write, &file).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(read_pool_size(o.max_connections))
            .acquire_timeout(o.acquire_timeout)
            .after_release(super::release_check::sqlite)
            .connect_with(options)
            .await
            .map_err(named)?;
        // The database holds password hashes and every tenant's data: only
        // its owner may read it (and its WAL and shared-memory files).
        for suffix in ["", "-wal", "-shm"] {
            let mut path = file.clone().into_os_string();
            path.push(suffix);
            restrict_to_owner(std::path::Path::new(&path));
        }
        Ok(Self { read, write, file })
    }

    pub(in crate::store) async fn migrate(&self) -> Result<()> {
        MIGRATIONS.run(&self.write).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => StoreError::Config(format!(
                "cannot migrate the SQLite database {}: {e}",
                self.file.display()
            )),
            e => e.into(),
        })?;
        Ok(())
    }

    pub(in crate::store) async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

impl SqliteDb {
    /// Runs one statement on a private connection. SQLite has no row-level
    /// security, so the tenant scoping is done by shadowing: a TEMP table
    /// named like each tenant-aware table, holding only `tenant`'s rows (none
    /// without a tenant), hides the real one for unqualified names. The
    /// statement runs on a read-only connection, and `query_only`, since
    /// writes would land in the copy. One statement per call. This is a
    /// convenience for inspecting data, not a security boundary: whoever can
    /// run it can read the file.
    pub(in crate::store) async fn run_sql(&self, tenant: Option<TenantId>, sql: &str) -> Result<SqlTable> {
        use sqlx::{Column, Connection, Executor, Row, Statement};
        check_statement(sql, Dialect::Sqlite).map_err(StoreError::Refused)?;
        // Opened read-only: no PRAGMA can make it write, and ATTACH cannot
        // create files. Only the TEMP copy below (another database) is written.
        let options = (*self.read.connect_options()).clone().read_only(true);
        let mut conn = sqlx::ConnectOptions::connect(&options).await?;
        sqlx::query("CREATE TEMP TABLE todos AS SELECT * FROM main.todos WHERE tenant_id = $1")
            .bind(tenant.map(|t| t.0))
            .execute(&mut conn)
            .await?;
        conn.execute("PRAGMA query_only = ON").await?;
        // The operator's own statement, checked above (console.rs).
        let stmt = (&mut conn).prepare(sqlx::AssertSqlSafe(sql).into_sql_str()).await?;
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

impl SqliteDb {
    pub(in crate::store) async fn backup(&self, path: &std::path::Path) -> Result<u64> {
        if path.exists() {
            return Err(StoreError::Refused(format!(
                "{} exists: choose a new file",
                path.display()
            )));
        }
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Refused("the backup path must be UTF-8".into()))?;
        // VACUUM INTO writes one read transaction's snapshot: consistent even
        // while the server writes (WAL), and compacted.
        sqlx::query("VACUUM INTO $1").bind(target).execute(&self.read).await?;
        restrict_to_owner(path);
        Ok(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
    }
}

/// A vector as sqlite-vec's float32 BLOB: little-endian f32s.
fn f32_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl SqliteDb {
    pub(in crate::store) async fn save_embeddings(
        &self,
        tenant: TenantId,
        model: &str,
        rows: &[(TodoId, Vec<f32>)],
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for (id, embedding) in rows {
            sqlx::query("UPDATE todos SET embedding = $3, embedding_model = $4 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id.0)
                .bind(f32_blob(embedding))
                .bind(model)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An exact scan over the tenant's embeddings of the same model (the
    /// primary key's `tenant_id` prefix keeps it to one tenant's rows), with
    /// the distance computed inside SQLite by sqlite-vec: only the k nearest
    /// rows leave the database.
    pub(in crate::store) async fn similar(
        &self,
        tenant: TenantId,
        embedding: &[f32],
        model: &str,
        k: i64,
        max_distance: f32,
        exclude: Option<TodoId>,
    ) -> Result<Vec<SimilarRow>> {
        Ok(sqlx::query_as(
            "SELECT id, title, estimate_minutes, actual_minutes, vec_distance_cosine(embedding, $2) AS distance
             FROM todos
             WHERE tenant_id = $1 AND embedding_model = $3 AND length(embedding) = length($2)
               AND ($4 IS NULL OR id <> $4) AND distance < $5
             ORDER BY distance
             LIMIT $6",
        )
        .bind(tenant.0)
        .bind(f32_blob(embedding))
        .bind(model)
        .bind(exclude.map(|e| e.0))
        .bind(f64::from(max_distance))
        .bind(k)
        .fetch_all(&self.read)
        .await?)
    }

    /// The last-owner rule as one conditional statement on the single writer
    /// connection: the owner count cannot change between check and update.
    pub(in crate::store) async fn set_member_role(&self, tenant: TenantId, user: UserId, role: Role) -> Result<Member> {
        let mut tx = self.write.begin().await?;
        let changed = sqlx::query(
            "UPDATE tenant_users SET role = $3
             WHERE tenant_id = $1 AND user_id = $2
               AND ($3 = 'owner' OR role <> 'owner'
                    OR (SELECT count(*) FROM tenant_users WHERE tenant_id = $1 AND role = 'owner') > 1)",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 && role != Role::Owner {
            // Stepping down (or staying a member): what only an owner could
            // send goes (see the PostgreSQL twin).
            sqlx::query(super::sql::FORGET_INVITATIONS_BY)
                .bind(tenant.0)
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        match self.member(tenant, user).await? {
            None => Err(StoreError::NotFound),
            Some(_) if changed == 0 => Err(StoreError::LastOwner),
            Some(member) => Ok(member),
        }
    }

    /// As [`Self::set_member_role`].
    pub(in crate::store) async fn remove_member(&self, tenant: TenantId, user: UserId) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let removed = sqlx::query(
            "DELETE FROM tenant_users
             WHERE tenant_id = $1 AND user_id = $2
               AND (role <> 'owner'
                    OR (SELECT count(*) FROM tenant_users WHERE tenant_id = $1 AND role = 'owner') > 1)",
        )
        .bind(tenant.0)
        .bind(user.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if removed == 1 {
            for leaving in [super::sql::FORGET_INVITATIONS_BY, super::sql::STOP_TIMER_IN_TENANT] {
                sqlx::query(leaving)
                    .bind(tenant.0)
                    .bind(user.0)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            return Ok(());
        }
        drop(tx);
        match self.member(tenant, user).await? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(StoreError::LastOwner),
        }
    }

    async fn member(&self, tenant: TenantId, user: UserId) -> Result<Option<Member>> {
        let row: Option<MemberRow> = sqlx::query_as(member_query!("WHERE tu.tenant_id = $1 AND tu.user_id = $2"))
            .bind(tenant.0)
            .bind(user.0)
            .fetch_optional(&self.write)
            .await?;
        row.map(Member::try_from).transpose()
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

#[cfg(test)]
mod tests {
    /// SQLite's memory grew with its read connections: 32 of them
    /// held 192 MiB under load; the pool no longer opens more than the cores
    /// can use.
    #[test]
    fn the_read_pool_is_capped_at_two_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        assert_eq!(super::read_pool_size(1000), 2 * cores);
        assert_eq!(super::read_pool_size(1), 1);
        assert_eq!(super::read_pool_size(32), 32.min(2 * cores));
    }
}
