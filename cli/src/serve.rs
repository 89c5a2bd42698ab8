//! `connector serve`: the APIs on the embedded store over HTTP, with the batch collector on an
//! interval and the HIE sender working the embedded queue.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use connector_app::http::auth::{Authenticate, BearerTokens, LocalHeaders, authenticated};
use connector_app::jobs::collector::{self, CollectorOptions};
use connector_app::jobs::sender;
use connector_app::{Context, telemetry};
use std::time::Duration;

/// Options of `connector serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Any address other than loopback requires --tokens.
    #[arg(long, default_value = "127.0.0.1:8080", env = "CONNECTOR_LISTEN")]
    listen: SocketAddr,
    /// The SQLite database file (created and migrated on start).
    #[arg(long, default_value = "connector.db", env = "CONNECTOR_DB")]
    db: PathBuf,
    /// Where mail for the HIE is written, one `.eml` file per message.
    #[arg(long, default_value = "outbox", env = "CONNECTOR_OUTBOX")]
    outbox: PathBuf,
    /// Seconds between batch collector runs (0: do not collect; `connector collect` runs one).
    #[arg(long, default_value_t = 60, env = "CONNECTOR_COLLECT_EVERY")]
    collect_every: u64,
    /// A bearer token file (`connector token add`). Without it, callers are trusted by the
    /// x-connector-user and x-connector-role headers, which is only allowed on loopback.
    #[arg(long, env = "CONNECTOR_TOKENS")]
    tokens: Option<PathBuf>,
}

fn authenticator(args: &ServeArgs) -> anyhow::Result<Arc<dyn Authenticate>> {
    match &args.tokens {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?;
            let tokens = BearerTokens::parse(&text)?;
            if tokens.is_empty() {
                bail!(
                    "the token file {} lists no token; add one with `connector token add`",
                    path.display()
                );
            }
            Ok(Arc::new(tokens))
        }
        None if args.listen.ip().is_loopback() => Ok(Arc::new(LocalHeaders)),
        None => bail!(
            "refusing to listen on {} without authentication: pass --tokens FILE (see `connector token add`) \
             or listen on 127.0.0.1",
            args.listen
        ),
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init(std::io::stdout);
    let auth = authenticator(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let ctx = Arc::new(
            Context::embedded(&args.db, &args.outbox)
                .with_context(|| format!("cannot open {}", args.db.display()))?,
        );
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut jobs = Vec::new();
        jobs.push(tokio::spawn(sender::run_worker(
            Arc::clone(&ctx),
            Duration::from_secs(1),
            stop_rx.clone(),
        )));
        if args.collect_every > 0 {
            let every = Duration::from_secs(args.collect_every);
            jobs.push(tokio::spawn(collector::run_every(
                Arc::clone(&ctx),
                every,
                CollectorOptions::default(),
                stop_rx,
            )));
        }
        let router = authenticated(connector_app::http::router(Arc::clone(&ctx)), auth);
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let local = listener.local_addr()?;
        tracing::info!(address = %local, "listening");
        println!("connector listening on http://{local}");
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        let _ = stop_tx.send(true);
        for job in jobs {
            let _ = job.await;
        }
        tracing::info!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
