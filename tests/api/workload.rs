//! The workload at a glance (`GET …/todos/workload`): open todos, how many
//! have an estimate and their sum, and what fits in the time you have; and
//! how good the estimates are (`GET …/todos/accuracy`).

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::contract_tests;
use crate::fake_ai::{Behaviour, FakeAi};
use crate::helpers::{id_of, Backend, TestApp, User};

contract_tests!(
    the_workload_sums_open_estimates_and_lists_what_fits,
    accuracy_measures_estimates_against_actuals
);

async fn estimated(ai: &FakeAi, user: &User, tenant: Uuid, title: &str, minutes: i64) -> Value {
    *ai.state.chat_answer.lock().unwrap() = json!({ "minutes": minutes, "text": "x" }).to_string();
    user.todo(tenant, title).await
}

async fn the_workload_sums_open_estimates_and_lists_what_fits(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let path = format!("/api/tenants/{t}/todos/workload");
    let empty: Value = ada.client.get(&path).await.json().await.unwrap();
    assert_eq!(
        empty,
        json!({ "open": 0, "estimated": 0, "unestimated": 0, "estimated_minutes": 0 })
    );

    let call = estimated(&ai, &ada, t, "Call the dentist", 30).await;
    let review = estimated(&ai, &ada, t, "Review the pull request", 60).await;
    let report = estimated(&ai, &ada, t, "Write the quarterly report", 120).await;
    estimated(&ai, &ada, t, "Paint the spare bedroom", 240).await;
    ai.set_embed(Behaviour::Status(401, "invalid_api_key", None));
    let failed = ada.todo(t, "Plan the offsite").await;
    assert_eq!(failed["estimate_status"], "failed", "{failed}");
    let res = ada
        .client
        .patch(
            &format!("/api/tenants/{t}/todos/{}", id_of(&review)),
            json!({ "complete": true }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let work: Value = ada.client.get(&path).await.json().await.unwrap();
    assert_eq!(
        work,
        json!({ "open": 4, "estimated": 3, "unestimated": 1, "estimated_minutes": 390 })
    );
    // What fits in an hour: the call (the review is done).
    let hour: Value = ada.client.get(&format!("{path}?fits=60")).await.json().await.unwrap();
    assert_eq!(hour["fits_minutes"], 60);
    let ids: Vec<&Value> = hour["fits"].as_array().unwrap().iter().map(|t| &t["id"]).collect();
    assert_eq!(ids, [&call["id"]], "{hour}");
    // Two hours: the longest that fits first.
    let two: Value = ada.client.get(&format!("{path}?fits=120")).await.json().await.unwrap();
    let ids: Vec<&Value> = two["fits"].as_array().unwrap().iter().map(|t| &t["id"]).collect();
    assert_eq!(ids, [&report["id"], &call["id"]], "{two}");
    // The seed's header route answers the same.
    let by_header: Value = ada
        .in_tenant(t)
        .get("/api/todos/workload?fits=120")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_header, two);
    // Not a whole number of minutes, or out of range: 400, naming the field.
    for bad in ["1.5", "0", "14401", "soon"] {
        let res = ada.client.get(&format!("{path}?fits={bad}")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "fits={bad}");
        let body: Value = res.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("fits"), "{body}");
    }
    // Another tenant's workload is not there for the asking.
    let bob = app.user("bob@example.com").await;
    let res = bob.client.get(&path).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// Three tasks estimated at an hour took 2 h, 1 h and 20 min.
async fn accuracy_measures_estimates_against_actuals(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let path = format!("/api/tenants/{t}/todos/accuracy");
    let empty: Value = ada.client.get(&path).await.json().await.unwrap();
    assert_eq!(empty["tasks"], 0);
    assert_eq!(empty["median_error_percent"], Value::Null);

    let mut ids = Vec::new();
    for (title, actual) in [
        ("Write the report", 120),
        ("Call the bank", 60),
        ("Water the plants", 20),
    ] {
        let todo = estimated(&ai, &ada, t, title, 60).await;
        let res = ada
            .client
            .patch(
                &format!("/api/tenants/{t}/todos/{}", id_of(&todo)),
                json!({ "complete": true, "actual_minutes": actual }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        ids.push(todo["id"].clone());
    }
    // An open task and a task done without a duration do not count.
    estimated(&ai, &ada, t, "Plan the offsite", 60).await;
    let a: Value = ada.client.get(&path).await.json().await.unwrap();
    assert_eq!(a["tasks"], 3, "{a}");
    assert_eq!(a["median_error_percent"], 50.0, "{a}");
    assert_eq!(a["median_ratio"], 1.0, "{a}");
    assert_eq!(a["worst"][0]["id"], ids[2], "three times too long: {a}");
    assert_eq!(a["worst"][0]["actual_minutes"], 20);
    assert_eq!(a["trend"].as_array().unwrap().len(), 1);
    assert_eq!(a["points"][0]["id"], ids[2], "newest first: {a}");
    // Never another tenant's.
    let bob = app.user("bob@example.com").await;
    assert_eq!(bob.client.get(&path).await.status(), StatusCode::NOT_FOUND);
    let b = bob.tenant("Bobco").await;
    let theirs: Value = bob
        .client
        .get(&format!("/api/tenants/{b}/todos/accuracy"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["tasks"], 0);
}
