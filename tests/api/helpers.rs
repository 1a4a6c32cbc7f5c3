//! Test harness: spawns the app on a free port with a fresh database and
//! gives tests a small typed client.
//!
//! Hermetic: in-process apps are configured in code from
//! [`Settings::defaults`], which reads no environment; child processes get
//! an environment scrubbed of every setting ([`aswan_command`]).
//! `TEST_LOG=1` shows the servers' logs (in-process and child processes).

use std::net::SocketAddr;
use std::time::Duration;

use aswan::{App, Settings};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// An externally provisioned Citus cluster (ASWAN_TEST_CITUS_URL and
    /// ASWAN_TEST_CITUS_WORKERS); see [`contract_tests!`].
    Citus,
}

/// Generates one `#[tokio::test]` per backend for each listed
/// `async fn name(backend: Backend)` of the calling module.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

/// [`backend_tests!`], plus a run against a Citus cluster. The Citus tests
/// are `#[ignore]`d, so without a cluster they are reported as ignored, never
/// as passed; `./scripts/test` includes them when ASWAN_TEST_CITUS_URL is set
/// (docs/scaling.md, "Testing against a cluster").
#[macro_export]
macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        $crate::backend_tests!($($name),*);
        mod citus {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs a Citus cluster: set ASWAN_TEST_CITUS_URL and ASWAN_TEST_CITUS_WORKERS"]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Citus).await
                }
            )*
        }
    };
}

/// Creates a database on every node of the Citus cluster named by
/// ASWAN_TEST_CITUS_URL (the coordinator) and ASWAN_TEST_CITUS_WORKERS
/// (comma-separated worker URLs, as the coordinator reaches them), with the
/// `citus` and `vector` extensions, registers the workers, migrates and
/// distributes it; returns its URL on the coordinator.
pub async fn fresh_citus_database() -> String {
    use sqlx::{Connection, Executor};
    let coordinator = std::env::var("ASWAN_TEST_CITUS_URL")
        .expect("ASWAN_TEST_CITUS_URL is not set: the Citus tests need a cluster (docs/scaling.md)");
    let workers: Vec<String> = std::env::var("ASWAN_TEST_CITUS_WORKERS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let name = format!("aswan_test_{}", Uuid::new_v4().simple());
    let in_db = |admin: &str| format!("{}/{name}", admin.rsplit_once('/').expect("a database URL").0);
    for node in std::iter::once(&coordinator).chain(&workers) {
        let mut admin = sqlx::PgConnection::connect(node)
            .await
            .expect("connect to a Citus node");
        // An identifier cannot be a bind parameter; this one is generated here.
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let mut db = sqlx::PgConnection::connect(&in_db(node)).await.unwrap();
        db.execute("CREATE EXTENSION IF NOT EXISTS citus").await.unwrap();
        db.execute("CREATE EXTENSION IF NOT EXISTS vector").await.unwrap();
        db.close().await.unwrap();
    }
    let url = in_db(&coordinator);
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    for worker in &workers {
        let w = reqwest::Url::parse(worker).expect("a worker URL");
        sqlx::query("SELECT citus_add_node($1, $2)")
            .bind(w.host_str().expect("a worker host"))
            .bind(i32::from(w.port().unwrap_or(5432)))
            .execute(&mut db)
            .await
            .unwrap();
    }
    db.close().await.unwrap();
    let store = aswan::store::Store::open(&url, 1).await.expect("migrations on Citus");
    store.distribute().await.expect("aswan distribute");
    store.close().await;
    url
}

/// The admin URL of the test cluster. Not set means the suite was started
/// without `./scripts/test`, which provisions one: fail loudly, never skip.
pub fn pg_admin_url() -> String {
    std::env::var("ASWAN_TEST_DATABASE_URL")
        .expect("ASWAN_TEST_DATABASE_URL is not set: run ./scripts/test, which provisions PostgreSQL + pgvector")
}

/// Creates an empty database on the test cluster and returns its URL.
pub async fn fresh_pg_database() -> String {
    use sqlx::{Connection, Executor};
    let admin = pg_admin_url();
    let name = format!("aswan_test_{}", Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test cluster");
    // An identifier cannot be a bind parameter; this one is generated here.
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (base, _) = admin.rsplit_once('/').expect("a database URL");
    format!("{base}/{name}")
}

/// Whether `TEST_LOG` asks for the servers' logs.
pub fn test_log() -> bool {
    std::env::var_os("TEST_LOG").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Installs a log subscriber for in-process apps once, when `TEST_LOG` is set.
fn init_test_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if test_log() {
        ONCE.call_once(|| {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info,aswan=debug"))
                .with_test_writer()
                .try_init();
        });
    }
}

/// The `aswan` binary, run in `dir` with none of the settings' environment
/// variables (nor RUST_LOG) inherited from whoever runs the tests: the one
/// scrub list, derived from the settings themselves.
pub fn aswan_command(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aswan"));
    cmd.current_dir(dir);
    for key in Settings::env_keys() {
        cmd.env_remove(key);
    }
    cmd.env_remove("RUST_LOG").env("LOG_FORMAT", "text");
    cmd
}

/// Runs `cmd` to the end; with `TEST_LOG`, shows what it wrote to stderr.
pub fn run(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().expect("run aswan");
    if test_log() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    out
}

/// [`run`], killing the process if it is still running after `limit`.
pub fn run_bounded(cmd: &mut std::process::Command, limit: std::time::Duration) -> std::process::Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run aswan");
    let pid = child.id().to_string();
    let (done, watch) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if watch.recv_timeout(limit).is_err() {
            let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        }
    });
    let out = child.wait_with_output().expect("wait for aswan");
    let _ = done.send(());
    if test_log() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    out
}

