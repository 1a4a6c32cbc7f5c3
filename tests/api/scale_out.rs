//! Several stateless server processes on one PostgreSQL (docs/scaling.md).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{fresh_pg_database, ServerProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_share_sessions_and_data() {
    let url = fresh_pg_database().await;
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET", "shared-between-instances-0123456789abcdef"),
    ];
    let one = ServerProcess::start(dir.path(), &envs);
    let two = ServerProcess::start(dir.path(), &envs);
    let http = reqwest::Client::new();

    // A session made on one works on the other.
    let res = http
        .post(one.url("/api/sign-up"))
        .json(&json!({ "email": "ada@example.com", "password": "correct horse" }))
        .send()
        .await
        .unwrap();
    let token = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = http.get(two.url("/api/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    // Writes through one are read through the other, both ways.
    let tenant: Value = http
        .post(two.url("/api/tenants"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Acme" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = tenant["id"].as_str().unwrap();
    for (i, server) in [&one, &two, &one].iter().enumerate() {
        let res = http
            .post(server.url("/api/todos"))
            .bearer_auth(&token)
            .header("X-Tenant-Id", tenant)
            .json(&json!({ "title": format!("via {i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    for server in [&one, &two] {
        let list: Value = http
            .get(server.url("/api/todos"))
            .bearer_auth(&token)
            .header("X-Tenant-Id", tenant)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(crate::helpers::titles(&list), ["via 2", "via 1", "via 0"]);
    }
    // Logging out on one ends the session on the other.
    http.post(one.url("/api/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let me = http.get(two.url("/api/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}
