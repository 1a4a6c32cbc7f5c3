//! A fake OpenAI-compatible vendor on loopback, programmable per test, so
//! the real client code runs against latency, errors and garbage.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// all-MiniLM's dimension: one with an HNSW index on PostgreSQL.
pub const DIMS: usize = 384;

/// How the fake answers an endpoint, until told otherwise.
#[derive(Clone, Debug)]
pub enum Behaviour {
    Ok,
    /// An error status with an OpenAI-style body, and maybe Retry-After.
    Status(u16, &'static str, Option<u32>),
    /// Answers correctly, but late.
    Delay(Duration),
    /// 200 with a body that is not JSON.
    Malformed,
    /// Embeddings of the wrong length.
    WrongDimension,
    /// Chat content that holds no estimate.
    Garbage,
}

pub struct FakeState {
    pub embed: Mutex<Behaviour>,
    pub chat: Mutex<Behaviour>,
    pub chat_answer: Mutex<String>,
    pub embed_calls: AtomicUsize,
    pub chat_calls: AtomicUsize,
    /// The user prompts of chat calls that were answered successfully.
    pub prompts: Mutex<Vec<String>>,
    /// The `input` arrays of embedding calls.
    pub embed_inputs: Mutex<Vec<Vec<String>>>,
    /// Embedding calls still answered before every one fails with a 500
    /// (`None`: no limit).
    pub embed_budget: Mutex<Option<u64>>,
}

#[derive(Clone)]
pub struct FakeAi {
    pub addr: SocketAddr,
    pub state: Arc<FakeState>,
}

impl FakeAi {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState {
            embed: Mutex::new(Behaviour::Ok),
            chat: Mutex::new(Behaviour::Ok),
            chat_answer: Mutex::new(r#"{"minutes": 42, "text": "About 42 minutes."}"#.into()),
            embed_calls: AtomicUsize::new(0),
            chat_calls: AtomicUsize::new(0),
            prompts: Mutex::new(Vec::new()),
            embed_inputs: Mutex::new(Vec::new()),
            embed_budget: Mutex::new(None),
        });
        let app = Router::new()
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/chat/completions", post(chat))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn set_embed(&self, b: Behaviour) {
        *self.state.embed.lock().unwrap() = b;
    }

    pub fn set_chat(&self, b: Behaviour) {
        *self.state.chat.lock().unwrap() = b;
    }

    /// Answers `calls` more embedding calls, then fails every one with a
    /// 500; `None` lifts the limit.
    pub fn set_embed_budget(&self, calls: Option<u64>) {
        *self.state.embed_budget.lock().unwrap() = calls;
    }

    pub fn embed_calls(&self) -> usize {
        self.state.embed_calls.load(Ordering::SeqCst)
    }

    pub fn chat_calls(&self) -> usize {
        self.state.chat_calls.load(Ordering::SeqCst)
    }

    pub fn prompts(&self) -> Vec<String> {
        self.state.prompts.lock().unwrap().clone()
    }
}

/// A bag-of-words vector of `dims` dimensions (the request's `dimensions`,
/// else [`DIMS`]): titles sharing words point the same way.
fn embed_text(text: &str, dims: usize) -> Vec<f32> {
    let text = text
        .trim_start_matches("search_query: ")
        .trim_start_matches("search_document: ");
    let mut v = vec![0f32; dims];
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut h = DefaultHasher::new();
        word.hash(&mut h);
        v[(h.finish() % dims as u64) as usize] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter().map(|x| x / norm).collect()
}

async fn fault(b: &Behaviour) -> Option<Response> {
    match b {
        Behaviour::Status(code, error_code, retry_after) => {
            let mut res = (
                StatusCode::from_u16(*code).unwrap(),
                Json(json!({ "error": { "message": "fake failure", "type": error_code, "code": error_code } })),
            )
                .into_response();
            if let Some(s) = retry_after {
                res.headers_mut().insert("retry-after", s.to_string().parse().unwrap());
            }
            Some(res)
        }
        Behaviour::Delay(d) => {
            tokio::time::sleep(*d).await;
            None
        }
        Behaviour::Malformed => Some((StatusCode::OK, "{not json").into_response()),
        _ => None,
    }
}

async fn embeddings(State(state): State<Arc<FakeState>>, Json(body): Json<Value>) -> Response {
    state.embed_calls.fetch_add(1, Ordering::SeqCst);
    let mut behaviour = state.embed.lock().unwrap().clone();
    match &mut *state.embed_budget.lock().unwrap() {
        Some(0) => behaviour = Behaviour::Status(500, "server_error", None),
        Some(left) => *left -= 1,
        None => {}
    }
    if let Some(res) = fault(&behaviour).await {
        return res;
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect(),
        _ => vec![],
    };
    state.embed_inputs.lock().unwrap().push(inputs.clone());
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let dims = body["dimensions"].as_u64().map_or(DIMS, |d| d as usize);
            let mut v = embed_text(t, dims);
            if matches!(behaviour, Behaviour::WrongDimension) {
                v.pop();
            }
            json!({ "object": "embedding", "index": i, "embedding": v })
        })
        .collect();
    Json(json!({ "object": "list", "data": data, "model": body["model"] })).into_response()
}

async fn chat(State(state): State<Arc<FakeState>>, Json(body): Json<Value>) -> Response {
    state.chat_calls.fetch_add(1, Ordering::SeqCst);
    let behaviour = state.chat.lock().unwrap().clone();
    if let Some(res) = fault(&behaviour).await {
        return res;
    }
    let content = if matches!(behaviour, Behaviour::Garbage) {
        "I am not sure what you mean.".to_owned()
    } else {
        state.chat_answer.lock().unwrap().clone()
    };
    let prompt = body["messages"][1]["content"].as_str().unwrap_or_default().to_owned();
    state.prompts.lock().unwrap().push(prompt);
    Json(json!({
        "id": "fake", "object": "chat.completion",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }]
    }))
    .into_response()
}
