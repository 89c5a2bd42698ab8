//! The CRM -> EHR delivery worker: takes delivery ids off the delivery queue (one FIFO group per
//! patient) and sends each message on its channel.
//!
//! For one delivery: claim it (a delivery whose patient has a parked message is held behind
//! it instead); send it (MLLP or HTTPS, see [`EhrTransport`](connector_domain::ports::EhrTransport));
//! AA/CA with MSA-2 equal to the sent MSH-10 is delivered; AE/CE, no ACK, a wrong MSA-2, or not
//! sent are retried with exponential backoff (the channel's retry policy) with the same MSH-10;
//! AR/CR, or the last allowed attempt failing, parks it, which blocks that patient's later
//! messages (held) until an admin redrives it (`POST /deliveries/{id}/redrive`). Every outcome
//! is audited (`crm_outbound`) in the transaction that records it.
//!
//! While a delivery waits for its retry, its queue message stays in flight (released with the
//! backoff as its visibility), so the patient's later messages wait too: order is kept across
//! retries, and other patients' groups proceed.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use connector_domain::Actor;
use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::delivery::{AttemptEnd, Delivery, DeliveryClaim, DeliveryId};
use connector_domain::ports::{EhrSendOutcome, QueueConsumer, QueueError};
use serde_json::json;

use crate::Context;
use crate::jobs::worker::{self, BatchJob, Kept, QueuedMessage};

/// How long a worker holds a delivery: longer than any connect + ACK timeout.
pub const CLAIM_LEASE: chrono::Duration = connector_domain::lease::DELIVERY_CLAIM;

/// What to do with the queue message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Delete it: delivered, parked, held, or unknown.
    Done,
    /// Keep it in flight this long, then deliver it again (the group waits meanwhile).
    RetryAfter(Duration),
}

fn audit(action: &str, outcome: AuditOutcome, now: chrono::DateTime<Utc>) -> AuditEntry {
    AuditEntry::new(
        LogType::CrmOutbound,
        now,
        Actor::system("delivery"),
        action,
        outcome,
    )
}

fn detail(delivery: &Delivery, word: &str) -> serde_json::Value {
    json!({
        "delivery_id": delivery.delivery_id.as_str(),
        "channel_id": delivery.channel_id.as_str(),
        "flow_id": delivery.flow_id.as_str(),
        "group": delivery.group,
        "control_id": delivery.control_id.as_str(),
        "event": delivery.event,
        "attempt": delivery.attempts,
        "outcome": word,
    })
}

fn until(at: chrono::DateTime<Utc>, now: chrono::DateTime<Utc>) -> Duration {
    (at - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_secs(1))
}

