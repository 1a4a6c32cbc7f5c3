use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::contract_tests;
use crate::helpers::{expect_error, Backend, TestApp};

contract_tests!(
    create_and_list_my_tenants,
    get_is_404_for_non_members_and_unknown_ids,
    owners_rename_members_cannot,
    tenant_routes_require_sign_in,
    tenant_names_are_validated,
);

async fn create_and_list_my_tenants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let res = ada.client.post("/api/tenants", json!({ "name": "  Acme  " })).await;
    assert_eq!(res.status(), StatusCode::OK);
    let acme: Value = res.json().await.unwrap();
    assert_eq!(acme["name"], "Acme");
    assert_eq!(acme["role"], "owner");
    let globex = ada.tenant("Globex").await;
    bob.tenant("Bob's").await;

    let list: Value = ada.client.get("/api/tenants").await.json().await.unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme", "Globex"]);
    assert_eq!(list[1]["id"], globex.to_string());
    let list: Value = bob.client.get("/api/tenants").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn get_is_404_for_non_members_and_unknown_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let eve = app.user("eve@example.com").await;
    let acme = ada.tenant("Acme").await;
    let got: Value = ada
        .client
        .get(&format!("/api/tenants/{acme}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], acme.to_string());
    assert_eq!(got["name"], "Acme");
    // A stranger gets the same 404 for a real tenant as for a made-up one.
    let real = expect_error(
        eve.client.get(&format!("/api/tenants/{acme}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let fake = expect_error(
        eve.client.get(&format!("/api/tenants/{}", uuid::Uuid::new_v4())).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(real, fake);
    expect_error(ada.client.get("/api/tenants/not-a-uuid").await, StatusCode::BAD_REQUEST).await;
}

async fn owners_rename_members_cannot(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let acme = ada.tenant("Acme").await;
    ada.add_member(acme, &bob, "member").await;
    let res = ada
        .client
        .patch(&format!("/api/tenants/{acme}"), json!({ "name": "Acme Corp" }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["name"], "Acme Corp");
    let res = bob
        .client
        .patch(&format!("/api/tenants/{acme}"), json!({ "name": "Bob's now" }))
        .await;
    expect_error(res, StatusCode::FORBIDDEN).await;
    let got: Value = bob
        .client
        .get(&format!("/api/tenants/{acme}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["name"], "Acme Corp");
    assert_eq!(got["role"], "member");
}

async fn tenant_routes_require_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anon = app.anon();
    expect_error(anon.get("/api/tenants").await, StatusCode::UNAUTHORIZED).await;
    expect_error(
        anon.post("/api/tenants", json!({ "name": "x" })).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let id = uuid::Uuid::new_v4();
    expect_error(anon.get(&format!("/api/tenants/{id}")).await, StatusCode::UNAUTHORIZED).await;
}

async fn tenant_names_are_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    for body in [
        json!({ "name": "   " }),
        json!({ "name": "x".repeat(101) }),
        json!({}),
        json!({ "name": null }),
    ] {
        let detail = expect_error(
            ada.client.post("/api/tenants", body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(detail.contains("name"), "{body} → {detail}");
    }
    let list: Value = ada.client.get("/api/tenants").await.json().await.unwrap();
    assert_eq!(list, json!([]), "failed creates leave nothing behind");
}
