//! SQL-level isolation on PostgreSQL, run as the server's role `aswan_app`
//! on a direct connection: row-level security alone must carry isolation,
//! with no help from the application's `WHERE tenant_id = …`.

use sqlx::{Connection, Executor, PgConnection, Row};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, TwoTenants};

/// Each test on plain PostgreSQL and, when a cluster is given, on Citus
/// (ignored otherwise; see `contract_tests!`).
macro_rules! rls_tests {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Postgres).await
                }
            )*
        }
        mod citus {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs a Citus cluster: set ASWAN_TEST_CITUS_URL and ASWAN_TEST_CITUS_WORKERS"]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Citus).await
                }
            )*
        }
    };
}

rls_tests!(
    without_context_nothing_is_visible_or_insertable,
    a_context_sees_only_its_tenant_with_no_filter_in_the_query,
    writes_into_another_tenant_are_refused,
    a_context_ends_with_its_transaction,
    without_the_policy_the_isolation_assertions_fail,
);

/// A database with two tenants, A (2 todos) and B (1 todo), made over HTTP.
async fn two_tenants(backend: Backend) -> (TestApp, Uuid, Uuid) {
    let t = TwoTenants::spawn(backend).await;
    (t.app, t.a, t.b)
}

/// A direct connection that has switched to the app role, like the pool's.
async fn as_app_role(url: &str) -> PgConnection {
    let mut conn = PgConnection::connect(url).await.unwrap();
    conn.execute("SET ROLE aswan_app").await.unwrap();
    // As the app's connections: a SET LOCAL reaches Citus workers only so.
    conn.execute("SET citus.propagate_set_commands = 'local'")
        .await
        .unwrap();
    conn
}

/// A transaction in `tenant`'s context, as the server opens one (or with no
/// context at all).
async fn begin_in(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
) -> Result<sqlx::Transaction<'_, sqlx::Postgres>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    if let Some(t) = tenant {
        // As the server's tenant transaction does (store/postgres/mod.rs).
        tx.execute(sqlx::AssertSqlSafe(format!(
            "SET LOCAL nile.tenant_id = '{}'",
            t.hyphenated()
        )))
        .await?;
    }
    Ok(tx)
}

async fn titles_in_context(conn: &mut PgConnection, tenant: Option<Uuid>) -> Vec<String> {
    let mut tx = begin_in(conn, tenant).await.unwrap();
    // Deliberately no tenant filter: only the policy stands in the way.
    let rows = sqlx::query("SELECT title FROM todos ORDER BY title")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows.iter().map(|r| r.get::<String, _>(0)).collect()
}

/// The isolation property the other tests assert, as a value, so that one
/// test can show it fails when the policy is gone.
async fn isolation_holds(conn: &mut PgConnection, a: Uuid, b: Uuid) -> Result<(), String> {
    let none = titles_in_context(conn, None).await;
    let in_a = titles_in_context(conn, Some(a)).await;
    let in_b = titles_in_context(conn, Some(b)).await;
    if !none.is_empty() {
        return Err(format!("no context sees {none:?}"));
    }
    if in_a != ["a1", "a2"] {
        return Err(format!("context A sees {in_a:?}"));
    }
    if in_b != ["b1"] {
        return Err(format!("context B sees {in_b:?}"));
    }
    Ok(())
}

async fn insert_in_context(
    conn: &mut PgConnection,
    context: Option<Uuid>,
    row_tenant: Uuid,
) -> Result<(), sqlx::Error> {
    let mut tx = begin_in(conn, context).await?;
    sqlx::query("INSERT INTO todos (tenant_id, id, title) VALUES ($1, $2, 'smuggled')")
        .bind(row_tenant)
        .bind(Uuid::new_v4())
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

fn is_rls_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("42501"))
}

