//! AI estimates against the fake vendor: the happy path, grounding in the
//! tenant's own history, every fault, restarts, and several servers.

use std::time::Duration;

use aswan::config::EmbeddingProvider;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::contract_tests;
use crate::fake_ai::{Behaviour, FakeAi};
use crate::helpers::{eventually, id_of, Backend, TestApp, User};

contract_tests!(
    the_create_answers_with_the_estimate_and_its_basis,
    similar_tasks_never_cross_tenants,
    actual_durations_ground_later_estimates,
    transient_faults_leave_the_todo_pending_until_the_vendor_recovers,
    permanent_faults_fail_with_a_reason_and_are_not_retried,
    a_slow_vendor_answers_pending_then_ready,
    shutdown_waits_for_an_inline_estimate_past_its_timeout,
    pending_work_survives_a_restart,
    two_servers_estimate_each_todo_exactly_once,
    the_circuit_breaker_stops_calling_a_dead_vendor,
    search_is_semantic_and_within_the_tenant,
    with_estimates_off_search_matches_words,
    lists_leave_the_basis_out_unless_asked,
);

async fn todo_status(user: &User, tenant: Uuid, id: &str) -> Value {
    user.client
        .get(&format!("/api/tenants/{tenant}/todos/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn wait_status(user: &User, tenant: Uuid, id: &str, status: &str) -> Value {
    eventually(20, &format!("todo {id} becomes {status}"), || async {
        todo_status(user, tenant, id).await["estimate_status"] == status
    })
    .await;
    todo_status(user, tenant, id).await
}

async fn the_create_answers_with_the_estimate_and_its_basis(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let first = ada.todo(t, "Write the quarterly report").await;
    assert_eq!(first["estimate_status"], "ready", "{first}");
    assert_eq!(first["estimate"], "About 42 minutes.");
    assert_eq!(first["estimate_minutes"], 42);
    assert_eq!(first["estimate_basis"], json!([]));
    // Exactly one embeddings request (both forms) and one chat request.
    assert_eq!((ai.embed_calls(), ai.chat_calls()), (1, 1));
    assert_eq!(ai.state.embed_inputs.lock().unwrap()[0].len(), 2);

    let second = ada.todo(t, "Write the yearly report").await;
    assert_eq!((ai.embed_calls(), ai.chat_calls()), (2, 2));
    let basis = second["estimate_basis"].as_array().unwrap();
    assert_eq!(basis.len(), 1, "{second}");
    assert_eq!(basis[0]["id"], first["id"]);
    assert_eq!(basis[0]["title"], "Write the quarterly report");
    assert_eq!(basis[0]["minutes"], 42);
    let d = basis[0]["distance"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&d), "{d}");
    assert!(ai.prompts()[1].contains("\"Write the quarterly report\" was estimated at 42 minutes"));
    // The stored todo says the same as the answer.
    assert_eq!(todo_status(&ada, t, &id_of(&second)).await, second);
}

async fn similar_tasks_never_cross_tenants(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let a = ada.tenant("A").await;
    let b = bob.tenant("B").await;
    ada.todo(a, "Fix the login bug").await;
    ada.todo(a, "Fix the login bug again").await;
    let theirs = bob.todo(b, "Fix the login bug").await;
    assert_eq!(
        theirs["estimate_basis"],
        json!([]),
        "B must not see A's history: {theirs}"
    );
    assert!(!ai.prompts()[2].contains("was estimated"), "{}", ai.prompts()[2]);
    let again = bob.todo(b, "Fix the login bug again").await;
    let basis = again["estimate_basis"].as_array().unwrap();
    assert_eq!(basis.len(), 1);
    assert_eq!(basis[0]["id"], theirs["id"]);
}

/// The lean list: a list carries every field the seed's UI reads
/// but not the estimate's basis, unless `?include=basis` asks for it (kept
/// on the next page's link); a single todo always has it.
async fn lists_leave_the_basis_out_unless_asked(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    ada.todo(t, "Write the quarterly report").await;
    let second = ada.todo(t, "Write the yearly report").await;
    let id = id_of(&second);

    let lean: Value = ada.in_tenant(t).get("/api/todos").await.json().await.unwrap();
    let row = &lean[0];
    assert_eq!(row["id"], second["id"], "{lean}");
    assert!(row.get("estimate_basis").is_none(), "no basis in a plain list: {row}");
    for field in [
        "id",
        "tenant_id",
        "title",
        "complete",
        "estimate",
        "estimate_status",
        "estimate_minutes",
    ] {
        assert!(row.get(field).is_some(), "{field} kept: {row}");
    }
    assert_eq!(row["estimate"], second["estimate"]);

    let res = ada
        .client
        .get(&format!("/api/tenants/{t}/todos?include=basis&limit=1"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let link = res.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.contains("include=basis"), "{link}");
    let full: Value = res.json().await.unwrap();
    assert_eq!(full[0]["estimate_basis"], second["estimate_basis"], "{full}");
    assert_eq!(full[0]["estimate_basis"].as_array().unwrap().len(), 1);

    let one: Value = ada
        .in_tenant(t)
        .get(&format!("/api/todos/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["estimate_basis"], second["estimate_basis"]);

    let bad = ada
        .client
        .get(&format!("/api/tenants/{t}/todos?include=everything"))
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let body: Value = bad.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("include"), "{body}");
}

async fn actual_durations_ground_later_estimates(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let done = ada.todo(t, "Migrate the billing database").await;
    let path = format!("/api/tenants/{t}/todos/{}", id_of(&done));
    let res = ada
        .client
        .patch(&path, json!({ "complete": true, "actual_minutes": 120 }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let done: Value = res.json().await.unwrap();
    assert_eq!(
        (done["complete"].as_bool(), done["actual_minutes"].as_i64()),
        (Some(true), Some(120))
    );
    let res = ada.client.patch(&path, json!({ "actual_minutes": 0 })).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let next = ada.todo(t, "Migrate the analytics database").await;
    let basis = &next["estimate_basis"][0];
    assert_eq!(
        (basis["minutes"].as_i64(), basis["actual"].as_bool()),
        (Some(120), Some(true)),
        "{next}"
    );
    assert!(ai.prompts().last().unwrap().contains("actually took 120 minutes"));
}

async fn transient_faults_leave_the_todo_pending_until_the_vendor_recovers(backend: Backend) {
    let faults = [
        ("embeddings 500", Behaviour::Status(500, "server_error", None), true),
        (
            "embeddings 429 with Retry-After",
            Behaviour::Status(429, "rate_limit_exceeded", Some(1)),
            true,
        ),
        ("embeddings malformed JSON", Behaviour::Malformed, true),
        ("chat 503", Behaviour::Status(503, "overloaded", None), false),
        ("chat garbage", Behaviour::Garbage, false),
    ];
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |s| s.ai_breaker_threshold = 1000).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    for (name, behaviour, on_embed) in faults {
        if on_embed {
            ai.set_embed(behaviour);
        } else {
            ai.set_chat(behaviour);
        }
        let res = ada
            .in_tenant(t)
            .post("/api/todos", json!({ "title": format!("Task under {name}") }))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{name}: the todo is saved");
        let todo: Value = res.json().await.unwrap();
        assert_eq!(todo["estimate_status"], "pending", "{name}: {todo}");
        let id = id_of(&todo);
        // Still pending while the fault lasts (the worker keeps retrying).
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(todo_status(&ada, t, &id).await["estimate_status"], "pending", "{name}");
        ai.set_embed(Behaviour::Ok);
        ai.set_chat(Behaviour::Ok);
        let ready = wait_status(&ada, t, &id, "ready").await;
        assert_eq!(ready["estimate_minutes"], 42, "{name}");
    }
}

async fn permanent_faults_fail_with_a_reason_and_are_not_retried(backend: Backend) {
    let cases = [
        (
            "bad key",
            Behaviour::Status(401, "invalid_api_key", None),
            "credentials",
        ),
        ("no quota", Behaviour::Status(429, "insufficient_quota", None), "quota"),
        ("wrong dimension", Behaviour::WrongDimension, "dimensions"),
    ];
    for (name, behaviour, reason_word) in cases {
        let ai = FakeAi::start().await;
        let app = TestApp::spawn_with_ai(backend, &ai, |_| {}).await;
        let ada = app.user("ada@example.com").await;
        let t = ada.tenant("Acme").await;
        ai.set_embed(behaviour);
        let todo = ada.todo(t, "Plan the offsite").await;
        assert_eq!(todo["estimate_status"], "failed", "{name}: {todo}");
        let reason = todo["estimate_reason"].as_str().unwrap();
        assert!(reason.contains(reason_word), "{name}: {reason}");
        assert!(!reason.contains("fake failure"), "vendor text is not echoed");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(ai.embed_calls(), 1, "{name}: not retried");
        // Once fixed, asking again works.
        ai.set_embed(Behaviour::Ok);
        let res = ada
            .client
            .post(&format!("/api/tenants/{t}/todos/{}/estimate", id_of(&todo)), json!({}))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let again: Value = res.json().await.unwrap();
        assert_eq!(again["estimate_status"], "ready", "{name}: {again}");
        assert_eq!(again["estimate_reason"], Value::Null);
    }
}

/// The inline estimate outlives its request; a graceful shutdown waits for
/// it before closing the store, so its answer is saved, not lost (it used to
/// be a detached task that raced the pool's close and left the todo pending
/// until its lease ran out).
async fn shutdown_waits_for_an_inline_estimate_past_its_timeout(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |s| {
        s.estimate_inline_timeout = std::time::Duration::from_millis(100)
    })
    .await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    ai.set_chat(Behaviour::Delay(Duration::from_millis(1500)));
    let todo = ada.todo(t, "Estimated while shutting down").await;
    assert_eq!(todo["estimate_status"], "pending");
    ai.set_chat(Behaviour::Ok);
    let base = ai.base_url();
    let again = app.restart(backend, |s| crate::helpers::configure_ai(s, &base)).await;
    let ada = ada.on(&again);
    let after = todo_status(&ada, t, &id_of(&todo)).await;
    assert_eq!(after["estimate_status"], "ready", "{after}");
    assert_eq!(ai.chat_calls(), 1, "estimated once, by the request's own task");
}

async fn a_slow_vendor_answers_pending_then_ready(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |s| {
        s.estimate_inline_timeout = std::time::Duration::from_millis(200)
    })
    .await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    ai.set_chat(Behaviour::Delay(Duration::from_millis(1500)));
    let todo = ada.todo(t, "Review the contract").await;
    assert_eq!(todo["estimate_status"], "pending");
    let ready = wait_status(&ada, t, &id_of(&todo), "ready").await;
    assert_eq!(ready["estimate"], "About 42 minutes.");
    // The inline attempt finished in the background: no second call.
    assert_eq!((ai.embed_calls(), ai.chat_calls()), (1, 1));
}

async fn pending_work_survives_a_restart(backend: Backend) {
    let ai = FakeAi::start().await;
    // Never giving up, so that a slow machine (the vendor fails for longer
    // before the stop) cannot turn the pending todos into failed ones.
    let patient = |s: &mut aswan::Settings| {
        s.ai_breaker_threshold = 1000;
        s.estimate_max_attempts = 1000;
    };
    let mut app = TestApp::spawn_with_ai(backend, &ai, patient).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    ai.set_embed(Behaviour::Status(500, "server_error", None));
    let mut ids = Vec::new();
    for i in 0..3 {
        let todo = ada.todo(t, &format!("Pending task {i}")).await;
        assert_eq!(todo["estimate_status"], "pending");
        ids.push(id_of(&todo));
    }
    app.stop().await;
    ai.set_embed(Behaviour::Ok);
    let base = ai.base_url();
    let again = app
        .restart(backend, |s| {
            crate::helpers::configure_ai(s, &base);
            patient(s);
        })
        .await;
    let ada = ada.on(&again);
    for id in &ids {
        // Due again after their last backoff, which grew while the vendor failed.
        eventually(60, "a pending todo becomes ready after the restart", || async {
            todo_status(&ada, t, id).await["estimate_status"] == "ready"
        })
        .await;
    }
}

async fn two_servers_estimate_each_todo_exactly_once(backend: Backend) {
    let ai = FakeAi::start().await;
    let one = TestApp::spawn_with_ai(backend, &ai, |s| s.ai_breaker_threshold = 1000).await;
    let ada = one.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    ai.set_embed(Behaviour::Status(500, "server_error", None));
    let titles: Vec<String> = (0..12).map(|i| format!("Shared job {i}")).collect();
    for title in &titles {
        ada.todo(t, title).await;
    }
    // A second server on the same database and key.
    let base = ai.base_url();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(one.data_dir.path().join("jwt_secret"), dir.path().join("jwt_secret")).unwrap();
    let _two = TestApp::spawn_configured(backend, one.database_url.clone(), dir, |s| {
        crate::helpers::configure_ai(s, &base);
        s.ai_breaker_threshold = 1000;
    })
    .await;
    ai.set_embed(Behaviour::Ok);
    eventually(30, "every todo is estimated", || async {
        let list: Value = ada
            .client
            .get(&format!("/api/tenants/{t}/todos"))
            .await
            .json()
            .await
            .unwrap();
        list.as_array().unwrap().iter().all(|t| t["estimate_status"] == "ready")
    })
    .await;
    let prompts = ai.prompts();
    for title in &titles {
        let quoted = format!("New task: \"{title}\"");
        assert_eq!(
            prompts.iter().filter(|p| p.contains(&quoted)).count(),
            1,
            "{title} estimated once"
        );
    }
}

async fn the_circuit_breaker_stops_calling_a_dead_vendor(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |s| {
        s.ai_breaker_threshold = 2;
        s.ai_breaker_cooldown = std::time::Duration::from_secs(600);
    })
    .await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    ai.set_embed(Behaviour::Status(500, "server_error", None));
    ada.todo(t, "first").await;
    ada.todo(t, "second").await;
    let calls = ai.embed_calls();
    assert!(calls >= 2);
    // Open: more todos are saved (pending) without calling the vendor.
    for i in 0..3 {
        let todo = ada.todo(t, &format!("while open {i}")).await;
        assert_eq!(todo["estimate_status"], "pending");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ai.embed_calls(), calls, "no calls while the circuit is open");
}

async fn search_is_semantic_and_within_the_tenant(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let a = ada.tenant("A").await;
    let b = bob.tenant("B").await;
    ada.todo(a, "Renew the TLS certificate").await;
    ada.todo(a, "Buy coffee beans").await;
    bob.todo(b, "Renew the TLS certificate for Bob").await;
    let res = ada.in_tenant(a).get("/api/todos/search?q=tls%20certificate").await;
    assert_eq!(res.status(), StatusCode::OK);
    let hits: Value = res.json().await.unwrap();
    let titles: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.first(), Some(&"Renew the TLS certificate"), "{hits}");
    assert!(
        !titles.iter().any(|t| t.contains("Bob")),
        "never another tenant's: {hits}"
    );
    assert_eq!(
        ada.in_tenant(a).get("/api/todos/search?q=").await.status(),
        StatusCode::BAD_REQUEST
    );
}

