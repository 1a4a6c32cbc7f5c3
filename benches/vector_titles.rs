//! Vector search on data shaped like real task titles: how wide PostgreSQL's
//! HNSW search must be (`hnsw.ef_search`) for the similar tasks of a large
//! tenant to be the true ones, and what it costs; and SQLite's exact scan at
//! the same size.
//!
//! `bench/vector_titles.sh` runs it against a throwaway PostgreSQL:
//!   ASWAN_BENCH_PG=postgres://…/postgres cargo bench --bench vector_titles
//! ASWAN_BENCH_PER_TENANT (default 100000) todos in each of 2 tenants, their
//! titles generated from templates of everyday work ("Fix the login bug on
//! Safari", "Book flights to Lisbon for the sales kickoff") and embedded by
//! the built-in model, as the server would. 200 new titles are then looked
//! up (k = 3) through the app's own code path at every width the store
//! offers, against the exact answer. Recall counts ties: a neighbour as
//! close as the exact third one is a right answer (templates make equal
//! titles).

use std::time::Instant;

use aswan::ai::local::LocalModel;
use aswan::store::{EfSearch, Store, StoreOptions};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

#[path = "common/search.rs"]
mod search;
use search::run;

const TENANTS: usize = 2;
const QUERIES_PER_TENANT: usize = 100;
const K: i64 = 3;

