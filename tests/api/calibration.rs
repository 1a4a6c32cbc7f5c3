//! Calibration from the team's actuals and estimate ranges, against the fake
//! vendor: a synthetic tenant whose model is biased by a known factor gets
//! better estimates once its tasks are timed; an unbiased model is left
//! alone; nothing is learned across tenants; similar tasks give a range.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::contract_tests;
use crate::fake_ai::FakeAi;
use crate::helpers::{id_of, Backend, TestApp, User};

contract_tests!(
    a_biased_model_is_calibrated_by_the_teams_actuals,
    an_unbiased_model_is_left_alone,
    similar_tasks_give_a_range,
);

/// Twelve different jobs and how long each really takes.
const JOBS: [(&str, i64); 12] = [
    ("Write the quarterly report", 120),
    ("Mow the lawn", 45),
    ("Review the pull request", 30),
    ("Migrate the billing database", 240),
    ("Plan the team offsite", 90),
    ("Renew the TLS certificate", 40),
    ("Interview a backend candidate", 60),
    ("Paint the spare bedroom", 300),
    ("Prepare the board slides", 150),
    ("Book flights to Berlin", 20),
    ("Clean the kitchen", 50),
    ("File the expense report", 25),
];

/// New jobs, estimated after the first twelve were timed.
const LATER: [(&str, i64); 6] = [
    ("Update the onboarding guide", 90),
    ("Fix the flaky checkout test", 60),
    ("Order office chairs", 30),
    ("Write the newsletter", 120),
    ("Replace the kitchen tap", 75),
    ("Audit the access logs", 180),
];

fn mdape(pairs: &[(i64, i64)]) -> f64 {
    let mut errors: Vec<f64> = pairs
        .iter()
        .map(|(estimate, truth)| (estimate - truth).abs() as f64 / *truth as f64)
        .collect();
    errors.sort_by(f64::total_cmp);
    let n = errors.len();
    if n % 2 == 0 {
        (errors[n / 2 - 1] + errors[n / 2]) / 2.0
    } else {
        errors[n / 2]
    }
}

/// Creates a todo while the model says `model_minutes`.
async fn estimated(ai: &FakeAi, user: &User, tenant: Uuid, title: &str, model_minutes: i64) -> Value {
    *ai.state.chat_answer.lock().unwrap() =
        json!({ "minutes": model_minutes, "text": format!("About {model_minutes} minutes.") }).to_string();
    let todo = user.todo(tenant, title).await;
    assert_eq!(todo["estimate_status"], "ready", "{todo}");
    todo
}

