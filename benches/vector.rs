//! Vector search benchmark: per-tenant similar-task queries on PostgreSQL
//! (HNSW with iterative scans vs an exact scan) and on SQLite (exact scan in
//! Rust), with recall@3 of HNSW against the exact answer.
//!
//! `bench/vector.sh` runs it against a throwaway PostgreSQL:
//!   ASWAN_BENCH_PG=postgres://…/postgres cargo bench --bench vector
//! Sizes: ASWAN_BENCH_PER_TENANT (default 10000) todos in each of 10 tenants;
//! dimensions 384 and 768. Data: 100 random centroids, each todo a centroid
//! plus noise, so neighbourhoods are real (uniform random vectors would make
//! every neighbour equally far).

use std::time::Instant;

use aswan::store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

#[path = "common/search.rs"]
mod search;
use search::run;

const TENANTS: usize = 10;
const QUERIES_PER_TENANT: usize = 30;
const K: i64 = 3;

fn centroids(dims: usize, rng: &mut StdRng) -> Vec<Vec<f32>> {
    (0..100)
        .map(|_| (0..dims).map(|_| rng.gen_range(-1.0..1.0)).collect())
        .collect()
}

fn near(c: &[f32], noise: f32, rng: &mut StdRng) -> Vec<f32> {
    c.iter().map(|x| x + rng.gen_range(-noise..noise)).collect()
}

async fn pg_case(admin: &str, dims: usize, per_tenant: usize) -> anyhow::Result<()> {
    let name = format!("aswan_vec_{}", Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(admin).await?;
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    // Building HNSW over a million rows is an order of magnitude faster when
    // the graph fits in maintenance_work_mem (default 64 MB): what an
    // operator would set before a large build (docs/scaling.md).
    conn.execute(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET maintenance_work_mem = '6GB'"
    )))
    .await?;
    let store = Store::open(&url, 4).await?;
    let mut db = PgConnection::connect(&url).await?;
    let mut rng = StdRng::seed_from_u64(7);
    let cents = centroids(dims, &mut rng);
    let tenants: Vec<Uuid> = (0..TENANTS).map(|_| Uuid::now_v7()).collect();
    let load = Instant::now();
    for t in &tenants {
        sqlx::query("INSERT INTO tenants (id, name) VALUES ($1, 'bench')")
            .bind(t)
            .execute(&mut db)
            .await?;
        // Batches of rows as parallel arrays: one statement per 1000 rows.
        for chunk in (0..per_tenant).collect::<Vec<_>>().chunks(1000) {
            let ids: Vec<Uuid> = chunk.iter().map(|_| Uuid::now_v7()).collect();
            let vecs: Vec<String> = chunk
                .iter()
                .map(|i| {
                    let v = near(&cents[(i * 7) % 100], 0.35, &mut rng);
                    format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","))
                })
                .collect();
            sqlx::query(
                "INSERT INTO todos (tenant_id, id, title, embedding, embedding_model, estimate_status, estimate_minutes)
                 SELECT $1, id, 'bench task', v::vector, 'bench', 'ready', 30
                 FROM unnest($2::uuid[], $3::text[]) AS u(id, v)",
            )
            .bind(t)
            .bind(&ids)
            .bind(&vecs)
            .execute(&mut db)
            .await?;
        }
    }
    let loaded = load.elapsed();
    eprintln!(
        "{dims} dims: {} rows loaded in {:.0} s; building HNSW",
        TENANTS * per_tenant,
        loaded.as_secs_f64()
    );
    let build = Instant::now();
    let indexed = store.ensure_vector_index(dims).await?;
    assert!(indexed, "{dims} dims has an HNSW index form");
    db.execute("VACUUM ANALYZE todos").await?;
    let built = build.elapsed();

    eprintln!(
        "{dims} dims: HNSW built in {:.0} s; querying",
        build.elapsed().as_secs_f64()
    );
    let queries = queries(&tenants, &cents, &mut rng);
    // The app's own code path: the indexed form with iterative scans.
    let hnsw = run(&queries, |t, v| via_store(store.clone(), t, v)).await?;
    // The exact answer: the same filter, no index on the distance.
    let exact = run(&queries, |t, v| {
        let url = url.clone();
        async move {
            let mut c = PgConnection::connect(&url).await?;
            let mut tx = c.begin().await?;
            tx.execute("SET LOCAL enable_indexscan = off").await?;
            let rows: Vec<(Uuid,)> = sqlx::query_as(
                "SELECT id FROM todos WHERE tenant_id = $1 AND embedding_model = 'bench'
                 ORDER BY embedding <=> $2::vector LIMIT $3",
            )
            .bind(t)
            .bind(format!(
                "[{}]",
                v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
            ))
            .bind(K)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(rows.into_iter().map(|r| r.0).collect())
        }
    })
    .await?;
    let recall = recall(&hnsw.answers, &exact.answers);
    println!(
        "| postgres | {dims} | {per_tenant} | load {:.1} s, HNSW build {:.1} s | HNSW p50 {:.2} ms, p99 {:.2} ms | exact p50 {:.2} ms, p99 {:.2} ms | recall@3 {:.3} |",
        loaded.as_secs_f64(),
        built.as_secs_f64(),
        hnsw.p50,
        hnsw.p99,
        exact.p50,
        exact.p99,
        recall
    );
    store.close().await;
    Ok(())
}