/// Attempts one delivery (see the [module documentation](self)).
///
/// # Errors
/// Store failures: the queue message should be kept and retried.
pub async fn handle(ctx: &Context, id: &DeliveryId) -> Result<Disposition, StoreError> {
    let now = ctx.clock.now();
    let delivery = match ctx.deliveries.claim(id, now, CLAIM_LEASE).await {
        Ok(DeliveryClaim::Granted(d)) => d,
        Ok(DeliveryClaim::Settled(d)) => {
            if d.state == connector_domain::delivery::DeliveryState::Held {
                let mut detail = detail(&d, "held");
                detail["held_behind"] = json!(d.held_behind);
                ctx.audit
                    .append(&audit("delivery.held", AuditOutcome::Skipped, now).with_detail(detail))
                    .await?;
                tracing::info!(delivery_id = %d.delivery_id, group = %d.group, "held behind a parked delivery");
            }
            return Ok(Disposition::Done);
        }
        Ok(DeliveryClaim::Busy { until: at }) => {
            return Ok(Disposition::RetryAfter(until(at, now)));
        }
        Err(StoreError::NotFound) => {
            tracing::warn!(delivery_id = %id, "queue message for an unknown delivery: dropped");
            return Ok(Disposition::Done);
        }
        Err(e) => return Err(e),
    };

    let channel = ctx.flows.get_channel(&delivery.channel_id).await?;
    let (outcome, policy) = match channel
        .as_ref()
        .and_then(|c| c.outbound.as_ref().map(|o| (c, o)))
    {
        Some((channel, outbound)) => (
            ctx.ehr
                .send(
                    channel,
                    &delivery.control_id,
                    delivery.message.expose().as_bytes(),
                )
                .await,
            Some(outbound.retry()),
        ),
        None => (EhrSendOutcome::NotSent, None),
    };
    let word = if policy.is_none() {
        "no_outbound_channel".to_owned()
    } else {
        outcome.word()
    };
    let end_now = ctx.clock.now();
    let end = match (&outcome, policy) {
        (EhrSendOutcome::Delivered { .. }, _) => AttemptEnd::Delivered,
        (_, None) => AttemptEnd::Park,
        (EhrSendOutcome::Rejected { ack_code, .. }, _)
            if matches!(ack_code.as_str(), "AR" | "CR") =>
        {
            AttemptEnd::Park
        }
        (_, Some(policy)) => match policy.delay_before(delivery.attempts + 1) {
            Some(delay) => AttemptEnd::Retry {
                next_attempt_at: end_now
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(1)),
            },
            None => AttemptEnd::Park,
        },
    };
    let (action, audit_outcome) = match &end {
        AttemptEnd::Delivered => ("delivery.delivered", AuditOutcome::Success),
        AttemptEnd::Retry { .. } => ("delivery.retrying", AuditOutcome::Error),
        AttemptEnd::Park => ("delivery.parked", AuditOutcome::Error),
    };
    let mut entry_detail = detail(&delivery, &word);
    if let EhrSendOutcome::Rejected {
        error_code: Some(code),
        ..
    } = &outcome
    {
        entry_detail["error_code"] = json!(code);
    }
    if let AttemptEnd::Retry { next_attempt_at } = &end {
        entry_detail["next_attempt_at"] = json!(next_attempt_at);
    }
    let entry = audit(action, audit_outcome, end_now).with_detail(entry_detail);
    match ctx
        .deliveries
        .finish(id, delivery.attempts, &end, &word, end_now, &entry)
        .await
    {
        Ok(_) => {}
        // Another worker took the delivery over (our lease lapsed): it decides.
        Err(StoreError::Conflict(_)) => return Ok(Disposition::Done),
        Err(e) => return Err(e),
    }
    tracing::info!(
        delivery_id = %delivery.delivery_id,
        channel_id = %delivery.channel_id,
        control_id = %delivery.control_id,
        attempt = delivery.attempts,
        outcome = %word,
        "delivery attempt"
    );
    Ok(match end {
        AttemptEnd::Retry { next_attempt_at } => {
            Disposition::RetryAfter(until(next_attempt_at, end_now))
        }
        AttemptEnd::Delivered | AttemptEnd::Park => Disposition::Done,
    })
}

/// Handles a batch in order. Returns, per message id that must be kept, how long to keep it
/// in flight: the failed ones and, so that a patient's order holds, every later message of the
/// same group in the batch (not attempted).
pub async fn handle_batch(ctx: &Context, batch: &[QueuedMessage]) -> Vec<Kept> {
    let mut keep: Vec<Kept> = Vec::new();
    let mut stalled_groups: Vec<String> = Vec::new();
    for message in batch {
        if let Some(group) = &message.group
            && stalled_groups.contains(group)
        {
            keep.push(Kept {
                message_id: message.message_id.clone(),
                delay: Duration::from_secs(1),
            });
            continue;
        }
        let disposition = match DeliveryId::parse(message.body.trim()) {
            Err(_) => {
                tracing::warn!(message_id = %message.message_id, "delivery queue message is not a delivery id: dropped");
                Disposition::Done
            }
            Ok(id) => match handle(ctx, &id).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(delivery_id = %id, error = %crate::telemetry::error_chain(&e), "delivery store failure");
                    Disposition::RetryAfter(Duration::from_secs(30))
                }
            },
        };
        if let Disposition::RetryAfter(delay) = disposition {
            keep.push(Kept {
                message_id: message.message_id.clone(),
                delay,
            });
            if let Some(group) = &message.group {
                stalled_groups.push(group.clone());
            }
        }
    }
    keep
}

