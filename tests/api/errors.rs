use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::contract_tests;
use crate::helpers::{expect_error, Backend, TestApp, TwoTenants};

contract_tests!(
    bodies_are_json_whatever_the_content_type,
    malformed_json_is_422,
    oversized_bodies_are_413_and_store_nothing,
    unknown_routes_and_methods_answer_json,
    every_response_has_a_request_id,
    health_and_readiness,
    invalid_path_segments_are_400_and_never_fall_back_to_the_header,
);

async fn bodies_are_json_whatever_the_content_type(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let email = format!("ct{}@example.com", content_type.len());
        let mut req = app.anon().request(Method::POST, "/api/sign-up");
        if !content_type.is_empty() {
            req = req.header("content-type", content_type);
        }
        let body = json!({ "email": email, "password": "correct horse" }).to_string();
        let res = req.body(body).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "content-type {content_type:?}");
    }
}

async fn malformed_json_is_422(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for body in ["{", "not json", "", "[1,2]"] {
        let res = app
            .anon()
            .request(Method::POST, "/api/login")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
}

async fn oversized_bodies_are_413_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let acme = ada.tenant("Acme").await;
    let huge = json!({ "title": "x".repeat(70 * 1024) });
    expect_error(
        ada.in_tenant(acme).post("/api/todos", huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    let huge = json!({ "email": "big@example.com", "password": "y".repeat(70 * 1024) });
    expect_error(
        app.anon().post("/api/sign-up", huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(ada.titles(acme).await.is_empty());
}

async fn unknown_routes_and_methods_answer_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(
        expect_error(app.anon().get("/api/nope").await, StatusCode::NOT_FOUND).await,
        "Not Found"
    );
    expect_error(app.anon().get("/api/tenants/x/y/z").await, StatusCode::NOT_FOUND).await;
    let res = app.anon().request(Method::DELETE, "/api/login").send().await.unwrap();
    expect_error(res, StatusCode::METHOD_NOT_ALLOWED).await;
}

async fn every_response_has_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut seen = std::collections::HashSet::new();
    for path in ["/healthz", "/api/me", "/api/nope", "/readyz"] {
        let res = app.anon().get(path).await;
        let id = res
            .headers()
            .get("x-request-id")
            .expect("x-request-id")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(seen.insert(id), "request ids are unique");
    }
    // A caller's own request id is kept.
    let res = app
        .anon()
        .request(Method::GET, "/healthz")
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me-42");
}

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app.anon().get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.anon().get("/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

/// A path that names a tenant or todo invalidly is a 400 `{"detail"}` naming
/// the parameter, also when the segment is not UTF-8; a bad path tenant never
/// falls back to a valid `X-Tenant-Id` header.
async fn invalid_path_segments_are_400_and_never_fall_back_to_the_header(backend: Backend) {
    let t = TwoTenants::spawn(backend).await;
    let ada = t.ada.in_tenant(t.a);
    for path in [
        "/api/tenants/%ff/todos",
        "/api/tenants/not-a-uuid/todos",
        "/api/tenants/%ff%fe/members",
    ] {
        let detail = expect_error(ada.get(path).await, StatusCode::BAD_REQUEST).await;
        assert!(
            detail.contains("tenant_id") || detail.contains("tenant id"),
            "{path}: {detail}"
        );
    }
    let res = ada.post("/api/tenants/%ff/todos", json!({ "title": "lost?" })).await;
    expect_error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(
        t.ada.titles(t.a).await,
        ["a2", "a1"],
        "nothing was created through the header"
    );
    assert_eq!(t.bob.titles(t.b).await, ["b1"]);
    for (path, key) in [
        ("/api/todos/%ff%fe", "todo_id"),
        ("/api/todos/not-a-uuid", "todo id"),
        (&*format!("/api/tenants/{}/todos/%ff", t.a), "todo_id"),
        (&*format!("/api/tenants/{}/members/nope", t.a), "user id"),
    ] {
        let res = ada.request(Method::DELETE, path).send().await.unwrap();
        let detail = expect_error(res, StatusCode::BAD_REQUEST).await;
        assert!(detail.contains(key), "{path}: {detail}");
    }
}
