//! `connector hl7 send FILE...`: sends HL7 messages to a connector, as an EHR would: signed
//! POSTs to the hl7-inbound API (`--url`, `--channel`, `--secret-env`), or MLLP frames
//! (`--mllp HOST:PORT`). Prints each message's ACK code and MSA-2; exits 1 if any answer is not
//! AA/CA. For demos, tests of a deployment, and replaying a message after a fix.
//!
//! Files may use `\n` or `\r\n` between segments (they are sent with `\r`, as on the wire).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use connector_app::ehr_to_crm::signature::sign;
use connector_domain::flow::channel::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use connector_hl7::{AckInfo, Message};
use connector_transport::{AttemptOutcome, MllpConfig, MllpConnection};

/// Options of `connector hl7 send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The message files (ER7).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The connector's base URL: each message is POSTed to {url}/hl7/{channel}.
    #[arg(long, conflicts_with = "mllp", requires_all = ["channel", "secret_env"])]
    url: Option<String>,
    /// The channel id (with --url).
    #[arg(long)]
    channel: Option<String>,
    /// The environment variable holding the channel's HMAC secret (with --url; never pass a
    /// secret as an argument).
    #[arg(long)]
    secret_env: Option<String>,
    /// Send over MLLP to HOST:PORT instead (e.g. `connector serve --mllp`).
    #[arg(long)]
    mllp: Option<String>,
}

fn wire_form(text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(text)
        .replace("\r\n", "\r")
        .replace('\n', "\r");
    text.into_bytes()
}

fn describe(reply: &[u8]) -> (bool, String) {
    match Message::parse_bytes(reply) {
        Ok(message) => match AckInfo::read(&message) {
            Ok(info) => (
                info.code.is_accept(),
                format!(
                    "{} {}",
                    info.code,
                    info.control_id.as_deref().unwrap_or_default()
                ),
            ),
            Err(_) => (false, "reply is not an ACK".into()),
        },
        Err(_) => (false, "reply is not HL7".into()),
    }
}

/// Runs `connector hl7 send`.
pub fn run(args: SendArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(send_all(args))
}

async fn send_all(args: SendArgs) -> Result<()> {
    let mut all_accepted = true;
    if let Some(url) = &args.url {
        let channel = args
            .channel
            .as_deref()
            .ok_or_else(|| anyhow!("--channel is required"))?;
        let var = args
            .secret_env
            .as_deref()
            .ok_or_else(|| anyhow!("--secret-env is required"))?;
        let secret = std::env::var(var).with_context(|| format!("{var} is not set"))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let endpoint = format!("{}/hl7/{channel}", url.trim_end_matches('/'));
        for file in &args.files {
            let body = wire_form(
                &std::fs::read(file).with_context(|| format!("reading {}", file.display()))?,
            );
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
            let (timestamp, signature) = sign(secret.as_bytes(), now, &body);
            let response = client
                .post(&endpoint)
                .header("content-type", "x-application/hl7-v2+er7")
                .header(TIMESTAMP_HEADER, timestamp)
                .header(SIGNATURE_HEADER, signature)
                .body(body)
                .send()
                .await
                .with_context(|| format!("POST {endpoint}"))?;
            let status = response.status();
            let reply = response.bytes().await?;
            let (ok, text) = if status.is_success() {
                describe(&reply)
            } else {
                (
                    false,
                    format!("HTTP {status}: {}", String::from_utf8_lossy(&reply)),
                )
            };
            all_accepted &= ok;
            println!("{}\t{text}", file.display());
        }
    } else if let Some(address) = &args.mllp {
        let (host, port) = address
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
            .ok_or_else(|| anyhow!("--mllp must be HOST:PORT"))?;
        let connection = MllpConnection::new(MllpConfig::new(host, port))
            .map_err(|e| anyhow!("MLLP settings: {e}"))?;
        for file in &args.files {
            let body = wire_form(
                &std::fs::read(file).with_context(|| format!("reading {}", file.display()))?,
            );
            let outcome = connection
                .send(&body)
                .await
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            all_accepted &= matches!(outcome, AttemptOutcome::Delivered { .. });
            println!("{}\t{outcome}", file.display());
        }
        connection.close().await;
    } else {
        bail!("pass --url (with --channel and --secret-env) or --mllp");
    }
    if !all_accepted {
        bail!("not every message was accepted");
    }
    Ok(())
}
