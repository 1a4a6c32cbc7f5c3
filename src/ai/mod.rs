//! AI time estimates (DESIGN.md §4): an OpenAI-compatible vendor for
//! embeddings and chat, the estimate pipeline, and the durable worker.

mod breaker;
mod client;
pub mod parse;
mod pipeline;
pub mod prompt;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

pub use client::{VendorClient, VendorError};
pub use worker::spawn_worker;

use crate::config::Settings;

/// What the pipeline needs to know, resolved once from the settings.
#[derive(Debug, Clone)]
pub struct AiConfig {
    pub chat_model: String,
    pub embedding_model: String,
    pub dimensions: Option<u32>,
    pub query_prefix: String,
    pub document_prefix: String,
    pub similar_tasks: i64,
    pub max_distance: f32,
    pub inline_timeout: Duration,
    pub max_attempts: i32,
    pub retry_base: Duration,
}

/// The estimate service: one per process, shared by handlers and the worker.
pub struct Ai {
    client: VendorClient,
    config: AiConfig,
    breaker: breaker::Breaker,
    /// Wakes the worker when new work is queued.
    wake: Notify,
}

fn seconds(key: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| anyhow::anyhow!("invalid {key}: {value} is not a number of seconds"))
}

impl Ai {
    /// `None` when no vendor is configured (estimates are then `off`).
    pub fn from_settings(s: &Settings) -> anyhow::Result<Option<Arc<Self>>> {
        let Some(base) = s.ai_base_url.as_deref().filter(|b| !b.trim().is_empty()) else {
            return Ok(None);
        };
        if !(0.0..=2.0).contains(&s.similarity_max_distance) {
            anyhow::bail!("invalid SIMILARITY_MAX_DISTANCE: a cosine distance is between 0 and 2");
        }
        let nomic = s.embedding_model.contains("nomic");
        let default_prefix = |p: &str| if nomic { p.to_owned() } else { String::new() };
        let config = AiConfig {
            chat_model: s.ai_model.clone(),
            embedding_model: s.embedding_model.clone(),
            dimensions: s.embedding_dimensions,
            query_prefix: s
                .embedding_query_prefix
                .clone()
                .unwrap_or_else(|| default_prefix("search_query: ")),
            document_prefix: s
                .embedding_document_prefix
                .clone()
                .unwrap_or_else(|| default_prefix("search_document: ")),
            similar_tasks: i64::from(s.similar_tasks),
            max_distance: s.similarity_max_distance,
            inline_timeout: seconds("ESTIMATE_INLINE_TIMEOUT", s.estimate_inline_timeout)?,
            max_attempts: i32::try_from(s.estimate_max_attempts)?,
            retry_base: seconds("ESTIMATE_RETRY_BASE", s.estimate_retry_base)?,
        };
        let client = VendorClient::new(
            base,
            s.ai_api_key.clone(),
            seconds("AI_REQUEST_TIMEOUT", s.ai_request_timeout)?,
        )?;
        let breaker = breaker::Breaker::new(
            s.ai_breaker_threshold,
            seconds("AI_BREAKER_COOLDOWN", s.ai_breaker_cooldown)?,
        );
        Ok(Some(Arc::new(Self {
            client,
            config,
            breaker,
            wake: Notify::new(),
        })))
    }

    pub fn config(&self) -> &AiConfig {
        &self.config
    }

    /// Embeds a search query (query form) for semantic search.
    pub async fn embed_query(&self, text: &str) -> Result<Vec<f32>, VendorError> {
        let input = vec![format!("{}{text}", self.config.query_prefix)];
        let mut v = self
            .client
            .embed(&self.config.embedding_model, &input, self.config.dimensions)
            .await?;
        Ok(v.remove(0))
    }
}