async fn without_context_nothing_is_visible_or_insertable(backend: Backend) {
    let (app, a, _b) = two_tenants(backend).await;
    let mut conn = as_app_role(&app.database_url).await;
    assert!(titles_in_context(&mut conn, None).await.is_empty());
    let err = insert_in_context(&mut conn, None, a).await.unwrap_err();
    assert!(is_rls_violation(&err), "{err}");
    // The role really is the unprivileged one.
    let row =
        sqlx::query("SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>(0), "aswan_app");
    assert!(!row.get::<bool, _>(1) && !row.get::<bool, _>(2));
}

async fn a_context_sees_only_its_tenant_with_no_filter_in_the_query(backend: Backend) {
    let (app, a, b) = two_tenants(backend).await;
    let mut conn = as_app_role(&app.database_url).await;
    isolation_holds(&mut conn, a, b).await.unwrap();
}

async fn writes_into_another_tenant_are_refused(backend: Backend) {
    let (app, a, b) = two_tenants(backend).await;
    let mut conn = as_app_role(&app.database_url).await;
    // Inserting a row for B while in A's context.
    let err = insert_in_context(&mut conn, Some(a), b).await.unwrap_err();
    assert!(is_rls_violation(&err), "{err}");
    // Moving one of A's rows to B.
    let mut tx = begin_in(&mut conn, Some(a)).await.unwrap();
    let err = sqlx::query("UPDATE todos SET tenant_id = $1 WHERE title = 'a1'")
        .bind(b)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(is_rls_violation(&err), "{err}");
    tx.rollback().await.unwrap();
    // Updating or deleting B's rows from A's context touches nothing.
    let mut tx = begin_in(&mut conn, Some(a)).await.unwrap();
    let updated = sqlx::query("UPDATE todos SET title = 'pwned' WHERE title = 'b1'")
        .execute(&mut *tx)
        .await
        .unwrap();
    let deleted = sqlx::query("DELETE FROM todos WHERE tenant_id = $1")
        .bind(b)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((updated.rows_affected(), deleted.rows_affected()), (0, 0));
    isolation_holds(&mut conn, a, b).await.unwrap();
}

async fn a_context_ends_with_its_transaction(backend: Backend) {
    let (app, a, _b) = two_tenants(backend).await;
    let mut conn = as_app_role(&app.database_url).await;
    assert_eq!(titles_in_context(&mut conn, Some(a)).await, ["a1", "a2"]);
    // Same connection, next transaction, no context set: nothing.
    assert!(titles_in_context(&mut conn, None).await.is_empty());
    let setting: Option<String> = sqlx::query_scalar("SELECT NULLIF(current_setting('nile.tenant_id', true), '')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(setting, None);
}

async fn without_the_policy_the_isolation_assertions_fail(backend: Backend) {
    let (app, a, b) = two_tenants(backend).await;
    let mut admin = PgConnection::connect(&app.database_url).await.unwrap();
    let mut conn = as_app_role(&app.database_url).await;
    isolation_holds(&mut conn, a, b).await.unwrap();

    // Turn row-level security off: the same checks must now fail.
    admin
        .execute("ALTER TABLE todos DISABLE ROW LEVEL SECURITY")
        .await
        .unwrap();
    let broken = isolation_holds(&mut conn, a, b).await;
    admin
        .execute("ALTER TABLE todos ENABLE ROW LEVEL SECURITY")
        .await
        .unwrap();
    assert!(broken.is_err(), "isolation must depend on the policy");

    // Replace the policy with a permissive one: fails as well.
    admin
        .execute("ALTER POLICY tenant_isolation ON todos USING (true) WITH CHECK (true)")
        .await
        .unwrap();
    let broken = isolation_holds(&mut conn, a, b).await;
    admin
        .execute(
            "ALTER POLICY tenant_isolation ON todos
             USING (tenant_id = NULLIF(current_setting('nile.tenant_id', true), '')::uuid)
             WITH CHECK (tenant_id = NULLIF(current_setting('nile.tenant_id', true), '')::uuid)",
        )
        .await
        .unwrap();
    assert!(broken.is_err(), "isolation must depend on the policy's predicate");
    isolation_holds(&mut conn, a, b).await.unwrap();
}