/// The EHR delivery as a [`BatchJob`]: a kept delivery comes back when its retry is due.
#[derive(Debug, Clone, Copy, Default)]
pub struct EhrDelivery;

#[async_trait::async_trait]
impl BatchJob for EhrDelivery {
    fn queue_name(&self) -> &'static str {
        "delivery"
    }

    fn consumer<'c>(&self, ctx: &'c Context) -> Option<&'c Arc<dyn QueueConsumer>> {
        ctx.delivery_consumer.as_ref()
    }

    fn visibility(&self) -> Duration {
        connector_domain::lease::queue_visibility(CLAIM_LEASE)
    }

    async fn handle_batch(&self, ctx: &Context, batch: &[QueuedMessage]) -> Vec<Kept> {
        handle_batch(ctx, batch).await
    }
}

/// Receives up to ten deliveries from the delivery queue and handles them; returns how many
/// were received. For hosts that pull (`connector serve`).
///
/// # Errors
/// The queue failed.
pub async fn drain_once(ctx: &Context) -> Result<usize, QueueError> {
    worker::drain_once(ctx, &EhrDelivery).await
}

/// Redrives a parked delivery (admin): it and the deliveries held behind it go back on the
/// queue in order. Returns their ids.
///
/// # Errors
/// `NotFound`, `Conflict` (not parked), store and queue failures.
pub async fn redrive(
    ctx: &Context,
    id: &DeliveryId,
    actor: &Actor,
) -> Result<Vec<DeliveryId>, RedriveError> {
    let now = ctx.clock.now();
    let entry = AuditEntry::new(
        LogType::CrmOutbound,
        now,
        actor.clone(),
        "delivery.redriven",
        AuditOutcome::Success,
    )
    .with_detail(json!({ "delivery_id": id.as_str() }));
    let deliveries = ctx.deliveries.redrive(id, now, &entry).await?;
    crate::crm_to_ehr::enqueue_redriven(ctx, &deliveries).await?;
    Ok(deliveries.into_iter().map(|d| d.delivery_id).collect())
}

/// Why a redrive failed: `Store` when the store refused or failed (`NotFound`, `Conflict` when
/// not parked); `Queue` when the queue failed after the store redrove (the deliveries are
/// `Queued` in the store and [`requeue_stale`] puts them back on the queue).
pub type RedriveError = crate::jobs::EnqueueError;

/// Re-enqueues deliveries left `Queued` for longer than `older_than` (their enqueue failed
/// after they were recorded). Enqueuing one that is also still on the queue is harmless: the
/// second claim finds it settled. Returns how many were enqueued.
///
/// # Errors
/// Store and queue failures.
pub async fn requeue_stale(
    ctx: &Context,
    older_than: chrono::Duration,
) -> Result<usize, RedriveError> {
    let cutoff = ctx.clock.now() - older_than;
    let mut stale: Vec<Delivery> = ctx
        .deliveries
        .list(
            Some(connector_domain::delivery::DeliveryState::Queued),
            1000,
        )
        .await?
        .into_iter()
        .filter(|d| d.updated_at <= cutoff)
        .collect();
    stale.sort_by(|a, b| a.delivery_id.cmp(&b.delivery_id));
    crate::crm_to_ehr::enqueue(ctx, &stale).await?;
    if !stale.is_empty() {
        tracing::warn!(count = stale.len(), "re-enqueued deliveries left queued");
    }
    Ok(stale.len())
}
