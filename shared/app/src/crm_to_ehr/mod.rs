//! The CRM -> EHR service. Its intake (this module): a CRM webhook becomes HL7 deliveries;
//! their delivery to the EHR is [`delivery`].
//!
//! For one webhook: find the channel and check its webhook token (constant time); read the
//! payload ([`payload`]); drop echoes of the connector's own CRM writes ([`echo`]: only a
//! webhook that carries nothing but such a write; the audit entry says why); build the
//! HL7 message of every enabled crm_to_ehr flow of the channel for the event (MSH-7 now in the
//! flow's time zone, a new MSH-10); record the webhook (deduplicated on event, entity id and
//! modification time) with its deliveries in one transaction; enqueue the delivery ids on the
//! delivery queue, one FIFO group per patient (the lead), and wake this process's delivery
//! worker. The message text stays in the store; the queue carries ids only.
//!
//! A webhook whose deliveries were recorded but not all enqueued (the queue failed) is answered
//! 503; the CRM's retry is then a duplicate, which re-enqueues the deliveries still queued.

pub mod delivery;
pub mod echo;
pub mod payload;

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use connector_domain::Actor;
use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::delivery::{Delivery, DeliveryId, DeliveryRoute, DeliveryState, WebhookKey};
use connector_domain::flow::{Channel, ChannelId, Direction, Flow, WebhookEvent, map_crm_to_ehr};
use connector_domain::inbound::ControlId;
use connector_domain::phi::Phi;
use connector_domain::ports::{QueueError, QueueMessage};
use connector_hl7::ControlIdGenerator;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::Context;
use payload::{CrmPayload, PayloadError};

/// The webhook's query parameters (LeadSquared's, plus our `event`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct WebhookQuery {
    /// Ours: `lead_create`, `lead_update`, `activity_create` or `activity_update`.
    pub event: Option<String>,
    /// LeadSquared's `entityType`.
    #[serde(rename = "entityType")]
    pub entity_type: Option<String>,
    /// LeadSquared's `entityId`.
    #[serde(rename = "entityId")]
    pub entity_id: Option<String>,
    /// LeadSquared's `eventType`.
    #[serde(rename = "eventType")]
    pub event_type: Option<String>,
}

/// What to answer the CRM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookReply {
    /// 200 `{Status: "Success", StatusReason}`: accepted (queued, duplicate, echo, or no flow
    /// takes the event).
    Accepted {
        /// Why, in a few words (no values).
        reason: String,
        /// The deliveries queued.
        deliveries: Vec<DeliveryId>,
    },
    /// 200 `{Status: "Error", StatusReason}`: the payload cannot be used (a retry would fail
    /// the same way, so the CRM should not retry). Audited; nothing queued.
    Refused(String),
    /// 400: the body or event cannot be read. Nothing written.
    BadRequest(String),
    /// 401: the token is missing or wrong. Nothing written.
    Unauthorized,
    /// 404: no such channel, or it takes no CRM webhooks.
    UnknownChannel,
    /// 503: resend later (the CRM retries).
    Unavailable,
}

fn generator() -> &'static ControlIdGenerator {
    static GENERATOR: OnceLock<ControlIdGenerator> = OnceLock::new();
    GENERATOR.get_or_init(ControlIdGenerator::random)
}

/// Whether the presented token is the channel's (constant time).
fn token_ok(channel: &Channel, presented: Option<&str>) -> bool {
    let (Some(auth), Some(token)) = (&channel.crm_webhook, presented) else {
        return false;
    };
    let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
    auth.token_hash.matches(&digest)
}

/// The header the channel's webhook token arrives in, if it takes webhooks.
pub fn token_header(channel: &Channel) -> Option<&str> {
    channel.crm_webhook.as_ref().map(|w| w.header_name.as_str())
}

/// Handles one webhook (see the [module documentation](self)). `token` is the value of the
/// channel's token header (the caller reads it with [`token_header`] after
/// [`Context::flows`] lookup; [`crate::http::crm_outbound`] does).
pub async fn receive_webhook(
    ctx: &Context,
    channel: &Channel,
    token: Option<&str>,
    query: &WebhookQuery,
    body: &[u8],
) -> WebhookReply {
    if channel.crm_webhook.is_none() {
        return WebhookReply::UnknownChannel;
    }
    if !token_ok(channel, token) {
        tracing::warn!(channel_id = %channel.channel_id, "webhook token refused");
        return WebhookReply::Unauthorized;
    }
    let Some(event) = payload::event_of(
        query.event.as_deref(),
        query.entity_type.as_deref(),
        query.event_type.as_deref(),
    ) else {
        return WebhookReply::BadRequest(
            "unknown event: add ?event=lead_create|lead_update|activity_create|activity_update to the webhook URL"
                .into(),
        );
    };
    let payload = match payload::parse(body, event, query.entity_id.as_deref()) {
        Ok(p) => p,
        Err(e @ PayloadError::NotAnObject) => return WebhookReply::BadRequest(e.to_string()),
        Err(e) => return WebhookReply::BadRequest(e.to_string()),
    };
    match process(ctx, channel, event, payload, body).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(channel_id = %channel.channel_id, error = %crate::telemetry::error_chain(&e), "webhook intake failed");
            WebhookReply::Unavailable
        }
    }
}