async fn with_estimates_off_search_matches_words(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = TestApp::fresh_url(backend, &dir).await;
    let app = TestApp::spawn_configured(backend, url, dir, |s| {
        s.embedding_provider = Some(EmbeddingProvider::None);
    })
    .await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let todo = ada.todo(t, "Water the plants").await;
    assert_eq!(todo["estimate_status"], "off");
    assert_eq!(todo["estimate"], Value::Null);
    let res = ada
        .client
        .post(&format!("/api/tenants/{t}/todos/{}/estimate", id_of(&todo)), json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // Search falls back to matching words.
    let hits: Value = ada
        .in_tenant(t)
        .get("/api/todos/search?q=PLANTS")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hits[0]["title"], "Water the plants");
}

/// PostgreSQL: every search width on offer (HNSW_EF_SEARCH) is a valid
/// setting there, and the nearest task is found at each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_searches_at_every_width_on_offer() {
    let ai = FakeAi::start().await;
    for width in aswan::store::EfSearch::choices() {
        let app = TestApp::spawn_with_ai(Backend::Postgres, &ai, |s| s.hnsw_ef_search = width).await;
        let ada = app.user("ada@example.com").await;
        let t = ada.tenant("Acme").await;
        ada.todo(t, "Paint the fence").await;
        ada.todo(t, "File the taxes").await;
        let hits: Value = ada
            .in_tenant(t)
            .get("/api/todos/search?q=paint%20the%20fence%20again")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(hits[0]["title"], "Paint the fence", "width {width}: {hits}");
    }
}

/// PostgreSQL: the configured dimension gets its HNSW index, and similar-task
/// search (in its indexed form) finds the same neighbours as an exact scan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_builds_the_hnsw_index_for_the_configured_dimension() {
    use sqlx::Connection;
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(Backend::Postgres, &ai, |_| {}).await;
    let mut conn = sqlx::PgConnection::connect(&app.database_url).await.unwrap();
    let def: String =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE indexname = 'todos_embedding_hnsw_384'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(def.contains("USING hnsw") && def.contains("vector_cosine_ops"), "{def}");
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    for title in [
        "Paint the fence",
        "Paint the garage door",
        "File the taxes",
        "Paint the fence again",
    ] {
        ada.todo(t, title).await;
    }
    let res = ada.in_tenant(t).get("/api/todos/search?q=paint%20the%20fence").await;
    let hits: Value = res.json().await.unwrap();
    let titles: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles[0], "Paint the fence", "{hits}");
    let d: Vec<f64> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["distance"].as_f64().unwrap())
        .collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "nearest first: {d:?}");
}