/// Templates of everyday tasks across domains; `{}` slots are filled from
/// the word lists that follow each.
const TEMPLATES: &[(&str, &[&[&str]])] = &[
    (
        "Fix the {} bug on {}",
        &[
            &[
                "login",
                "signup",
                "checkout",
                "search",
                "upload",
                "export",
                "payment",
                "password reset",
                "notification",
                "invoice",
            ],
            &[
                "Safari",
                "Firefox",
                "Chrome",
                "Android",
                "iOS",
                "Windows",
                "the staging server",
                "mobile",
                "tablets",
                "Edge",
            ],
        ],
    ),
    (
        "Write the {} {} for {}",
        &[
            &["quarterly", "monthly", "annual", "weekly", "draft", "final"],
            &[
                "report",
                "newsletter",
                "blog post",
                "press release",
                "case study",
                "summary",
                "proposal",
            ],
            &[
                "the board",
                "investors",
                "the sales team",
                "customers",
                "the website",
                "marketing",
                "HR",
            ],
        ],
    ),
    (
        "Review the {} {} from {}",
        &[
            &[
                "pull request",
                "design doc",
                "contract",
                "budget",
                "roadmap",
                "test plan",
                "offer letter",
            ],
            &["changes", "draft", "update", "revision"],
            &[
                "Alice",
                "Bob",
                "the vendor",
                "legal",
                "the agency",
                "finance",
                "the new hire",
            ],
        ],
    ),
    (
        "Call {} about the {}",
        &[
            &[
                "the dentist",
                "the plumber",
                "the bank",
                "the landlord",
                "the insurance company",
                "the school",
                "grandma",
                "the accountant",
            ],
            &[
                "appointment",
                "leak",
                "mortgage",
                "rent",
                "claim",
                "invoice",
                "holiday plans",
                "tax return",
            ],
        ],
    ),
    (
        "Book {} to {} for the {}",
        &[
            &["flights", "a hotel", "train tickets", "a rental car", "a taxi"],
            &[
                "Lisbon", "Berlin", "New York", "Tokyo", "Paris", "Madrid", "Oslo", "Chicago",
            ],
            &[
                "sales kickoff",
                "conference",
                "wedding",
                "team offsite",
                "customer visit",
                "holiday",
            ],
        ],
    ),
    (
        "Deploy the {} service to {}",
        &[
            &[
                "billing",
                "auth",
                "search",
                "email",
                "reporting",
                "payments",
                "notification",
                "image",
            ],
            &[
                "production",
                "staging",
                "the new cluster",
                "Kubernetes",
                "the EU region",
                "the US region",
            ],
        ],
    ),
    (
        "Prepare the {} for the {} meeting",
        &[
            &["slides", "agenda", "numbers", "demo", "handout", "minutes"],
            &[
                "board",
                "all-hands",
                "budget",
                "kickoff",
                "quarterly review",
                "client",
                "planning",
            ],
        ],
    ),
    (
        "Clean the {} and the {}",
        &[
            &["kitchen", "garage", "bathroom", "attic", "basement", "car", "windows"],
            &["fridge", "oven", "shelves", "floor", "gutters", "porch", "balcony"],
        ],
    ),
    (
        "Buy {} for {}",
        &[
            &[
                "a birthday present",
                "groceries",
                "new shoes",
                "paint",
                "flowers",
                "school supplies",
                "a gift card",
            ],
            &[
                "Mom",
                "the party",
                "the kids",
                "the office",
                "the weekend",
                "Sarah",
                "the neighbours",
            ],
        ],
    ),
    (
        "Update the {} documentation for {}",
        &[
            &["API", "onboarding", "deployment", "security", "billing", "user"],
            &[
                "version 2",
                "the new release",
                "partners",
                "the support team",
                "new developers",
            ],
        ],
    ),
    (
        "Plan the {} {}",
        &[
            &["team", "company", "family", "kids'", "summer", "holiday"],
            &["offsite", "party", "trip", "dinner", "picnic", "workshop", "retreat"],
        ],
    ),
    (
        "Renew the {} {}",
        &[
            &["car", "home", "travel", "health", "domain", "SSL"],
            &[
                "insurance",
                "registration",
                "certificate",
                "subscription",
                "licence",
                "passport",
            ],
        ],
    ),
    (
        "Interview {} candidates for the {} role",
        &[
            &["two", "three", "four", "five"],
            &[
                "backend engineer",
                "designer",
                "sales manager",
                "accountant",
                "product manager",
                "support agent",
                "data analyst",
            ],
        ],
    ),
    (
        "Migrate the {} database to {}",
        &[
            &["orders", "users", "analytics", "inventory", "billing"],
            &["PostgreSQL", "the new server", "the cloud", "version 16", "a replica"],
        ],
    ),
    (
        "Send the {} to {}",
        &[
            &[
                "invoice",
                "quote",
                "contract",
                "photos",
                "report",
                "reminder",
                "thank-you note",
            ],
            &[
                "the client",
                "Acme",
                "the accountant",
                "the team",
                "all customers",
                "the landlord",
            ],
        ],
    ),
    (
        "Repair the {} in the {}",
        &[
            &[
                "leaking tap",
                "broken light",
                "squeaky door",
                "cracked tile",
                "fence",
                "heater",
            ],
            &["kitchen", "bathroom", "garden", "hallway", "bedroom", "office"],
        ],
    ),
    (
        "Run the {} tests for the {} release",
        &[
            &[
                "regression",
                "load",
                "integration",
                "accessibility",
                "security",
                "smoke",
            ],
            &["spring", "mobile", "2.0", "beta", "holiday", "enterprise"],
        ],
    ),
    (
        "File the {} {}",
        &[
            &["quarterly", "annual", "VAT", "expense", "insurance"],
            &["taxes", "report", "claim", "return", "receipts"],
        ],
    ),
    (
        "Set up {} for the {} team",
        &[
            &[
                "laptops",
                "accounts",
                "the VPN",
                "a Slack channel",
                "the CI pipeline",
                "monitoring",
            ],
            &["new", "sales", "support", "design", "data", "mobile"],
        ],
    ),
    (
        "Cook {} for {}",
        &[
            &["lasagna", "a curry", "soup", "pancakes", "a roast", "a cake"],
            &[
                "dinner",
                "the guests",
                "the kids",
                "Sunday lunch",
                "the party",
                "the week",
            ],
        ],
    ),
];

