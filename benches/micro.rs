//! Micro benchmarks of the hot pure functions on the estimate path:
//! parsing a model's answer, building the prompt, embedding a title with the
//! built-in model, and the history estimator. `cargo bench --bench micro`.

use std::hint::black_box;

use aswan::ai::history;
use aswan::ai::parse::parse_estimate;
use aswan::ai::prompt::user_prompt;
use aswan::ai::LocalModel;
use aswan::domain::TodoId;
use aswan::store::Basis;
use criterion::{criterion_group, criterion_main, Criterion};

fn parsing(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_estimate");
    g.bench_function("json", |b| {
        b.iter(|| {
            parse_estimate(black_box(
                r#"{"minutes": 90, "text": "About 1.5 hours, like the last report."}"#,
            ))
        })
    });
    g.bench_function("prose range", |b| {
        b.iter(|| {
            parse_estimate(black_box(
                "Based on similar tasks, this should take roughly 30-45 min to finish.",
            ))
        })
    });
    g.bench_function("fenced json in prose", |b| {
        b.iter(|| {
            parse_estimate(black_box(
                "Sure!\n```json\n{\"minutes\": \"45\", \"text\": \"quick\"}\n```\nHope it helps.",
            ))
        })
    });
    g.finish();
}

fn prompting(c: &mut Criterion) {
    let basis: Vec<Basis> = (0..3)
        .map(|i| Basis {
            id: TodoId::new(),
            title: format!("Write the quarterly report for region {i}"),
            minutes: Some(60 + i * 15),
            actual: i % 2 == 0,
            distance: 0.1 * i as f32,
        })
        .collect();
    c.bench_function("user_prompt (3 similar tasks)", |b| {
        b.iter(|| user_prompt(black_box("Write the yearly report"), black_box(&basis)))
    });
}

fn local_embedding(c: &mut Criterion) {
    let model = LocalModel::builtin().expect("the built-in model loads");
    let mut g = c.benchmark_group("local embedding (built-in, 384 dims)");
    g.bench_function("short title", |b| {
        b.iter(|| model.embed(black_box("Fix the login bug")))
    });
    g.bench_function("long title (30 words)", |b| {
        b.iter(|| {
            model.embed(black_box(
                "Investigate why the nightly export to the data warehouse fails for customers in the EU region \
                 and write a short report with the root cause and the proposed fix for the team",
            ))
        })
    });
    let batch: Vec<String> = (0..256)
        .map(|i| format!("Prepare the monthly invoice batch number {i}"))
        .collect();
    g.bench_function("batch of 256 titles (reindex)", |b| {
        b.iter(|| black_box(&batch).iter().map(|t| model.embed(t)).collect::<Vec<_>>())
    });
    g.finish();
    c.bench_function("load the built-in model (first use)", |b| {
        b.iter(|| {
            aswan::ai::local::decode_builtin_uncached().expect("loads");
        })
    });
}

fn history_estimate(c: &mut Criterion) {
    let basis: Vec<Basis> = (0..3)
        .map(|i| Basis {
            id: TodoId::new(),
            title: format!("Task {i}"),
            minutes: Some(30 + i * 20),
            actual: true,
            distance: 0.2 + 0.05 * i as f32,
        })
        .collect();
    c.bench_function("history estimate (3 similar tasks)", |b| {
        b.iter(|| history::estimate(black_box(&basis)))
    });
}

criterion_group!(benches, parsing, prompting, local_embedding, history_estimate);
criterion_main!(benches);
