//! The pipeline of one message from a known, authenticated channel, step by step: parse,
//! route, claim, feed the HIE side, run the flows, close the ledger record and answer.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use connector_domain::Actor;
use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::flow::{Channel, Direction, Flow, MappingError, WebhookEvent};
use connector_domain::inbound::{
    ControlId, HIE_STEP, InboundClaim, InboundKey, InboundRecord, InboundState, StepProgress,
    flow_step,
};
use connector_domain::ports::{InboundClaimRequest, InboundFinish, LeaseTerms, StepSave};
use connector_domain::{AppointmentId, PatientId};
use connector_hl7::{AckCode, AckError, ErrorCode, Message};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::crm_sync::{FlowFailure, Progress, run_flow};
use super::{
    CLAIM_LEASE, InboundReply, ack, event_name, location, reject, rejection_ack, rejection_entry,
};
use crate::Context;
use crate::hie::hl7_feed::{self, HieEvent};

/// A step's result: go on with `T`, or answer with the reply now.
type Step<T> = Result<ControlFlow<InboundReply, T>, StoreError>;

/// Returns the reply from the enclosing function when a step answered already.
macro_rules! step {
    ($step:expr) => {
        match $step? {
            ControlFlow::Continue(value) => value,
            ControlFlow::Break(reply) => return Ok(reply),
        }
    };
}

/// The message as received on its channel.
struct Received<'a> {
    ctx: &'a Context,
    channel: &'a Channel,
    body: &'a [u8],
    now: DateTime<Utc>,
}

/// What the message asks for: the flows that take it, the HIE event it is (if any), and the
/// webhooks whose echoes are not sent back.
struct Routing {
    flows: Vec<Flow>,
    hie_event: Option<HieEvent>,
    echo_events: BTreeSet<WebhookEvent>,
}

/// What the HIE side did, for the audit entry.
struct HieResult {
    detail: Value,
    patient_id: Option<PatientId>,
    appointment_id: Option<AppointmentId>,
}

