use std::sync::Arc;

use crate::ai::Ai;
use crate::auth::Tokens;
use crate::store::Store;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub tokens: Arc<Tokens>,
    /// The estimate service; `None` when estimates are off.
    pub ai: Option<Arc<Ai>>,
    /// Mark cookies `Secure` (https deployments).
    pub cookie_secure: bool,
}
