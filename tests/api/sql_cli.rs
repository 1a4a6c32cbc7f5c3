//! `aswan sql`: one statement, scoped to a tenant or to none.

use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, TwoTenants};

backend_tests!(
    sql_is_scoped_to_the_named_tenant,
    sql_prints_a_readable_table_and_reports_errors
);

fn json_titles(out: &std::process::Output) -> Vec<String> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn sql_is_scoped_to_the_named_tenant(backend: Backend) {
    let TwoTenants { app, ada, a, b, .. } = TwoTenants::spawn(backend).await;
    let a_arg = a.to_string();
    let query = "SELECT title FROM todos ORDER BY title";
    assert_eq!(
        json_titles(&app.sql(&["--json", "--tenant", &a_arg, query])),
        ["a1", "a2"]
    );
    assert_eq!(
        json_titles(&app.sql(&["--json", "--tenant", &b.to_string(), query])),
        ["b1"]
    );
    // No tenant: tenant-aware tables show nothing; shared tables are visible.
    assert!(json_titles(&app.sql(&["--json", query])).is_empty());
    let out = app.sql(&["--json", "SELECT name FROM tenants ORDER BY name"]);
    let names: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names, serde_json::json!([{ "name": "A" }, { "name": "B" }]));

    let update = "UPDATE todos SET complete = true";
    match backend {
        // PostgreSQL: writes run under RLS and touch only the tenant's rows.
        Backend::Postgres | Backend::Citus => {
            let out = app.sql(&["--tenant", &a_arg, update]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            assert!(String::from_utf8_lossy(&out.stdout).contains("(2 rows affected)"));
            let out = app.sql(&["--json", "--tenant", &b.to_string(), "SELECT complete FROM todos"]);
            let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(rows, serde_json::json!([{ "complete": false }]));
        }
        // SQLite: read-only.
        Backend::Sqlite => {
            let out = app.sql(&["--tenant", &a_arg, update]);
            assert!(!out.status.success());
            let list: Value = ada
                .client
                .get(&format!("/api/tenants/{a}/todos?complete=true"))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(list, serde_json::json!([]));
        }
    }
}

async fn sql_prints_a_readable_table_and_reports_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let a = ada.tenant("A").await;
    ada.todo(a, "write docs").await;
    let out = app.sql(&["--tenant", &a.to_string(), "SELECT title, complete FROM todos"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("title") && lines[0].contains("complete"), "{text}");
    assert!(lines[2].contains("write docs"), "{text}");
    assert_eq!(lines.last().unwrap(), &"(1 row)");
    let out = app.sql(&["SELEC nonsense"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    let out = app.sql(&["--tenant", "not-a-uuid", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The console's help says plainly what `--tenant` is: a filter, not a
/// boundary (a statement written to leave its tenant can). (Before: the
/// help and README promised refusals that a quoted `"set_config"` got
/// around, and writes "within the tenant" while `tenants` could be changed.)
#[test]
fn the_console_says_tenant_is_a_filter_not_a_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::helpers::aswan_command(dir.path())
        .args(["sql", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        help.contains("--tenant is a filter for the operator, not a security boundary"),
        "{help}"
    );
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(readme.contains("`--tenant` is **a filter for the operator, not a security boundary**"));
    assert!(!readme.contains("writes are allowed (within the tenant)"));
}