/// A todo's id, as the API wrote it.
pub fn id_of(todo: &Value) -> String {
    todo["id"].as_str().expect("a todo id").to_owned()
}

/// Two users with a tenant each, made over HTTP: ada owns A (todos a1, a2),
/// bob owns B (todo b1).
pub struct TwoTenants {
    pub app: TestApp,
    pub ada: User,
    pub bob: User,
    pub a: Uuid,
    pub b: Uuid,
}

impl TwoTenants {
    pub async fn spawn(backend: Backend) -> Self {
        let app = TestApp::spawn(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let a = ada.tenant("A").await;
        let b = bob.tenant("B").await;
        ada.todo(a, "a1").await;
        ada.todo(a, "a2").await;
        bob.todo(b, "b1").await;
        Self { app, ada, bob, a, b }
    }
}

/// Points `s` at a fake vendor, with retries fast enough for tests.
pub fn configure_ai(s: &mut Settings, base_url: &str) {
    s.ai_base_url = Some(base_url.to_owned());
    s.ai_model = "fake-chat".into();
    s.embedding_model = "fake-embed".into();
    s.embedding_dimensions = Some(crate::fake_ai::DIMS as u32);
    s.estimate_inline_timeout = Duration::from_secs(5);
    s.estimate_retry_base = Duration::from_millis(50);
    s.ai_request_timeout = Duration::from_secs(5);
    s.ai_breaker_cooldown = Duration::from_millis(200);
}

/// Polls `check` every 50 ms until it holds; panics after `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// The Prometheus listener (`GET /metrics`), as METRICS_BIND would serve it.
    pub metrics_addr: SocketAddr,
    pub database_url: String,
    pub data_dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database_url = Self::fresh_url(backend, &data_dir).await;
        Self::spawn_with(backend, database_url, data_dir).await
    }

    /// Another server process-equivalent on the same database and secret.
    pub async fn spawn_with(backend: Backend, database_url: String, data_dir: TempDir) -> Self {
        Self::spawn_configured(backend, database_url, data_dir, |_| {}).await
    }

    /// A fresh database, with the AI vendor at `ai` (fast retries for tests).
    pub async fn spawn_with_ai(
        backend: Backend,
        ai: &crate::fake_ai::FakeAi,
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let url = Self::fresh_url(backend, &data_dir).await;
        let base = ai.base_url();
        Self::spawn_configured(backend, url, data_dir, move |s| {
            configure_ai(s, &base);
            tweak(s);
        })
        .await
    }

    pub async fn fresh_url(backend: Backend, data_dir: &TempDir) -> String {
        match backend {
            Backend::Sqlite => format!("sqlite://{}", data_dir.path().join("test.db").display()),
            Backend::Postgres => fresh_pg_database().await,
            Backend::Citus => fresh_citus_database().await,
        }
    }

    pub async fn spawn_configured(
        _backend: Backend,
        database_url: String,
        data_dir: TempDir,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        init_test_log();
        let mut settings = Settings::for_database(&database_url, data_dir.path());
        // Tests sign up many users from one address; the throttle tests
        // lower these again.
        settings.auth_rate_per_minute = 100_000;
        settings.tenant_rate_per_hour = 100_000;
        settings.invitation_rate_per_hour = 100_000;
        settings.max_connections_per_client = 100_000;
        settings.max_connections_per_network = 100_000;
        configure(&mut settings);
        let app = App::build(&settings).await.expect("app builds");
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_addr = metrics.local_addr().unwrap();
        let metrics_router = app.metrics_router();
        tokio::spawn(async move { axum::serve(metrics, metrics_router).await });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(listener, async {
            let _ = rx.await;
        }));
        Self {
            addr,
            metrics_addr,
            database_url,
            data_dir,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// Stops this server gracefully and starts another on the same database
    /// and data directory (so the same JWT secret), configured by `configure`.
    pub async fn restart(mut self, backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        self.stop().await;
        let url = self.database_url.clone();
        let dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("temp dir"));
        Self::spawn_configured(backend, url, dir, configure).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `aswan sql ARGS…` on this app's database.
    pub fn sql(&self, args: &[&str]) -> std::process::Output {
        run(aswan_command(self.data_dir.path())
            .env("DATABASE_URL", &self.database_url)
            .arg("sql")
            .args(args))
    }

    /// An anonymous client (no token, no cookie jar).
    pub fn anon(&self) -> Client {
        Client {
            base: self.url(""),
            http: reqwest::Client::new(),
            token: None,
            tenant: None,
        }
    }

    /// [`TestApp::user`] for an owned email (handy in `join_all`).
    pub async fn user_owned(&self, email: String) -> User {
        self.user(&email).await
    }

    /// Signs up `email` with a valid password and returns its client.
    pub async fn user(&self, email: &str) -> User {
        let res = self
            .anon()
            .post("/api/sign-up", json!({ "email": email, "password": "correct horse" }))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "sign-up of {email}");
        let body: Value = res.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        let client = self.anon().with_token(&token);
        let me: Value = client.get("/api/me").await.json().await.unwrap();
        User {
            id: me["id"].as_str().unwrap().parse().unwrap(),
            email: email.to_owned(),
            token,
            client,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub struct User {
    pub id: Uuid,
    pub email: String,
    pub token: String,
    pub client: Client,
}

impl User {
    /// The same user (same token) talking to `app`, e.g. after a restart.
    pub fn on(self, app: &TestApp) -> Self {
        Self {
            client: app.anon().with_token(&self.token),
            ..self
        }
    }

    /// Creates a tenant and returns its id.
    pub async fn tenant(&self, name: &str) -> Uuid {
        let res = self.client.post("/api/tenants", json!({ "name": name })).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }

    /// This user's client in tenant context (X-Tenant-Id).
    pub fn in_tenant(&self, tenant: Uuid) -> Client {
        self.client.with_tenant(tenant)
    }

    /// Creates a todo in `tenant` (by path) and returns it.
    pub async fn todo(&self, tenant: Uuid, title: &str) -> Value {
        let res = self
            .client
            .post(&format!("/api/tenants/{tenant}/todos"), json!({ "title": title }))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "create todo");
        res.json().await.unwrap()
    }

    /// Titles of the todos of `tenant` as listed by the path route.
    pub async fn titles(&self, tenant: Uuid) -> Vec<String> {
        let res = self.client.get(&format!("/api/tenants/{tenant}/todos")).await;
        assert_eq!(res.status(), StatusCode::OK);
        titles(&res.json::<Value>().await.unwrap())
    }

    /// Adds `other` to `tenant` with `role` (this user must own it), the
    /// way people join: an invitation, accepted by `other` with its link.
    pub async fn add_member(&self, tenant: Uuid, other: &User, role: &str) {
        let link = self.invite(tenant, &other.email, role).await;
        let res = other.accept(&link).await;
        assert_eq!(res.status(), StatusCode::OK, "accept the invitation");
    }

    /// Invites `email` to `tenant` with `role`; the invitation's link.
    pub async fn invite(&self, tenant: Uuid, email: &str, role: &str) -> String {
        let res = self
            .client
            .post(
                &format!("/api/tenants/{tenant}/invitations"),
                json!({ "email": email, "role": role }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "invite");
        let body: Value = res.json().await.unwrap();
        body["link"].as_str().unwrap().to_owned()
    }

    /// Accepts the invitation behind `link` (`…/invite/{token}`).
    pub async fn accept(&self, link: &str) -> Response {
        let token = link.rsplit_once("/invite/").expect("an invitation link").1;
        self.client
            .post(&format!("/api/invitations/{token}/accept"), json!({}))
            .await
    }
}

pub fn titles(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

/// A thin HTTP client: optional bearer token and tenant header.
#[derive(Clone)]
pub struct Client {
    base: String,
    pub http: reqwest::Client,
    token: Option<String>,
    tenant: Option<Uuid>,
}

impl Client {
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    pub fn with_tenant(&self, tenant: Uuid) -> Self {
        Self {
            tenant: Some(tenant),
            ..self.clone()
        }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(tenant) = self.tenant {
            req = req.header("X-Tenant-Id", tenant.to_string());
        }
        req
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.send(Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Response {
        self.send(Method::PUT, path, body).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.send(Method::PATCH, path, body).await
    }

    pub async fn send(&self, method: Method, path: &str, body: Value) -> Response {
        self.request(method, path).json(&body).send().await.unwrap()
    }
}

/// Asserts the status and the `{"detail": …}` error shape; returns the detail.
pub async fn expect_error(res: Response, status: StatusCode) -> String {
    assert_eq!(res.status(), status, "status");
    assert!(res.headers().contains_key("x-request-id"));
    let body: Value = res.json().await.expect("JSON error body");
    body["detail"].as_str().expect("a detail string").to_owned()
}

/// The real `aswan` binary as a child process, on a free port. Killed on drop.
pub struct ServerProcess {
    pub addr: String,
    pub child: std::process::Child,
    pub stderr: std::io::BufReader<std::process::ChildStderr>,
}

impl ServerProcess {
    /// Starts `aswan serve` in `dir` with `envs` and waits until it listens.
    pub fn start(dir: &std::path::Path, envs: &[(&str, &str)]) -> Self {
        Self::start_with(dir, envs, |_| {})
    }

    /// [`ServerProcess::start`], with a last say over the command.
    pub fn start_with(
        dir: &std::path::Path,
        envs: &[(&str, &str)],
        configure: impl FnOnce(&mut std::process::Command),
    ) -> Self {
        use std::io::BufRead;
        let mut cmd = aswan_command(dir);
        cmd.env("BIND", "127.0.0.1:0").stderr(std::process::Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        configure(&mut cmd);
        let mut child = cmd.spawn().expect("start aswan");
        // Watchdog: a hung server fails its test instead of hanging the suite.
        let pid = child.id().to_string();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(120));
            let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        });
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let addr = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "server exited early");
            if test_log() {
                eprint!("{line}");
            }
            if let Some(rest) = line.split("address=").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        Self { addr, child, stderr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP forwarder to `target`: stopping it is the database going away
/// (open connections drop, new ones are refused).
pub struct TcpProxy {
    pub addr: SocketAddr,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tasks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let inner = std::sync::Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                inner.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { addr, tasks }
    }

    /// A forwarder that holds every chunk, in both directions, for `delay`
    /// before passing it on (in order): a slow network to the database, so
    /// that each round trip is a wide window for a cancellation to land in.
    pub async fn start_delayed(target: SocketAddr, delay: std::time::Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tasks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let inner = std::sync::Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                // No Nagle: each chunk goes on when its delay is up.
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let mut guard = inner.lock().unwrap();
                guard.push(tokio::spawn(delayed_copy(client_read, server_write, delay)));
                guard.push(tokio::spawn(delayed_copy(server_read, client_write, delay)));
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { addr, tasks }
    }

    /// Closes the listener and every forwarded connection.
    pub fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// Copies `from` to `to`, each chunk sent `delay` after it was read.
async fn delayed_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: std::time::Duration,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0
            || tx
                .send((tokio::time::Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
        {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// Rows in a built-in table (`sessions`, `api_tokens`, …), read directly
/// as an operator would (on PostgreSQL they live in the `auth` schema).
pub async fn count_rows(backend: Backend, url: &str, table: &str) -> i64 {
    use sqlx::Connection;
    let sql = |schema: &str| format!("SELECT count(*) FROM {schema}{table}");
    match backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql("")))
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
        Backend::Postgres | Backend::Citus => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql("auth.")))
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    }
}
