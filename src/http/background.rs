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
//! last-use time of a credential, an export's producer, and the estimates'
//! background work, which shares it); the server waits for it at shutdown
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
        Self::on(TaskTracker::new(), max_writes)
    }

    /// On `tasks`, the tracker the estimates' background work shares (the
    /// server has one, drained once at shutdown).
    pub fn on(tasks: TaskTracker, max_writes: usize) -> Self {
        Self {
            tasks,
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use axum::routing::{get, post};
    use axum::Router;
    use tokio::io::AsyncWriteExt;
    use tokio::sync::Notify;

    use super::{writes_run_to_the_end, Background};

    /// A use case in two steps with a wait between them, as a write that
    /// commits one row, calls out, then commits another.
    #[derive(Clone, Default)]
    struct Steps {
        first: Arc<AtomicUsize>,
        second: Arc<AtomicUsize>,
        gate: Arc<Notify>,
    }

    async fn two_steps(axum::extract::State(s): axum::extract::State<Steps>) -> &'static str {
        s.first.fetch_add(1, Ordering::SeqCst);
        s.gate.notified().await;
        s.second.fetch_add(1, Ordering::SeqCst);
        "done"
    }

    /// Sends `method /` on a real connection to the real server, waits until
    /// its first step ran, hangs up, then lets the second step go: whether
    /// the second step ran.
    async fn hang_up_between_steps(method: &str) -> bool {
        let steps = Steps::default();
        let background = Background::new(8);
        let router = Router::new()
            .route("/", post(two_steps).patch(two_steps))
            .route("/read", get(two_steps))
            .with_state(steps.clone())
            .layer(axum::middleware::from_fn_with_state(
                background.clone(),
                writes_run_to_the_end,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = crate::server::Limits {
            max_connections: 16,
            max_per_client: 16,
            max_per_network: 16,
            trusted_proxies: Vec::new(),
            header_read_timeout: Duration::from_secs(5),
            response_write_timeout: Duration::from_secs(5),
        };
        let server = crate::server::serve(
            listener,
            router,
            limits,
            async {
                let _ = stopped.await;
            },
            Duration::from_secs(1),
        );
        // The server and the client side by side in this task: nothing is
        // left running when the test returns.
        let (served, second_step_ran) = tokio::join!(server, client_hangs_up(addr, method, &steps, &background, stop));
        served.unwrap();
        second_step_ran
    }

    /// Sends `method`, waits for its first step, hangs up, lets the second
    /// step go, waits for the background, stops the server: whether the
    /// second step ran.
    async fn client_hangs_up(
        addr: std::net::SocketAddr,
        method: &str,
        steps: &Steps,
        background: &Background,
        stop: tokio::sync::oneshot::Sender<()>,
    ) -> bool {
        let path = if method == "GET" { "/read" } else { "/" };
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client
            .write_all(format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n").as_bytes())
            .await
            .unwrap();
        while steps.first.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(client);
        // hyper notices the hang-up (and drops what it serves) before the
        // second step may go.
        tokio::time::sleep(Duration::from_millis(200)).await;
        steps.gate.notify_waiters();
        steps.gate.notify_one();
        assert!(background.drain(Duration::from_secs(5)).await, "the background drains");
        let _ = stop.send(());
        steps.second.load(Ordering::SeqCst) == 1
    }

    #[tokio::test]
    async fn a_write_whose_client_hangs_up_runs_to_its_end() {
        assert!(hang_up_between_steps("POST").await, "POST finished");
        assert!(hang_up_between_steps("PATCH").await, "PATCH finished");
    }

    #[tokio::test]
    async fn a_read_whose_client_hangs_up_is_dropped() {
        assert!(!hang_up_between_steps("GET").await, "the abandoned read stopped");
    }
}
