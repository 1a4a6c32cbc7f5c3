//! The embedded AI default: no configuration, the built-in embedding model
//! (the real committed one) and estimates from the tenant's own history.
//! Also `aswan reindex` after a change of model and dimensions.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::contract_tests;
use crate::fake_ai::FakeAi;
use crate::helpers::{aswan_command, configure_ai, eventually, id_of, run, Backend, TestApp, User};

contract_tests!(
    with_no_configuration_estimates_come_from_history,
    estimates_stand_in_when_nothing_was_timed,
    history_never_crosses_tenants,
    search_is_semantic_with_no_configuration,
    search_finds_only_what_is_relevant,
    a_retitled_todo_is_similar_by_its_new_title,
    reindex_after_a_change_of_model_and_dimensions,
    reindex_moves_the_previous_builtin_models_vectors,
    a_new_actual_re_estimates_similar_open_tasks,
    re_estimates_per_actual_are_bounded,
    an_interrupted_reindex_resumes_where_it_stopped,
);

/// `GET …/todos/search?q=` in `tenant`.
async fn search(user: &User, tenant: Uuid, q: &str) -> Value {
    let path = format!("/api/todos/search?q={}", q.replace(' ', "%20"));
    user.in_tenant(tenant).get(&path).await.json().await.unwrap()
}

async fn finish(user: &User, tenant: Uuid, todo: &Value, minutes: i64) {
    let res = user
        .client
        .patch(
            &format!("/api/tenants/{tenant}/todos/{}", id_of(todo)),
            json!({ "complete": true, "actual_minutes": minutes }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn with_no_configuration_estimates_come_from_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;

    // Nothing to go on yet: no number, and it says so.
    let first = ada.todo(t, "Fix the login bug").await;
    assert_eq!(first["estimate_status"], "insufficient_history", "{first}");
    assert_eq!(first["estimate"], "not enough history yet");
    assert_eq!(first["estimate_minutes"], Value::Null);
    assert!(
        first["estimate_reason"].as_str().unwrap().contains("no similar task"),
        "{first}"
    );
    finish(&ada, t, &first, 90).await;

    // A paraphrase (few shared words) finds it through the embedding.
    let second = ada.todo(t, "Repair the broken login page").await;
    assert_eq!(second["estimate_status"], "ready", "{second}");
    assert_eq!(second["estimate_minutes"], 90);
    assert_eq!(
        second["estimate"],
        "1 h 30 min, from the actual durations of 1 similar task"
    );
    let basis = second["estimate_basis"].as_array().unwrap();
    assert_eq!(basis.len(), 1, "{second}");
    assert_eq!(basis[0]["id"], first["id"]);
    assert_eq!(
        (basis[0]["minutes"].as_i64(), basis[0]["actual"].as_bool()),
        (Some(90), Some(true))
    );

    // An unrelated task borrows nothing from it.
    let third = ada.todo(t, "Mow the lawn").await;
    assert_eq!(third["estimate_status"], "insufficient_history", "{third}");
    assert_eq!(third["estimate_minutes"], Value::Null);

    // Once a similar task is timed, estimating again gives a number.
    let lawn = ada.todo(t, "Cut the grass in the back yard").await;
    finish(&ada, t, &lawn, 45).await;
    let again: Value = ada
        .client
        .post(&format!("/api/tenants/{t}/todos/{}/estimate", id_of(&third)), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["estimate_status"], "ready", "{again}");
    assert_eq!(again["estimate_minutes"], 45);
}

async fn estimates_stand_in_when_nothing_was_timed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let timed = ada.todo(t, "Renew the SSL certificate").await;
    finish(&ada, t, &timed, 20).await;
    let estimated = ada.todo(t, "Renew the TLS certificate").await;
    assert_eq!(estimated["estimate_minutes"], 20, "{estimated}");
    // With the timed one gone, only an estimate is left to go on.
    let res = ada
        .client
        .delete(&format!("/api/tenants/{t}/todos/{}", id_of(&timed)))
        .await;
    assert!(res.status().is_success());
    let third = ada.todo(t, "Renew the HTTPS certificate").await;
    assert_eq!(third["estimate_status"], "ready", "{third}");
    assert_eq!(third["estimate_minutes"], 20);
    assert_eq!(third["estimate"], "20 min, from the estimates of 1 similar task");
    assert_eq!(third["estimate_basis"][0]["actual"], false);
}

async fn history_never_crosses_tenants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let a = ada.tenant("Acme").await;
    let b = bob.tenant("Bobco").await;
    let done = ada.todo(a, "Fix the login bug").await;
    finish(&ada, a, &done, 90).await;
    let same_title = bob.todo(b, "Fix the login bug").await;
    assert_eq!(same_title["estimate_status"], "insufficient_history", "{same_title}");
    assert_eq!(same_title["estimate_basis"], json!([]));
    let hits = search(&bob, b, "login").await;
    let ids: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![same_title["id"].as_str().unwrap()], "{hits}");
}

