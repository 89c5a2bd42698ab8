//! `connector serve`: every API on the embedded store over HTTP (the consent API behind its
//! authentication; the hl7-inbound and CRM webhook routes beside it, authenticated per channel),
//! an optional MLLP listener, the batch collector on an interval, and the HIE sender and EHR
//! delivery workers on the embedded queues; the web console and patient portal (`crate::web`)
//! on every path no API route takes, with the `/config.json` that tells them how to sign in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use connector_app::http::auth::{Authenticate, BearerTokens, JwtOrTokens, LocalHeaders};
use connector_app::http::claims::ClaimNames;
use connector_app::http::oidc::OidcVerifier;
use connector_app::{Context, host, telemetry};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::listen_settings::{HttpSettings, MllpSettings};
use crate::oidc_file::OidcFile;

/// Options of `connector serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Any address other than loopback requires --tokens or --oidc.
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
    /// An OIDC file (TOML): the issuers whose access tokens the API accepts and the clients the
    /// console and portal sign in with (served to them as /config.json). With --tokens too,
    /// JWT bearer tokens are checked here and others against the token file.
    #[arg(long, env = "CONNECTOR_OIDC")]
    oidc: Option<PathBuf>,
    /// With --oidc: the least time between two fetches of an issuer's keys (a token naming an
    /// unknown key fetches them again, at most this often).
    #[arg(long, default_value_t = 30, env = "CONNECTOR_OIDC_REFRESH_SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    oidc_refresh_seconds: u64,
    /// Also listen for HL7 over MLLP on this address (e.g. 0.0.0.0:2575), feeding the same
    /// inbound pipeline as POST /hl7/{channel_id}. Each message is ACKed only after its work is
    /// durably recorded. Requires --mllp-channel.
    #[arg(long, env = "CONNECTOR_MLLP_LISTEN", requires = "mllp_channel")]
    mllp: Option<SocketAddr>,
    /// The channel whose flows the MLLP listener's messages run (the listener is that EHR's
    /// connection; its network is the trust, so restrict who can reach the port).
    #[arg(long, env = "CONNECTOR_MLLP_CHANNEL", requires = "mllp")]
    mllp_channel: Option<String>,
    /// Let pages of this origin (e.g. https://portal.example.org) load the embeddable
    /// <hie-consent> component and call the API from the browser (CORS). Repeat for several.
    #[arg(
        long = "allow-origin",
        env = "CONNECTOR_ALLOW_ORIGINS",
        value_delimiter = ','
    )]
    allow_origins: Vec<String>,
    #[command(flatten)]
    http_settings: HttpSettings,
    #[command(flatten)]
    mllp_settings: MllpSettings,
}

fn token_file(path: &std::path::Path) -> anyhow::Result<BearerTokens> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the token file {}", path.display()))?;
    let tokens = BearerTokens::parse(&text)?;
    if tokens.is_empty() {
        bail!(
            "the token file {} lists no token; add one with `connector token add`",
            path.display()
        );
    }
    Ok(tokens)
}

/// The authentication of the API and the `/config.json` that tells the pages about it.
fn authenticator(
    args: &ServeArgs,
    oidc: Option<&OidcFile>,
    http: &reqwest::Client,
) -> anyhow::Result<(Arc<dyn Authenticate>, serde_json::Value)> {
    let tokens = args.tokens.as_deref().map(token_file).transpose()?;
    Ok(match (oidc, tokens) {
        (Some(file), tokens) => {
            let verifier = Arc::new(OidcVerifier::new(
                file.issuer.clone(),
                ClaimNames::from_env(),
                http.clone(),
                Duration::from_secs(args.oidc_refresh_seconds),
            ));
            let auth: Arc<dyn Authenticate> = match tokens {
                Some(tokens) => Arc::new(JwtOrTokens {
                    jwt: verifier,
                    tokens,
                }),
                None => verifier,
            };
            (auth, file.config_json())
        }
        (None, Some(tokens)) => (Arc::new(tokens), serde_json::json!({ "auth": "token" })),
        (None, None) if args.listen.ip().is_loopback() => (
            Arc::new(LocalHeaders),
            serde_json::json!({ "auth": "local" }),
        ),
        (None, None) => bail!(
            "refusing to listen on {} without authentication: pass --tokens FILE (see `connector token add`) \
             or --oidc FILE, or listen on 127.0.0.1",
            args.listen
        ),
    })
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init(std::io::stdout);
    let oidc = args.oidc.as_deref().map(OidcFile::read).transpose()?;
    let origins = crate::cors::AllowedOrigins::parse(&args.allow_origins)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let http = connector_app::http::oidc::http_client()
            .context("cannot set up the HTTP client for the identity provider")?;
        let (auth, config_json) = authenticator(&args, oidc.as_ref(), &http)?;
        let connect_origins = match &oidc {
            Some(file) => file.connect_origins(&http).await,
            None => Vec::new(),
        };
        let site = Arc::new(crate::web::Site::new(&config_json, &connect_origins)?);
        // The CRM: the embedded one unless CONNECTOR_CRM says otherwise (see README, "EHR -> CRM").
        let crm = connector_app::Config::from_env()?.crm;
        let ctx = Arc::new(
            Context::embedded(&args.db, &args.outbox)
                .with_context(|| format!("cannot open {}", args.db.display()))?
                .with_crm_config(&crm)
                .await
                .context("cannot set up the CRM")?,
        );
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let workers = host::Workers {
            collect_every: (args.collect_every > 0)
                .then(|| Duration::from_secs(args.collect_every)),
            ..host::Workers::default()
        };
        let jobs = host::spawn_workers(&ctx, &workers, &stop_rx);
        let shutdown = CancellationToken::new();
        let mllp = match (args.mllp, args.mllp_channel.clone()) {
            (Some(address), Some(channel)) => {
                let listener = tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen for MLLP on {address}"))?;
                let local = listener.local_addr()?;
                tracing::info!(address = %local, channel_id = %channel, "MLLP listening");
                println!("connector MLLP listening on {local} for channel {channel}");
                let config = args
                    .mllp_settings
                    .config(connector_app::http::hl7_inbound::MAX_MESSAGE_BYTES);
                Some(host::spawn_mllp(
                    &ctx,
                    listener,
                    config,
                    channel,
                    shutdown.clone(),
                ))
            }
            _ => None,
        };
        // The web console and portal answer whatever no API route does.
        let mut router =
            host::router(&ctx, auth).fallback(move |request: axum::extract::Request| {
                crate::web::serve(Arc::clone(&site), request)
            });
        if !origins.is_empty() {
            router = router.layer(axum::middleware::from_fn_with_state(
                origins.clone(),
                crate::cors::layer,
            ));
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let local = listener.local_addr()?;
        tracing::info!(address = %local, "listening");
        println!("connector listening on http://{local}");
        crate::http_server::serve(
            listener,
            router,
            args.http_settings.limits(),
            crate::listener::shutdown_signal(),
        )
        .await;
        let _ = stop_tx.send(true);
        shutdown.cancel();
        if let Some(mllp) = mllp {
            let _ = mllp.await;
        }
        for job in jobs {
            let _ = job.await;
        }
        tracing::info!("stopped");
        Ok(())
    })
}
