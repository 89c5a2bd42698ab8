//! The EHR -> CRM service: the HL7 pipeline (EHR -> connector -> CRM), the same for every
//! transport: the hl7-inbound HTTP route (Lambda and `connector serve`) and the MLLP listener of
//! `connector serve --mllp`.
//!
//! For one message: find the channel; check its signature (HTTP; an MLLP listener is bound to
//! one channel and trusted); parse; claim (channel, MSH-10) in the inbound ledger so a resent
//! message changes nothing; feed the HIE side ([`crate::hie::hl7_feed`]); run every enabled ehr_to_crm flow
//! of the channel that takes the event ([`crm_sync`]); record the outcome with one
//! `hl7_inbound` audit entry in the same transaction that closes the ledger record; answer an
//! ACK: AA when everything succeeded, AE (with an ERR per failure) when something failed (a
//! resend finishes what is left), AR when the message is unparseable, lacks MSH-10, reuses a
//! control id for different content, or has an event nothing takes.
//!
//! The ACK is built only after the ledger record is durably closed.

pub mod crm_sync;
pub mod misconfigured;
pub mod signature;

mod pipeline;

use chrono::{DateTime, Utc};
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::flow::{Channel, ChannelId};
use connector_domain::inbound::ControlId;
use connector_domain::ports::SecretError;
use connector_domain::{Actor, StoreError};
use connector_hl7::{AckBuilder, AckCode, AckError, ErrorCode, ErrorLocation, Message, Path};
use serde_json::json;

use crate::Context;
use crate::ehr_to_crm::signature::SignatureError;

/// How long a handler holds a message before another may take it over.
pub const CLAIM_LEASE: chrono::Duration = connector_domain::lease::INBOUND_CLAIM;

/// The media type of ER7 over HTTP.
pub const ER7_CONTENT_TYPE: &str = "x-application/hl7-v2+er7";

/// How the message's sender was authenticated.
#[derive(Debug, Clone, Copy)]
pub enum Authentication<'a> {
    /// HTTP: the signature headers, checked against the channel's HMAC secret.
    Signed {
        /// `x-connector-timestamp`.
        timestamp: Option<&'a str>,
        /// `x-connector-signature`.
        signature: Option<&'a str>,
    },
    /// An MLLP listener bound to this channel by the operator: the network is the trust.
    Listener,
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundReply {
    /// An HL7 ACK (HTTP 200 with [`ER7_CONTENT_TYPE`], or an MLLP frame).
    Ack {
        /// MSA-1.
        code: AckCode,
        /// The ACK, ER7.
        text: String,
    },
    /// No such channel (HTTP 404). Nothing was written.
    UnknownChannel,
    /// The signature was refused (HTTP 401). Nothing was written.
    Unauthorized(SignatureError),
    /// The channel's secret or the stores could not be read (HTTP 503: resend later). Nothing
    /// was written.
    Unavailable,
    /// The channel cannot take messages until an administrator fixes it: the secret reference
    /// in `field` does not resolve (HTTP 500 `/problems/channel-misconfigured`, an AR over
    /// MLLP: resending does not help). Nothing was written.
    ChannelMisconfigured {
        /// The channel's field holding the reference (`inbound.secret`).
        field: &'static str,
    },
}

/// Processes one inbound message (see the [module documentation](self)).
pub async fn receive(
    ctx: &Context,
    channel_id: &str,
    body: &[u8],
    auth: Authentication<'_>,
) -> InboundReply {
    let Ok(channel_id) = ChannelId::parse(channel_id) else {
        return InboundReply::UnknownChannel;
    };
    let channel = match ctx.flows.get_channel(&channel_id).await {
        Ok(Some(channel)) => channel,
        Ok(None) => return InboundReply::UnknownChannel,
        Err(e) => {
            tracing::error!(channel_id = %channel_id, error = %crate::telemetry::error_chain(&e), "cannot read the channel");
            return InboundReply::Unavailable;
        }
    };
    let now = ctx.clock.now();
    if let Authentication::Signed {
        timestamp,
        signature,
    } = auth
    {
        let connector_domain::flow::InboundAuth::Hmac { secret, .. } = &channel.inbound;
        let secret = match ctx.secrets.resolve(secret).await {
            Ok(secret) => secret,
            Err(SecretError::NotFound | SecretError::Unsupported(_)) => {
                misconfigured::report(&channel_id, "inbound.secret", secret, now);
                return InboundReply::ChannelMisconfigured {
                    field: "inbound.secret",
                };
            }
            Err(e) => {
                tracing::error!(channel_id = %channel_id, error = %crate::telemetry::error_chain(&e), "cannot read the channel's HMAC secret");
                return InboundReply::Unavailable;
            }
        };
        if let Err(e) =
            signature::verify(&channel.inbound, &secret, timestamp, signature, body, now)
        {
            tracing::warn!(channel_id = %channel_id, reason = %e, "inbound signature refused");
            return InboundReply::Unauthorized(e);
        }
    }
    match pipeline::process(ctx, &channel, body, now).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(channel_id = %channel_id, error = %crate::telemetry::error_chain(&e), "inbound store failure");
            InboundReply::Unavailable
        }
    }
}

fn ack(
    code: AckCode,
    control_id: &str,
    errors: Vec<AckError>,
    message: &Message<'_>,
    now: DateTime<Utc>,
) -> InboundReply {
    let mut builder =
        AckBuilder::new(code, &ack_control_id(control_id)).timestamp(now.fixed_offset());
    for e in errors {
        builder = builder.error(e);
    }
    InboundReply::Ack {
        code,
        text: builder.build(message).to_er7(),
    }
}