fn title(rng: &mut StdRng) -> String {
    let (template, slots) = TEMPLATES.choose(rng).expect("templates");
    let mut out = String::new();
    let mut parts = template.split("{}");
    out.push_str(parts.next().unwrap_or_default());
    for (slot, rest) in slots.iter().zip(parts) {
        out.push_str(slot.choose(rng).expect("words"));
        out.push_str(rest);
    }
    // Some titles carry a detail, as real ones do.
    if rng.gen_bool(0.3) {
        out.push_str(
            [
                " today",
                " before Friday",
                " (urgent)",
                " again",
                " for next week",
                " asap",
            ]
            .choose(rng)
            .expect("details"),
        );
    }
    out
}

fn vector_text(v: &[f32]) -> String {
    format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","))
}

/// (id, distance) of the k nearest, nearest first.
type Answer = Vec<(Uuid, f32)>;

/// Share of the exact answers' slots filled by a neighbour at least as close
/// as the exact one in that slot's rank allows (ties count as found).
fn recall(found: &[Answer], exact: &[Answer]) -> f64 {
    let (mut hit, mut total) = (0usize, 0usize);
    for (f, e) in found.iter().zip(exact) {
        let Some(kth) = e.last().map(|(_, d)| *d) else { continue };
        total += e.len();
        hit += f.iter().filter(|(_, d)| *d <= kth + 1e-5).count().min(e.len());
    }
    hit as f64 / total.max(1) as f64
}

struct Data {
    tenants: Vec<Uuid>,
    /// Per tenant: (title, embedding).
    rows: Vec<Vec<(String, Vec<f32>)>>,
    queries: Vec<(Uuid, Vec<f32>)>,
}

fn data(model: &LocalModel, per_tenant: usize) -> Data {
    let mut rng = StdRng::seed_from_u64(11);
    let tenants: Vec<Uuid> = (0..TENANTS).map(|_| Uuid::now_v7()).collect();
    let rows = tenants
        .iter()
        .map(|_| {
            (0..per_tenant)
                .map(|_| {
                    let t = title(&mut rng);
                    let v = model.embed(&t);
                    (t, v)
                })
                .collect()
        })
        .collect();
    let queries = tenants
        .iter()
        .flat_map(|t| (0..QUERIES_PER_TENANT).map(move |_| *t))
        .map(|t| (t, model.embed(&title(&mut rng))))
        .collect();
    Data { tenants, rows, queries }
}

async fn pg_case(admin: &str, model: &LocalModel, d: &Data) -> anyhow::Result<()> {
    let name = format!("aswan_titles_{}", Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(admin).await?;
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET maintenance_work_mem = '2GB'"
    )))
    .await?;
    let url = format!("{}/{name}", admin.rsplit_once('/').expect("a database URL").0);
    let store = Store::open(&url, 4).await?;
    let mut db = PgConnection::connect(&url).await?;
    let load = Instant::now();
    for (t, rows) in d.tenants.iter().zip(&d.rows) {
        sqlx::query("INSERT INTO tenants (id, name) VALUES ($1, 'bench')")
            .bind(t)
            .execute(&mut db)
            .await?;
        for chunk in rows.chunks(1000) {
            let ids: Vec<Uuid> = chunk.iter().map(|_| Uuid::now_v7()).collect();
            let titles: Vec<&str> = chunk.iter().map(|(t, _)| t.as_str()).collect();
            let vecs: Vec<String> = chunk.iter().map(|(_, v)| vector_text(v)).collect();
            sqlx::query(
                "INSERT INTO todos (tenant_id, id, title, embedding, embedding_model, estimate_status, estimate_minutes)
                 SELECT $1, id, title, v::vector, $4, 'ready', 30
                 FROM unnest($2::uuid[], $3::text[], $5::text[]) AS u(id, title, v)",
            )
            .bind(t)
            .bind(&ids)
            .bind(&titles)
            .bind(model.name())
            .bind(&vecs)
            .execute(&mut db)
            .await?;
        }
    }
    let loaded = load.elapsed().as_secs_f64();
    let build = Instant::now();
    assert!(
        store.ensure_vector_index(model.dimensions()).await?,
        "384 dims has an HNSW index"
    );
    db.execute("VACUUM ANALYZE todos").await?;
    let built = build.elapsed().as_secs_f64();
    let size: (String,) = sqlx::query_as("SELECT pg_size_pretty(pg_database_size(current_database()))")
        .fetch_one(&mut db)
        .await?;
    eprintln!(
        "postgres: loaded in {loaded:.0} s, HNSW built in {built:.0} s, database {}",
        size.0
    );

    // The exact answer: the same filter, no index on the distance.
    let exact = run(&d.queries, |t, v| {
        let (url, model) = (url.clone(), model.name().to_owned());
        async move {
            let mut c = PgConnection::connect(&url).await?;
            let mut tx = c.begin().await?;
            tx.execute("SET LOCAL enable_indexscan = off").await?;
            let rows: Vec<(Uuid, f64)> = sqlx::query_as(
                "SELECT id, embedding <=> $2::vector FROM todos WHERE tenant_id = $1 AND embedding_model = $3
                 ORDER BY embedding <=> $2::vector LIMIT $4",
            )
            .bind(t)
            .bind(vector_text(&v))
            .bind(model)
            .bind(K)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(rows.into_iter().map(|(id, dist)| (id, dist as f32)).collect())
        }
    })
    .await?;
    println!("| exact scan | {:.2} | {:.2} | 1.000 |", exact.p50, exact.p99);
    for width in EfSearch::choices() {
        let options = StoreOptions {
            ef_search: EfSearch::parse(width).expect("a width on offer"),
            ..StoreOptions::new(4)
        };
        let s = Store::connect(&url, options).await?;
        let name = model.name().to_owned();
        let hnsw = run(&d.queries, |t, v| search::via_store(s.clone(), name.clone(), K, t, v)).await?;
        println!(
            "| HNSW, ef_search = {width}{} | {:.2} | {:.2} | {:.3} |",
            if width == EfSearch::DEFAULT { " (default)" } else { "" },
            hnsw.p50,
            hnsw.p99,
            recall(&hnsw.answers, &exact.answers)
        );
        s.close().await;
    }
    store.close().await;
    Ok(())
}

