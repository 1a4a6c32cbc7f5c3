//! Settings: command-line flags, the environment and a `.env` file, in that
//! order of precedence. Secrets are never printed (see [`Secret`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use rand::RngCore;

/// Aswan: a self-hostable, multi-tenant task manager with AI time estimates.
#[derive(Debug, Parser)]
#[command(name = "aswan", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The command line with no environment variables attached: it parses
    /// flags and defaults only.
    fn hermetic_command() -> clap::Command {
        Cli::full_command().mut_args(|a| a.env(None::<&'static str>))
    }

    /// The command line as the binary parses it. Every setting is a global
    /// flag (and variable), so one `.env` serves every command; but each
    /// command's `--help` lists only the settings that command reads (a help
    /// text rendered from those alone; parsing is unchanged).
    pub fn full_command() -> clap::Command {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        for (name, used) in SETTINGS_USED {
            let Some(sub) = cmd.find_subcommand(name).cloned() else {
                continue;
            };
            let settings = cmd
                .get_arguments()
                .filter(|a| used.iter().any(|u| a.get_id() == *u))
                .cloned();
            let mut view = clap::Command::new(name)
                .bin_name(format!("aswan {name}"))
                .subcommands(sub.get_subcommands().cloned())
                .args(sub.get_arguments().cloned())
                .args(settings.map(|a| a.global(false)));
            if let Some(about) = sub.get_long_about().or(sub.get_about()) {
                view = view.about(about.clone());
            }
            let help = view.render_help().to_string();
            cmd = cmd.mut_subcommand(name, |s| s.override_help(help));
        }
        cmd
    }

    /// Parses the process's command line (flags, environment, `.env`).
    pub fn parse_process() -> Result<Self, clap::Error> {
        use clap::FromArgMatches;
        Self::from_arg_matches(&Self::full_command().try_get_matches()?)
    }

    /// Parses `args` as the command line would, reading no environment.
    pub fn parse_hermetic<I, T>(args: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::FromArgMatches;
        let matches = Self::hermetic_command()
            .try_get_matches_from(args)
            .unwrap_or_else(|e| panic!("{e}"));
        Self::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// For each command but `serve` (which reads them all): the settings it
/// reads, so that its `--help` lists only those.
const SETTINGS_USED: [(&str, &[&str]); 9] = [
    ("migrate", DATABASE),
    ("sql", DATABASE),
    ("backup", DATABASE),
    ("distribute", DATABASE),
    (
        "user",
        &[
            "database_url",
            "data_dir",
            "db_max_connections",
            "db_acquire_timeout",
            "log_level",
            "log_format",
            "public_url",
            "bind",
        ],
    ),
    ("export", DATABASE),
    ("import", DATABASE_AND_EMBEDDING),
    ("reindex", DATABASE_AND_EMBEDDING),
    (
        "eval",
        &[
            "embedding_model_dir",
            "similarity_max_distance",
            "similar_tasks",
            "log_level",
            "log_format",
        ],
    ),
];

/// The settings that open the database (and the log's).
const DATABASE: &[&str] = &[
    "database_url",
    "data_dir",
    "db_max_connections",
    "db_acquire_timeout",
    "log_level",
    "log_format",
];

/// Those, and the ones that choose and run the embedding model.
const DATABASE_AND_EMBEDDING: &[&str] = &[
    "database_url",
    "data_dir",
    "db_max_connections",
    "db_acquire_timeout",
    "log_level",
    "log_format",
    "ai_base_url",
    "ai_api_key",
    "ai_model",
    "ai_request_timeout",
    "embedding_provider",
    "embedding_model_dir",
    "embedding_model",
    "embedding_dimensions",
    "embedding_query_prefix",
    "embedding_document_prefix",
    "similarity_max_distance",
];

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default when no command is given).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Run one SQL statement as the app role and print the result.
    ///
    /// With --tenant, it runs in that tenant's context: tenant-aware tables
    /// show that tenant's rows (PostgreSQL: row-level security; SQLite: a
    /// read-only, tenant-scoped copy). Without it, they show no rows. One
    /// statement per call; on PostgreSQL, the plain ways of changing the
    /// role or the context (SET, RESET, set_config, DO, COPY … PROGRAM,
    /// transaction control) are refused, to catch slips.
    ///
    /// --tenant is a filter for the operator, not a security boundary: the
    /// statement acts with the rights of DATABASE_URL, so it can still reach
    /// other tenants (a differently spelled call that changes the context,
    /// shared tables such as `tenants`, `main.todos` on SQLite). Give it only
    /// to someone who may read and change the whole database.
    Sql {
        /// Tenant whose context the statement runs in.
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<crate::domain::TenantId>,
        /// Print the rows as a JSON array of objects instead of a table.
        #[arg(long)]
        json: bool,
        /// The statement, e.g. "SELECT title, complete FROM todos".
        statement: String,
    },
    /// Write one tenant as JSON Lines to stdout: its name, members (email and
    /// role) and todos with every field (src/transfer.rs).
    Export {
        /// The tenant to export.
        #[arg(long, value_name = "TENANT_ID")]
        tenant: crate::domain::TenantId,
    },
    /// Create a tenant from an export (`aswan export`): members whose email
    /// has an account here, todos with every field; then embed its todos.
    /// A bad line fails with its number, and nothing is imported.
    Import {
        /// The new tenant's name (default: the exported one).
        #[arg(long, value_name = "NAME")]
        into: Option<String>,
        /// Make this account owner when none of the exported owners has an account here.
        #[arg(long, value_name = "EMAIL")]
        owner: Option<String>,
        /// The export file (JSON Lines).
        file: PathBuf,
    },
    /// Write a consistent copy of the SQLite database to PATH while the server
    /// runs (SQLite's VACUUM INTO; PATH must not exist). For PostgreSQL, use
    /// pg_dump (README, "Running it in production").
    Backup {
        /// Where the copy goes (a new file, made 0600).
        path: PathBuf,
    },
    /// Manage accounts from the server (for instances without mail).
    #[command(subcommand_required = true)]
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// On PostgreSQL with Citus: make the shared tables reference tables,
    /// distribute the tenant-aware ones by tenant, and let the app role log
    /// in on the workers (docs/scaling.md). Idempotent; elsewhere, nothing.
    Distribute,
    /// Re-embed every todo of every tenant with the configured embedding
    /// model, after EMBEDDING_PROVIDER, EMBEDDING_MODEL or
    /// EMBEDDING_MODEL_DIR changed. Batched; interrupted, it resumes where it
    /// stopped when run again.
    Reindex {
        /// Todos per batch (one embedding call and one transaction each).
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=2048))]
        batch: u32,
    },
    /// Measure the local embedding model on the evaluation set: retrieval
    /// recall@3 and the history estimator's median error, against a
    /// word-overlap baseline, and the embedding latency per title.
    Eval {
        /// A TSV file of `cluster<TAB>minutes<TAB>title` lines (default: eval/tasks.tsv, built in).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `aswan user …`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum UserAction {
    /// Print a one-time link (valid 30 minutes) with which EMAIL's owner
    /// sets a new password: for instances without mail (SMTP_URL). The link
    /// starts with PUBLIC_URL, else the BIND address.
    ResetPassword {
        /// The account's email.
        email: String,
    },
}

