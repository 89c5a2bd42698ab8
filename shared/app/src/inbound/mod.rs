//! The inbound HL7 pipeline (EHR -> connector), the same for every transport: the hl7-inbound
//! HTTP route (Lambda and `connector serve`) and the MLLP listener of `connector serve --mllp`.
//!
//! For one message: find the channel; check its signature (HTTP; an MLLP listener is bound to
//! one channel and trusted); parse; claim (channel, MSH-10) in the inbound ledger so a resent
//! message changes nothing; feed the HIE side ([`hie_feed`]); run every enabled ehr_to_crm flow
//! of the channel that takes the event ([`crm_sync`]); record the outcome with one
//! `hl7_inbound` audit entry in the same transaction that closes the ledger record; answer an
//! ACK: AA when everything succeeded, AE (with an ERR per failure) when something failed (a
//! resend finishes what is left), AR when the message is unparseable, lacks MSH-10, reuses a
//! control id for different content, or has an event nothing takes.
//!
//! The ACK is built only after the ledger record is durably closed.

pub mod crm_sync;
pub mod hie_feed;
pub mod misconfigured;
pub mod signature;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use connector_domain::audit::{AuditEntry, LogType, Outcome};
use connector_domain::flow::{Channel, ChannelId, Direction, Flow, MappingError, WebhookEvent};
use connector_domain::inbound::{
    ControlId, HIE_STEP, InboundClaim, InboundKey, InboundState, StepProgress, flow_step,
};
use connector_domain::ports::SecretError;
use connector_domain::{Actor, StoreError};
use connector_hl7::{AckBuilder, AckCode, AckError, ErrorCode, ErrorLocation, Message, Path};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Context;
use crate::inbound::crm_sync::{FlowFailure, Progress, run_flow};
use crate::inbound::hie_feed::HieEvent;
use crate::inbound::signature::SignatureError;

/// How long a handler holds a message before another may take it over.
pub const CLAIM_LEASE: chrono::Duration = chrono::Duration::minutes(2);

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
            tracing::error!(channel_id = %channel_id, error = %crate::http::problem::error_chain(&e), "cannot read the channel");
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
                tracing::error!(channel_id = %channel_id, error = %crate::http::problem::error_chain(&e), "cannot read the channel's HMAC secret");
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
    match process(ctx, &channel, body, now).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(channel_id = %channel_id, error = %crate::http::problem::error_chain(&e), "inbound store failure");
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
        Outcome::Error,
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

/// The ERR for a value the HIE side refused: 101 when missing, 102 when unusable, at its field.
fn refused_value_error(refused: &hie_feed::RefusedValue) -> AckError {
    let code = if refused.missing {
        ErrorCode::RequiredFieldMissing
    } else {
        ErrorCode::DataTypeError
    };
    AckError::new(code).at(location(refused.hl7_path))
}

/// The ERR for a failed flow.
fn flow_error(failure: &FlowFailure) -> AckError {
    let internal = AckError::new(ErrorCode::ApplicationInternalError);
    match failure {
        FlowFailure::Mapping(errors) => match errors.0.first() {
            Some(MappingError::Required { path, .. }) => {
                AckError::new(ErrorCode::RequiredFieldMissing).at(path)
            }
            Some(
                MappingError::Transform { path, .. }
                | MappingError::NotADateTime { path }
                | MappingError::TooLong { path, .. },
            ) => AckError::new(ErrorCode::DataTypeError).at(path),
            Some(MappingError::NoActivityMatch { path }) => {
                AckError::new(ErrorCode::RequiredFieldMissing).at(path)
            }
            Some(MappingError::NoSearchKey) => AckError::new(ErrorCode::RequiredFieldMissing),
            _ => internal,
        },
        // HL7 table 0357 code 205, "Duplicate key identifier", at the key's field.
        FlowFailure::AmbiguousMatch { hl7_path, .. } => {
            AckError::new(ErrorCode::DuplicateKeyIdentifier).at(hl7_path)
        }
        FlowFailure::Crm(_) | FlowFailure::Ledger(_) | FlowFailure::KeyBusy => internal,
    }
}

