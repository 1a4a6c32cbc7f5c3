use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::contract_tests;
use crate::helpers::{expect_error, titles, Backend, TestApp};

contract_tests!(
    create_and_list_by_header_and_by_path,
    list_filters_by_completion,
    seed_put_updates_completion,
    patch_edits_title_and_completion,
    delete_removes_a_todo,
    titles_are_validated_and_failures_store_nothing,
);

async fn create_and_list_by_header_and_by_path(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let acme = ada.tenant("Acme").await;
    let res = ada
        .in_tenant(acme)
        .post("/api/todos", json!({ "title": "first", "complete": false }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let first: Value = res.json().await.unwrap();
    for field in ["id", "tenant_id", "title", "estimate", "complete", "created_at"] {
        assert!(first.get(field).is_some(), "todo lacks {field}: {first}");
    }
    assert_eq!(first["tenant_id"], acme.to_string());
    // The seed's estimate string: with no history yet, it says so.
    assert_eq!(first["estimate"], "not enough history yet");
    assert_eq!(first["complete"], false);
    ada.todo(acme, "second").await;
    let res = ada
        .in_tenant(acme)
        .post("/api/todos", json!({ "title": "third", "complete": true }))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["complete"], true);

    // Newest first, the same through both routes.
    let by_header: Value = ada.in_tenant(acme).get("/api/todos").await.json().await.unwrap();
    assert_eq!(titles(&by_header), ["third", "second", "first"]);
    assert_eq!(ada.titles(acme).await, ["third", "second", "first"]);
    // And one by id.
    let id = first["id"].as_str().unwrap();
    let got: Value = ada
        .in_tenant(acme)
        .get(&format!("/api/todos/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, first);
    let got: Value = ada
        .client
        .get(&format!("/api/tenants/{acme}/todos/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["title"], "first");
}

async fn list_filters_by_completion(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let acme = ada.tenant("Acme").await;
    let c = ada.in_tenant(acme);
    c.post("/api/todos", json!({ "title": "open one" })).await;
    c.post("/api/todos", json!({ "title": "done one", "complete": true }))
        .await;
    let done: Value = c.get("/api/todos?complete=true").await.json().await.unwrap();
    assert_eq!(titles(&done), ["done one"]);
    let open: Value = c.get("/api/todos?complete=false").await.json().await.unwrap();
    assert_eq!(titles(&open), ["open one"]);
    expect_error(c.get("/api/todos?complete=maybe").await, StatusCode::BAD_REQUEST).await;
}

async fn seed_put_updates_completion(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let acme = ada.tenant("Acme").await;
    let todo = ada.todo(acme, "ship it").await;
    let path = format!("/api/tenants/{acme}/todos");
    let res = ada
        .client
        .put(&path, json!({ "id": todo["id"], "complete": true }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["complete"], true);
    assert_eq!(updated["title"], "ship it");
    assert_eq!(updated["id"], todo["id"]);
    // The header route accepts the same body.
    let res = ada
        .in_tenant(acme)
        .put("/api/todos", json!({ "id": todo["id"], "complete": false }))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["complete"], false);
    let missing = json!({ "id": uuid::Uuid::new_v4(), "complete": true });
    expect_error(ada.client.put(&path, missing).await, StatusCode::NOT_FOUND).await;
    let bad = json!({ "id": "nope", "complete": true });
    expect_error(ada.client.put(&path, bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
}

async fn patch_edits_title_and_completion(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let acme = ada.tenant("Acme").await;
    let todo = ada.todo(acme, "draft").await;
    let path = format!("/api/todos/{}", todo["id"].as_str().unwrap());
    let c = ada.in_tenant(acme);
    let res = c.patch(&path, json!({ "title": "  final  " })).await;
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["title"], "final");
    assert_eq!(updated["complete"], false);
    let updated: Value = c.patch(&path, json!({ "complete": true })).await.json().await.unwrap();
    assert_eq!(
        (updated["title"].as_str(), updated["complete"].as_bool()),
        (Some("final"), Some(true))
    );
    expect_error(c.patch(&path, json!({})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    expect_error(
        c.patch(&path, json!({ "title": "" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    expect_error(
        c.patch("/api/todos/not-a-uuid", json!({ "complete": true })).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(ada.titles(acme).await, ["final"]);
}

async fn delete_removes_a_todo(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let acme = ada.tenant("Acme").await;
    let a = ada.todo(acme, "keep").await;
    let b = ada.todo(acme, "drop").await;
    let path = format!("/api/tenants/{acme}/todos/{}", b["id"].as_str().unwrap());
    assert_eq!(ada.client.delete(&path).await.status(), StatusCode::NO_CONTENT);
    expect_error(ada.client.delete(&path).await, StatusCode::NOT_FOUND).await;
    expect_error(ada.client.get(&path).await, StatusCode::NOT_FOUND).await;
    assert_eq!(ada.titles(acme).await, ["keep"]);
    let path = format!("/api/todos/{}", a["id"].as_str().unwrap());
    assert_eq!(ada.in_tenant(acme).delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert!(ada.titles(acme).await.is_empty());
}

async fn titles_are_validated_and_failures_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let acme = ada.tenant("Acme").await;
    let c = ada.in_tenant(acme);
    let cases = [
        json!({ "title": "" }),
        json!({ "title": "   " }),
        json!({ "title": "x".repeat(257) }),
        json!({ "complete": true }),
        json!({ "title": 5 }),
        json!({ "title": "ok", "complete": "yes" }),
    ];
    for body in cases {
        let detail = expect_error(
            c.post("/api/todos", body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(
            detail.contains("title") || detail.contains("complete"),
            "{body} → {detail}"
        );
    }
    assert!(ada.titles(acme).await.is_empty());
    // 256 characters (not bytes) is fine.
    let long = "é".repeat(256);
    assert_eq!(
        c.post("/api/todos", json!({ "title": long })).await.status(),
        StatusCode::OK
    );
}