/// Everything the server can be configured with. Each flag also reads the
/// environment variable of the same name (upper case) and `.env`.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Database: `sqlite://PATH` or `postgres://…` [default: sqlite://DATA_DIR/aswan.db]. May hold a password: never printed.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        value_name = "DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<Secret>,

    /// Address to listen on.
    #[arg(
        long,
        global = true,
        env = "BIND",
        value_name = "BIND",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: SocketAddr,

    /// Folder for local state: the SQLite file (by default) and a generated JWT secret.
    #[arg(
        long,
        global = true,
        env = "DATA_DIR",
        value_name = "DATA_DIR",
        default_value = "data"
    )]
    pub data_dir: PathBuf,

    /// Key that signs session tokens (HS256). Generated under DATA_DIR when unset.
    #[arg(
        long,
        global = true,
        env = "JWT_SECRET",
        value_name = "JWT_SECRET",
        hide_env_values = true
    )]
    pub jwt_secret: Option<Secret>,

    /// How long a session token is valid, in minutes.
    #[arg(long, global = true, env = "ACCESS_TOKEN_EXPIRE_MINUTES", value_name = "ACCESS_TOKEN_EXPIRE_MINUTES", default_value_t = 10_080, value_parser = clap::value_parser!(u32).range(1..=525_600))]
    pub access_token_expire_minutes: u32,

    /// Mark cookies `Secure` (set when served over https).
    #[arg(long, global = true, env = "COOKIE_SECURE", value_name = "COOKIE_SECURE", default_value_t = false, action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub cookie_secure: bool,

    /// Maximum database connections in the pool.
    #[arg(long, global = true, env = "DB_MAX_CONNECTIONS", value_name = "DB_MAX_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,

    /// Log filter (`info`, `debug`, `aswan=debug,sqlx=warn` …); RUST_LOG wins when set.
    #[arg(
        long,
        global = true,
        env = "LOG_LEVEL",
        value_name = "LOG_LEVEL",
        default_value = "info"
    )]
    pub log_level: String,

    /// Base URL of an OpenAI-compatible API (`…/v1`) whose embedding and chat models make the estimates. Unset: the built-in embedding model and estimates from the tenant's own history.
    #[arg(long, global = true, env = "AI_BASE_URL", value_name = "AI_BASE_URL")]
    pub ai_base_url: Option<String>,

    /// API key for AI_BASE_URL (sent as a bearer token).
    #[arg(
        long,
        global = true,
        env = "AI_API_KEY",
        value_name = "AI_API_KEY",
        hide_env_values = true
    )]
    pub ai_api_key: Option<Secret>,

    /// Chat model that writes the estimate.
    #[arg(
        long,
        global = true,
        env = "AI_MODEL",
        value_name = "AI_MODEL",
        default_value = "gpt-4o-mini"
    )]
    pub ai_model: String,

    /// Where embeddings come from: `local` (a model in this process; the default without AI_BASE_URL), `openai` (the vendor at AI_BASE_URL; the default with it), or `none` (estimates off).
    #[arg(
        long,
        global = true,
        env = "EMBEDDING_PROVIDER",
        value_name = "EMBEDDING_PROVIDER",
        value_enum
    )]
    pub embedding_provider: Option<EmbeddingProvider>,

    /// A model2vec model folder to use instead of the built-in model (EMBEDDING_PROVIDER=local).
    #[arg(long, global = true, env = "EMBEDDING_MODEL_DIR", value_name = "EMBEDDING_MODEL_DIR")]
    pub embedding_model_dir: Option<PathBuf>,

    /// Embedding model for similar-task search.
    #[arg(
        long,
        global = true,
        env = "EMBEDDING_MODEL",
        value_name = "EMBEDDING_MODEL",
        default_value = "text-embedding-3-small"
    )]
    pub embedding_model: String,

    /// Ask the embedding model for this many dimensions (and check them).
    #[arg(long, global = true, env = "EMBEDDING_DIMENSIONS", value_name = "EMBEDDING_DIMENSIONS", value_parser = clap::value_parser!(u32).range(1..=16_000))]
    pub embedding_dimensions: Option<u32>,

    /// Prefix for the query form of a title (default: `search_query: ` for nomic models, else none).
    #[arg(
        long,
        global = true,
        env = "EMBEDDING_QUERY_PREFIX",
        value_name = "EMBEDDING_QUERY_PREFIX"
    )]
    pub embedding_query_prefix: Option<String>,

    /// Prefix for the document form of a title (default: `search_document: ` for nomic models, else none).
    #[arg(
        long,
        global = true,
        env = "EMBEDDING_DOCUMENT_PREFIX",
        value_name = "EMBEDDING_DOCUMENT_PREFIX"
    )]
    pub embedding_document_prefix: Option<String>,

    /// How many similar past tasks ground an estimate.
    #[arg(long, global = true, env = "SIMILAR_TASKS", value_name = "SIMILAR_TASKS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=50))]
    pub similar_tasks: u32,

    /// Only tasks closer than this cosine distance count as similar (0–2; default 0.50 for local models, 1.0 for vendors).
    #[arg(
        long,
        global = true,
        env = "SIMILARITY_MAX_DISTANCE",
        value_name = "SIMILARITY_MAX_DISTANCE"
    )]
    pub similarity_max_distance: Option<f32>,

    /// Seconds a create waits for the estimate before answering with it pending.
    #[arg(
        long,
        global = true,
        env = "ESTIMATE_INLINE_TIMEOUT",
        value_name = "ESTIMATE_INLINE_TIMEOUT",
        default_value = "3",
        value_parser = seconds
    )]
    pub estimate_inline_timeout: Duration,

    /// Seconds one vendor request may take.
    #[arg(
        long,
        global = true,
        env = "AI_REQUEST_TIMEOUT",
        value_name = "AI_REQUEST_TIMEOUT",
        default_value = "30",
        value_parser = positive_seconds_setting
    )]
    pub ai_request_timeout: Duration,

    /// Attempts before an estimate is marked failed.
    #[arg(long, global = true, env = "ESTIMATE_MAX_ATTEMPTS", value_name = "ESTIMATE_MAX_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub estimate_max_attempts: u32,

    /// First retry delay in seconds; doubles per attempt (with jitter), up to 10 minutes.
    #[arg(
        long,
        global = true,
        env = "ESTIMATE_RETRY_BASE",
        value_name = "ESTIMATE_RETRY_BASE",
        default_value = "2",
        value_parser = positive_seconds_setting
    )]
    pub estimate_retry_base: Duration,

    /// Consecutive vendor failures that open the circuit breaker.
    #[arg(long, global = true, env = "AI_BREAKER_THRESHOLD", value_name = "AI_BREAKER_THRESHOLD", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub ai_breaker_threshold: u32,

    /// Seconds the breaker stays open before a probe call.
    #[arg(
        long,
        global = true,
        env = "AI_BREAKER_COOLDOWN",
        value_name = "AI_BREAKER_COOLDOWN",
        default_value = "30",
        value_parser = positive_seconds_setting
    )]
    pub ai_breaker_cooldown: Duration,

    /// Log format.
    #[arg(long, global = true, env = "LOG_FORMAT", value_name = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Most client connections open at once; over it, new ones are closed at once (lowered to fit the open-file limit).
    #[arg(long, global = true, env = "MAX_CONNECTIONS", value_name = "MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// Address of the Prometheus metrics listener (`GET /metrics`), e.g. `127.0.0.1:9090`. Unset: no metrics listener.
    #[arg(long, global = true, env = "METRICS_BIND", value_name = "METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Most connections open at once from one client IP (not counting TRUSTED_PROXIES).
    #[arg(long, global = true, env = "MAX_CONNECTIONS_PER_CLIENT", value_name = "MAX_CONNECTIONS_PER_CLIENT", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections_per_client: u32,

    /// Most connections open at once from one network: all the addresses of an IPv4 /24 or an IPv6 /64 together (not counting TRUSTED_PROXIES).
    #[arg(long, global = true, env = "MAX_CONNECTIONS_PER_NETWORK", value_name = "MAX_CONNECTIONS_PER_NETWORK", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections_per_network: u32,

    /// Seconds a connection may take to send a request's headers, counted from when it waits for one: also how long an idle keep-alive connection stays open.
    #[arg(
        long,
        global = true,
        env = "HEADER_READ_TIMEOUT",
        value_name = "HEADER_READ_TIMEOUT",
        default_value = "10",
        value_parser = positive_seconds_setting
    )]
    pub header_read_timeout: Duration,

    /// Seconds the server waits for a client to take more of an answer; a client that stops reading is disconnected after it.
    #[arg(
        long,
        global = true,
        env = "RESPONSE_WRITE_TIMEOUT",
        value_name = "RESPONSE_WRITE_TIMEOUT",
        default_value = "10",
        value_parser = positive_seconds_setting
    )]
    pub response_write_timeout: Duration,

    /// Seconds a request body may take to arrive in full (else 408).
    #[arg(
        long,
        global = true,
        env = "BODY_READ_TIMEOUT",
        value_name = "BODY_READ_TIMEOUT",
        default_value = "15",
        value_parser = positive_seconds_setting
    )]
    pub body_read_timeout: Duration,

    /// PostgreSQL's HNSW search width for similar tasks (`hnsw.ef_search`): 40, 64, 100, 200, 400, 800 or 1000. Wider finds more of the true neighbours in large tenants, at some latency (BENCHMARKS.md, "Vector search").
    #[arg(long, global = true, env = "HNSW_EF_SEARCH", value_name = "HNSW_EF_SEARCH", default_value_t = crate::store::EfSearch::DEFAULT, value_parser = ef_search_width)]
    pub hnsw_ef_search: u16,

    /// Seconds a request waits for a database connection before answering 503.
    #[arg(
        long,
        global = true,
        env = "DB_ACQUIRE_TIMEOUT",
        value_name = "DB_ACQUIRE_TIMEOUT",
        default_value = "3",
        value_parser = positive_seconds_setting
    )]
    pub db_acquire_timeout: Duration,

    /// Reverse proxies whose X-Forwarded-For / -Host / -Proto are believed: comma-separated IPs or CIDRs (e.g. `127.0.0.1,10.0.0.0/8`).
    #[arg(
        long,
        global = true,
        env = "TRUSTED_PROXIES",
        value_name = "TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_ip_net
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// The URL users open (`https://tasks.example.com`); the origin that may change data with the session cookie. Default: the request's own Host.
    #[arg(long, global = true, env = "PUBLIC_URL", value_name = "PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Host names this server answers to besides IP addresses, localhost and PUBLIC_URL's host, comma-separated (`tasks.internal,.corp.example`: a leading dot covers subdomains); requests naming any other host get 400 (links are never built from an unknown name, and DNS rebinding finds nothing).
    #[arg(
        long,
        global = true,
        env = "ALLOWED_HOSTS",
        value_name = "ALLOWED_HOSTS",
        value_delimiter = ',',
        value_parser = parse_allowed_host
    )]
    pub allowed_hosts: Vec<String>,

    /// Mail server for invitations, email verification and password resets, e.g. smtps://user:pass@mail.example.com or smtp://127.0.0.1:25 (plain). Unset: no mail; invitation links are shown to copy and emails stay unverified.
    #[arg(
        long,
        global = true,
        env = "SMTP_URL",
        value_name = "SMTP_URL",
        hide_env_values = true
    )]
    pub smtp_url: Option<Secret>,

    /// The sender of those mails.
    #[arg(
        long,
        global = true,
        env = "SMTP_FROM",
        value_name = "SMTP_FROM",
        default_value = "Aswan <aswan@localhost>"
    )]
    pub smtp_from: String,

    /// Sign-ups, logins and logouts one client IP may make per minute (then 429).
    #[arg(long, global = true, env = "AUTH_RATE_PER_MINUTE", value_name = "AUTH_RATE_PER_MINUTE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub auth_rate_per_minute: u32,

    /// Tenants one account may create per hour (then 429).
    #[arg(long, global = true, env = "TENANT_RATE_PER_HOUR", value_name = "TENANT_RATE_PER_HOUR", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tenant_rate_per_hour: u32,

    /// Invitations (new or sent again) one account may send per hour, four times as many per day; a tenant takes twice that from all its owners (then 429).
    #[arg(long, global = true, env = "INVITATION_RATE_PER_HOUR", value_name = "INVITATION_RATE_PER_HOUR", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub invitation_rate_per_hour: u32,
}