/// An ACK's own MSH-10: derived from the acknowledged one, so a resend gets the same ACK id.
fn ack_control_id(acknowledged: &str) -> String {
    let mut id: String = format!("ACK{acknowledged}").chars().take(20).collect();
    if id.is_empty() {
        id.push_str("ACK");
    }
    id
}

fn location(path: &str) -> ErrorLocation {
    let path: Path = path.parse().expect("a literal path");
    ErrorLocation::from(&path)
}

/// The audit entry of a rejected message.
fn rejection_entry(
    channel: &Channel,
    message: Option<&Message<'_>>,
    body: &[u8],
    reason: &str,
    now: DateTime<Utc>,
) -> AuditEntry {
    let control_id = message.and_then(|m| m.control_id()).map(|c| c.into_owned());
    AuditEntry::new(
        LogType::Hl7Inbound,
        now,
        Actor::system("hl7-inbound"),
        "hl7.rejected",
        AuditOutcome::Error,
    )
    .with_detail(json!({
        "channel_id": channel.channel_id.as_str(),
        "control_id": control_id.as_deref().and_then(|c| ControlId::parse(c).ok()),
        "event": message.map(event_name),
        "ack": "AR",
        "reason": reason,
        "bytes": body.len(),
    }))
}

/// The AR of a rejected message.
fn rejection_ack(
    message: Option<&Message<'_>>,
    body: &[u8],
    error: AckError,
    now: DateTime<Utc>,
) -> InboundReply {
    let control_id = message.and_then(|m| m.control_id()).map(|c| c.into_owned());
    let builder = AckBuilder::new(
        AckCode::ApplicationReject,
        &ack_control_id(control_id.as_deref().unwrap_or_default()),
    )
    .timestamp(now.fixed_offset())
    .error(error);
    let text = match message {
        Some(m) => builder.build(m).to_er7(),
        None => {
            let parse_error = Message::parse_bytes(body)
                .err()
                .unwrap_or(connector_hl7::ParseError::MissingMsh);
            builder.build_unparsable(body, &parse_error).to_er7()
        }
    };
    InboundReply::Ack {
        code: AckCode::ApplicationReject,
        text,
    }
}

/// A rejection of a message that was not processed, with its audit entry.
async fn reject(
    ctx: &Context,
    channel: &Channel,
    message: Option<&Message<'_>>,
    body: &[u8],
    reason: &str,
    error: AckError,
    now: DateTime<Utc>,
) -> Result<InboundReply, StoreError> {
    ctx.audit
        .append(&rejection_entry(channel, message, body, reason, now))
        .await?;
    tracing::info!(channel_id = %channel.channel_id, reason, "inbound message rejected");
    Ok(rejection_ack(message, body, error, now))
}

/// `ADT^A04` from MSH-9.
fn event_name(message: &Message<'_>) -> String {
    format!(
        "{}^{}",
        message.message_code().unwrap_or_default(),
        message.trigger_event().unwrap_or_default()
    )
}

/// The reply as HL7 ACK text, for transports that can only answer HL7 (the MLLP listener):
/// an unknown or misconfigured channel is an AR (resending does not help), an unavailable
/// store an AE (the EHR resends later).
pub fn reply_as_ack(reply: InboundReply, body: &[u8], now: DateTime<Utc>) -> String {
    let (code, error) = match reply {
        InboundReply::Ack { text, .. } => return text,
        InboundReply::ChannelMisconfigured { .. } => (
            AckCode::ApplicationReject,
            AckError::new(ErrorCode::ApplicationInternalError),
        ),
        InboundReply::UnknownChannel | InboundReply::Unauthorized(_) => (
            AckCode::ApplicationReject,
            AckError::new(ErrorCode::UnknownKeyIdentifier).at(location("MSH-5")),
        ),
        InboundReply::Unavailable => (
            AckCode::ApplicationError,
            AckError::new(ErrorCode::ApplicationInternalError),
        ),
    };
    match Message::parse_bytes(body) {
        Ok(message) => {
            let control_id = message
                .control_id()
                .map(|c| c.into_owned())
                .unwrap_or_default();
            match ack(code, &control_id, vec![error], &message, now) {
                InboundReply::Ack { text, .. } => text,
                _ => String::new(),
            }
        }
        Err(e) => AckBuilder::new(AckCode::ApplicationReject, "ACK")
            .timestamp(now.fixed_offset())
            .build_unparsable(body, &e)
            .to_er7(),
    }
}

/// The handler an MLLP listener bound to `channel_id` runs for each frame: the pipeline, then
/// the reply as an ACK (see [`reply_as_ack`]). For `connector_transport`'s MLLP server.
pub fn mllp_handler(
    ctx: std::sync::Arc<Context>,
    channel_id: String,
) -> impl Fn(Vec<u8>) -> std::pin::Pin<Box<dyn Future<Output = Vec<u8>> + Send>> + Send + Sync + 'static
{
    let channel_id: std::sync::Arc<str> = channel_id.into();
    move |frame: Vec<u8>| {
        let ctx = std::sync::Arc::clone(&ctx);
        let channel_id = std::sync::Arc::clone(&channel_id);
        Box::pin(async move {
            let reply = receive(&ctx, &channel_id, &frame, Authentication::Listener).await;
            reply_as_ack(reply, &frame, ctx.clock.now()).into_bytes()
        })
    }
}
