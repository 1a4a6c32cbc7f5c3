//! The OpenAPI description (src/http/openapi.rs) against the router itself:
//! every route the server answers is described, with the same methods, and
//! nothing is described that it does not answer.

use std::collections::{BTreeMap, BTreeSet};

use aswan::app::App;
use aswan::config::{EmbeddingProvider, Settings};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::{expect_error, Backend, TestApp};

// What the fuzz run (tests/fuzz/fuzz.py) found: the server and its
// description disagreed. Each test fails on the old behaviour.
backend_tests!(
    a_whole_number_written_as_a_float_is_a_duration,
    a_search_is_held_to_a_titles_rules,
    an_empty_cursor_is_the_first_page,
);

/// The interactive docs (an HTML page and its files), not API operations.
const UNDESCRIBED: [&str; 3] = ["/docs", "/docs/", "/docs/{*rest}"];

/// Path template → methods, read from the router's own route table (its
/// `Debug` output, the only public view of it; pinned axum).
fn routes_of(router: &axum::Router) -> BTreeMap<String, BTreeSet<String>> {
    let text = format!("{router:?}");
    let table = &text[..text.find("fallback_router").expect("a path router")];
    let paths = regex::Regex::new(r#"RouteId\((\d+)\): "([^"]+)""#).unwrap();
    let methods =
        regex::Regex::new(r#"RouteId\((\d+)\): MethodRouter\(MethodRouter \{.*?allow_header: Bytes\(b"([A-Z,]+)"\)"#)
            .unwrap();
    let by_id: BTreeMap<&str, BTreeSet<String>> = methods
        .captures_iter(table)
        .map(|c| {
            let m = c.get(2).unwrap().as_str().split(',');
            let m = m.filter(|m| *m != "HEAD").map(str::to_lowercase).collect();
            (c.get(1).unwrap().as_str(), m)
        })
        .collect();
    paths
        .captures_iter(table)
        .map(|c| {
            let id = c.get(1).unwrap().as_str();
            let methods = by_id.get(id).unwrap_or_else(|| panic!("no methods for route {id}"));
            (c.get(2).unwrap().as_str().to_owned(), methods.clone())
        })
        .collect()
}

fn described(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| (path.clone(), item.as_object().unwrap().keys().cloned().collect()))
        .collect()
}

#[tokio::test]
async fn every_route_is_described_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::defaults();
    s.data_dir = dir.path().to_owned();
    s.embedding_provider = Some(EmbeddingProvider::None);
    let app = App::build(&s).await.unwrap();
    let mut routes = routes_of(&app.router());
    for path in UNDESCRIBED {
        assert!(routes.remove(path).is_some(), "{path} is served");
    }
    assert!(routes.len() >= 20, "the route table was read: {routes:?}");
    let doc = serde_json::to_value(aswan::http::description()).unwrap();
    assert_eq!(routes, described(&doc));
}

/// Served from the binary, and well-formed where clients depend on it:
/// unique operation ids, a success answer and `{"detail"}` errors on every
/// operation, both auth schemes, the seed's tenant header.
#[tokio::test]
async fn the_schema_is_served_and_complete() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = reqwest::get(app.url("/api/openapi.json")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc, serde_json::to_value(aswan::http::description()).unwrap());
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["cookie"]["name"], "access_token");

    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path}: no success"
            );
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
            let names: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            if path.starts_with("/api/todos") {
                assert!(names.contains(&"X-Tenant-Id"), "{method} {path}");
            }
            for name in ["tenant_id", "todo_id", "user_id"] {
                assert_eq!(
                    path.contains(&format!("{{{name}}}")),
                    names.contains(&name),
                    "{method} {path} {name}"
                );
            }
        }
    }
    // Sessions: public routes say so, the rest need one of the two schemes.
    assert_eq!(doc["paths"]["/api/login"]["post"]["security"], serde_json::json!([{}]));
    assert_eq!(doc["security"], serde_json::json!([{ "bearer": [] }, { "cookie": [] }]));
}

/// The docs page and its files come from the binary, under the UI's CSP.
#[tokio::test]
async fn the_docs_are_served_from_the_binary() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let page = reqwest::get(app.url("/docs/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-initializer.js"));
    assert!(!html.contains("https://"), "no CDN: {html}");
    let init = reqwest::get(app.url("/docs/swagger-initializer.js")).await.unwrap();
    assert_eq!(init.status(), StatusCode::OK);
    let init = init.text().await.unwrap();
    assert!(init.contains("/api/openapi.json"), "{init}");
    let bundle = reqwest::get(app.url("/docs/swagger-ui-bundle.js")).await.unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}

/// JSON Schema's `integer` admits `90.0`; the server used to refuse it (422).
async fn a_whole_number_written_as_a_float_is_a_duration(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let id = ada.todo(t, "Write the report").await["id"].as_str().unwrap().to_owned();
    let path = format!("/api/tenants/{t}/todos/{id}");
    let res = ada.client.patch(&path, json!({ "actual_minutes": 90.0 })).await;
    assert_eq!(res.status(), StatusCode::OK);
    let todo: Value = res.json().await.unwrap();
    assert_eq!(todo["actual_minutes"], 90);
    assert_eq!(todo["complete"], true);
    let detail = expect_error(
        ada.client.patch(&path, json!({ "actual_minutes": 90.5 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(detail.contains("whole number"), "{detail}");
}

/// A query with control characters was answered 200, though the description
/// (like a title) refuses them; a blank one is refused as before.
async fn a_search_is_held_to_a_titles_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    for q in ["%C3%97%C3%B8%C2%9B", "a%00b", "%20%20"] {
        let res = ada.client.get(&format!("/api/tenants/{t}/todos/search?q={q}")).await;
        let detail = expect_error(res, StatusCode::BAD_REQUEST).await;
        assert!(detail.starts_with("q: "), "{detail}");
    }
    let res = ada.client.get(&format!("/api/tenants/{t}/todos/search?q=report")).await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// `?cursor=` was a 400; it is the first page, as if absent.
async fn an_empty_cursor_is_the_first_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    ada.todo(t, "one").await;
    for path in [
        format!("/api/tenants/{t}/todos?cursor="),
        "/api/tenants?cursor=".to_owned(),
    ] {
        let res = ada.client.get(&path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(
            res.json::<Value>().await.unwrap().as_array().unwrap().len(),
            1,
            "{path}"
        );
    }
    let res = ada.client.get(&format!("/api/tenants/{t}/todos?cursor=nope")).await;
    expect_error(res, StatusCode::BAD_REQUEST).await;
}
