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
    state: AppState,
}

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
        let state = AppState {
            store,
            tokens,
            ai,
            cookie_secure: settings.cookie_secure,
        };
        Ok(Self { state })
    }

    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }

    pub fn store(&self) -> &Store {
        &self.state.store
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
        // letting the jobs in flight settle. Should that take too long, it is
        // cut off: still safe, the jobs stay queued until their lease ends.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let store = self.state.store.clone();
        let worker = self.state.ai.clone().map(|ai| spawn_worker(ai, store, stopped));
        let served = axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
        let _ = stop.send(true);
        if let Some(mut worker) = worker {
            if tokio::time::timeout(std::time::Duration::from_secs(15), &mut worker)
                .await
                .is_err()
            {
                worker.abort();
            }
        }
        self.state.store.close().await;
        served?;
        Ok(())
    }
}
