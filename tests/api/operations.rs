//! Operating the binary: online backups, quiet closed pipes, the URL to open.

use std::io::BufRead;
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::helpers::{aswan_command, run, Backend, TestApp};

/// `aswan backup` copies a SQLite database that is being written, and the
/// copy is whole: it passes an integrity check, holds every todo made before
/// the backup began, and a server runs on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_is_consistent() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    for i in 0..20 {
        ada.todo(t, &format!("before {i}")).await;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (client, stop) = (ada.client.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let res = client
                    .post(
                        &format!("/api/tenants/{t}/todos"),
                        json!({ "title": format!("during {i}") }),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::OK);
                i += 1;
            }
            i
        })
    };
    let target = app.data_dir.path().join("backup.db");
    let (dir, url, target2) = (app.data_dir.path().to_owned(), app.database_url.clone(), target.clone());
    let out = tokio::task::spawn_blocking(move || {
        run(aswan_command(&dir)
            .env("DATABASE_URL", &url)
            .arg("backup")
            .arg(&target2))
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written_during = writer.await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("backed up to "));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let mut copy = sqlx::SqliteConnection::connect(&format!("sqlite://{}", target.display()))
        .await
        .unwrap();
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut copy)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM todos")
        .fetch_one(&mut copy)
        .await
        .unwrap();
    assert!((20..=20 + i64::from(written_during)).contains(&n), "{n} todos");
    copy.close().await.unwrap();

    // Refuses to overwrite.
    let again = run(aswan_command(app.data_dir.path())
        .env("DATABASE_URL", &app.database_url)
        .arg("backup")
        .arg(&target));
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));

    // A server runs on the copy, with the same sessions (same secret).
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(app.data_dir.path().join("jwt_secret"), dir.path().join("jwt_secret")).unwrap();
    let restored = TestApp::spawn_with(Backend::Sqlite, format!("sqlite://{}", target.display()), dir).await;
    let ada = ada.on(&restored);
    let titles = ada.titles(t).await;
    assert_eq!(titles.len() as i64, n);
    assert!(titles.contains(&"before 0".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_points_to_pg_dump() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let target = app.data_dir.path().join("backup.db");
    let out = run(aswan_command(app.data_dir.path())
        .env("DATABASE_URL", &app.database_url)
        .arg("backup")
        .arg(&target));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
    assert!(!target.exists());
}

/// `aswan eval --json | head -1`: the reader goes away, the command ends
/// quietly (it used to panic on the broken pipe, with a backtrace).
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = aswan_command(dir.path())
        .args(["eval", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
}

/// `serve` says what to open, not only what it bound.
#[test]
fn serve_prints_the_url_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = aswan_command(dir.path())
        .env("BIND", "127.0.0.1:0")
        .env("EMBEDDING_PROVIDER", "none")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("aswan is listening"))
        .expect("a listening line");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("open http://127.0.0.1:"), "{line}");
}
