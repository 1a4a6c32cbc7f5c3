//! Prometheus metrics (ARCHITECTURE.md, "Operations"), served in the text
//! format on their own listener (METRICS_BIND, off by default), never on the
//! public one. Labels never carry tenant ids or user data: routes are
//! templates (`/api/tenants/{tenant_id}/todos`), statuses and outcomes are
//! small fixed sets.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `http_requests_total` | counter | method, route, status |
//! | `http_request_duration_seconds` | histogram | method, route |
//! | `http_requests_in_flight` | gauge | |
//! | `http_throttled_total` | counter | limit |
//! | `db_pool_connections` | gauge | state (`idle`, `in_use`) |
//! | `db_pool_max_connections` | gauge | |
//! | `db_connections_closed_in_transaction_total` | counter | (pooled connections that came back inside a transaction: closed, rolled back; src/store/release_check.rs) |
//! | `db_unavailable_total` | counter | (requests answered 503: the pool timed out or the database is down) |
//! | `estimate_queue_depth` | gauge | |
//! | `estimate_queue_oldest_due_seconds` | gauge | (how long the most overdue job has waited) |
//! | `ai_vendor_calls_total` | counter | endpoint, outcome (`ok`, `transient`, `permanent`) |
//! | `ai_breaker_open` | gauge | |
//! | `ai_embeddings_total` | counter | source (`local`, `vendor`); `rate()` gives embeddings per second |

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from a cached list to a slow vendor call.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The process's recorder (installed once; every app in the process shares it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), &BUCKETS)
            .expect("valid buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder already installed (a test harness): ours still
        // renders what was recorded through it, which is then nothing.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// How often recorded histogram samples are folded into their buckets.
const UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds the histograms' recorded samples into their buckets every few
/// seconds. The recorder keeps every sample until then (or until a scrape):
/// without this, a server nobody scrapes — METRICS_BIND unset, the default —
/// grew by ~2–3 MiB a minute under load, forever (BENCHMARKS.md, "Goal 2").
pub fn spawn_upkeep() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let mut every = tokio::time::interval(UPKEEP);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            handle().run_upkeep();
        }
    })
}

/// The metrics listener's router: `GET /metrics`, with the gauges that are
/// read when scraped (pool, queue, breaker) brought up to date first.
/// `breaker_open` says whether the AI vendor's circuit breaker is open (the
/// estimates layer owns it; this one only reports).
pub fn router(
    store: crate::store::Store,
    breaker_open: impl Fn() -> bool + Clone + Send + Sync + 'static,
) -> axum::Router {
    let handle = handle();
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (store, breaker_open) = (store.clone(), breaker_open.clone());
            async move {
                let (open, idle, max) = store.pool_stats();
                metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(idle));
                metrics::gauge!("db_pool_connections", "state" => "in_use").set(f64::from(open.saturating_sub(idle)));
                metrics::gauge!("db_pool_max_connections").set(f64::from(max));
                match store.queue_stats().await {
                    Ok((depth, oldest)) => {
                        metrics::gauge!("estimate_queue_depth").set(depth as f64);
                        let waited = oldest.map_or(0.0, |t| {
                            (chrono::Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
                        });
                        metrics::gauge!("estimate_queue_oldest_due_seconds").set(waited);
                    }
                    Err(e) => tracing::warn!(error = %e, "metrics: cannot read the estimate queue"),
                }
                metrics::gauge!("ai_breaker_open").set(if breaker_open() { 1.0 } else { 0.0 });
                (
                    [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    )
}

/// A vendor call's outcome (`ok`, `transient`, `permanent`), by endpoint.
pub fn vendor_call(endpoint: &'static str, outcome: &'static str) {
    metrics::counter!("ai_vendor_calls_total", "endpoint" => endpoint, "outcome" => outcome).increment(1);
}

/// Titles embedded, by where.
pub fn embedded(source: &'static str, n: usize) {
    metrics::counter!("ai_embeddings_total", "source" => source).increment(n as u64);
}

/// A request refused by a rate limit.
pub fn throttled(limit: &'static str) {
    metrics::counter!("http_throttled_total", "limit" => limit).increment(1);
}
