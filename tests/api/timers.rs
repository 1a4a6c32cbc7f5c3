//! Timers: one running timer per user, on a task of one of their tenants,
//! kept server-side (it survives a restart), answered back with how long it
//! ran when stopped.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::contract_tests;
use crate::helpers::{id_of, Backend, TestApp};

contract_tests!(
    one_timer_per_user_started_on_a_task_and_stopped_with_its_time,
    deleting_a_task_stops_its_timers
);

async fn one_timer_per_user_started_on_a_task_and_stopped_with_its_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let a = ada.todo(t, "Write the report").await;
    let b = ada.todo(t, "Call the bank").await;
    let start = |todo: &Value| format!("/api/tenants/{t}/todos/{}/timer", id_of(todo));

    assert_eq!(ada.client.get("/api/me/timer").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(ada.client.delete("/api/me/timer").await.status(), StatusCode::NOT_FOUND);

    let res = ada.client.post(&start(&a), json!({})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let timer: Value = res.json().await.unwrap();
    assert_eq!(
        (&timer["tenant_id"], &timer["todo_id"]),
        (&json!(t), &a["id"]),
        "{timer}"
    );
    assert_eq!(timer["elapsed_seconds"], 0);
    // One per user: starting another replaces it.
    assert_eq!(
        ada.client.post(&start(&b), json!({})).await.status(),
        StatusCode::CREATED
    );
    let running: Value = ada.client.get("/api/me/timer").await.json().await.unwrap();
    assert_eq!(running["todo_id"], b["id"], "{running}");

    // Someone else's: neither their tasks nor their timer.
    let bob = app.user("bob@example.com").await;
    assert_eq!(
        bob.client.post(&start(&a), json!({})).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(bob.client.get("/api/me/timer").await.status(), StatusCode::NO_CONTENT);
    // No such task; a done task.
    let missing = format!("/api/tenants/{t}/todos/{}/timer", uuid::Uuid::now_v7());
    assert_eq!(
        ada.client.post(&missing, json!({})).await.status(),
        StatusCode::NOT_FOUND
    );
    let res = ada
        .client
        .patch(
            &format!("/api/tenants/{t}/todos/{}", id_of(&a)),
            json!({ "complete": true }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let done = ada.client.post(&start(&a), json!({})).await;
    assert_eq!(done.status(), StatusCode::CONFLICT);
    let body: Value = done.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("done"), "{body}");
    // The seed's header route starts one too.
    let res = ada
        .in_tenant(t)
        .post(&format!("/api/todos/{}/timer", id_of(&b)), json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Kept server-side: a restart does not lose it, and it keeps counting.
    let app = app.restart(backend, |_| {}).await;
    let ada = ada.on(&app);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let running: Value = ada.client.get("/api/me/timer").await.json().await.unwrap();
    assert_eq!(running["todo_id"], b["id"], "{running}");
    assert!(running["elapsed_seconds"].as_i64().unwrap() >= 1, "{running}");

    let stopped = ada.client.delete("/api/me/timer").await;
    assert_eq!(stopped.status(), StatusCode::OK);
    let stopped: Value = stopped.json().await.unwrap();
    assert_eq!(stopped["todo_id"], b["id"]);
    assert!(stopped["elapsed_seconds"].as_i64().unwrap() >= 1, "{stopped}");
    assert_eq!(ada.client.get("/api/me/timer").await.status(), StatusCode::NO_CONTENT);
}

/// Deleting a task stops the timers running on it, in the same transaction
/// (the timer is started through the tenant handle, with the task checked
/// in its transaction). (Before: the timer outlived its task, pointing at a
/// todo that no longer existed.)
async fn deleting_a_task_stops_its_timers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let t = ada.tenant("Acme").await;
    ada.add_member(t, &bob, "member").await;
    let doomed = ada.todo(t, "Doomed").await;
    let kept = ada.todo(t, "Kept").await;
    for (who, todo) in [(&ada, &doomed), (&bob, &doomed)] {
        let res = who
            .client
            .post(&format!("/api/tenants/{t}/todos/{}/timer", id_of(todo)), json!({}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = ada
        .client
        .delete(&format!("/api/tenants/{t}/todos/{}", id_of(&doomed)))
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    for who in [&ada, &bob] {
        assert_eq!(who.client.get("/api/me/timer").await.status(), StatusCode::NO_CONTENT);
    }
    // A timer elsewhere is not touched.
    let res = ada
        .client
        .post(&format!("/api/tenants/{t}/todos/{}/timer", id_of(&kept)), json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = bob
        .client
        .delete(&format!("/api/tenants/{t}/todos/{}", id_of(&doomed)))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(ada.client.get("/api/me/timer").await.status(), StatusCode::OK);
}