/// A network (`10.0.0.0/8`, `fd00::/8`) or a single address (`127.0.0.1`,
/// `::1`), which is its own /32 or /128.
fn parse_ip_net(raw: &str) -> Result<ipnet::IpNet, String> {
    let raw = raw.trim();
    raw.parse::<ipnet::IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{raw:?} is neither an IP address nor a network (e.g. 127.0.0.1 or 10.0.0.0/8)"))
}

/// An ALLOWED_HOSTS entry: a host name (lowercased), optionally with a
/// leading `.` for "and its subdomains"; no port, scheme or path.
fn parse_allowed_host(raw: &str) -> Result<String, String> {
    let host = raw.trim().to_ascii_lowercase();
    let name = host.strip_prefix('.').unwrap_or(&host);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty() && label.len() <= 63 && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if valid {
        Ok(host)
    } else {
        Err(format!(
            "{raw:?} is not a host name (e.g. tasks.internal or .corp.example)"
        ))
    }
}

/// A PUBLIC_URL is an http(s) origin: scheme, host and optional port, with
/// no path beyond `/`. Kept as the origin string browsers send (`Origin`).
fn parse_public_url(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL".into());
    }
    if url.path() != "/" || url.query().is_some() {
        return Err("must be an origin, without a path (e.g. https://tasks.example.com)".into());
    }
    Ok(url.origin().ascii_serialization())
}

