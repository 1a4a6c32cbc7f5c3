//! Work that outlives its request, in one tracked place, and writes that run
//! to the end when their client hangs up (ARCHITECTURE.md, "Cancellation").
//!
//! hyper drops a request's future when its client goes away mid-request.
//! For a read that is right: nobody is waiting for the answer. For a write
//! it could stop a use case between two of its steps, so every request that
//! may write (any method but GET, HEAD, OPTIONS and TRACE) runs in a task of
//! its own: a hang-up drops only the wait for the answer, and the write is
//! all done or, if it fails, all undone, exactly as if the client had stayed.
//! The same tracker holds the other work a request leaves behind (mail, the
//! last-use time of a credential); the server waits for it at shutdown
//! before it closes the store.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::ApiError;

#[derive(Clone)]
pub struct Background {
    tasks: TaskTracker,
    /// Writes in flight at once. A client that hangs up frees its connection
    /// slot while its write goes on; this bound keeps such writes to what
    /// the connection limit allows, so hanging up in a loop cannot pile up
    /// work without end.
    writes: Arc<Semaphore>,
}

impl Background {
    pub fn new(max_writes: usize) -> Self {
        Self {
            tasks: TaskTracker::new(),
            writes: Arc::new(Semaphore::new(max_writes.max(1))),
        }
    }

    /// Runs `work` to its end in the background, in the current span.
    pub(super) fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(work.instrument(tracing::Span::current()));
    }

    /// Waits up to `limit` for everything started so far; `false` if some
    /// was still running then.
    pub async fn drain(&self, limit: Duration) -> bool {
        self.tasks.close();
        tokio::time::timeout(limit, self.tasks.wait()).await.is_ok()
    }
}

/// Middleware: a request that may write runs in its own tracked task.
pub(super) async fn writes_run_to_the_end(State(bg): State<Background>, req: Request, next: Next) -> Response {
    if req.method().is_safe() {
        return next.run(req).await;
    }
    // Waiting for a permit writes nothing yet: a hang-up here is harmless.
    let Ok(permit) = Arc::clone(&bg.writes).acquire_owned().await else {
        return next.run(req).await;
    };
    let span = tracing::Span::current();
    let task = bg.tasks.spawn(
        async move {
            let res = next.run(req).await;
            drop(permit);
            res
        }
        .instrument(span),
    );
    match task.await {
        Ok(res) => res,
        Err(e) => ApiError::Internal(anyhow::anyhow!("a write's task ended abnormally: {e}")).into_response(),
    }
}
