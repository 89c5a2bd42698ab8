//! The HIE sender: one work item at a time, exactly one send per (appointment, transition).
//!
//! For each item: claim it in the send ledger (a conditional write), re-check consent now (a
//! revoke between collect and send stops it), build the message from the settings' defaults with
//! the encounter attached, send it, and record the outcome and its audit entry together.
//! Transient failures go back to the queue (and, after the configured receives, to its
//! dead-letter queue); permanent ones are audited and acknowledged.
//!
//! The one window that can still duplicate: a sender that dies after the mail service accepted
//! the message but before the ledger recorded it. Its lease lapses and the next delivery sends
//! again (SES has no idempotency key); the ledger narrows this to the seconds between the two.

use chrono::{DateTime, Duration, Utc};
use connector_domain::audit::{AuditEntry, LogType, Outcome};
use connector_domain::consent::{ConsentStatus, status};
use connector_domain::hie::{
    Claim, Decision, HieWork, SendState, SkipReason, build_mail, decide, encounter_hl7,
};
use connector_domain::ports::{MailError, QueueConsumer, QueueError};
use connector_domain::settings::current_settings;
use connector_domain::{Actor, StoreError};
use connector_hl7::ControlIdGenerator;
use serde_json::json;
use std::sync::LazyLock;
use tracing::Instrument;

use crate::Context;
use crate::jobs::worker::{self, BatchJob, Kept, QueuedMessage};

/// How long a claim protects a send in progress before another sender may take it over.
pub const CLAIM_LEASE: Duration = Duration::minutes(5);

static CONTROL_IDS: LazyLock<ControlIdGenerator> = LazyLock::new(ControlIdGenerator::random);

/// How handling one work item ended, and so what the host does with the queue message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Sent now. Delete the message.
    Sent {
        /// The mail service's message id.
        message_id: String,
    },
    /// Not sent, deliberately (no valid consent, superseded, HIE disabled). Delete the message.
    Skipped(SkipReason),
    /// Already sent or closed by an earlier delivery. Delete the message.
    Duplicate,
    /// Failed for good (rejected, or the message cannot be built). Delete the message.
    Failed,
    /// Try again later (transient failure, or another sender holds the claim). Keep the message.
    Retry,
}

impl SendOutcome {
    /// True when the queue message must stay for a later delivery.
    pub fn retry(&self) -> bool {
        matches!(self, Self::Retry)
    }
}

