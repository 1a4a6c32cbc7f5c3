//! A pooled connection goes back to its pool only outside any transaction
//! (ARCHITECTURE.md, "Cancellation").
//!
//! A request whose future is dropped (its client hung up, a timeout fired)
//! can stop at any `.await`. sqlx rolls back the transactions it knows about,
//! but a connection can still come back inside a block it does not track: a
//! `BEGIN` whose answer was never read, or a `BEGIN` sent as plain SQL. The
//! next borrower's statements would then run inside that block, its
//! autocommit writes would be answered as done and never committed, and the
//! first error would poison the connection for everyone after it. So the
//! pools ask the database itself, on every release, and close a connection
//! that is not idle: closing it rolls its transaction back.

use futures::future::BoxFuture;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Executor, Row};

/// `after_release` for PostgreSQL: `Ok(true)` keeps the connection.
pub(super) fn postgres<'c>(
    conn: &'c mut PgConnection,
    _meta: PoolConnectionMetadata,
) -> BoxFuture<'c, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        // Outside a block, a simple query is its own transaction, which
        // starts with it: the two timestamps are the same instant. Inside a
        // block left open, the transaction began with an earlier statement;
        // inside a failed one, the query itself is refused. (The status byte
        // of ReadyForQuery says the same for free, but sqlx keeps it private.)
        // A query without parameters goes as a simple query (in the extended
        // protocol the statement timestamp moves on at Execute, so the two
        // would differ even outside a block).
        let idle = match conn
            .fetch_one("SELECT transaction_timestamp() = statement_timestamp()")
            .await
        {
            Ok(row) => row.try_get::<bool, _>(0).unwrap_or(false),
            Err(_) => false,
        };
        Ok(keep(idle))
    })
}

/// `after_release` for SQLite: `Ok(true)` keeps the connection.
pub(super) fn sqlite<'c>(
    conn: &'c mut SqliteConnection,
    _meta: PoolConnectionMetadata,
) -> BoxFuture<'c, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        // The handle is locked after every command queued before it (a
        // dropped transaction's rollback among them) has run.
        let mut handle = conn.lock_handle().await?;
        // SAFETY: the handle is a live connection, locked for this thread
        // for as long as `handle` lives; sqlite3_get_autocommit only reads
        // a flag of it.
        let autocommit = unsafe { libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) };
        Ok(keep(autocommit != 0))
    })
}

/// Counts and logs a connection that is not idle; `true` keeps it.
fn keep(idle: bool) -> bool {
    if !idle {
        metrics::counter!("db_connections_closed_in_transaction_total").increment(1);
        tracing::warn!("a database connection came back to its pool inside a transaction: closed, rolling it back");
    }
    idle
}

#[cfg(test)]
mod tests {
    use sqlx::pool::PoolOptions;
    use sqlx::{Connection, Executor, Postgres, Row, Sqlite};

    /// A `BEGIN` sent as plain SQL is a transaction sqlx does not track:
    /// the connection that carried it must not be handed out again.
    #[tokio::test]
    async fn postgres_connections_inside_a_transaction_are_not_reused() {
        let url = std::env::var("ASWAN_TEST_DATABASE_URL")
            .expect("ASWAN_TEST_DATABASE_URL is not set: run ./scripts/test, which provisions PostgreSQL");
        let pool = PoolOptions::<Postgres>::new()
            .max_connections(1)
            .after_release(super::postgres)
            .connect(&url)
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let first: i32 = conn.fetch_one("SELECT pg_backend_pid()").await.unwrap().get(0);
        conn.execute("BEGIN").await.unwrap();
        assert!(!conn.is_in_transaction(), "sqlx does not know of this transaction");
        drop(conn);
        let mut conn = pool.acquire().await.unwrap();
        let row = conn
            .fetch_one("SELECT pg_backend_pid(), transaction_timestamp() = statement_timestamp()")
            .await
            .unwrap();
        let (pid, idle): (i32, bool) = (row.get(0), row.get(1));
        assert!(idle, "the connection handed out is outside any transaction");
        assert_ne!(pid, first, "the connection left inside a transaction was closed");
        // An idle connection is kept.
        drop(conn);
        let mut conn = pool.acquire().await.unwrap();
        let again: i32 = conn.fetch_one("SELECT pg_backend_pid()").await.unwrap().get(0);
        assert_eq!(again, pid, "an idle connection goes back to the pool");
        drop(conn);
        pool.close().await;
    }

    #[tokio::test]
    async fn sqlite_connections_inside_a_transaction_are_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = PoolOptions::<Sqlite>::new()
            .max_connections(1)
            .after_release(super::sqlite)
            .connect(&url)
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        conn.execute("CREATE TABLE t (x INTEGER)").await.unwrap();
        conn.execute("BEGIN").await.unwrap();
        conn.execute("INSERT INTO t VALUES (1)").await.unwrap();
        drop(conn);
        // Had the connection come back inside its transaction, this write
        // would join it and never be committed.
        let mut conn = pool.acquire().await.unwrap();
        conn.execute("INSERT INTO t VALUES (2)").await.unwrap();
        drop(conn);
        pool.close().await;
        let mut check = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let rows: Vec<i64> = sqlx::query_scalar("SELECT x FROM t")
            .fetch_all(&mut check)
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![2],
            "the untracked transaction was rolled back, the next write committed"
        );
    }
}
