//! Wiring: settings in, a running server out. [`App::serve`] takes a bound
//! listener, so tests run the real app on `127.0.0.1:0`.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::ai::{spawn_worker, Ai};
use crate::auth::Tokens;
use crate::config::{InvalidSetting, Settings};
use crate::http::{self, AppState, Edge, Throttle};
use crate::server;
use crate::store::{EfSearch, Store, StoreError, StoreOptions};

pub struct App {
    store: Store,
    ai: Option<Arc<Ai>>,
    state: AppState,
    limits: server::Limits,
}

/// How long shutdown waits for estimates in flight before closing the store
/// (cut off, they are still safe: their jobs stay queued until the lease ends).
const DRAIN: std::time::Duration = std::time::Duration::from_secs(15);

impl App {
    /// Connects to the database, applies migrations, loads the signing key.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        // The recorder first, so that nothing recorded at start is lost.
        crate::monitoring::handle();
        // Settings first: a bad one must not leave a database behind.
        // One tracker for all work that outlives its request (writes whose
        // client hung up, mail, last-use times, background estimates).
        let tracker = tokio_util::task::TaskTracker::new();
        let ai = Ai::from_settings_tracked(settings, tracker.clone())?;
        let header_read_timeout = settings.header_read_timeout;
        let body_read_timeout = settings.body_read_timeout;
        let response_write_timeout = settings.response_write_timeout;
        let acquire_timeout = settings.db_acquire_timeout;
        if settings.uses_data_dir() {
            settings.prepare_data_dir()?;
        }
        let secret = settings.resolve_jwt_secret()?;
        let database_url = settings.database_url();
        log_paths(settings, database_url.expose());
        let options = StoreOptions {
            max_connections: settings.db_max_connections,
            acquire_timeout,
            ef_search: EfSearch::parse(settings.hnsw_ef_search).expect("validated by the setting's parser"),
        };
        let store = Store::open_with(database_url.expose(), options).await?;
        match store.cluster().await {
            Ok(Some(cluster)) => tracing::info!("{cluster}"),
            Ok(None) => {}
            // A Citus cluster this server cannot run on: one line, exit 2.
            Err(StoreError::Config(why)) => return Err(InvalidSetting(why).into()),
            Err(e) => return Err(e.into()),
        }
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
        let edge = Edge {
            trusted_proxies: settings.trusted_proxies.clone(),
            public_origin: settings.public_url.clone(),
            https: settings.cookie_secure,
            body_read_timeout,
            allowed_hosts: settings.allowed_hosts.clone(),
        };
        let throttle = Throttle::new(
            settings.auth_rate_per_minute,
            settings.tenant_rate_per_hour,
            settings.invitation_rate_per_hour,
        );
        let mailer = crate::mail::Mailer::from_settings(settings)?.map(Arc::new);
        if mailer.is_none() {
            tracing::info!("SMTP_URL is not set: no mail; invitation links are shown to copy");
        }
        let background = http::Background::on(tracker, settings.max_connections as usize);
        let state = AppState::new(store.clone(), tokens, ai.clone(), edge, throttle, mailer, background);
        let limits = server::Limits {
            max_connections: server::fit_to_file_limit(settings.max_connections),
            max_per_client: settings.max_connections_per_client as usize,
            max_per_network: settings.max_connections_per_network as usize,
            trusted_proxies: settings.trusted_proxies.clone(),
            header_read_timeout,
            response_write_timeout,
        };
        Ok(Self {
            store,
            ai,
            state,
            limits,
        })
    }

    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }

    /// The Prometheus listener's router (METRICS_BIND; src/monitoring.rs).
    pub fn metrics_router(&self) -> axum::Router {
        let ai = self.ai.clone();
        crate::monitoring::router(self.store.clone(), move || {
            ai.as_ref().is_some_and(|ai| ai.breaker_open())
        })
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
        let upkeep = crate::monitoring::spawn_upkeep();
        let housekeeping = crate::housekeeping::spawn(self.store.clone(), stop.subscribe());
        let served = server::serve(listener, router, self.limits.clone(), shutdown, DRAIN).await;
        upkeep.abort();
        let _ = stop.send(true);
        let deadline = tokio::time::Instant::now() + DRAIN;
        if tokio::time::timeout_at(deadline, housekeeping).await.is_err() {
            tracing::warn!("housekeeping still running at shutdown: cut off");
        }
        if let Some(mut worker) = worker {
            if tokio::time::timeout_at(deadline, &mut worker).await.is_err() {
                tracing::warn!("estimate worker still busy at shutdown: its jobs stay queued");
                worker.abort();
            }
        }
        // Writes whose client hung up, the mail, last-use times and
        // background estimates that requests left behind: one tracker,
        // finished before the store closes (an estimate cut off keeps its
        // job queued).
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !self.state.drain_background(left).await {
            tracing::warn!("work left behind by requests still running at shutdown: cut off");
        }
        self.store.close().await;
        served?;
        Ok(())
    }
}

/// Says where the data lives, once, at start (never a password).
fn log_paths(settings: &Settings, database_url: &str) {
    let data_dir = std::path::absolute(&settings.data_dir).unwrap_or_else(|_| settings.data_dir.clone());
    let database = match database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    {
        Some(path) => {
            let path = path.split('?').next().unwrap_or(path);
            std::path::absolute(path).map_or_else(|_| path.to_owned(), |p| p.display().to_string())
        }
        None => reqwest::Url::parse(database_url).map_or_else(
            |_| "postgres (unparsable URL)".to_owned(),
            |mut url| {
                let _ = url.set_password(None);
                url.to_string()
            },
        ),
    };
    let secret = if settings.jwt_secret.is_some() {
        "JWT_SECRET".to_owned()
    } else {
        data_dir.join("jwt_secret").display().to_string()
    };
    tracing::info!(data_dir = %data_dir.display(), %database, jwt_secret = %secret, "data locations");
}
