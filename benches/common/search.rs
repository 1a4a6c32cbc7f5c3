//! What both vector benchmarks share: the app's own similar-task search,
//! and the timing loop (a warm-up, then each query timed once, p50/p99).

use std::future::Future;
use std::time::{Duration, Instant};

use aswan::domain::TenantId;
use aswan::store::prelude::*;
use aswan::store::Store;
use uuid::Uuid;

/// The app's own code path, `TenantStore::similar`, with no distance cut:
/// the k nearest of `model`'s embeddings in the tenant as (id, distance),
/// nearest first.
pub async fn via_store(
    store: Store,
    model: String,
    k: i64,
    tenant: Uuid,
    v: Vec<f32>,
) -> anyhow::Result<Vec<(Uuid, f32)>> {
    // A benchmark acts for no user: the maintenance door.
    #[allow(clippy::disallowed_methods)]
    let tenant = store.unchecked_tenant(TenantId(tenant));
    Ok(tenant
        .similar(&v, &model, k, 2.0, None)
        .await?
        .into_iter()
        .map(|b| (b.id.0, b.distance))
        .collect())
}

pub struct Outcome<T> {
    pub p50: f64,
    pub p99: f64,
    /// Each query's answer, in query order.
    pub answers: Vec<T>,
}

/// Milliseconds at percentile `p` (0–1) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs `f` for each (tenant, vector) query: ten unmeasured first, then all
/// of them timed.
pub async fn run<T, F, Fut>(queries: &[(Uuid, Vec<f32>)], f: F) -> anyhow::Result<Outcome<T>>
where
    F: Fn(Uuid, Vec<f32>) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    for (t, v) in queries.iter().take(10) {
        f(*t, v.clone()).await?;
    }
    let (mut times, mut answers) = (Vec::new(), Vec::new());
    for (t, v) in queries {
        let start = Instant::now();
        answers.push(f(*t, v.clone()).await?);
        times.push(start.elapsed());
    }
    times.sort();
    Ok(Outcome {
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        answers,
    })
}
