use std::process::ExitCode;

use anyhow::Context;
use aswan::config::{Cli, Command, InvalidSetting, UserAction};
use aswan::store::prelude::*;
use aswan::{telemetry, App};
use clap::error::ErrorKind;
use tokio::net::TcpListener;

/// mimalloc returns freed memory to the system promptly; glibc's malloc kept
/// every 19 MiB argon2 buffer in per-thread arenas (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `.env` fills in what the environment lacks; a missing file is fine.
    let _ = dotenvy::dotenv();
    let cli = match Cli::parse_process() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line naming the setting, exit code 2.
            let rendered = e.to_string();
            eprintln!("{}", rendered.lines().next().unwrap_or("error: invalid configuration"));
            return ExitCode::from(2);
        }
    };
    telemetry::init(&cli.settings.log_level, cli.settings.log_format);
    let runtime = tokio::runtime::Runtime::new().expect("starting the async runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<InvalidSetting>().is_some() => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            // Once, on one line (the log goes to stderr too: no second copy).
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    settings.check_database_url()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = App::build(&settings).await?;
            let listener = TcpListener::bind(settings.bind)
                .await
                .with_context(|| format!("binding {}", settings.bind))?;
            if let Some(bind) = settings.metrics_bind {
                let metrics = TcpListener::bind(bind)
                    .await
                    .with_context(|| format!("binding METRICS_BIND {bind}"))?;
                tracing::info!(address = %metrics.local_addr()?, "metrics at /metrics");
                let router = app.metrics_router();
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(metrics, router).await {
                        tracing::error!(error = %e, "the metrics listener stopped");
                    }
                });
            }
            let address = listener.local_addr()?;
            // What to open in a browser: an unspecified bind address means this machine.
            let host = if address.ip().is_unspecified() {
                "localhost".to_owned()
            } else {
                address.ip().to_string()
            };
            let url = if address.is_ipv6() && !address.ip().is_unspecified() {
                format!("http://[{host}]:{}", address.port())
            } else {
                format!("http://{host}:{}", address.port())
            };
            tracing::info!(%address, %url, database = app.store().backend(), "aswan is listening: open {url}");
            app.serve(listener, shutdown_signal()).await?;
            tracing::info!("stopped");
        }
        Command::Sql {
            tenant,
            json,
            statement,
        } => {
            let store = aswan::store::Store::open(settings.database_url().expose(), 1).await?;
            // An operator's tool: the tenant is whatever the operator names
            // (ARCHITECTURE.md, "Isolation", the maintenance door).
            #[expect(clippy::disallowed_methods)]
            let tenant = tenant.map(|t| store.unchecked_tenant(t));
            let result = store.run_sql(tenant.as_ref(), &statement).await;
            store.close().await;
            let table = result?;
            if json {
                out(&format!("{}\n", serde_json::to_string_pretty(&table.to_json())?))?;
            } else {
                out(&table.to_string())?;
            }
        }
        Command::Reindex { batch } => {
            let ai = aswan::ai::Ai::from_settings(&settings)?
                .context("EMBEDDING_PROVIDER is none: there is no model to index with")?;
            let store = aswan::store::Store::open(settings.database_url().expose(), 2).await?;
            let result = aswan::ai::reindex::reindex(&store, &ai, batch, true).await;
            store.close().await;
            let report = result?;
            out(&format!(
                "reindexed {} todos in {} tenants with {}\n",
                report.todos,
                report.tenants,
                ai.embedder().model()
            ))?;
        }
        Command::Eval { file, json } => {
            let set = match file {
                Some(path) => aswan::eval::EvalSet::parse(
                    &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
                )?,
                None => aswan::eval::EvalSet::builtin(),
            };
            let model = match &settings.embedding_model_dir {
                Some(dir) => aswan::ai::LocalModel::from_dir(dir)?,
                None => aswan::ai::LocalModel::builtin()?,
            };
            let max_distance = settings
                .similarity_max_distance
                .unwrap_or(aswan::ai::LOCAL_MAX_DISTANCE);
            let report = aswan::eval::evaluate(&set, &model, max_distance, i64::from(settings.similar_tasks) as usize);
            if json {
                out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
            } else {
                out(&report.to_string())?;
            }
        }
        Command::Export { tenant: id } => {
            let store = aswan::store::Store::open(settings.database_url().expose(), 2).await?;
            // An operator's tool: the tenant is whatever the operator names
            // (ARCHITECTURE.md, "Isolation", the maintenance door).
            #[expect(clippy::disallowed_methods)]
            let tenant = store.unchecked_tenant(id);
            match tenant.info().await {
                Ok(_) => {}
                Err(aswan::store::StoreError::NotFound) => {
                    store.close().await;
                    return Err(InvalidSetting(format!("no tenant has the id {id}")).into());
                }
                Err(e) => {
                    store.close().await;
                    return Err(e.into());
                }
            }
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
            let exporting = tokio::spawn(async move { aswan::transfer::export(&tenant, tx).await });
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            let mut written = 0usize;
            while let Some(chunk) = rx.recv().await {
                written += chunk.len();
                bar.set_message(format!("{} KiB", written / 1024));
                out_bytes(&chunk)?;
            }
            bar.finish_and_clear();
            let result = exporting.await?;
            store.close().await;
            // A closed stdout was drained quietly by out_bytes.
            let n = result?;
            tracing::info!(todos = n, "exported");
        }
        Command::Import { into, owner, file } => {
            let reader = std::io::BufReader::new(
                std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?,
            );
            let import = aswan::transfer::parse(reader, into.as_deref(), owner.as_deref())
                .with_context(|| format!("{}", file.display()))?;
            let ai = aswan::ai::Ai::from_settings(&settings)?;
            let store = aswan::store::Store::open(settings.database_url().expose(), 2).await?;
            let result = store.import_tenant(&import).await;
            let imported = match result {
                Ok(imported) => imported,
                Err(e) => {
                    store.close().await;
                    return Err(e.into());
                }
            };
            let mut summary = format!(
                "imported tenant {} ({}): {} todos, {} members",
                imported.tenant.name, imported.tenant.id, imported.todos, imported.members
            );
            if !imported.skipped_members.is_empty() {
                summary.push_str(&format!(
                    "; no account here for {} (invite them again)",
                    imported.skipped_members.join(", ")
                ));
            }
            // Its todos get embeddings from this instance's model.
            let reindexed = match &ai {
                Some(ai) => Some(aswan::ai::reindex::reindex(&store, ai, 256, true).await),
                None => None,
            };
            store.close().await;
            out(&format!("{summary}\n"))?;
            if let Some(report) = reindexed {
                report.context("the tenant is imported, but embedding its todos failed: run aswan reindex")?;
            }
        }
        Command::Backup { path } => {
            let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(folder) = folder.filter(|f| !f.is_dir()) {
                return Err(InvalidSetting(format!(
                    "the folder {} does not exist: create it first, or name another",
                    folder.display()
                ))
                .into());
            }
            let store = aswan::store::Store::open(settings.database_url().expose(), 1).await?;
            let result = store.backup(&path).await;
            store.close().await;
            let bytes = result?;
            out(&format!("backed up to {} ({bytes} bytes)\n", path.display()))?;
        }
        Command::Distribute => {
            let store = aswan::store::Store::open(settings.database_url().expose(), 1).await?;
            let result = store.distribute().await;
            store.close().await;
            match result? {
                aswan::store::Distribution::NotCitus => out("not a Citus cluster: nothing to distribute\n")?,
                aswan::store::Distribution::Citus { version, done } if done.is_empty() => {
                    out(&format!("Citus {version}: already distributed\n"))?
                }
                aswan::store::Distribution::Citus { version, done } => {
                    let lines: String = done.iter().map(|line| format!("  {line}\n")).collect();
                    out(&format!("Citus {version}:\n{lines}"))?;
                }
            }
        }
        Command::Migrate => {
            let store = aswan::store::Store::open(settings.database_url().expose(), 1).await?;
            let emails = store.user_emails().await;
            store.close().await;
            tracing::info!("migrations applied");
            // Accounts made before the email rules: reported, never merged.
            let emails = emails?;
            let findings = aswan::domain::audit_emails(emails.iter().map(|(_, e)| e.as_str()));
            for line in &findings {
                out(&format!("email check: {line}\n"))?;
            }
            if !findings.is_empty() {
                out(&format!(
                    "email check: {} finding(s) among {} accounts; nothing was changed\n",
                    findings.len(),
                    emails.len()
                ))?;
            }
        }
        Command::User {
            action: UserAction::ResetPassword { email },
        } => {
            let email = aswan::domain::Email::parse(&email).map_err(|e| InvalidSetting(e.to_string()))?;
            let store = aswan::store::Store::open(settings.database_url().expose(), 1).await?;
            let found = store.user_with_password(&email).await;
            let link = match found {
                Ok(Some(found)) => {
                    let base = match &settings.public_url {
                        Some(url) => url.clone(),
                        // 0.0.0.0 or [::] is where the server listens, not
                        // an address a browser can open.
                        None if settings.bind.ip().is_unspecified() => {
                            store.close().await;
                            return Err(InvalidSetting(format!(
                                "BIND is {}, which no browser can open: set PUBLIC_URL to the address users open (e.g. PUBLIC_URL=http://tasks.internal:{})",
                                settings.bind,
                                settings.bind.port()
                            ))
                            .into());
                        }
                        None => format!("http://{}", settings.bind),
                    };
                    Some(aswan::accounts::reset_link(&store, &base, found.user.id, &found.user.email).await)
                }
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            };
            store.close().await;
            match link {
                None => return Err(InvalidSetting(format!("no account has the email {email}")).into()),
                Some(link) => out(&format!("{}\n", link?))?,
            }
        }
    }
    Ok(())
}

/// Raw bytes to stdout, as [`out`].
fn out_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Writes to stdout; a reader that went away (`aswan eval --json | head`)
/// ends the output quietly instead of panicking on a broken pipe.
fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