async fn sqlite_case(model: &LocalModel, d: &Data) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/titles.db", dir.path().display());
    let store = Store::open(&url, 4).await?;
    let mut db = sqlx::SqliteConnection::connect(&url).await?;
    let mut tx = db.begin().await?;
    for (t, rows) in d.tenants.iter().zip(&d.rows) {
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, 'bench', datetime())")
            .bind(t)
            .execute(&mut *tx)
            .await?;
        for (title, v) in rows {
            let blob: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            sqlx::query(
                "INSERT INTO todos (tenant_id, id, title, created_at, updated_at, embedding, embedding_model)
                 VALUES ($1, $2, $3, datetime(), datetime(), $4, $5)",
            )
            .bind(t)
            .bind(Uuid::now_v7())
            .bind(title)
            .bind(blob)
            .bind(model.name())
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    let name = model.name().to_owned();
    let exact = run(&d.queries, |t, v| {
        search::via_store(store.clone(), name.clone(), K, t, v)
    })
    .await?;
    println!(
        "| SQLite, exact scan (sqlite-vec) | {:.2} | {:.2} | 1.000 |",
        exact.p50, exact.p99
    );
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let per_tenant: usize = std::env::var("ASWAN_BENCH_PER_TENANT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let model = LocalModel::builtin()?;
    let started = Instant::now();
    let d = data(&model, per_tenant);
    eprintln!(
        "{} titles generated and embedded in {:.1} s, e.g. {:?}",
        TENANTS * per_tenant,
        started.elapsed().as_secs_f64(),
        &d.rows[0][..3].iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>()
    );
    println!(
        "{per_tenant} todos per tenant x {TENANTS} tenants, {} queries, k = {K}\n",
        d.queries.len()
    );
    println!("| search | p50 ms | p99 ms | recall@3 |");
    println!("|---|---|---|---|");
    match std::env::var("ASWAN_BENCH_PG") {
        Ok(admin) => pg_case(&admin, &model, &d).await?,
        Err(_) => anyhow::bail!("ASWAN_BENCH_PG is not set (bench/vector_titles.sh sets it)"),
    }
    sqlite_case(&model, &d).await?;
    Ok(())
}
