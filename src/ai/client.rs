//! A client for OpenAI-compatible vendors (OpenAI, Fireworks, Ollama, vLLM):
//! `POST {base}/embeddings` and `POST {base}/chat/completions`. One HTTP
//! client, reused, with connect and request timeouts. Vendor failures are
//! classified once here, so the rest only asks "retry, and when?".

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Secret;

/// Why a vendor call failed. The text is for logs and for the todo's
/// `estimate_error`; it never carries the API key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VendorError {
    /// Worth trying again later (5xx, 429 rate limits, timeouts, garbage).
    #[error("{reason}")]
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Trying again will not help (bad key, no quota, wrong model or
    /// dimension). The todo's estimate fails with this reason.
    #[error("{0}")]
    Permanent(String),
}

impl VendorError {
    fn transient(reason: impl Into<String>) -> Self {
        Self::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

#[derive(Clone)]
pub struct VendorClient {
    http: reqwest::Client,
    base: String,
    key: Option<Secret>,
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<ChatChoice>,
}

#[derive(Deserialize)]
struct ChatChoice {
    message: ChatMessage,
}

#[derive(Deserialize)]
struct ChatMessage {
    #[serde(default)]
    content: Option<String>,
}

impl VendorClient {
    pub fn new(base_url: &str, key: Option<Secret>, request_timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// Embeds `inputs` in one request; the vectors come back in input order.
    pub async fn embed(
        &self,
        model: &str,
        inputs: &[String],
        dimensions: Option<u32>,
    ) -> Result<Vec<Vec<f32>>, VendorError> {
        let result = self.embed_once(model, inputs, dimensions).await;
        crate::monitoring::vendor_call("embeddings", outcome(&result));
        if result.is_ok() {
            crate::monitoring::embedded("vendor", inputs.len());
        }
        result
    }

    async fn embed_once(
        &self,
        model: &str,
        inputs: &[String],
        dimensions: Option<u32>,
    ) -> Result<Vec<Vec<f32>>, VendorError> {
        let mut body = json!({ "model": model, "input": inputs, "encoding_format": "float" });
        if let Some(d) = dimensions {
            body["dimensions"] = json!(d);
        }
        let value = self.post("embeddings", &body).await?;
        let mut parsed: EmbeddingsResponse = serde_json::from_value(value)
            .map_err(|e| VendorError::transient(format!("unreadable embeddings response: {e}")))?;
        if parsed.data.len() != inputs.len() {
            return Err(VendorError::transient(format!(
                "asked for {} embeddings, got {}",
                inputs.len(),
                parsed.data.len()
            )));
        }
        parsed.data.sort_by_key(|item| item.index.unwrap_or(0));
        let vectors: Vec<Vec<f32>> = parsed.data.into_iter().map(|d| d.embedding).collect();
        if let Some(d) = dimensions {
            if let Some(v) = vectors.iter().find(|v| v.len() != d as usize) {
                return Err(VendorError::Permanent(format!(
                    "the embedding model returned {} dimensions, EMBEDDING_DIMENSIONS is {d}",
                    v.len()
                )));
            }
        }
        if vectors.iter().any(|v| v.is_empty() || v.iter().any(|x| !x.is_finite())) {
            return Err(VendorError::transient(
                "the embedding response holds an empty or non-finite vector",
            ));
        }
        Ok(vectors)
    }

    /// One chat completion; the assistant's text.
    pub async fn chat(&self, model: &str, system: &str, user: &str) -> Result<String, VendorError> {
        let result = self.chat_once(model, system, user).await;
        crate::monitoring::vendor_call("chat", outcome(&result));
        result
    }

    async fn chat_once(&self, model: &str, system: &str, user: &str) -> Result<String, VendorError> {
        let body = json!({
            "model": model,
            "temperature": 0,
            "max_tokens": 200,
            "messages": [
                { "role": "system", "content": system },
                { "role": "user", "content": user },
            ],
        });
        let value = self.post("chat/completions", &body).await?;
        let parsed: ChatResponse = serde_json::from_value(value)
            .map_err(|e| VendorError::transient(format!("unreadable chat response: {e}")))?;
        parsed
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| VendorError::transient("the chat response has no content"))
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, VendorError> {
        let mut req = self.http.post(format!("{}/{path}", self.base)).json(body);
        if let Some(key) = &self.key {
            req = req.bearer_auth(key.expose());
        }
        let res = req.send().await.map_err(|e| {
            let what = if e.is_timeout() { "timed out" } else { "unreachable" };
            VendorError::transient(format!("the AI vendor is {what}"))
        })?;
        let status = res.status();
        let retry_after = res
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(3600.0)));
        let text = res
            .text()
            .await
            .map_err(|_| VendorError::transient("the AI vendor's answer was cut off"))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .map_err(|_| VendorError::transient(format!("the AI vendor answered {path} with malformed JSON")));
        }
        Err(classify(status, &text, retry_after))
    }
}

/// Maps a vendor's error status (and OpenAI-style error code) to what to do.
fn classify(status: StatusCode, body: &str, retry_after: Option<Duration>) -> VendorError {
    let code = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            e.get("code")
                .or_else(|| e.get("type"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            VendorError::Permanent(format!("the AI vendor refused the credentials ({status})"))
        }
        StatusCode::TOO_MANY_REQUESTS if code == "insufficient_quota" => {
            VendorError::Permanent("the AI vendor account is out of quota".into())
        }
        StatusCode::TOO_MANY_REQUESTS => VendorError::Transient {
            reason: "the AI vendor is rate limiting".into(),
            retry_after,
        },
        StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => {
            VendorError::Permanent(format!(
                "the AI vendor rejected the request ({status}{})",
                if code.is_empty() {
                    String::new()
                } else {
                    format!(": {code}")
                }
            ))
        }
        s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => VendorError::Transient {
            reason: format!("the AI vendor failed ({status})"),
            retry_after,
        },
        _ => VendorError::transient(format!("the AI vendor answered {status}")),
    }
}

/// A call's outcome as the metrics name it.
fn outcome<T>(result: &Result<T, VendorError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(VendorError::Transient { .. }) => "transient",
        Err(VendorError::Permanent(_)) => "permanent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, "", None),
            VendorError::Permanent(_)
        ));
        let quota = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, quota, None),
            VendorError::Permanent(_)
        ));
        let limited = classify(StatusCode::TOO_MANY_REQUESTS, "{}", Some(Duration::from_secs(2)));
        assert!(matches!(limited, VendorError::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(2)));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, "oops", None),
            VendorError::Transient { .. }
        ));
    }
}
