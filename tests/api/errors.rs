use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::{expect_error, Backend, TestApp};

backend_tests!(
    bodies_are_json_whatever_the_content_type,
    malformed_json_is_422,
    oversized_bodies_are_413_and_store_nothing,
    unknown_routes_and_methods_answer_json,
    every_response_has_a_request_id,
    health_and_readiness,
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
