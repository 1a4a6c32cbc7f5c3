//! Micro benchmarks of the hot pure functions on the estimate path:
//! parsing a model's answer and building the prompt. `cargo bench --bench micro`.

use std::hint::black_box;

use aswan::ai::parse::parse_estimate;
use aswan::ai::prompt::user_prompt;
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

criterion_group!(benches, parsing, prompting);
criterion_main!(benches);
