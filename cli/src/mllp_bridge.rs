//! `connector mllp-bridge`: the always-on MLLP edge for AWS sites. A Lambda cannot hold the
//! EHR's long-lived MLLP session, so this small process does: it receives each frame, signs
//! it with the channel's HMAC secret and POSTs it to the hl7-inbound API
//! (`{forward}/hl7/{channel}`), then returns the API's ACK to the EHR. When the API cannot be
//! reached, times out, or answers without an HL7 ACK, the EHR gets an `AR` (ERR 207) so it
//! sends the message again later.
//!
//! Logs carry the channel, control IDs, byte counts, HTTP statuses and outcomes; never the
//! message, the ACK's texts or the secret.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use connector_app::ehr_to_crm::signature::sign;
use connector_domain::flow::channel::{ChannelId, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use connector_hl7::{ControlIdGenerator, ErrorCode};
use connector_transport::mllp::server::{self, ServerConfig};
use connector_transport::{ER7_CONTENT_TYPE, ack, control_id_of, https, outcome};

use crate::listener;
use reqwest::header::{CONTENT_TYPE, HeaderValue};

/// The largest API response read (an ACK is a few hundred bytes).
const MAX_RESPONSE: usize = 1 << 20;

/// Options of `connector mllp-bridge`.
#[derive(Debug, clap::Args)]
pub struct MllpBridgeArgs {
    /// Address to listen for MLLP on, e.g. 0.0.0.0:2575.
    #[arg(long, env = "CONNECTOR_BRIDGE_LISTEN")]
    listen: SocketAddr,
    /// Base URL of the hl7-inbound API (the API Gateway stage URL, without a path after it);
    /// each message is POSTed to FORWARD/hl7/CHANNEL. https://, or http:// to localhost only.
    #[arg(long, env = "CONNECTOR_BRIDGE_FORWARD", value_name = "URL")]
    forward: String,
    /// The channel the messages belong to; its inbound HMAC secret signs them.
    #[arg(long, env = "CONNECTOR_BRIDGE_CHANNEL", value_name = "ID")]
    channel: String,
    /// The NAME of the environment variable holding the channel's HMAC secret (the secret
    /// itself is never an argument).
    #[arg(long, env = "CONNECTOR_BRIDGE_SECRET_ENV", value_name = "VAR")]
    secret_env: String,
    /// Seconds to wait for the API before answering the EHR an AR (keep it below the EHR's
    /// own ACK timeout).
    #[arg(long, default_value_t = 25, env = "CONNECTOR_BRIDGE_TIMEOUT")]
    timeout_secs: u64,
    /// The largest MLLP frame accepted, in bytes (larger ones are answered AR). The default is
    /// the hl7-inbound API's own limit, 4 MiB.
    #[arg(long, default_value_t = 4 * 1024 * 1024, env = "CONNECTOR_BRIDGE_MAX_FRAME")]
    max_frame_bytes: usize,
    /// Seconds of silence after which an EHR connection is closed.
    #[arg(long, default_value_t = 600, env = "CONNECTOR_BRIDGE_IDLE_TIMEOUT")]
    idle_timeout_secs: u64,
}

/// What each frame is forwarded with.
struct Bridge {
    client: reqwest::Client,
    url: reqwest::Url,
    channel: ChannelId,
    secret: Vec<u8>,
    timeout: Duration,
    ids: ControlIdGenerator,
}

/// Why a frame was answered AR instead of the API's ACK.
#[derive(Debug, Clone, Copy, thiserror::Error)]
enum Failure {
    #[error("the API could not be reached")]
    Unreachable,
    #[error("the API did not answer in time")]
    Timeout,
    #[error("the request to the API failed")]
    Request,
    #[error("the API answered HTTP {0} without an HL7 ACK")]
    NoAck(u16),
    #[error("the API answered HTTP {0} with an oversize body")]
    TooLarge(u16),
    #[error("the message could not be signed")]
    Signing,
}

impl Bridge {
    /// Forwards one frame; the reply for the EHR.
    async fn handle(&self, frame: Vec<u8>) -> Vec<u8> {
        let control_id = control_id_of(&frame).unwrap_or_default();
        let bytes = frame.len();
        match self.forward(&frame).await {
            Ok((status, ack)) => {
                tracing::info!(
                    channel = %self.channel,
                    control_id = %control_id,
                    bytes,
                    status,
                    ack_code = ack_code(&ack),
                    "MLLP frame forwarded; returning the API's ACK"
                );
                ack
            }
            Err(failure) => {
                tracing::warn!(
                    channel = %self.channel,
                    control_id = %control_id,
                    bytes,
                    reason = %failure,
                    "MLLP frame not forwarded; answering AR"
                );
                ack::reject(&frame, ErrorCode::ApplicationInternalError, &self.ids)
            }
        }
    }

    /// POSTs the signed frame; the status and ACK body when the API answered one.
    async fn forward(&self, frame: &[u8]) -> Result<(u16, Vec<u8>), Failure> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        // The one signer of the channel scheme, the one hl7-inbound verifies against.
        let (timestamp, signature) = sign(&self.secret, now, frame);
        let mut signature = HeaderValue::from_str(&signature).map_err(|_| Failure::Signing)?;
        signature.set_sensitive(true);
        let sent = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, ER7_CONTENT_TYPE)
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature)
            .timeout(self.timeout)
            .body(frame.to_vec())
            .send()
            .await;
        let mut response = sent.map_err(|e| request_failure(&e))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| request_failure(&e))? {
            if body.len() + chunk.len() > MAX_RESPONSE {
                return Err(Failure::TooLarge(status));
            }
            body.extend_from_slice(&chunk);
        }
        if outcome::is_ack(&body) {
            Ok((status, body))
        } else {
            Err(Failure::NoAck(status))
        }
    }
}

