use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::background::Background;
use super::edge::Edge;
use super::throttle::Throttle;
use crate::ai::Ai;
use crate::auth::Tokens;
use crate::mail::Mailer;
use crate::store::prelude::*;
use crate::store::Store;

/// What every handler can reach. Cheap to clone. Its fields are the HTTP
/// layer's own: nothing outside `http` reaches the store through it.
#[derive(Clone)]
pub struct AppState {
    pub(super) store: Store,
    pub(super) tokens: Arc<Tokens>,
    /// The estimate service; `None` when estimates are off.
    pub(super) ai: Option<Arc<Ai>>,
    /// Mark cookies `Secure` (https deployments).
    pub(super) cookie_secure: bool,
    pub(super) edge: Arc<Edge>,
    pub(super) throttle: Arc<Throttle>,
    /// Mail, when SMTP_URL is set: then emails are verified by a link, and
    /// invitations and password resets go by mail.
    pub(super) mailer: Option<Arc<Mailer>>,
    touches: Arc<Touches>,
    /// Work that outlives its request (background.rs).
    pub(super) background: Background,
}

/// When each credential's use was last written: its `last_seen_at` /
/// `last_used_at` is recorded at most once a minute, in the background, so
/// that a request does not wait for a write.
#[derive(Default)]
struct Touches(Mutex<HashMap<Uuid, Instant>>);

const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl AppState {
    pub fn new(
        store: Store,
        tokens: Arc<Tokens>,
        ai: Option<Arc<Ai>>,
        edge: Edge,
        throttle: Throttle,
        mailer: Option<Arc<Mailer>>,
        background: Background,
    ) -> Self {
        Self {
            store,
            tokens,
            ai,
            cookie_secure: edge.https,
            edge: Arc::new(edge),
            throttle: Arc::new(throttle),
            mailer,
            touches: Arc::default(),
            background,
        }
    }

    /// Waits up to `limit` for the work requests left behind (writes whose
    /// client hung up, mail, last-use times); `false` if some still ran.
    pub async fn drain_background(&self, limit: Duration) -> bool {
        self.background.drain(limit).await
    }

    /// Records that credential `id` was used, if it was not in the last
    /// minute.
    pub(super) fn touch(&self, id: Uuid) {
        let now = Instant::now();
        {
            let mut seen = self.touches.0.lock().expect("touches lock");
            if seen.get(&id).is_some_and(|at| now.duration_since(*at) < TOUCH_EVERY) {
                return;
            }
            if seen.len() > 100_000 {
                seen.retain(|_, at| now.duration_since(*at) < TOUCH_EVERY);
            }
            seen.insert(id, now);
        }
        let store = self.store.clone();
        self.background.spawn(async move {
            if let Err(e) = store.touch_credential(id, crate::store::now()).await {
                tracing::debug!(error = %e, "could not record a credential's use");
            }
        });
    }
}
