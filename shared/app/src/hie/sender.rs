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

use std::ops::ControlFlow;

use chrono::{DateTime, Duration, Utc};
use connector_domain::appointment::Appointment;
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::consent::{Consent, ConsentStatus, status};
use connector_domain::hie::{
    Claim, Decision, HieWork, SendKey, SendState, SkipReason, build_mail, decide, encounter_hl7,
};
use connector_domain::patient::Patient;
use connector_domain::ports::{LeaseTerms, MailError, QueueConsumer, QueueError, SendFinish};
use connector_domain::settings::{HieSettings, current_settings};
use connector_domain::{Actor, StoreError};
use connector_hl7::ControlIdGenerator;
use serde_json::json;
use std::sync::LazyLock;
use tracing::Instrument;

use crate::Context;
use crate::jobs::worker::{self, BatchJob, Kept, QueuedMessage};

/// How long a claim protects a send in progress before another sender may take it over.
pub const CLAIM_LEASE: Duration = connector_domain::lease::HIE_SEND_CLAIM;

static CONTROL_IDS: LazyLock<ControlIdGenerator> = LazyLock::new(ControlIdGenerator::random);

/// How handling one work item ended, and so what the host does with the queue message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HieSendResult {
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

impl HieSendResult {
    /// True when the queue message must stay for a later delivery.
    pub fn retry(&self) -> bool {
        matches!(self, Self::Retry)
    }
}

/// A failure of the connector's own stores: the message stays on the queue.
#[derive(Debug, thiserror::Error)]
#[error("store failure while sending")]
pub struct SenderError(#[from] pub StoreError);

/// An `hie_sent_appointments` audit entry about the work item's appointment.
fn entry(work: &HieWork, action: &str, outcome: AuditOutcome, now: DateTime<Utc>) -> AuditEntry {
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
) -> Result<HieSendResult, SenderError> {
    let now = ctx.clock.now();
    let attempt = match claim(ctx, work, now).await? {
        ControlFlow::Continue(attempt) => attempt,
        ControlFlow::Break(outcome) => return Ok(outcome),
    };
    let send = Attempt {
        ctx,
        work,
        key: work.key(),
        attempt,
        now,
        receive_count,
    };
    send.run().await
}

/// Claims the work item in the send ledger: the attempt number, or the outcome when it was
/// handled already (a duplicate) or another sender holds it (retry).
async fn claim(
    ctx: &Context,
    work: &HieWork,
    now: DateTime<Utc>,
) -> Result<ControlFlow<HieSendResult, u32>, SenderError> {
    match ctx
        .send_ledger
        .claim(&work.key(), LeaseTerms::new(now, CLAIM_LEASE))
        .await?
    {
        Claim::Granted { attempt } => Ok(ControlFlow::Continue(attempt)),
        Claim::AlreadySent { .. } | Claim::Closed => {
            tracing::info!(appointment_id = %work.appointment_id, transition_seq = work.transition_seq,
                resend = work.resend, "work item already handled; dropping the duplicate");
            Ok(ControlFlow::Break(HieSendResult::Duplicate))
        }
        Claim::Busy { .. } => Ok(ControlFlow::Break(HieSendResult::Retry)),
    }
}

/// One claimed attempt at sending a work item.
struct Attempt<'a> {
    ctx: &'a Context,
    work: &'a HieWork,
    key: SendKey,
    attempt: u32,
    now: DateTime<Utc>,
    receive_count: u32,
}

/// The patient and consent a send is decided on, and what the audit entries say of them.
struct Subject {
    appointment: Appointment,
    patient: Patient,
    latest: Option<Consent>,
    /// The consent part of the audit detail.
    detail: serde_json::Value,
}

impl Subject {
    /// `entry` about this patient and (when there is one) their latest consent.
    fn audit(&self, entry: AuditEntry) -> AuditEntry {
        let entry = entry.with_patient(&self.patient.patient_id);
        match &self.latest {
            Some(c) => entry.with_consent(&c.consent_id),
            None => entry,
        }
    }