/// Why intake failed (a retry may succeed): a store, or the delivery queue.
pub type IntakeError = crate::jobs::EnqueueError;

/// The webhook's identity. The event is part of the version: a lead create and a lead update
/// webhook for the same modification (CRMs may fire both for a new lead) are two webhooks, each
/// running its own event's flows; a retry of either is a duplicate.
fn webhook_key(
    channel: &ChannelId,
    event: WebhookEvent,
    payload: &CrmPayload,
    body: &[u8],
) -> WebhookKey {
    let version = payload
        .modified_on
        .clone()
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(body))));
    WebhookKey {
        channel_id: channel.clone(),
        entity: payload.entity.as_str().to_owned(),
        entity_id: payload.entity_id.clone(),
        version: format!("{}@{version}", event.as_str()),
    }
}

/// The patient's FIFO group: the lead, with characters SQS accepts in a group id.
pub fn patient_group(lead_id: &str) -> String {
    let clean: String = lead_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(100)
        .collect();
    format!("lead-{clean}")
}

fn audit(action: &str, outcome: AuditOutcome, now: DateTime<Utc>) -> AuditEntry {
    AuditEntry::new(
        LogType::CrmOutbound,
        now,
        Actor::system("crm-outbound"),
        action,
        outcome,
    )
}

async fn process(
    ctx: &Context,
    channel: &Channel,
    event: WebhookEvent,
    mut payload: CrmPayload,
    body: &[u8],
) -> Result<WebhookReply, IntakeError> {
    let now = ctx.clock.now();
    let key = webhook_key(&channel.channel_id, event, &payload, body);
    let base_detail = json!({
        "channel_id": channel.channel_id.as_str(),
        "event": event.as_str(),
        "entity_id": payload.entity_id,
        "lead_id": payload.lead_id,
        "version": key.version,
    });

    let flows: Vec<Flow> = ctx
        .flows
        .list_flows(Some(&channel.channel_id))
        .await?
        .into_iter()
        .filter(|f| {
            f.enabled && f.direction == Direction::CrmToEhr && f.webhook_event == Some(event)
        })
        .collect();

    // Checked on the payload as the CRM sent it, before an activity's lead fields are added.
    let echo = echo::check(ctx, &payload, &flows, now).await?;
    if !flows.is_empty() && echo.is_echo() {
        let mut detail = base_detail.clone();
        detail["echo"] = echo.detail();
        detail["reason"] = json!(
            "ModifiedBy is the connector's CRM user and every mapped field equals the record as the connector's write left it"
        );
        let entry =
            audit("webhook.echo_suppressed", AuditOutcome::Skipped, now).with_detail(detail);
        return match ctx.deliveries.accept_webhook(&key, &[], &entry).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {
                tracing::info!(channel_id = %channel.channel_id, event = event.as_str(), "webhook echoes a connector write: suppressed");
                Ok(WebhookReply::Accepted {
                    reason: "echo of the connector's own CRM write; not sent".into(),
                    deliveries: Vec::new(),
                })
            }
            Err(e) => Err(e.into()),
        };
    }

    if payload.entity == connector_domain::flow::Entity::Activity {
        complete_with_lead(ctx, &flows, &mut payload).await;
    }

    let group = patient_group(&payload.lead_id);
    let mut deliveries = Vec::new();
    let mut flow_detail = Vec::new();
    for flow in &flows {
        let control_id = generator().next(now);
        match map_crm_to_ehr(flow, &payload.fields, now, &control_id) {
            Ok(message) => {
                let delivery_id = DeliveryId::generate();
                flow_detail.push(json!({
                    "flow_id": flow.flow_id.as_str(),
                    "delivery_id": delivery_id.as_str(),
                    "control_id": control_id,
                }));
                let route = DeliveryRoute {
                    channel_id: channel.channel_id.clone(),
                    flow_id: flow.flow_id.clone(),
                    group: group.clone(),
                };
                deliveries.push(Delivery::queued(
                    delivery_id,
                    route,
                    ControlId::parse(control_id).expect("generated control ids are valid"),
                    flow.event_type.to_string(),
                    Phi::new(message.to_er7()),
                    now,
                ));
            }
            Err(errors) => {
                let problems: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
                flow_detail.push(json!({
                    "flow_id": flow.flow_id.as_str(),
                    "error": "mapping",
                    "problems": problems,
                }));
            }
        }
    }

    let failed = flow_detail
        .iter()
        .filter(|f| f.get("error").is_some())
        .count();
    let (action, outcome) = match (deliveries.len(), failed) {
        (_, 0) if flows.is_empty() => ("webhook.no_flow", AuditOutcome::Skipped),
        (_, 0) => ("webhook.accepted", AuditOutcome::Success),
        (0, _) => ("webhook.refused", AuditOutcome::Error),
        _ => ("webhook.partly_accepted", AuditOutcome::Error),
    };
    let mut detail = base_detail;
    detail["flows"] = json!(flow_detail);
    detail["echo"] = echo.detail();
    let entry = audit(action, outcome, now).with_detail(detail);
    match ctx
        .deliveries
        .accept_webhook(&key, &deliveries, &entry)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return duplicate(ctx, &key).await,
        Err(e) => return Err(e.into()),
    }
    enqueue(ctx, &deliveries).await?;
    let ids: Vec<DeliveryId> = deliveries.iter().map(|d| d.delivery_id.clone()).collect();
    tracing::info!(
        channel_id = %channel.channel_id,
        event = event.as_str(),
        flows = flows.len(),
        queued = ids.len(),
        "webhook accepted"
    );
    if deliveries.is_empty() && failed > 0 {
        return Ok(WebhookReply::Refused(format!(
            "{failed} flow(s) could not map the payload; see the crm_outbound audit log"
        )));
    }
    Ok(WebhookReply::Accepted {
        reason: match ids.len() {
            0 => "no flow takes this event".into(),
            n => format!("{n} HL7 message(s) queued"),
        },
        deliveries: ids,
    })
}

