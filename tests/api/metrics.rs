//! The Prometheus listener: scraped after real traffic, it reports requests
//! by route template and status, latencies, the pool, the estimate queue,
//! vendor calls, the breaker, embeddings and throttled requests — and never a
//! tenant id or an email in a label.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::fake_ai::FakeAi;
use crate::helpers::{Backend, TestApp};

backend_tests!(metrics_are_scraped_without_user_data);

async fn metrics_are_scraped_without_user_data(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |s| s.tenant_rate_per_hour = 1).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    ada.todo(t, "Write the quarterly report").await;
    assert_eq!(
        ada.client.get(&format!("/api/tenants/{t}/todos")).await.status(),
        StatusCode::OK
    );
    // A second tenant within the hour: throttled.
    let res = ada.client.post("/api/tenants", json!({ "name": "Too many" })).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    let text = reqwest::get(format!("http://{}/metrics", app.metrics_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        r#"http_requests_total{method="GET",route="/api/tenants/{tenant_id}/todos",status="200"}"#,
        r#"http_requests_total{method="POST",route="/api/tenants",status="429"}"#,
        "http_request_duration_seconds_bucket{",
        "http_requests_in_flight",
        r#"http_throttled_total{limit="tenants"}"#,
        r#"db_pool_connections{state="idle"}"#,
        "db_pool_max_connections",
        "estimate_queue_depth",
        "estimate_queue_oldest_due_seconds",
        r#"ai_vendor_calls_total{endpoint="embeddings",outcome="ok"}"#,
        r#"ai_vendor_calls_total{endpoint="chat",outcome="ok"}"#,
        "ai_breaker_open 0",
        r#"ai_embeddings_total{source="vendor"}"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    assert!(!text.contains(&t.to_string()), "a tenant id in the metrics");
    assert!(!text.contains("ada@example.com"), "an email in the metrics");
}