async fn process(
    ctx: &Context,
    channel: &Channel,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<InboundReply, StoreError> {
    let message = match Message::parse_bytes(body) {
        Ok(message) => message,
        Err(e) => {
            return reject(
                ctx,
                channel,
                None,
                body,
                "unparseable",
                AckError::for_parse_error(&e),
                now,
            )
            .await;
        }
    };
    let Some(control_id) = message
        .control_id()
        .and_then(|c| ControlId::parse(c.into_owned()).ok())
    else {
        return reject(
            ctx,
            channel,
            Some(&message),
            body,
            "no_control_id",
            AckError::new(ErrorCode::RequiredFieldMissing).at(location("MSH-10")),
            now,
        )
        .await;
    };
    let event = event_name(&message);
    let hie_event = HieEvent::of(&message);
    let channel_flows = ctx.flows.list_flows(Some(&channel.channel_id)).await?;
    // The webhooks the channel's CRM -> EHR flows take: the CRM writes that fire one of them
    // are read back and remembered, so their echoes are not sent back to the EHR.
    let echo_events: BTreeSet<WebhookEvent> = channel_flows
        .iter()
        .filter(|f| f.enabled && f.direction == Direction::CrmToEhr)
        .filter_map(|f| f.webhook_event)
        .collect();
    let flows: Vec<Flow> = channel_flows
        .into_iter()
        .filter(|f| f.handles(&message))
        .collect();
    if flows.is_empty() && hie_event.is_none() {
        return reject(
            ctx,
            channel,
            Some(&message),
            body,
            "no_flow_for_event",
            AckError::new(ErrorCode::UnsupportedEventCode).at(location("MSH-9")),
            now,
        )
        .await;
    }

    let key = InboundKey::new(channel.channel_id.clone(), control_id.clone());
    let body_sha256 = hex::encode(Sha256::digest(body));
    let record = match ctx
        .inbound_ledger
        .claim(&key, &body_sha256, &event, now, CLAIM_LEASE)
        .await?
    {
        InboundClaim::Granted(record) if record.body_sha256 == body_sha256 => record,
        InboundClaim::AlreadyDone(record) if record.body_sha256 == body_sha256 => {
            let entry = audit_entry("hl7.duplicate", Outcome::Skipped, now).with_detail(json!({
                "channel_id": key.channel_id.as_str(),
                "control_id": key.control_id.as_str(),
                "event": event,
                "ack": "AA",
                "first_received_at": record.received_at,
            }));
            ctx.audit.append(&entry).await?;
            tracing::info!(channel_id = %key.channel_id, control_id = %key.control_id, "duplicate message: nothing done");
            return Ok(ack(
                AckCode::ApplicationAccept,
                control_id.as_str(),
                Vec::new(),
                &message,
                now,
            ));
        }
        InboundClaim::Busy(record) if record.body_sha256 == body_sha256 => {
            tracing::info!(channel_id = %key.channel_id, control_id = %key.control_id, "message is being processed by another handler");
            return Ok(ack(
                AckCode::ApplicationError,
                control_id.as_str(),
                vec![AckError::new(ErrorCode::ApplicationRecordLocked)],
                &message,
                now,
            ));
        }
        // The control id was used before for a different message, whose last attempt failed:
        // the claim just granted on that message's record is given back at once (state Failed
        // again, with the rejection's audit entry), so the original's resend is not locked out
        // for the lease.
        InboundClaim::Granted(record) => {
            let reason = "control_id_reused";
            let entry = rejection_entry(channel, Some(&message), body, reason, now);
            ctx.inbound_ledger
                .finish(&key, record.attempts, InboundState::Failed, now, &entry)
                .await?;
            tracing::info!(channel_id = %channel.channel_id, reason, "inbound message rejected");
            return Ok(rejection_ack(
                Some(&message),
                body,
                AckError::new(ErrorCode::DuplicateKeyIdentifier).at(location("MSH-10")),
                now,
            ));
        }
        // The control id was used before for a different message.
        InboundClaim::AlreadyDone(_) | InboundClaim::Busy(_) => {
            return reject(
                ctx,
                channel,
                Some(&message),
                body,
                "control_id_reused",
                AckError::new(ErrorCode::DuplicateKeyIdentifier).at(location("MSH-10")),
                now,
            )
            .await;
        }
    };
    let attempt = record.attempts;
    let mut errors = Vec::new();
    let mut detail_flows = Vec::new();
    let mut hie_detail = Value::Null;
    let mut patient_id = None;
    let mut appointment_id = None;

    if let Some(hie_event) = hie_event {
        let done = record.steps.get(HIE_STEP).is_some_and(|s| s.done);
        if done {
            hie_detail = json!({ "outcome": "done_before" });
        } else {
            match hie_feed::apply(ctx, &message, hie_event).await {
                Ok(outcome) => {
                    patient_id.clone_from(&outcome.patient_id);
                    appointment_id.clone_from(&outcome.appointment_id);
                    hie_detail = serde_json::to_value(&outcome).unwrap_or(Value::Null);
                    if outcome.refused_anything() {
                        // The EHR hears what was refused; not saved as done, so a resend is
                        // checked again instead of being acknowledged as done.
                        errors.extend(outcome.refused.iter().map(refused_value_error));
                    } else {
                        let progress = StepProgress {
                            done: true,
                            ..StepProgress::default()
                        };
                        ctx.inbound_ledger
                            .save_step(&key, attempt, HIE_STEP, &progress, now)
                            .await?;
                    }
                }
                Err(e) => {
                    tracing::warn!(channel_id = %key.channel_id, control_id = %key.control_id, error = %crate::http::problem::error_chain(&e), "HIE feed failed");
                    hie_detail = json!({ "outcome": "failed", "error": "store" });
                    errors.push(AckError::new(ErrorCode::ApplicationInternalError));
                }
            }
        }
    }

    let saver = Progress {
        crm_writes: ctx.crm_writes.as_ref(),
        clock: ctx.clock.as_ref(),
        echo_events,
        ledger: ctx.inbound_ledger.as_ref(),
        key: &key,
        attempt,
        now,
    };
    for flow in &flows {
        let earlier = record
            .steps
            .get(&flow_step(&flow.flow_id))
            .cloned()
            .unwrap_or_default();
        if earlier.done {
            detail_flows.push(flow_detail(flow, &earlier, Some("done_before"), None));
            continue;
        }
        match run_flow(ctx.crm.as_ref(), &saver, flow, &message, earlier).await {
            Ok(progress) => detail_flows.push(flow_detail(flow, &progress, None, None)),
            Err((progress, failure)) => {
                tracing::warn!(
                    channel_id = %key.channel_id,
                    control_id = %key.control_id,
                    flow_id = %flow.flow_id,
                    failure = failure.kind(),
                    error = %crate::http::problem::error_chain(&failure),
                    "flow failed"
                );
                errors.push(flow_error(&failure));
                detail_flows.push(flow_detail(flow, &progress, None, Some(&failure)));
            }
        }
    }

    // The HIE side and a flow may refuse the same field: one ERR each.
    let mut unique: Vec<AckError> = Vec::with_capacity(errors.len());
    for e in errors {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    let errors = unique;
    let (code, state, outcome) = if errors.is_empty() {
        (
            AckCode::ApplicationAccept,
            InboundState::Done,
            Outcome::Success,
        )
    } else {
        (
            AckCode::ApplicationError,
            InboundState::Failed,
            Outcome::Error,
        )
    };
    let mut entry = audit_entry("hl7.processed", outcome, now).with_detail(json!({
        "channel_id": key.channel_id.as_str(),
        "control_id": key.control_id.as_str(),
        "event": event,
        "attempt": attempt,
        "ack": code.as_str(),
        "hie": hie_detail,
        "flows": detail_flows,
    }));
    if let Some(id) = &patient_id {
        entry = entry.with_patient(id);
    }
    if let Some(id) = &appointment_id {
        entry = entry.with_appointment(id);
    }
    ctx.inbound_ledger
        .finish(&key, attempt, state, now, &entry)
        .await?;
    tracing::info!(
        channel_id = %key.channel_id,
        control_id = %key.control_id,
        event = %event,
        flows = flows.len(),
        ack = code.as_str(),
        "inbound message processed"
    );
    Ok(ack(code, control_id.as_str(), errors, &message, now))
}

fn audit_entry(action: &str, outcome: Outcome, now: DateTime<Utc>) -> AuditEntry {
    AuditEntry::new(
        LogType::Hl7Inbound,
        now,
        Actor::system("hl7-inbound"),
        action,
        outcome,
    )
}

fn flow_detail(
    flow: &Flow,
    progress: &StepProgress,
    note: Option<&str>,
    failure: Option<&FlowFailure>,
) -> Value {
    let mut detail = json!({
        "flow_id": flow.flow_id.as_str(),
        "outcome": match (note, failure) {
            (Some(note), _) => note,
            (None, Some(_)) => "failed",
            (None, None) => "done",
        },
        "error": failure.map(FlowFailure::kind),
        "lead_id": progress.lead_id,
        "lead": progress.lead_action,
        "activity_id": progress.activity_id,
        "activity": progress.activity_action,
        "truncated": progress.truncated,
    });
    // The CRM field an ambiguous search used (a schema name, never a value).
    if let Some(FlowFailure::AmbiguousMatch { search_key, .. }) = failure {
        detail["search_key"] = json!(search_key);
    }
    detail
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