async fn sqlite_case(dims: usize, per_tenant: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&format!("sqlite://{}/vec.db", dir.path().display()), 4).await?;
    let mut rng = StdRng::seed_from_u64(7);
    let cents = centroids(dims, &mut rng);
    let tenants: Vec<Uuid> = (0..TENANTS).map(|_| Uuid::now_v7()).collect();
    let url = format!("sqlite://{}/vec.db", dir.path().display());
    let mut db = sqlx::SqliteConnection::connect(&url).await?;
    let mut tx = db.begin().await?;
    for t in &tenants {
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, 'bench', datetime())")
            .bind(t)
            .execute(&mut *tx)
            .await?;
        for i in 0..per_tenant {
            let v = near(&cents[(i * 7) % 100], 0.35, &mut rng);
            let blob: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            sqlx::query(
                "INSERT INTO todos (tenant_id, id, title, created_at, updated_at, embedding, embedding_model)
                 VALUES ($1, $2, 'bench task', datetime(), datetime(), $3, 'bench')",
            )
            .bind(t)
            .bind(Uuid::now_v7())
            .bind(blob)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    let queries = queries(&tenants, &cents, &mut rng);
    let exact = run(&queries, |t, v| via_store(store.clone(), t, v)).await?;
    println!(
        "| sqlite | {dims} | {per_tenant} | – | – | exact scan p50 {:.2} ms, p99 {:.2} ms | 1.000 (exact) |",
        exact.p50, exact.p99
    );
    store.close().await;
    Ok(())
}

/// QUERIES_PER_TENANT query vectors per tenant, each near a centroid.
fn queries(tenants: &[Uuid], cents: &[Vec<f32>], rng: &mut StdRng) -> Vec<(Uuid, Vec<f32>)> {
    tenants
        .iter()
        .flat_map(|t| (0..QUERIES_PER_TENANT).map(move |q| (*t, q)))
        .map(|(t, q)| (t, near(&cents[(q * 13) % 100], 0.35, rng)))
        .collect()
}

/// The app's own code path, ids only.
async fn via_store(store: Store, tenant: Uuid, v: Vec<f32>) -> anyhow::Result<Vec<Uuid>> {
    let near = search::via_store(store, "bench".to_owned(), K, tenant, v).await?;
    Ok(near.into_iter().map(|(id, _)| id).collect())
}

fn recall(found: &[Vec<Uuid>], truth: &[Vec<Uuid>]) -> f64 {
    let (mut hit, mut total) = (0usize, 0usize);
    for (f, t) in found.iter().zip(truth) {
        total += t.len();
        hit += t.iter().filter(|id| f.contains(id)).count();
    }
    hit as f64 / total.max(1) as f64
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; nothing else to parse.
    let per_tenant: usize = std::env::var("ASWAN_BENCH_PER_TENANT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    println!("| backend | dims | todos per tenant (x{TENANTS} tenants) | setup | approximate | exact | recall |");
    println!("|---|---|---|---|---|---|---|");
    for dims in [384, 768] {
        sqlite_case(dims, per_tenant.min(10_000)).await?;
        match std::env::var("ASWAN_BENCH_PG") {
            Ok(admin) => pg_case(&admin, dims, per_tenant).await?,
            Err(_) => eprintln!("ASWAN_BENCH_PG is not set: PostgreSQL cases skipped (bench/vector.sh sets it)"),
        }
    }
    Ok(())
}