/// A setting that parses but cannot be used (found when it is put to use);
/// the binary reports it in one line and exits with code 2, like a setting
/// that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSetting(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmbeddingProvider {
    Local,
    Openai,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    /// Settings for tests and embedding: defaults, with the given database.
    pub fn for_database(database_url: &str, data_dir: &Path) -> Self {
        let mut s = Self::defaults();
        s.database_url = Some(Secret(database_url.to_owned()));
        s.data_dir = data_dir.to_owned();
        s
    }

    /// Every setting at its default, read from nothing: no environment, no
    /// `.env`, no flags. Tests build on this, so a variable in the shell that
    /// runs them cannot change what they test.
    pub fn defaults() -> Self {
        Cli::parse_hermetic(["aswan"]).settings
    }

    /// The environment variables the settings read (for scrubbing them from
    /// a child process's environment).
    pub fn env_keys() -> Vec<String> {
        use clap::CommandFactory;
        Cli::command()
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|k| k.to_string_lossy().into_owned())
            .collect()
    }

    /// A DATABASE_URL this server can open names SQLite or PostgreSQL; any
    /// other scheme is a setting error (exit 2), named without the rest of
    /// the URL (it may hold a password).
    pub fn check_database_url(&self) -> Result<(), InvalidSetting> {
        let Some(url) = &self.database_url else {
            return Ok(());
        };
        let url = url.expose();
        if ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|p| url.starts_with(p))
        {
            return Ok(());
        }
        let scheme = url.split_once(':').map_or("(none)", |(scheme, _)| scheme);
        let scheme: String = scheme
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "+-.".contains(*c))
            .take(20)
            .collect();
        Err(InvalidSetting(format!(
            "invalid DATABASE_URL: the scheme {scheme:?} is not supported: use sqlite://PATH or postgres://…"
        )))
    }

    /// DATABASE_URL, or by default the SQLite file inside DATA_DIR.
    pub fn database_url(&self) -> Secret {
        self.database_url
            .clone()
            .unwrap_or_else(|| Secret(format!("sqlite://{}", self.data_dir.join("aswan.db").display())))
    }

    /// Whether this server keeps anything in DATA_DIR: the SQLite database
    /// by default, the generated JWT secret when JWT_SECRET is not set.
    pub fn uses_data_dir(&self) -> bool {
        self.database_url.is_none() || self.jwt_secret.is_none()
    }

    /// Makes DATA_DIR ready, or says at start why it cannot be: creates it
    /// (0700) if needed; closes an existing one that others may enter
    /// (chmod 700: it holds the database and the signing key), refusing
    /// one it cannot close; and refuses one it cannot write (a read-only
    /// mount, another owner), which would otherwise fail every write later.
    pub fn prepare_data_dir(&self) -> anyhow::Result<()> {
        let dir = &self.data_dir;
        if !dir.exists() {
            create_private_dir(dir).with_context(|| format!("creating DATA_DIR {}", dir.display()))?;
        }
        close_to_others(dir)?;
        let probe = dir.join(".aswan-write-check");
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| InvalidSetting(format!("DATA_DIR {} cannot be written: {e}", dir.display())))?;
        Ok(())
    }

    /// The JWT signing key: JWT_SECRET if set (at least 32 bytes), else the
    /// one kept in DATA_DIR/jwt_secret (0600), generated on first start so
    /// restarts keep sessions valid. A secret file that exists but cannot be
    /// read, or that group or others may read, is an error: it is never
    /// silently replaced (that would end every session, or keep a leaked key).
    pub fn resolve_jwt_secret(&self) -> anyhow::Result<Secret> {
        if let Some(secret) = &self.jwt_secret {
            if secret.expose().len() < MIN_SECRET_BYTES {
                return Err(InvalidSetting(format!(
                    "invalid JWT_SECRET: it must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -base64 32`)"
                ))
                .into());
            }
            if !varied_enough(secret.expose()) {
                return Err(InvalidSetting(
                    "invalid JWT_SECRET: it repeats a few characters (or is blank): use a random one (e.g. `openssl rand -base64 32`)"
                        .into(),
                )
                .into());
            }
            return Ok(secret.clone());
        }
        let path = self.data_dir.join("jwt_secret");
        match std::fs::metadata(&path) {
            Ok(meta) => {
                check_private(&path, &meta)?;
                let existing = std::fs::read_to_string(&path)
                    .map_err(|e| InvalidSetting(format!("cannot read the JWT secret {}: {e}", path.display())))?;
                let existing = existing.trim();
                if existing.len() < MIN_SECRET_BYTES {
                    return Err(InvalidSetting(format!(
                        "the JWT secret {} is shorter than {MIN_SECRET_BYTES} bytes: delete it to generate a new one",
                        path.display()
                    ))
                    .into());
                }
                return Ok(Secret(existing.to_owned()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(InvalidSetting(format!("cannot read the JWT secret {}: {e}", path.display())).into()),
        }
        self.prepare_data_dir()?;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
        write_private(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
        tracing::info!(path = %path.display(), "no JWT_SECRET set: generated one and saved it");
        Ok(Secret(secret))
    }
}

/// Whether a secret is more than a few characters repeated: 32 × `a` or 40
/// spaces are long enough and guessable at once. A random secret of 32
/// bytes, in any encoding, has far more than 8 distinct characters.
fn varied_enough(secret: &str) -> bool {
    let distinct: std::collections::BTreeSet<char> = secret.chars().filter(|c| !c.is_whitespace()).collect();
    distinct.len() >= 8
}

/// A duration setting in seconds (`2.5`), zero allowed: parsed once, at
/// the edge, into a `Duration`.
fn seconds(raw: &str) -> Result<Duration, String> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("{raw:?} is not a number of seconds"))
}

/// As [`seconds`], and more than zero (a timeout of nothing is a mistake).
fn positive_seconds_setting(raw: &str) -> Result<Duration, String> {
    seconds(raw)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{raw:?} is not a positive number of seconds"))
}

/// The shortest JWT signing key accepted (HS256 wants at least its hash size).
pub const MIN_SECRET_BYTES: usize = 32;

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// chmod 700 on a directory that group or others may enter; an error
/// naming it if that is not allowed.
#[cfg(unix)]
fn close_to_others(dir: &Path) -> Result<(), InvalidSetting> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)
        .map_err(|e| InvalidSetting(format!("cannot read DATA_DIR {}: {e}", dir.display())))?
        .permissions()
        .mode();
    if mode & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
        InvalidSetting(format!(
            "DATA_DIR {} may be entered by others (mode {:o}) and cannot be closed ({e}): chmod 700 it",
            dir.display(),
            mode & 0o777
        ))
    })?;
    tracing::warn!(data_dir = %dir.display(), was = format!("{:o}", mode & 0o777), "DATA_DIR was open to others: made it 700");
    Ok(())
}