async fn complete(user: &User, tenant: Uuid, todo: &Value, actual: i64) {
    let res = user
        .client
        .patch(
            &format!("/api/tenants/{tenant}/todos/{}", id_of(todo)),
            json!({ "complete": true, "actual_minutes": actual }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// The model says half of what every task takes.
async fn a_biased_model_is_calibrated_by_the_teams_actuals(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let mut before = Vec::new();
    for (i, (title, truth)) in JOBS.iter().enumerate() {
        let todo = estimated(&ai, &ada, t, title, truth / 2).await;
        let minutes = todo["estimate_minutes"].as_i64().unwrap();
        before.push((minutes, *truth));
        if i < 3 {
            // Fewer than three timed tasks: the model's number as it is.
            assert_eq!(minutes, truth / 2, "{todo}");
            let text = todo["estimate"].as_str().unwrap();
            assert!(text.starts_with(&format!("About {} minutes.", truth / 2)), "{text}");
        }
        assert_eq!(todo["estimate_model_minutes"], truth / 2, "{todo}");
        complete(&ada, t, &todo, *truth).await;
    }
    let mut after = Vec::new();
    for (title, truth) in LATER {
        let todo = estimated(&ai, &ada, t, title, truth / 2).await;
        assert_eq!(todo["estimate_model_minutes"], truth / 2, "{todo}");
        let estimate = todo["estimate"].as_str().unwrap();
        assert!(
            estimate.contains("adjusted +68 % from this team's last 12 timed tasks"),
            "{estimate}"
        );
        assert!(estimate.contains("(the model said "), "{estimate}");
        after.push((todo["estimate_minutes"].as_i64().unwrap(), truth));
    }
    let (first, last) = (mdape(&before[..3]), mdape(&after));
    assert!((first - 0.5).abs() < 0.01, "uncalibrated MdAPE {first}");
    assert!(last < 0.25, "calibrated MdAPE {last} (uncalibrated {first}): {after:?}");

    // Another tenant of the same user learns nothing from Acme's actuals.
    let other = ada.tenant("Globex").await;
    let fresh = estimated(&ai, &ada, other, "Write the quarterly report", 60).await;
    assert_eq!(fresh["estimate_minutes"], 60, "{fresh}");
    assert_eq!(fresh["estimate"], "About 60 minutes.");
}

/// The model is off both ways, centred on the truth: nothing is adjusted.
async fn an_unbiased_model_is_left_alone(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let noise = [1.2, 0.8, 1.1, 0.9, 1.25, 0.75, 1.0, 1.15, 0.85, 1.05, 0.95, 1.0];
    for ((title, truth), n) in JOBS.iter().zip(noise) {
        let said = (*truth as f64 * n).round() as i64;
        let todo = estimated(&ai, &ada, t, title, said).await;
        complete(&ada, t, &todo, *truth).await;
    }
    for (title, truth) in LATER {
        let todo = estimated(&ai, &ada, t, title, truth).await;
        assert_eq!(todo["estimate_minutes"], truth, "{todo}");
        assert_eq!(todo["estimate_model_minutes"], truth, "{todo}");
        assert!(!todo["estimate"].as_str().unwrap().contains("adjusted"), "{todo}");
    }
}

/// Two timed similar tasks (60 and 120 minutes): the next similar task's
/// estimate carries a range around the model's number, in the API and in
/// the seed's `estimate` text; with one similar task there is none.
async fn similar_tasks_give_a_range(backend: Backend) {
    let ai = FakeAi::start().await;
    let app = TestApp::spawn_with_ai(backend, &ai, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    let first = estimated(&ai, &ada, t, "Migrate the billing database", 90).await;
    assert_eq!(
        (
            first["estimate_low_minutes"].clone(),
            first["estimate_high_minutes"].clone()
        ),
        (Value::Null, Value::Null)
    );
    complete(&ada, t, &first, 60).await;
    let second = estimated(&ai, &ada, t, "Migrate the analytics database", 90).await;
    assert_eq!(
        second["estimate_low_minutes"],
        Value::Null,
        "one similar task: {second}"
    );
    complete(&ada, t, &second, 120).await;

    let third = estimated(&ai, &ada, t, "Migrate the orders database", 90).await;
    assert_eq!(third["estimate_basis"].as_array().unwrap().len(), 2, "{third}");
    let (low, high) = (
        third["estimate_low_minutes"].as_i64().unwrap(),
        third["estimate_high_minutes"].as_i64().unwrap(),
    );
    // The neighbours span ×0.71–×1.41 of their mean; so does the range.
    assert!((60..=70).contains(&low) && (115..=130).contains(&high), "{third}");
    let text = third["estimate"].as_str().unwrap();
    assert!(text.contains("similar tasks: 1 h ") && text.contains('–'), "{text}");
    // Lists carry the range too (it is a column, not part of the basis).
    let list: Value = ada
        .client
        .get(&format!("/api/tenants/{t}/todos"))
        .await
        .json()
        .await
        .unwrap();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == third["id"])
        .unwrap();
    assert_eq!(
        (
            row["estimate_low_minutes"].as_i64(),
            row["estimate_high_minutes"].as_i64()
        ),
        (Some(low), Some(high))
    );
}