/// A failure of the connector's own stores: the message stays on the queue.
#[derive(Debug, thiserror::Error)]
#[error("store failure while sending")]
pub struct SenderError(#[from] pub StoreError);

fn entry(work: &HieWork, action: &str, outcome: Outcome, now: DateTime<Utc>) -> AuditEntry {
    AuditEntry::new(
        LogType::HieSentAppointments,
        now,
        Actor::system("hie-sender"),
        action,
        outcome,
    )
    .with_appointment(&work.appointment_id)
}

/// Handles one work item. `receive_count` is how many times the queue has delivered it.
pub async fn handle(
    ctx: &Context,
    work: &HieWork,
    receive_count: u32,
) -> Result<SendOutcome, SenderError> {
    let key = work.key();
    let now = ctx.clock.now();
    let attempt = match ctx.send_ledger.claim(&key, now, CLAIM_LEASE).await? {
        Claim::Granted { attempt } => attempt,
        Claim::AlreadySent { .. } | Claim::Closed => {
            tracing::info!(appointment_id = %work.appointment_id, transition_seq = work.transition_seq,
                resend = work.resend, "work item already handled; dropping the duplicate");
            return Ok(SendOutcome::Duplicate);
        }
        Claim::Busy { .. } => return Ok(SendOutcome::Retry),
    };
    let finish = |state: SendState, message_id: Option<String>, audit: AuditEntry| {
        let key = key.clone();
        async move {
            match ctx
                .send_ledger
                .finish(
                    &key,
                    attempt,
                    state,
                    message_id.as_deref(),
                    ctx.clock.now(),
                    &audit,
                )
                .await
            {
                Ok(()) => Ok(true),
                // Our lease lapsed and another sender took over: its outcome stands.
                Err(StoreError::Conflict(_)) => Ok(false),
                Err(err) => Err(SenderError(err)),
            }
        }
    };
    let skip = |reason: SkipReason, detail: serde_json::Value| {
        let audit = entry(work, "appointment.skipped", Outcome::Skipped, now).with_detail(detail);
        async move {
            finish(SendState::Failed, None, audit).await?;
            tracing::info!(appointment_id = %work.appointment_id, reason = reason.as_str(), "appointment not sent");
            Ok::<_, SenderError>(SendOutcome::Skipped(reason))
        }
    };

    let settings = current_settings(ctx.settings.as_ref()).await?.value;
    if !settings.enabled {
        // Leave it for when HIE is enabled again; the claim is released for a later delivery.
        let audit = entry(work, "appointment.deferred", Outcome::Skipped, now).with_detail(
            json!({"reason": "hie_disabled", "attempt": attempt, "receive_count": receive_count}),
        );
        finish(SendState::RetryPending, None, audit).await?;
        return Ok(SendOutcome::Retry);
    }
    let Some(appointment) = ctx.appointments.get(&work.appointment_id).await? else {
        let audit = entry(work, "appointment.failed", Outcome::Error, now)
            .with_detail(json!({"error": "unknown_appointment"}));
        finish(SendState::Failed, None, audit).await?;
        return Ok(SendOutcome::Failed);
    };
    if work.resend == 0 && appointment.transition_seq != work.transition_seq {
        return skip(
            SkipReason::Superseded,
            json!({"reason": "superseded", "transition_seq": work.transition_seq, "current_transition_seq": appointment.transition_seq}),
        )
        .await;
    }
    let Some(patient) = ctx.patients.get(&appointment.patient_id).await? else {
        return skip(
            SkipReason::UnknownPatient,
            json!({"reason": "unknown_patient"}),
        )
        .await;
    };
    let latest = ctx.consents.latest(&patient.patient_id).await?;
    let today = settings.today(now);
    let consent_status = latest.as_ref().map(|c| status(c, true, today));
    let consent_detail = json!({
        "consent_id": latest.as_ref().map(|c| c.consent_id.to_string()),
        "consent_status": consent_status.map(ConsentStatus::as_str),
        "transition_seq": work.transition_seq,
        "resend": work.resend,
        "attempt": attempt,
    });
    let with_patient = |e: AuditEntry| {
        let e = e.with_patient(&patient.patient_id);
        match &latest {
            Some(c) => e.with_consent(&c.consent_id),
            None => e,
        }
    };
    if let Decision::Skip { reason, .. } = decide(latest.as_ref(), today) {
        let mut detail = consent_detail.clone();
        detail["reason"] = json!(reason.as_str());
        let audit = with_patient(
            entry(work, "appointment.skipped", Outcome::Skipped, now).with_detail(detail),
        );
        finish(SendState::Failed, None, audit).await?;
        tracing::info!(appointment_id = %work.appointment_id, reason = reason.as_str(), "appointment not sent: no valid consent");
        return Ok(SendOutcome::Skipped(reason));
    }

    let control_id = CONTROL_IDS.next(now);
    let mail = encounter_hl7(&patient, &appointment, &settings, now, &control_id)
        .and_then(|er7| build_mail(&settings, &er7, &appointment, &control_id, now));
    let mail = match mail {
        Ok(mail) => mail,
        Err(err) => {
            let mut detail = consent_detail.clone();
            detail["error"] = json!("invalid_message");
            detail["message"] = json!(err.to_string());
            let audit = with_patient(
                entry(work, "appointment.failed", Outcome::Error, now).with_detail(detail),
            );
            finish(SendState::Failed, None, audit).await?;
            tracing::warn!(appointment_id = %work.appointment_id, "HIE message could not be built");
            return Ok(SendOutcome::Failed);
        }
    };
    match ctx.mailer.send(&mail).await {
        Ok(message_id) => {
            let mut detail = consent_detail.clone();
            detail["message_id"] = json!(message_id);
            detail["control_id"] = json!(control_id);
            let audit = with_patient(
                entry(work, "appointment.sent", Outcome::Success, ctx.clock.now())
                    .with_detail(detail),
            );
            finish(SendState::Sent, Some(message_id.clone()), audit).await?;
            tracing::info!(appointment_id = %work.appointment_id, transition_seq = work.transition_seq,
                attempt, "appointment sent to the HIE");
            Ok(SendOutcome::Sent { message_id })
        }
        Err(MailError::Permanent(cause)) => {
            let mut detail = consent_detail.clone();
            detail["error"] = json!("rejected");
            detail["message"] = json!(crate::http::problem::error_chain(cause.as_ref()));
            let audit = with_patient(
                entry(work, "appointment.failed", Outcome::Error, ctx.clock.now())
                    .with_detail(detail),
            );
            finish(SendState::Failed, None, audit).await?;
            tracing::warn!(appointment_id = %work.appointment_id, "HIE mail rejected permanently");
            Ok(SendOutcome::Failed)
        }
        Err(MailError::Transient(cause)) => {
            let mut detail = consent_detail.clone();
            detail["error"] = json!("transient");
            detail["message"] = json!(crate::http::problem::error_chain(cause.as_ref()));
            detail["receive_count"] = json!(receive_count);
            let audit = with_patient(
                entry(work, "appointment.retry", Outcome::Error, ctx.clock.now())
                    .with_detail(detail),
            );
            finish(SendState::RetryPending, None, audit).await?;
            tracing::warn!(appointment_id = %work.appointment_id, receive_count, "HIE mail failed transiently; will retry");
            Ok(SendOutcome::Retry)
        }
    }
}

/// Handles a batch (an SQS event on Lambda, a receive on the embedded queue); returns the ids of
/// the messages to keep for a later delivery. A body that is not a work item is audited and
/// dropped (retrying cannot fix it).
pub async fn handle_batch(ctx: &Context, deliveries: &[QueuedMessage]) -> Vec<String> {
    let mut keep = Vec::new();
    for delivery in deliveries {
        let span = tracing::info_span!("hie_send", queue_message_id = %delivery.message_id);
        let Ok(work) = HieWork::parse(&delivery.body) else {
            span.in_scope(|| tracing::error!("queue message is not an HIE work item; dropping it"));
            let audit = AuditEntry::new(
                LogType::HieSentAppointments,
                ctx.clock.now(),
                Actor::system("hie-sender"),
                "work.invalid",
                Outcome::Error,
            )
            .with_detail(json!({"queue_message_id": delivery.message_id}));
            if ctx.audit.append(&audit).await.is_err() {
                keep.push(delivery.message_id.clone());
            }
            continue;
        };
        match handle(ctx, &work, delivery.receive_count)
            .instrument(span)
            .await
        {
            Ok(outcome) if outcome.retry() => keep.push(delivery.message_id.clone()),
            Ok(_) => {}
            Err(err) => {
                tracing::error!(error.chain = %crate::http::problem::error_chain(&err), "store failure; message kept for retry");
                keep.push(delivery.message_id.clone());
            }
        }
    }
    keep
}

/// Backoff before a kept message is delivered again: 30 s doubling per delivery, at most 15 min.
pub fn retry_delay(receive_count: u32) -> std::time::Duration {
    let exponent = receive_count.saturating_sub(1).min(5);
    std::time::Duration::from_secs((30u64 << exponent).min(900))
}

/// The HIE sender as a [`BatchJob`]: kept work items come back after [`retry_delay`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HieSender;

#[async_trait::async_trait]
impl BatchJob for HieSender {
    fn queue_name(&self) -> &'static str {
        "hie"
    }

    fn consumer<'c>(&self, ctx: &'c Context) -> Option<&'c std::sync::Arc<dyn QueueConsumer>> {
        ctx.hie_consumer.as_ref()
    }

    fn visibility(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            u64::try_from((CLAIM_LEASE + Duration::minutes(1)).num_seconds()).unwrap_or(360),
        )
    }

    async fn handle_batch(&self, ctx: &Context, batch: &[QueuedMessage]) -> Vec<Kept> {
        let keep = handle_batch(ctx, batch).await;
        batch
            .iter()
            .filter(|m| keep.contains(&m.message_id))
            .map(|m| Kept {
                message_id: m.message_id.clone(),
                delay: retry_delay(m.receive_count),
            })
            .collect()
    }
}

/// Receives one batch from this host's own HIE queue (`connector serve`), handles it, deletes
/// what is done and releases the rest with backoff. Returns how many messages it received (0
/// when the queue had nothing visible, or this host has no consumer).
///
/// # Errors
/// The queue failed.
pub async fn drain_once(ctx: &Context) -> Result<usize, QueueError> {
    worker::drain_once(ctx, &HieSender).await
}