#[cfg(not(unix))]
fn close_to_others(_dir: &Path) -> Result<(), InvalidSetting> {
    Ok(())
}

/// A secret file that group or others may read is refused, naming the file.
#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), InvalidSetting> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(InvalidSetting(format!(
            "the JWT secret {} may be read by others (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &std::fs::Metadata) -> Result<(), InvalidSetting> {
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// A value that must never reach a log: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

fn ef_search_width(raw: &str) -> Result<u16, String> {
    let choices = || {
        crate::store::EfSearch::choices()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    raw.trim()
        .parse()
        .ok()
        .and_then(crate::store::EfSearch::parse)
        .map(crate::store::EfSearch::get)
        .ok_or_else(|| format!("must be one of {}", choices()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Settings::for_database("postgres://u:hunter2@h/db", Path::new("x"));
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn the_search_width_is_one_of_the_measured_ones() {
        let ok = Cli::parse_hermetic(["aswan", "--hnsw-ef-search", "400"]).settings;
        assert_eq!(ok.hnsw_ef_search, 400);
        assert_eq!(Settings::defaults().hnsw_ef_search, crate::store::EfSearch::DEFAULT);
        let err = Cli::hermetic_command()
            .try_get_matches_from(["aswan", "--hnsw-ef-search", "123"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be one of 40, 64, 100, 200, 400, 800, 1000"), "{err}");
    }

    #[test]
    fn defaults_read_no_environment() {
        // Not by setting a variable: tests share the process environment.
        assert!(Cli::hermetic_command().get_arguments().all(|a| a.get_env().is_none()));
        assert_eq!(Settings::defaults().bind.port(), 8080);
        assert!(Settings::env_keys().iter().any(|k| k == "DATABASE_URL"));
        assert!(Settings::env_keys().iter().any(|k| k == "AI_BASE_URL"));
    }

    /// A plain address is a proxy too (its own /32 or /128). (Before: the
    /// README's own `TRUSTED_PROXIES=127.0.0.1` stopped the server.)
    #[test]
    fn trusted_proxies_take_addresses_and_networks() {
        let cli = Cli::parse_hermetic(["aswan", "--trusted-proxies", "127.0.0.1,::1,10.0.0.0/8"]);
        let got: Vec<String> = cli.settings.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(got, ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]);
        let err = Cli::hermetic_command()
            .try_get_matches_from(["aswan", "--trusted-proxies", "proxy.example"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("neither an IP address nor a network"), "{err}");
    }

    /// Time settings are parsed once, into durations: fractions allowed,
    /// zero only where it means something (not waiting for an estimate).
    #[test]
    fn time_settings_are_durations() {
        let cli = Cli::parse_hermetic(["aswan", "--body-read-timeout", "2.5", "--estimate-inline-timeout", "0"]);
        assert_eq!(cli.settings.body_read_timeout, Duration::from_millis(2500));
        assert_eq!(cli.settings.estimate_inline_timeout, Duration::ZERO);
        assert_eq!(Settings::defaults().header_read_timeout, Duration::from_secs(10));
        for bad in [
            ["--header-read-timeout", "0"],
            ["--db-acquire-timeout=-1", ""],
            ["--ai-request-timeout", "soon"],
        ] {
            let args = ["aswan", bad[0], bad[1]].into_iter().filter(|a| !a.is_empty());
            let err = Cli::hermetic_command()
                .try_get_matches_from(args)
                .unwrap_err()
                .to_string();
            assert!(err.contains("number of seconds"), "{err}");
        }
    }

    #[test]
    fn flags_parse() {
        let cli = Cli::parse_hermetic(["aswan", "migrate", "--bind", "0.0.0.0:9000", "--cookie-secure", "true"]);
        assert!(matches!(cli.command, Some(Command::Migrate)));
        assert_eq!(cli.settings.bind.port(), 9000);
        assert!(cli.settings.cookie_secure);
    }
}
