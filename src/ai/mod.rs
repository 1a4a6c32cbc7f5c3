//! AI time estimates (ARCHITECTURE.md, "The estimate pipeline"): an OpenAI-compatible vendor for
//! embeddings and chat, the estimate pipeline, and the durable worker.

pub mod accuracy;
mod breaker;
pub mod calibration;
mod client;
mod embedder;
mod followup;
pub mod history;
pub mod local;
pub mod parse;
mod pipeline;
pub mod prompt;
pub mod reindex;
pub mod stats;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::task::TaskTracker;

pub use client::{VendorClient, VendorError};
pub use embedder::{Embedder, VendorEmbedder};
pub use followup::MAX_PER_EVENT as MAX_REESTIMATES_PER_ACTUAL;
pub use local::LocalModel;
pub use pipeline::JobOutcome;
pub use worker::spawn_worker;

use crate::config::{EmbeddingProvider, InvalidSetting, Settings};
use crate::domain::TodoId;
use crate::store::prelude::*;
use crate::store::TenantStore;

/// Cosine distance under which the built-in model's neighbours count as
/// similar. Tuned on the evaluation set's dev split by `aswan eval`'s sweep
/// (BENCHMARKS.md, "Embedded model quality"): at 0.50, 72 % of dev titles
/// get a number at 21 % MdAPE, 74 % of the neighbours used from the right
/// cluster; 0.45 gave 56 % coverage for 1 point less error, 0.55 82 % for
/// 5 points more.
pub const LOCAL_MAX_DISTANCE: f32 = 0.50;
/// The vendor default: anything pointing the same way at all.
pub const VENDOR_MAX_DISTANCE: f32 = 1.0;
/// How much wider a search looks than an estimate (see
/// `Ai::search_max_distance`). With the built-in model, 0.65 in all: in a
/// ten-task tenant the relevant hits of nine queries (a paraphrase, a word,
/// a phrase) sat at 0.18–0.63, the best unrelated task at 0.70 or more, and
/// gibberish ("zzzz qqqq", "asdf") at 0.75 or more (tests/api/local_ai.rs,
/// `search_finds_only_what_is_relevant`).
pub const SEARCH_MARGIN: f32 = 0.20;

/// What the pipeline needs to know, resolved once from the settings.
#[derive(Debug, Clone)]
pub struct AiConfig {
    pub similar_tasks: i64,
    pub max_distance: f32,
    pub inline_timeout: Duration,
    pub max_attempts: i32,
    pub retry_base: Duration,
}

/// Who turns a title and its similar tasks into a number.
pub enum Estimator {
    /// A chat model behind the vendor.
    Chat { client: VendorClient, model: String },
    /// The tenant's own history ([`history`]).
    History,
}

/// The estimate service: one per process, shared by handlers and the worker.
pub struct Ai {
    embedder: Embedder,
    estimator: Estimator,
    config: AiConfig,
    breaker: breaker::Breaker,
    /// Wakes the worker when new work is queued.
    wake: Notify,
    /// Work started for a request that outlives it (inline estimates past
    /// their timeout, re-embeds): awaited on shutdown, before the store closes.
    tasks: TaskTracker,
}

fn invalid(message: impl Into<String>) -> InvalidSetting {
    InvalidSetting(message.into())
}

impl Ai {
    /// `None` when estimates are off (EMBEDDING_PROVIDER=none). With no
    /// AI_BASE_URL: the built-in model and the history estimator. Work it
    /// starts in the background has a tracker of its own (the commands).
    pub fn from_settings(s: &Settings) -> anyhow::Result<Option<Arc<Self>>> {
        Self::from_settings_tracked(s, TaskTracker::new())
    }

