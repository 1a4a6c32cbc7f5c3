//! Upgrades keep what users saved: a database made by an older release is
//! migrated in place with its todos and its queued estimates intact.

use std::str::FromStr;

use aswan::store::Store;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::Row;

/// 0003 rebuilds the SQLite todos table (to widen a CHECK constraint); the
/// rows and the estimate queue that references them must survive it.
#[tokio::test]
async fn sqlite_upgrade_to_0003_keeps_todos_and_queued_estimates() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old-migrations");
    std::fs::create_dir(&old).unwrap();
    for file in ["0001_core.sql", "0002_estimates.sql"] {
        std::fs::copy(format!("migrations/sqlite/{file}"), old.join(file)).unwrap();
    }
    let url = format!("sqlite://{}", dir.path().join("aswan.db").display());
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new().connect_with(options.clone()).await.unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let (tenant, todo) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, 'Acme', '2026-01-01T00:00:00Z')")
        .bind(tenant)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO todos (tenant_id, id, title, complete, created_at, updated_at, estimate_status, actual_minutes, embedding_model)
         VALUES ($1, $2, 'Keep me', 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'pending', 42, 'm')",
    )
    .bind(tenant)
    .bind(todo)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO estimate_jobs (tenant_id, todo_id, attempts, next_at) VALUES ($1, $2, 3, '2026-01-01T00:00:00Z')",
    )
    .bind(tenant)
    .bind(todo)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = Store::open(&url, 1).await.expect("the upgrade applies");
    store.close().await;

    let pool = SqlitePoolOptions::new().connect_with(options).await.unwrap();
    let row = sqlx::query("SELECT title, complete, actual_minutes, estimate_status, embedding_model FROM todos")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "Keep me");
    assert!(row.get::<bool, _>(1));
    assert_eq!(row.get::<i64, _>(2), 42);
    assert_eq!(row.get::<String, _>(3), "pending");
    assert_eq!(row.get::<String, _>(4), "m");
    let (attempts,): (i64,) = sqlx::query_as("SELECT attempts FROM estimate_jobs WHERE todo_id = $1")
        .bind(todo)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, 3);
    let violations = sqlx::query("PRAGMA foreign_key_check").fetch_all(&pool).await.unwrap();
    assert!(violations.is_empty(), "foreign keys intact");
    // The new state is accepted, and the queue still cascades with its todo.
    sqlx::query("UPDATE todos SET estimate_status = 'insufficient_history'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("PRAGMA foreign_keys = ON").execute(&pool).await.unwrap();
    sqlx::query("DELETE FROM todos").execute(&pool).await.unwrap();
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM estimate_jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}