/// Processes a message from `channel` (see the [module documentation](super)).
pub(super) async fn process(
    ctx: &Context,
    channel: &Channel,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<InboundReply, StoreError> {
    let r = Received {
        ctx,
        channel,
        body,
        now,
    };
    let (message, control_id) = step!(r.parse().await);
    let routing = step!(r.route(&message).await);
    let key = InboundKey::new(channel.channel_id.clone(), control_id.clone());
    let event = event_name(&message);
    let record = step!(r.claim(&message, &key, &event).await);
    let attempt = record.attempts;
    let mut errors = Vec::new();
    let hie = match routing.hie_event {
        Some(hie_event) => {
            r.feed_hie(&message, hie_event, &key, &record, &mut errors)
                .await?
        }
        None => HieResult {
            detail: Value::Null,
            patient_id: None,
            appointment_id: None,
        },
    };
    let saver = Progress {
        crm_writes: ctx.crm_writes.as_ref(),
        clock: ctx.clock.as_ref(),
        echo_events: routing.echo_events,
        ledger: ctx.inbound_ledger.as_ref(),
        key: &key,
        attempt,
        now,
    };
    let detail_flows = run_flows(ctx, &saver, &routing.flows, &message, &record, &mut errors).await;
    let errors = without_repeats(errors);
    let code = r
        .close(&key, attempt, &event, &errors, hie, detail_flows)
        .await?;
    tracing::info!(
        channel_id = %key.channel_id,
        control_id = %key.control_id,
        event = %event,
        flows = routing.flows.len(),
        ack = code.as_str(),
        "inbound message processed"
    );
    Ok(ack(code, control_id.as_str(), errors, &message, now))
}

impl<'a> Received<'a> {
    /// The message and its control id (MSH-10); an AR when unparseable or without one.
    async fn parse(&self) -> Step<(Message<'a>, ControlId)> {
        let message = match Message::parse_bytes(self.body) {
            Ok(message) => message,
            Err(e) => {
                return self
                    .reject(None, "unparseable", AckError::for_parse_error(&e))
                    .await
                    .map(ControlFlow::Break);
            }
        };
        let Some(control_id) = message
            .control_id()
            .and_then(|c| ControlId::parse(c.into_owned()).ok())
        else {
            let error = AckError::new(ErrorCode::RequiredFieldMissing).at(location("MSH-10"));
            return self
                .reject(Some(&message), "no_control_id", error)
                .await
                .map(ControlFlow::Break);
        };
        Ok(ControlFlow::Continue((message, control_id)))
    }

    /// The channel's flows that take the message and its HIE event; an AR when nothing
    /// takes it.
    async fn route(&self, message: &Message<'_>) -> Step<Routing> {
        let channel_flows = self
            .ctx
            .flows
            .list_flows(Some(&self.channel.channel_id))
            .await?;
        // The webhooks the channel's CRM -> EHR flows take: the CRM writes that fire one of
        // them are read back and remembered, so their echoes are not sent back to the EHR.
        let echo_events: BTreeSet<WebhookEvent> = channel_flows
            .iter()
            .filter(|f| f.enabled && f.direction == Direction::CrmToEhr)
            .filter_map(|f| f.webhook_event)
            .collect();
        let flows: Vec<Flow> = channel_flows
            .into_iter()
            .filter(|f| f.handles(message))
            .collect();
        let hie_event = HieEvent::of(message);
        if flows.is_empty() && hie_event.is_none() {
            let error = AckError::new(ErrorCode::UnsupportedEventCode).at(location("MSH-9"));
            return self
                .reject(Some(message), "no_flow_for_event", error)
                .await
                .map(ControlFlow::Break);
        }
        Ok(ControlFlow::Continue(Routing {
            flows,
            hie_event,
            echo_events,
        }))
    }

    /// Claims the message in the inbound ledger. A resend of a finished message is an AA
    /// (nothing done), one in progress elsewhere an AE; a control id reused for another
    /// message is an AR.
    async fn claim(
        &self,
        message: &Message<'_>,
        key: &InboundKey,
        event: &str,
    ) -> Step<InboundRecord> {
        let body_sha256 = hex::encode(Sha256::digest(self.body));
        let claim = self
            .ctx
            .inbound_ledger
            .claim(InboundClaimRequest {
                key,
                body_sha256: &body_sha256,
                event,
                lease: LeaseTerms::new(self.now, CLAIM_LEASE),
            })
            .await?;
        let reply = match claim {
            InboundClaim::Granted(record) if record.body_sha256 == body_sha256 => {
                return Ok(ControlFlow::Continue(record));
            }
            InboundClaim::AlreadyDone(record) if record.body_sha256 == body_sha256 => {
                self.duplicate(message, key, event, &record).await?
            }
            InboundClaim::Busy(record) if record.body_sha256 == body_sha256 => {
                tracing::info!(channel_id = %key.channel_id, control_id = %key.control_id, "message is being processed by another handler");
                ack(
                    AckCode::ApplicationError,
                    key.control_id.as_str(),
                    vec![AckError::new(ErrorCode::ApplicationRecordLocked)],
                    message,
                    self.now,
                )
            }
            InboundClaim::Granted(record) => self.give_back(message, key, &record).await?,
            // The control id was used before for a different message.
            InboundClaim::AlreadyDone(_) | InboundClaim::Busy(_) => {
                let error = AckError::new(ErrorCode::DuplicateKeyIdentifier).at(location("MSH-10"));
                self.reject(Some(message), "control_id_reused", error)
                    .await?
            }
        };
        Ok(ControlFlow::Break(reply))
    }

    /// A resend of a message processed before: audited as a duplicate, acknowledged AA.
    async fn duplicate(
        &self,
        message: &Message<'_>,
        key: &InboundKey,
        event: &str,
        record: &InboundRecord,
    ) -> Result<InboundReply, StoreError> {
        let entry =
            audit_entry("hl7.duplicate", AuditOutcome::Skipped, self.now).with_detail(json!({
                "channel_id": key.channel_id.as_str(),
                "control_id": key.control_id.as_str(),
                "event": event,
                "ack": "AA",
                "first_received_at": record.received_at,
            }));
        self.ctx.audit.append(&entry).await?;
        tracing::info!(channel_id = %key.channel_id, control_id = %key.control_id, "duplicate message: nothing done");
        Ok(ack(
            AckCode::ApplicationAccept,
            key.control_id.as_str(),
            Vec::new(),
            message,
            self.now,
        ))
    }

    /// The control id was used before for a different message, whose last attempt failed:
    /// the claim just granted on that message's record is given back at once (state Failed
    /// again, with the rejection's audit entry), so the original's resend is not locked out
    /// for the lease.
    async fn give_back(
        &self,
        message: &Message<'_>,
        key: &InboundKey,
        record: &InboundRecord,
    ) -> Result<InboundReply, StoreError> {
        let reason = "control_id_reused";
        let entry = rejection_entry(self.channel, Some(message), self.body, reason, self.now);
        self.ctx
            .inbound_ledger
            .finish(InboundFinish {
                key,
                attempt: record.attempts,
                state: InboundState::Failed,
                now: self.now,
                audit: &entry,
            })
            .await?;
        tracing::info!(channel_id = %self.channel.channel_id, reason, "inbound message rejected");
        Ok(rejection_ack(
            Some(message),
            self.body,
            AckError::new(ErrorCode::DuplicateKeyIdentifier).at(location("MSH-10")),
            self.now,
        ))
    }

    /// Feeds the HIE side unless an earlier attempt did. Refused values become ERRs (the step
    /// is not saved as done, so a resend is checked again); a store failure an AE.
    async fn feed_hie(
        &self,
        message: &Message<'_>,
        hie_event: HieEvent,
        key: &InboundKey,
        record: &InboundRecord,
        errors: &mut Vec<AckError>,
    ) -> Result<HieResult, StoreError> {
        let mut result = HieResult {
            detail: Value::Null,
            patient_id: None,
            appointment_id: None,
        };
        if record.steps.get(HIE_STEP).is_some_and(|s| s.done) {
            result.detail = json!({ "outcome": StepOutcome::DoneBefore });
            return Ok(result);
        }
        match hl7_feed::apply(self.ctx, message, hie_event).await {
            Ok(outcome) => {
                result.patient_id.clone_from(&outcome.patient_id);
                result.appointment_id.clone_from(&outcome.appointment_id);
                result.detail = serde_json::to_value(&outcome).unwrap_or(Value::Null);
                if outcome.refused_anything() {
                    errors.extend(outcome.refused.iter().map(refused_value_error));
                } else {
                    let progress = StepProgress {
                        done: true,
                        ..StepProgress::default()
                    };
                    self.ctx
                        .inbound_ledger
                        .save_step(StepSave {
                            key,
                            attempt: record.attempts,
                            step: HIE_STEP,
                            progress: &progress,
                            now: self.now,
                        })
                        .await?;
                }
            }
            Err(e) => {
                tracing::warn!(channel_id = %key.channel_id, control_id = %key.control_id, error = %crate::telemetry::error_chain(&e), "HIE feed failed");
                result.detail = json!({ "outcome": StepOutcome::Failed, "error": "store" });
                errors.push(AckError::new(ErrorCode::ApplicationInternalError));
            }
        }
        Ok(result)
    }

    /// Closes the ledger record (Done when nothing failed) with the `hl7.processed` audit
    /// entry in the same write; the ACK code to answer.
    async fn close(
        &self,
        key: &InboundKey,
        attempt: u32,
        event: &str,
        errors: &[AckError],
        hie: HieResult,
        detail_flows: Vec<Value>,
    ) -> Result<AckCode, StoreError> {
        let (code, state, outcome) = if errors.is_empty() {
            (
                AckCode::ApplicationAccept,
                InboundState::Done,
                AuditOutcome::Success,
            )
        } else {
            (
                AckCode::ApplicationError,
                InboundState::Failed,
                AuditOutcome::Error,
            )
        };
        let mut entry = audit_entry("hl7.processed", outcome, self.now).with_detail(json!({
            "channel_id": key.channel_id.as_str(),
            "control_id": key.control_id.as_str(),
            "event": event,
            "attempt": attempt,
            "ack": code.as_str(),
            "hie": hie.detail,
            "flows": detail_flows,
        }));
        if let Some(id) = &hie.patient_id {
            entry = entry.with_patient(id);
        }
        if let Some(id) = &hie.appointment_id {
            entry = entry.with_appointment(id);
        }
        self.ctx
            .inbound_ledger
            .finish(InboundFinish {
                key,
                attempt,
                state,
                now: self.now,
                audit: &entry,
            })
            .await?;
        Ok(code)
    }

    /// An AR for a message that was not processed, with its audit entry.
    async fn reject(
        &self,
        message: Option<&Message<'_>>,
        reason: &str,
        error: AckError,
    ) -> Result<InboundReply, StoreError> {
        reject(
            self.ctx,
            self.channel,
            message,
            self.body,
            reason,
            error,
            self.now,
        )
        .await
    }
}

/// Runs each flow that an earlier attempt did not finish; a failure becomes an ERR. The
/// flows' audit details.
async fn run_flows(
    ctx: &Context,
    saver: &Progress<'_>,
    flows: &[Flow],
    message: &Message<'_>,
    record: &InboundRecord,
    errors: &mut Vec<AckError>,
) -> Vec<Value> {
    let mut details = Vec::with_capacity(flows.len());
    for flow in flows {
        let earlier = record
            .steps
            .get(&flow_step(&flow.flow_id))
            .cloned()
            .unwrap_or_default();
        if earlier.done {
            details.push(flow_detail(flow, &earlier, StepOutcome::DoneBefore, None));
            continue;
        }
        match run_flow(ctx.crm.as_ref(), saver, flow, message, earlier).await {
            Ok(progress) => details.push(flow_detail(flow, &progress, StepOutcome::Done, None)),
            Err((progress, failure)) => {
                tracing::warn!(
                    channel_id = %saver.key.channel_id,
                    control_id = %saver.key.control_id,
                    flow_id = %flow.flow_id,
                    failure = failure.kind(),
                    error = %crate::telemetry::error_chain(&failure),
                    "flow failed"
                );
                errors.push(flow_error(&failure));
                details.push(flow_detail(
                    flow,
                    &progress,
                    StepOutcome::Failed,
                    Some(&failure),
                ));
            }
        }
    }
    details
}

/// The ERRs without repeats: the HIE side and a flow may refuse the same field.
fn without_repeats(errors: Vec<AckError>) -> Vec<AckError> {
    let mut unique: Vec<AckError> = Vec::with_capacity(errors.len());
    for e in errors {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    unique
}

/// The ERR for a value the HIE side refused: 101 when missing, 102 when unusable, at its field.
fn refused_value_error(refused: &hl7_feed::RefusedValue) -> AckError {
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

/// An `hl7_inbound` audit entry of the pipeline.
pub(super) fn audit_entry(action: &str, outcome: AuditOutcome, now: DateTime<Utc>) -> AuditEntry {
    AuditEntry::new(
        LogType::Hl7Inbound,
        now,
        Actor::system("hl7-inbound"),
        action,
        outcome,
    )
}

/// How a step (the HIE feed, or one flow) ended: the `outcome` of its part of the
/// `hl7.processed` audit detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum StepOutcome {
    /// It ran to the end now.
    Done,
    /// An earlier attempt of this message finished it; it did not run again.
    DoneBefore,
    /// It failed; a resend runs it again.
    Failed,
}

/// A flow's part of the `hl7.processed` audit detail.
fn flow_detail(
    flow: &Flow,
    progress: &StepProgress,
    outcome: StepOutcome,
    failure: Option<&FlowFailure>,
) -> Value {
    let mut detail = json!({
        "flow_id": flow.flow_id.as_str(),
        "outcome": outcome,
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