    /// As [`Ai::from_settings`], its background work (inline estimates past
    /// their wait, re-embeds, follow-ups) on `tasks`: the server's one
    /// tracker, which shutdown waits for before the store closes.
    pub fn from_settings_tracked(s: &Settings, tasks: TaskTracker) -> anyhow::Result<Option<Arc<Self>>> {
        let base = s.ai_base_url.as_deref().filter(|b| !b.trim().is_empty());
        let provider = s.embedding_provider.unwrap_or(if base.is_some() {
            EmbeddingProvider::Openai
        } else {
            EmbeddingProvider::Local
        });
        if s.embedding_model_dir.is_some() && provider != EmbeddingProvider::Local {
            return Err(invalid(
                "invalid EMBEDDING_MODEL_DIR: it names a local model, but EMBEDDING_PROVIDER is not local",
            )
            .into());
        }
        if provider == EmbeddingProvider::None {
            return Ok(None);
        }
        let client = base
            .map(|base| VendorClient::new(base, s.ai_api_key.clone(), s.ai_request_timeout))
            .transpose()?;
        let embedder = match provider {
            EmbeddingProvider::Openai => {
                let Some(client) = client.clone() else {
                    return Err(invalid("invalid EMBEDDING_PROVIDER: openai needs AI_BASE_URL").into());
                };
                let nomic = s.embedding_model.contains("nomic");
                let default_prefix = |p: &str| if nomic { p.to_owned() } else { String::new() };
                Embedder::Vendor(VendorEmbedder {
                    client,
                    model: s.embedding_model.clone(),
                    dimensions: s.embedding_dimensions,
                    query_prefix: s
                        .embedding_query_prefix
                        .clone()
                        .unwrap_or_else(|| default_prefix("search_query: ")),
                    document_prefix: s
                        .embedding_document_prefix
                        .clone()
                        .unwrap_or_else(|| default_prefix("search_document: ")),
                })
            }
            _ => Embedder::Local(match &s.embedding_model_dir {
                Some(dir) => LocalModel::from_dir(dir).map_err(|e| invalid(format!("{e:#}")))?,
                None => LocalModel::builtin()?,
            }),
        };
        let max_distance = s.similarity_max_distance.unwrap_or(if embedder.is_local() {
            LOCAL_MAX_DISTANCE
        } else {
            VENDOR_MAX_DISTANCE
        });
        if !(0.0..=2.0).contains(&max_distance) {
            return Err(invalid("invalid SIMILARITY_MAX_DISTANCE: a cosine distance is between 0 and 2").into());
        }
        let estimator = match client {
            Some(client) => Estimator::Chat {
                client,
                model: s.ai_model.clone(),
            },
            None => Estimator::History,
        };
        let config = AiConfig {
            similar_tasks: i64::from(s.similar_tasks),
            max_distance,
            inline_timeout: s.estimate_inline_timeout,
            max_attempts: i32::try_from(s.estimate_max_attempts)?,
            retry_base: s.estimate_retry_base,
        };
        let breaker = breaker::Breaker::new(s.ai_breaker_threshold, s.ai_breaker_cooldown);
        Ok(Some(Arc::new(Self {
            embedder,
            estimator,
            config,
            breaker,
            wake: Notify::new(),
            tasks,
        })))
    }

    /// Whether the circuit breaker holds vendor calls back now.
    pub fn breaker_open(&self) -> bool {
        self.breaker.is_open()
    }

    pub fn config(&self) -> &AiConfig {
        &self.config
    }

    /// How far a search looks: a little wider than what counts as similar
    /// for an estimate (a search lists candidates for a person to pick from;
    /// an estimate borrows their durations), so that a query that means
    /// nothing in this tenant finds nothing.
    pub fn search_max_distance(&self) -> f32 {
        (self.config.max_distance + SEARCH_MARGIN).min(VENDOR_MAX_DISTANCE)
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// One line for the startup log.
    pub fn describe(&self) -> String {
        let estimator = match &self.estimator {
            Estimator::Chat { model, .. } => format!("chat model {model}"),
            Estimator::History => "the tenant's history".to_owned(),
        };
        format!("embeddings by {}, estimates from {estimator}", self.embedder.model())
    }

    /// Embeds a retitled todo again: at once with a local model; in the
    /// background with a vendor (a failure leaves it unembedded, invisible to
    /// similarity until `aswan reindex` or a re-estimate).
    pub async fn refresh_embedding(self: &Arc<Self>, tenant: TenantStore, id: TodoId, title: String) {
        let ai = Arc::clone(self);
        let work = async move {
            // The document form only: a retitled todo is searched for, not searching.
            let stored = match ai.embedder.embed_documents(&[&title]).await {
                Ok(mut vectors) => tenant
                    .save_embedding(id, ai.embedder.model(), &vectors.remove(0))
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = stored {
                tracing::warn!(todo = %id, error = %e, "retitled todo not embedded again");
            }
        };
        if self.embedder.is_local() {
            work.await;
        } else {
            self.tasks.spawn(work);
        }
    }

    /// Embeds an imported tenant's todos in the background (tracked, like
    /// every request's leftover work).
    pub fn embed_imported(self: &Arc<Self>, tenant: TenantStore) {
        let ai = Arc::clone(self);
        self.tasks.spawn(async move {
            let bar = indicatif::ProgressBar::hidden();
            if let Err(e) = reindex::reindex_tenant(&tenant, &ai, 256, 0, &bar).await {
                tracing::warn!(tenant_id = %tenant.tenant_id(), error = %e, "imported todos not embedded: run aswan reindex");
            }
        });
    }

    /// Embeds a search query (query form) for semantic search.
    pub async fn embed_query(&self, text: &str) -> Result<Vec<f32>, VendorError> {
        self.embedder.embed_query(text).await
    }
}
