use std::sync::Arc;

use super::edge::Edge;
use super::throttle::Throttle;
use crate::ai::Ai;
use crate::auth::Tokens;
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
}

impl AppState {
    pub fn new(store: Store, tokens: Arc<Tokens>, ai: Option<Arc<Ai>>, edge: Edge, throttle: Throttle) -> Self {
        Self {
            store,
            tokens,
            ai,
            cookie_secure: edge.https,
            edge: Arc::new(edge),
            throttle: Arc::new(throttle),
        }
    }
}