fn request_failure(e: &reqwest::Error) -> Failure {
    if e.is_connect() {
        Failure::Unreachable
    } else if e.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Request
    }
}

/// MSA-1 of an ACK, for the log.
fn ack_code(ack: &[u8]) -> &'static str {
    connector_hl7::Message::parse_bytes(ack)
        .ok()
        .and_then(|m| {
            connector_hl7::AckInfo::read(&m)
                .ok()
                .map(|i| i.code.as_str())
        })
        .unwrap_or("?")
}

fn bridge(args: &MllpBridgeArgs) -> anyhow::Result<Bridge> {
    let channel =
        ChannelId::parse(args.channel.as_str()).map_err(|e| anyhow::anyhow!("--channel: {e}"))?;
    let url = format!("{}/hl7/{}", args.forward.trim_end_matches('/'), channel);
    let url = https::check_url(&url).map_err(|e| anyhow::anyhow!("--forward: {e}"))?;
    let secret = match std::env::var_os(&args.secret_env) {
        Some(v) if !v.is_empty() => v.into_encoded_bytes(),
        _ => bail!(
            "the environment variable {} (named by --secret-env) is not set or is empty",
            args.secret_env
        ),
    };
    if args.timeout_secs == 0 || args.idle_timeout_secs == 0 || args.max_frame_bytes == 0 {
        bail!("--timeout-secs, --idle-timeout-secs and --max-frame-bytes must be above 0");
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")?;
    Ok(Bridge {
        client,
        url,
        channel,
        secret,
        timeout: Duration::from_secs(args.timeout_secs),
        ids: ControlIdGenerator::random(),
    })
}

/// Runs the bridge until Ctrl-C or SIGTERM, then finishes the frames in flight.
pub fn run(args: MllpBridgeArgs) -> anyhow::Result<()> {
    connector_app::telemetry::init(std::io::stdout);
    let bridge = Arc::new(bridge(&args)?);
    let config = ServerConfig {
        max_frame_size: args.max_frame_bytes,
        receive_timeout: Some(Duration::from_secs(args.idle_timeout_secs)),
        ..ServerConfig::default()
    };
    listener::serve_until(
        args.listen,
        crate::listener::shutdown_signal(),
        |listener, shutdown| async move {
            let local = listener.local_addr()?;
            tracing::info!(address = %local, channel = %bridge.channel, host = bridge.url.host_str().unwrap_or_default(), "MLLP bridge listening");
            println!("connector mllp-bridge listening on {local}");
            let handler = move |frame: Vec<u8>| {
                let bridge = Arc::clone(&bridge);
                async move { bridge.handle(frame).await }
            };
            server::serve_with(listener, config, handler, shutdown).await;
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Python: hmac.new(b"Jefe", b"1700000000.MSH|x", hashlib.sha256).hexdigest()
        assert_eq!(
            sign(b"Jefe", 1_700_000_000, b"MSH|x"),
            (
                "1700000000".to_owned(),
                "sha256=bb99b775948efa5b4318734020bb0605ae03b195581863adcacf391dd6a04856"
                    .to_owned()
            )
        );
    }
}
