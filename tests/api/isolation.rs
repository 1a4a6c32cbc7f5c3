use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::contract_tests;
use crate::helpers::{expect_error, Backend, TestApp};

contract_tests!(
    a_user_cannot_reach_another_tenants_todos,
    foreign_todo_ids_are_404_in_ones_own_tenant,
    tenant_context_errors,
);

async fn a_user_cannot_reach_another_tenants_todos(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let a = ada.tenant("A").await;
    let b = bob.tenant("B").await;
    let b_todo = bob.todo(b, "bob's secret").await;
    let b_id = b_todo["id"].as_str().unwrap();

    // By header and by path, every verb: 404, as if B did not exist.
    let by_header = ada.in_tenant(b);
    expect_error(by_header.get("/api/todos").await, StatusCode::NOT_FOUND).await;
    expect_error(
        by_header.post("/api/todos", json!({ "title": "x" })).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        by_header
            .put("/api/todos", json!({ "id": b_id, "complete": true }))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        by_header.get(&format!("/api/todos/{b_id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        by_header
            .patch(&format!("/api/todos/{b_id}"), json!({ "title": "pwned" }))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        by_header.delete(&format!("/api/todos/{b_id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let base = format!("/api/tenants/{b}/todos");
    expect_error(ada.client.get(&base).await, StatusCode::NOT_FOUND).await;
    expect_error(
        ada.client.post(&base, json!({ "title": "x" })).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        ada.client.put(&base, json!({ "id": b_id, "complete": true })).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        ada.client.delete(&format!("{base}/{b_id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        ada.client.get(&format!("/api/tenants/{b}/members")).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // The path wins over a header naming another tenant.
    let mixed = ada
        .client
        .request(Method::GET, &format!("/api/tenants/{b}/todos"))
        .header("X-Tenant-Id", a.to_string())
        .send()
        .await
        .unwrap();
    expect_error(mixed, StatusCode::NOT_FOUND).await;

    // Bob's data is untouched, Ada's tenant is empty.
    let b_now: Value = bob.client.get(&format!("{base}/{b_id}")).await.json().await.unwrap();
    assert_eq!(b_now, b_todo);
    assert!(ada.titles(a).await.is_empty());
}

async fn foreign_todo_ids_are_404_in_ones_own_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let a = ada.tenant("A").await;
    let b = bob.tenant("B").await;
    ada.todo(a, "ada's").await;
    let b_todo = bob.todo(b, "bob's").await;
    let b_id = b_todo["id"].as_str().unwrap();
    // Ada uses B's todo id inside her own tenant A.
    let c = ada.in_tenant(a);
    expect_error(c.get(&format!("/api/todos/{b_id}")).await, StatusCode::NOT_FOUND).await;
    expect_error(
        c.patch(&format!("/api/todos/{b_id}"), json!({ "complete": true }))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        c.put("/api/todos", json!({ "id": b_id, "title": "pwned" })).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(c.delete(&format!("/api/todos/{b_id}")).await, StatusCode::NOT_FOUND).await;
    let path = format!("/api/tenants/{a}/todos/{b_id}");
    expect_error(
        ada.client.patch(&path, json!({ "title": "pwned" })).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let b_now: Value = bob
        .client
        .get(&format!("/api/tenants/{b}/todos/{b_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b_now, b_todo);
    assert_eq!(ada.titles(a).await, ["ada's"]);
}

async fn tenant_context_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let a = ada.tenant("A").await;
    let detail = expect_error(ada.client.get("/api/todos").await, StatusCode::BAD_REQUEST).await;
    assert!(detail.contains("X-Tenant-Id"), "{detail}");
    let res = ada
        .client
        .request(Method::GET, "/api/todos")
        .header("X-Tenant-Id", "not-a-uuid")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::BAD_REQUEST).await;
    expect_error(ada.client.get("/api/tenants/123/todos").await, StatusCode::BAD_REQUEST).await;
    expect_error(
        app.anon().with_tenant(a).get("/api/todos").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    expect_error(
        app.anon().get(&format!("/api/tenants/{a}/todos")).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}