    /// The consent detail with `extra` fields added.
    fn detail(&self, extra: serde_json::Value) -> serde_json::Value {
        let mut detail = self.detail.clone();
        if let (Some(detail), serde_json::Value::Object(extra)) = (detail.as_object_mut(), extra) {
            detail.extend(extra);
        }
        detail
    }
}

impl Attempt<'_> {
    /// The settings check, the appointment and patient, the consent check, then the send.
    async fn run(&self) -> Result<HieSendResult, SenderError> {
        let settings = current_settings(self.ctx.settings.as_ref()).await?.value;
        if !settings.enabled {
            return self.defer().await;
        }
        let subject = match self.subject(&settings).await? {
            ControlFlow::Continue(subject) => subject,
            ControlFlow::Break(outcome) => return Ok(outcome),
        };
        let today = settings.today(self.now);
        if let Decision::Skip { reason, .. } = decide(subject.latest.as_ref(), today) {
            let detail = subject.detail(json!({"reason": reason.as_str()}));
            let audit = subject.audit(
                entry(
                    self.work,
                    "appointment.skipped",
                    AuditOutcome::Skipped,
                    self.now,
                )
                .with_detail(detail),
            );
            self.finish(SendState::Failed, None, audit).await?;
            tracing::info!(appointment_id = %self.work.appointment_id, reason = reason.as_str(), "appointment not sent: no valid consent");
            return Ok(HieSendResult::Skipped(reason));
        }
        self.send(&settings, &subject).await
    }

    /// HIE is disabled: the item is left for when it is enabled again, and the claim released
    /// for a later delivery.
    async fn defer(&self) -> Result<HieSendResult, SenderError> {
        let audit = entry(self.work, "appointment.deferred", AuditOutcome::Skipped, self.now).with_detail(
            json!({"reason": "hie_disabled", "attempt": self.attempt, "receive_count": self.receive_count}),
        );
        self.finish(SendState::RetryPending, None, audit).await?;
        Ok(HieSendResult::Retry)
    }

    /// The appointment (still at the work item's transition, unless a resend), its patient and
    /// the patient's latest consent; the outcome when one is missing or superseded.
    async fn subject(
        &self,
        settings: &HieSettings,
    ) -> Result<ControlFlow<HieSendResult, Subject>, SenderError> {
        let work = self.work;
        let Some(appointment) = self.ctx.appointments.get(&work.appointment_id).await? else {
            let audit = entry(work, "appointment.failed", AuditOutcome::Error, self.now)
                .with_detail(json!({"error": "unknown_appointment"}));
            self.finish(SendState::Failed, None, audit).await?;
            return Ok(ControlFlow::Break(HieSendResult::Failed));
        };
        if work.resend == 0 && appointment.transition_seq != work.transition_seq {
            let detail = json!({"reason": "superseded", "transition_seq": work.transition_seq, "current_transition_seq": appointment.transition_seq});
            let outcome = self.skip(SkipReason::Superseded, detail).await?;
            return Ok(ControlFlow::Break(outcome));
        }
        let Some(patient) = self.ctx.patients.get(&appointment.patient_id).await? else {
            let detail = json!({"reason": "unknown_patient"});
            let outcome = self.skip(SkipReason::UnknownPatient, detail).await?;
            return Ok(ControlFlow::Break(outcome));
        };
        let latest = self.ctx.consents.latest(&patient.patient_id).await?;
        let consent_status = latest
            .as_ref()
            .map(|c| status(c, true, settings.today(self.now)));
        let detail = json!({
            "consent_id": latest.as_ref().map(|c| c.consent_id.to_string()),
            "consent_status": consent_status.map(ConsentStatus::as_str),
            "transition_seq": work.transition_seq,
            "resend": work.resend,
            "attempt": self.attempt,
        });
        Ok(ControlFlow::Continue(Subject {
            appointment,
            patient,
            latest,
            detail,
        }))
    }

    /// Builds the message and sends it; records sent, failed for good, or retry.
    async fn send(
        &self,
        settings: &HieSettings,
        subject: &Subject,
    ) -> Result<HieSendResult, SenderError> {
        let (work, now) = (self.work, self.now);
        let control_id = CONTROL_IDS.next(now);
        let mail = encounter_hl7(
            &subject.patient,
            &subject.appointment,
            settings,
            now,
            &control_id,
        )
        .and_then(|er7| build_mail(settings, &er7, &subject.appointment, &control_id, now));
        let mail = match mail {
            Ok(mail) => mail,
            Err(err) => {
                let detail =
                    subject.detail(json!({"error": "invalid_message", "message": err.to_string()}));
                let audit = subject.audit(
                    entry(work, "appointment.failed", AuditOutcome::Error, now).with_detail(detail),
                );
                self.finish(SendState::Failed, None, audit).await?;
                tracing::warn!(appointment_id = %work.appointment_id, "HIE message could not be built");
                return Ok(HieSendResult::Failed);
            }
        };
        let sent = self.ctx.mailer.send(&mail).await;
        self.record(subject, &control_id, sent).await
    }

    /// Records what the mail service answered.
    async fn record(
        &self,
        subject: &Subject,
        control_id: &str,
        sent: Result<String, MailError>,
    ) -> Result<HieSendResult, SenderError> {
        let work = self.work;
        let at = self.ctx.clock.now();
        match sent {
            Ok(message_id) => {
                let detail =
                    subject.detail(json!({"message_id": message_id, "control_id": control_id}));
                let audit = subject.audit(
                    entry(work, "appointment.sent", AuditOutcome::Success, at).with_detail(detail),
                );
                self.finish(SendState::Sent, Some(message_id.clone()), audit)
                    .await?;
                tracing::info!(appointment_id = %work.appointment_id, transition_seq = work.transition_seq,
                    attempt = self.attempt, "appointment sent to the HIE");
                Ok(HieSendResult::Sent { message_id })
            }
            Err(MailError::Permanent(cause)) => {
                let detail = subject.detail(json!({"error": "rejected", "message": crate::telemetry::error_chain(cause.as_ref())}));
                let audit = subject.audit(
                    entry(work, "appointment.failed", AuditOutcome::Error, at).with_detail(detail),
                );
                self.finish(SendState::Failed, None, audit).await?;
                tracing::warn!(appointment_id = %work.appointment_id, "HIE mail rejected permanently");
                Ok(HieSendResult::Failed)
            }
            Err(MailError::Transient(cause)) => {
                let detail = subject.detail(json!({"error": "transient", "message": crate::telemetry::error_chain(cause.as_ref()), "receive_count": self.receive_count}));
                let audit = subject.audit(
                    entry(work, "appointment.retry", AuditOutcome::Error, at).with_detail(detail),
                );
                self.finish(SendState::RetryPending, None, audit).await?;
                tracing::warn!(appointment_id = %work.appointment_id, receive_count = self.receive_count, "HIE mail failed transiently; will retry");
                Ok(HieSendResult::Retry)
            }
        }
    }

    /// A deliberate skip: recorded as failed (closed) with its audit entry.
    async fn skip(
        &self,
        reason: SkipReason,
        detail: serde_json::Value,
    ) -> Result<HieSendResult, SenderError> {
        let audit = entry(
            self.work,
            "appointment.skipped",
            AuditOutcome::Skipped,
            self.now,
        )
        .with_detail(detail);
        self.finish(SendState::Failed, None, audit).await?;
        tracing::info!(appointment_id = %self.work.appointment_id, reason = reason.as_str(), "appointment not sent");
        Ok(HieSendResult::Skipped(reason))
    }

    /// Records the attempt's end with its audit entry; `false` when the lease lapsed and
    /// another sender took over (its outcome stands).
    async fn finish(
        &self,
        state: SendState,
        message_id: Option<String>,
        audit: AuditEntry,
    ) -> Result<bool, SenderError> {
        match self
            .ctx
            .send_ledger
            .finish(SendFinish {
                key: &self.key,
                attempt: self.attempt,
                state,
                message_id: message_id.as_deref(),
                now: self.ctx.clock.now(),
                audit: &audit,
            })
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(err) => Err(SenderError(err)),
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
                AuditOutcome::Error,
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
                tracing::error!(error.chain = %crate::telemetry::error_chain(&err), "store failure; message kept for retry");
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
        connector_domain::lease::queue_visibility(CLAIM_LEASE)
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
