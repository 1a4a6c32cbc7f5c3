//! A fake OpenAI-compatible vendor that answers at once, for the load
//! benchmark (`bench/load.py`): compiled, on one thread, so the vendor's own
//! CPU takes as little as possible from the server it measures (the first
//! version, in Python, cost more CPU per create than the server did).
//!
//!   cargo run --release --example fake_vendor   # prints `listening on 127.0.0.1:PORT`
//!
//! Embeddings are a bag of hashed words (similar titles get similar
//! vectors, so similarity search has neighbours to find); every chat answer
//! is the same estimate.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

const DIMS: usize = 384;

fn embed(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; DIMS];
    for word in text.split_whitespace() {
        let mut h = DefaultHasher::new();
        word.to_lowercase().hash(&mut h);
        v[(h.finish() % DIMS as u64) as usize] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

async fn embeddings(Json(body): Json<Value>) -> Json<Value> {
    let inputs: Vec<&str> = match &body["input"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({ "object": "embedding", "index": i, "embedding": embed(t) }))
        .collect();
    Json(json!({ "object": "list", "data": data, "model": body["model"] }))
}

async fn chat() -> Json<Value> {
    Json(json!({ "choices": [{ "index": 0, "message": { "role": "assistant",
        "content": "{\"minutes\": 30, \"text\": \"About 30 minutes.\"}" } }] }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let app = Router::new()
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/chat/completions", post(chat));
    let bind = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(bind).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
