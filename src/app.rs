//! Wiring: settings in, a running server out. [`App::serve`] takes a bound
//! listener, so tests run the real app on `127.0.0.1:0`.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::ai::{spawn_worker, Ai};
use crate::auth::Tokens;
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::store::Store;

pub struct App {
    store: Store,
    ai: Option<Arc<Ai>>,
    state: AppState,
}

/// How long shutdown waits for estimates in flight before closing the store
/// (cut off, they are still safe: their jobs stay queued until the lease ends).
const DRAIN: std::time::Duration = std::time::Duration::from_secs(15);

impl App {
    /// Connects to the database, applies migrations, loads the signing key.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        // Settings first: a bad one must not leave a database behind.
        let ai = Ai::from_settings(settings)?;
        let store = Store::open(settings.database_url.expose(), settings.db_max_connections)
            .await
            .context("opening the database")?;
        let secret = settings.resolve_jwt_secret()?;
        let tokens = Arc::new(Tokens::new(
            secret.expose().as_bytes(),
            settings.access_token_expire_minutes,
        ));
        match &ai {
            None => tracing::info!("EMBEDDING_PROVIDER=none: AI estimates are off"),
            Some(ai) => {
                tracing::info!("AI estimates: {}", ai.describe());
                if let Some(d) = ai.embedder().dimensions() {
                    if store.ensure_vector_index(d).await? {
                        tracing::info!(dimensions = d, "HNSW index on embeddings ready");
                    }
                }
            }
        }
        let state = AppState::new(store.clone(), tokens, ai.clone(), settings.cookie_secure);
        Ok(Self { store, ai, state })
    }

    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets the
    /// requests in flight finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = self.router();
        // The estimate worker runs beside the server and stops with it,
        // letting the jobs in flight settle; then the work requests left
        // behind (inline estimates past their timeout, re-embeds) is awaited,
        // and only then does the store close.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker = self.ai.clone().map(|ai| spawn_worker(ai, self.store.clone(), stopped));
        let served = axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
        let _ = stop.send(true);
        let deadline = tokio::time::Instant::now() + DRAIN;
        if let Some(mut worker) = worker {
            if tokio::time::timeout_at(deadline, &mut worker).await.is_err() {
                tracing::warn!("estimate worker still busy at shutdown: its jobs stay queued");
                worker.abort();
            }
        }
        if let Some(ai) = &self.ai {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !ai.drain(left).await {
                tracing::warn!("background estimates still running at shutdown: their jobs stay queued");
            }
        }
        self.store.close().await;
        served?;
        Ok(())
    }
}