async fn search_is_semantic_with_no_configuration(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    for title in ["Mow the lawn", "Fix the login bug", "Buy groceries", "Do my tax return"] {
        ada.todo(t, title).await;
    }
    // No word in common with the title it should find first.
    let hits = search(&ada, t, "people cannot log on").await;
    assert_eq!(hits[0]["title"], "Fix the login bug", "{hits}");
    let hits = search(&ada, t, "cut the grass").await;
    assert_eq!(hits[0]["title"], "Mow the lawn", "{hits}");
}

/// Search finds only what is relevant: a query that means nothing here finds nothing,
/// an unrelated task does not ride along, and a word typed as it appears in
/// a title always finds that task.
async fn search_finds_only_what_is_relevant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    for title in [
        "Buy milk",
        "Write the pricing article",
        "Fix the login bug",
        "Mow the lawn",
        "Prepare the board meeting slides",
        "Renew the car insurance",
        "Call the dentist",
        "Plan the team offsite",
    ] {
        ada.todo(t, title).await;
    }
    let titles = |hits: &Value| -> Vec<String> {
        hits.as_array()
            .unwrap()
            .iter()
            .map(|h| h["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let nothing = search(&ada, t, "zzzz qqqq").await;
    assert_eq!(titles(&nothing), Vec::<String>::new(), "{nothing}");
    let pricing = search(&ada, t, "pricing article").await;
    assert_eq!(titles(&pricing)[0], "Write the pricing article", "{pricing}");
    assert!(!titles(&pricing).contains(&"Buy milk".to_owned()), "{pricing}");
    // A word of the title as typed, whatever the model thinks of it.
    let milk = search(&ada, t, "milk").await;
    assert!(titles(&milk).contains(&"Buy milk".to_owned()), "{milk}");
    let dentist = search(&ada, t, "DENTIST").await;
    assert_eq!(titles(&dentist)[0], "Call the dentist", "{dentist}");
}

async fn a_retitled_todo_is_similar_by_its_new_title(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let todo = ada.todo(t, "Buy groceries").await;
    finish(&ada, t, &todo, 40).await;
    // Close enough to count as similar under its first title.
    let hits = search(&ada, t, "Do the weekly food shopping").await;
    assert!(
        hits[0]["distance"].as_f64().unwrap() < f64::from(aswan::ai::LOCAL_MAX_DISTANCE),
        "{hits}"
    );
    let res = ada
        .client
        .patch(
            &format!("/api/tenants/{t}/todos/{}", id_of(&todo)),
            json!({ "title": "Fix the login bug" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let login = ada.todo(t, "Repair the broken login page").await;
    assert_eq!(login["estimate_minutes"], 40, "{login}");
    assert_eq!(login["estimate_basis"][0]["title"], "Fix the login bug");
    // Its old title's vector is gone.
    let food = ada.todo(t, "Do the weekly food shopping").await;
    assert_eq!(food["estimate_status"], "insufficient_history", "{food}");
}

fn reindex(app: &TestApp, envs: &[(&str, &str)]) -> String {
    let out = reindex_run(app, envs);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn reindex_run(app: &TestApp, envs: &[(&str, &str)]) -> std::process::Output {
    run(aswan_command(app.data_dir.path())
        .env("DATABASE_URL", &app.database_url)
        .envs(envs.iter().copied())
        .arg("reindex")
        .args(["--batch", "2"]))
}

/// `POST …/todos/{id}/estimate`: the todo as estimated again.
async fn estimate_again(user: &User, tenant: Uuid, todo: &Value) -> Value {
    user.client
        .post(
            &format!("/api/tenants/{tenant}/todos/{}/estimate", id_of(todo)),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap()
}

async fn get(user: &User, tenant: Uuid, todo: &Value) -> Value {
    user.client
        .get(&format!("/api/tenants/{tenant}/todos/{}", id_of(todo)))
        .await
        .json()
        .await
        .unwrap()
}

/// "Estimates that keep up": an open task that
/// had no history gets its estimate as soon as a similar task is timed —
/// in the background, without anyone asking again; unrelated tasks and
/// tasks already grounded in actuals are left alone.
async fn a_new_actual_re_estimates_similar_open_tasks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let done = ada.todo(t, "Fix the login bug").await;
    let open = ada.todo(t, "Repair the broken login page").await;
    assert_eq!(open["estimate_status"], "insufficient_history", "{open}");
    let lawn = ada.todo(t, "Mow the lawn").await;
    let grass = ada.todo(t, "Cut the grass in the garden").await;
    finish(&ada, t, &grass, 40).await;
    // The lawn was re-estimated from the grass (a separate event).
    eventually(20, "the lawn is estimated from the grass", || async {
        get(&ada, t, &lawn).await["estimate_minutes"] == 40
    })
    .await;
    let lawn_before = get(&ada, t, &lawn).await;

    finish(&ada, t, &done, 90).await;
    eventually(20, "the open login task is re-estimated", || async {
        get(&ada, t, &open).await["estimate_status"] == "ready"
    })
    .await;
    let open = get(&ada, t, &open).await;
    assert_eq!(open["estimate_minutes"], 90, "{open}");
    assert_eq!(open["estimate_basis"][0]["id"], done["id"], "{open}");
    assert_eq!(open["estimate_basis"][0]["actual"], true, "{open}");
    // Unrelated, and already grounded in an actual: untouched.
    assert_eq!(get(&ada, t, &lawn).await, lawn_before);
}

/// Twelve similar open tasks, one completion: ten are re-estimated, no more.
async fn re_estimates_per_actual_are_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let done = ada.todo(t, "Fix the login bug").await;
    let mut open = Vec::new();
    for page in 1..=12 {
        open.push(ada.todo(t, &format!("Fix the login bug on page {page}")).await);
    }
    finish(&ada, t, &done, 60).await;
    let ready = || async {
        let mut n = 0;
        for todo in &open {
            n += usize::from(get(&ada, t, todo).await["estimate_status"] == "ready");
        }
        n
    };
    eventually(20, "ten tasks re-estimated", || async { ready().await == 10 }).await;
    // And it stays at ten (nothing else was queued).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(ready().await, 10);
    assert_eq!(aswan::ai::MAX_REESTIMATES_PER_ACTUAL, 10);
}

/// Marks every stored vector as made by `model`, as an older Aswan would
/// have left them (same dimensions, another model).
async fn stamp_vectors(app: &TestApp, backend: Backend, model: &str) -> u64 {
    let sql = "UPDATE todos SET embedding_model = $1 WHERE embedding_model IS NOT NULL";
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            sqlx::query(sql)
                .bind(model)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        }
        Backend::Postgres | Backend::Citus => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            sqlx::query(sql)
                .bind(model)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        }
    }
}

/// A database the previous built-in model (v1, also 384 dimensions) filled:
/// its vectors are never compared with the new model's, and `aswan reindex`
/// moves them all to the new one, after which they count again.
async fn reindex_moves_the_previous_builtin_models_vectors(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let login = ada.todo(t, "Fix the login bug").await;
    finish(&ada, t, &login, 90).await;
    ada.todo(t, "Mow the lawn").await;
    app.stop().await;
    assert_eq!(stamp_vectors(&app, backend, "aswan/minilm-l6-static-v1").await, 2);

    let app = app.restart(backend, |_| {}).await;
    let ada = ada.on(&app);
    let before = ada.todo(t, "Repair the broken login page").await;
    assert_eq!(before["estimate_status"], "insufficient_history", "{before}");
    let mut app = app;
    app.stop().await;
    assert_eq!(
        reindex(&app, &[]),
        "reindexed 2 todos in 1 tenants with aswan/minilm-l6-static-v2\n"
    );
    let app = app.restart(backend, |_| {}).await;
    let ada = ada.on(&app);
    let after = estimate_again(&ada, t, &before).await;
    assert_eq!(after["estimate_status"], "ready", "{after}");
    assert_eq!(after["estimate_basis"][0]["id"], login["id"], "{after}");
    assert_eq!(after["estimate_minutes"], 90, "{after}");
}

async fn an_interrupted_reindex_resumes_where_it_stopped(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    for i in 0..6 {
        ada.todo(t, &format!("Task number {i}")).await;
    }
    app.stop().await;
    // Moving to a vendor's embeddings; the vendor dies after one batch.
    let ai = FakeAi::start().await;
    let base = ai.base_url();
    let vendor = [
        ("AI_BASE_URL", base.as_str()),
        ("EMBEDDING_MODEL", "fake-embed"),
        ("EMBEDDING_DIMENSIONS", "32"),
        ("AI_REQUEST_TIMEOUT", "5"),
    ];
    ai.set_embed_budget(Some(1));
    let out = reindex_run(&app, &vendor);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("after 2 todos") && stderr.contains("run aswan reindex again"),
        "{stderr}"
    );
    // Run again: only the four left are embedded.
    ai.set_embed_budget(None);
    assert_eq!(
        reindex(&app, &vendor),
        "reindexed 4 todos in 1 tenants with fake-embed\n"
    );
    assert_eq!(ai.embed_calls(), 1 + 1 + 2);
    assert_eq!(
        reindex(&app, &vendor),
        "reindexed 0 todos in 0 tenants with fake-embed\n"
    );
}

async fn reindex_after_a_change_of_model_and_dimensions(backend: Backend) {
    // Before: a vendor's 64-dimension embeddings.
    let ai = FakeAi::start().await;
    let base = ai.base_url();
    let dir = tempfile::tempdir().unwrap();
    let url = TestApp::fresh_url(backend, &dir).await;
    let vendor = TestApp::spawn_configured(backend, url, dir, |s| {
        configure_ai(s, &base);
        s.embedding_dimensions = Some(64);
    })
    .await;
    let ada = vendor.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let login = ada.todo(t, "Fix the login bug").await;
    finish(&ada, t, &login, 90).await;
    for title in [
        "Renew the SSL certificate",
        "Buy groceries",
        "Mow the lawn",
        "Water the plants",
    ] {
        ada.todo(t, title).await;
    }
    let bob = vendor.user("bob@example.com").await;
    let b = bob.tenant("Bobco").await;
    bob.todo(b, "Bob's own task").await;
    // After: the built-in model (384 dimensions) on the same database.
    let mut local = vendor.restart(backend, |_| {}).await;
    let ada = ada.on(&local);
    // The 64-dimension vectors are another model's: never compared.
    let before = ada.todo(t, "Repair the broken login page").await;
    assert_eq!(before["estimate_status"], "insufficient_history", "{before}");

    local.stop().await;
    // Six stale todos in two tenants (the new one is already current).
    assert_eq!(
        reindex(&local, &[]),
        "reindexed 6 todos in 2 tenants with aswan/minilm-l6-static-v2\n"
    );
    assert_eq!(
        reindex(&local, &[]),
        "reindexed 0 todos in 0 tenants with aswan/minilm-l6-static-v2\n"
    );

    let again = local.restart(backend, |_| {}).await;
    let ada = ada.on(&again);
    let after = estimate_again(&ada, t, &before).await;
    assert_eq!(after["estimate_status"], "ready", "{after}");
    assert_eq!(after["estimate_minutes"], 90);
    assert_eq!(after["estimate_basis"][0]["id"], login["id"]);
}
