//! The Citus code paths, run on plain PostgreSQL (and SQLite) in the normal
//! suite: `aswan distribute` is a no-op there, and the app's connections set
//! the tenant context the way Citus needs (`SET LOCAL` with
//! `citus.propagate_set_commands = 'local'`). Against a real cluster, the
//! contract, RLS and randomized isolation suites run too (`contract_tests!`;
//! docs/scaling.md, "Testing against a cluster").

use sqlx::Connection;

use crate::backend_tests;
use crate::helpers::{aswan_command, run, Backend, TestApp, TwoTenants};

backend_tests!(distribute_is_a_no_op_without_citus);

async fn distribute_is_a_no_op_without_citus(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for _ in 0..2 {
        let out = run(aswan_command(app.data_dir.path())
            .env("DATABASE_URL", &app.database_url)
            .arg("distribute"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "not a Citus cluster: nothing to distribute\n"
        );
    }
    if backend == Backend::Postgres {
        let mut c = sqlx::PgConnection::connect(&app.database_url).await.unwrap();
        let (can_login,): (bool,) = sqlx::query_as("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'aswan_app'")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert!(!can_login, "aswan_app stays NOLOGIN without Citus");
    }
    // The server still starts on what distribute left.
    assert_eq!(app.anon().get("/readyz").await.status(), reqwest::StatusCode::OK);
}

/// What the server's connections run: the propagation setting on every
/// connection, and the tenant context by `SET LOCAL` in the transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_context_is_set_as_citus_needs_it() {
    let t = TwoTenants::spawn(Backend::Postgres).await;
    let a = t.a.to_string();
    let settings = "SELECT current_setting('citus.propagate_set_commands') AS propagate, \
                    current_setting('nile.tenant_id', true) AS tenant";
    let out = t.app.sql(&["--json", "--tenant", &a, settings]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows, serde_json::json!([{ "propagate": "local", "tenant": a }]));
    // Transaction-local: gone in the next statement's transaction.
    let out = t.app.sql(&["--json", settings]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(matches!(rows[0]["tenant"].as_str(), None | Some("")), "{rows}");
}