/// A repeated webhook: nothing new; deliveries of the first one still queued are enqueued again
/// (the first answer may have been a 503 after recording them).
async fn duplicate(ctx: &Context, key: &WebhookKey) -> Result<WebhookReply, IntakeError> {
    let pending: Vec<Delivery> = ctx
        .deliveries
        .webhook_deliveries(key)
        .await?
        .into_iter()
        .filter(|d| d.state == DeliveryState::Queued)
        .collect();
    enqueue(ctx, &pending).await?;
    tracing::info!(channel_id = %key.channel_id, requeued = pending.len(), "duplicate webhook");
    Ok(WebhookReply::Accepted {
        reason: "duplicate webhook; nothing new".into(),
        deliveries: Vec::new(),
    })
}

/// Enqueues deliveries' ids, each in its patient's FIFO group, in order.
///
/// Enqueuing the same recorded delivery again (a duplicate webhook after a 503,
/// [`requeue_stale`]) is dropped by the queue's deduplication within its window: the
/// deduplication id is the delivery's id, attempts and last change. Redriven deliveries go
/// through [`enqueue_redriven`] instead.
///
/// [`requeue_stale`]: crate::crm_to_ehr::delivery::requeue_stale
pub async fn enqueue(ctx: &Context, deliveries: &[Delivery]) -> Result<(), QueueError> {
    send(ctx, deliveries, |d| {
        format!(
            "{}-{}-{}",
            d.delivery_id,
            d.attempts,
            d.updated_at.timestamp_micros()
        )
    })
    .await
}

/// Enqueues redriven deliveries: each redrive is new work, never a repeat of an earlier
/// enqueue, even within the queue's deduplication window of it (a redrive resets attempts to
/// 0, and may come seconds after the first enqueue, or at the same clock reading).
pub async fn enqueue_redriven(ctx: &Context, deliveries: &[Delivery]) -> Result<(), QueueError> {
    send(ctx, deliveries, |d| {
        format!("{}-r-{}", d.delivery_id, uuid::Uuid::new_v4().simple())
    })
    .await
}

/// Sends the deliveries' ids with their deduplication ids (under SQS FIFO's 128 characters).
async fn send(
    ctx: &Context,
    deliveries: &[Delivery],
    dedup_id: impl Fn(&Delivery) -> String,
) -> Result<(), QueueError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let messages: Vec<QueueMessage> = deliveries
        .iter()
        .map(|d| QueueMessage {
            body: d.delivery_id.to_string(),
            group_id: Some(d.group.clone()),
            dedup_id: Some(dedup_id(d)),
        })
        .collect();
    ctx.delivery_queue.send_batch(&messages).await
}

/// Activity webhooks may lack the lead's fields a flow maps (the MRN): read the lead by id and
/// add its fields where the payload has none. A CRM failure leaves the payload as it is (the
/// mapping then names what is missing).
async fn complete_with_lead(ctx: &Context, flows: &[Flow], payload: &mut CrmPayload) {
    let lacks = flows
        .iter()
        .any(|f| !payload.fields.contains_key(f.mrn_crm_field.as_str()));
    if !lacks {
        return;
    }
    match ctx
        .crm
        .get_lead(&connector_domain::crm::LeadId(payload.lead_id.clone()))
        .await
    {
        Ok(Some(lead)) => {
            for field in lead.fields {
                payload.fields.entry(field.name).or_insert(field.value);
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(lead_id = %payload.lead_id, error = %crate::telemetry::error_chain(&e), "cannot read the activity's lead");
        }
    }
}
