//! Clients that hang up mid-request: a write that was answered 2xx is
//! stored, one that was not is stored whole or not at all, and no pooled
//! database connection is left inside a transaction (ARCHITECTURE.md,
//! "Cancellation").
//!
//! On PostgreSQL the server reaches the database through a proxy that delays
//! every packet, so each round trip (`BEGIN` above all) is a wide window for
//! a hang-up to cancel the request in. A connection left inside an open
//! transaction by such a cancellation would run the next borrower's
//! autocommit writes (a new API token, a session) inside it, answer them
//! 200, and lose them when the transaction is rolled back.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::backend_tests;
use crate::helpers::{eventually, fresh_pg_database, pg_admin_url, Backend, TcpProxy, TestApp, User};

backend_tests!(hang_ups_lose_no_acknowledged_write);

/// Requests sent and abandoned at a random moment.
const HANG_UPS: usize = 1_000;
/// Requests that wait for their answer, meanwhile.
const KEPT: usize = 240;
/// Rounds of abandoned edits after the storm, at most.
const TAIL_ROUNDS: usize = 150;
/// Each side's delay through the database proxy.
const DB_DELAY: Duration = Duration::from_millis(1);

async fn hang_ups_lose_no_acknowledged_write(backend: Backend) {
    let data_dir = tempfile::tempdir().unwrap();
    let (url, _proxy) = match backend {
        Backend::Postgres => {
            let direct = fresh_pg_database().await;
            let mut url = reqwest::Url::parse(&direct).unwrap();
            let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
            let proxy = TcpProxy::start_delayed(target.parse().unwrap(), DB_DELAY).await;
            url.set_port(Some(proxy.addr.port())).unwrap();
            (url.to_string(), Some(proxy))
        }
        _ => (TestApp::fresh_url(backend, &data_dir).await, None),
    };
    // Few connections, so that each one is borrowed again and again.
    let app = TestApp::spawn_configured(backend, url, data_dir, |s| s.db_max_connections = 4).await;
    let user = app.user("storm@example.com").await;
    let tenant = user.tenant("Storm").await;
    let mut targets = Vec::new();
    for i in 0..8 {
        targets.push(
            user.todo(tenant, &format!("target {i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    let storm = async {
        let mut rng = Lcg(0x5eed);
        let mut batch = Vec::new();
        for i in 0..HANG_UPS {
            let target = &targets[i % targets.len()];
            let (method, path, body) = match i % 4 {
                0 => (
                    "POST",
                    format!("/api/tenants/{tenant}/todos"),
                    json!({ "title": format!("gone {i}") }),
                ),
                1 => (
                    "POST",
                    "/api/me/tokens".to_owned(),
                    json!({ "name": format!("gone {i}") }),
                ),
                2 => ("POST", format!("/api/tenants/{tenant}/todos/{target}/timer"), json!({})),
                _ => (
                    "PATCH",
                    format!("/api/tenants/{tenant}/todos/{target}"),
                    json!({ "title": format!("renamed {i}") }),
                ),
            };
            // Anywhere from before the request is read to after it is answered.
            let wait = Duration::from_micros(rng.below(40_000));
            batch.push(hang_up(app.addr, &user.token, method, path, body, wait));
            if batch.len() == 8 {
                join_all(batch.drain(..)).await;
            }
        }
        join_all(batch).await;
    };
    let kept = async {
        let mut todos = Vec::new();
        let mut tokens = Vec::new();
        for i in 0..KEPT {
            let res = if i % 2 == 0 {
                user.client
                    .post(
                        &format!("/api/tenants/{tenant}/todos"),
                        json!({ "title": format!("kept {i}") }),
                    )
                    .await
            } else {
                user.client
                    .post("/api/me/tokens", json!({ "name": format!("kept {i}") }))
                    .await
            };
            if res.status().is_success() {
                let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
                if i % 2 == 0 {
                    todos.push(id)
                } else {
                    tokens.push(id)
                }
            }
        }
        (todos, tokens)
    };
    let ((), (todos, mut tokens)) = tokio::join!(storm, kept);
    // Then abandoned edits alone, four at a time (one per pooled
    // connection), each hung up around the moment its transaction begins,
    // until a connection is found left inside a transaction or the rounds
    // run out; then a last series of acknowledged autocommit writes, which
    // such a connection would answer 201 and never commit.
    let mut rng = Lcg(0x7a11);
    for round in 0..TAIL_ROUNDS {
        join_all((0..4).map(|k| {
            let target = &targets[(round * 4 + k) % targets.len()];
            hang_up(
                app.addr,
                &user.token,
                "PATCH",
                format!("/api/tenants/{tenant}/todos/{target}"),
                json!({ "title": format!("tail {round} {k}") }),
                Duration::from_micros(8_000 + rng.below(20_000)),
            )
        }))
        .await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        if backend == Backend::Postgres && idle_in_transaction(&app).await > 0 {
            break;
        }
    }
    for i in 0..KEPT / 3 {
        let res = user
            .client
            .post("/api/me/tokens", json!({ "name": format!("last {i}") }))
            .await;
        if res.status().is_success() {
            tokens.push(res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        todos.len() + tokens.len() > KEPT * 9 / 10,
        "most kept writes succeed ({} todos, {} tokens of {KEPT})",
        todos.len(),
        tokens.len()
    );

    // Once the abandoned requests have run their course, no connection of
    // this database sits inside a transaction.
    let mut stuck = 0;
    if backend == Backend::Postgres {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            stuck = idle_in_transaction(&app).await;
            if stuck == 0 || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // A restart rolls back whatever a connection still held open.
    let app = app.restart(backend, |s| s.db_max_connections = 4).await;
    let user = user.on(&app);
    for id in &todos {
        let res = user.client.get(&format!("/api/tenants/{tenant}/todos/{id}")).await;
        assert_eq!(res.status(), StatusCode::OK, "the acknowledged todo {id} is stored");
    }
    let stored: BTreeSet<String> = user
        .client
        .get("/api/me/tokens")
        .await
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    let lost: Vec<&String> = tokens.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty() && stuck == 0,
        "{} of {} acknowledged API tokens lost; {stuck} connections were left inside a transaction",
        lost.len(),
        tokens.len()
    );
    // Nothing half-stored: every todo that exists came with its estimate
    // job, so the worker settles every one of them.
    eventually(60, "every stored todo settled", || async {
        all_todos(&user, tenant)
            .await
            .iter()
            .all(|t| t["estimate_status"] != "pending")
    })
    .await;
}

/// How many of the app's database connections sit inside a transaction.
async fn idle_in_transaction(app: &TestApp) -> i64 {
    let db = app.database_url.rsplit('/').next().unwrap();
    let admin = sqlx::PgPool::connect(&pg_admin_url()).await.unwrap();
    let (open,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state LIKE 'idle in transaction%'",
    )
    .bind(db)
    .fetch_one(&admin)
    .await
    .unwrap();
    admin.close().await;
    open
}

/// Every todo of the tenant, page by page.
async fn all_todos(user: &User, tenant: uuid::Uuid) -> Vec<Value> {
    let mut all = Vec::new();
    let mut path = format!("/api/tenants/{tenant}/todos?limit=200");
    loop {
        let res = user.client.get(&path).await;
        assert_eq!(res.status(), StatusCode::OK);
        let next = res
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.split(['<', '>']).nth(1))
            .map(str::to_owned);
        all.extend(res.json::<Vec<Value>>().await.unwrap());
        match next {
            Some(link) => path = link,
            None => return all,
        }
    }
}

/// Sends one request on a fresh connection, waits `wait`, and hangs up
/// without reading the answer.
async fn hang_up(addr: std::net::SocketAddr, token: &str, method: &str, path: String, body: Value, wait: Duration) {
    let body = body.to_string();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    let _ = stream.write_all(request.as_bytes()).await;
    tokio::time::sleep(wait).await;
    drop(stream);
}

/// A small deterministic generator: the same storm on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}
