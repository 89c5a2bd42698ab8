//! Echo suppression: when the connector writes a lead or an activity to the CRM (from an
//! inbound HL7 message), the CRM fires its update webhook. That webhook only echoes what the
//! EHR already has and must not travel back. The inbound pipeline records each write
//! ([`record_write`]: the entity and a digest of every field value written); a webhook for the
//! same entity within [`ECHO_WINDOW`] whose fields still hold every written value is an echo.
//! A webhook that changed any written field, or comes later, is a real change and is sent.

use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::crm::CrmField;
use connector_domain::delivery::{CrmWrite, ECHO_WINDOW};
use connector_domain::flow::Entity;
use connector_domain::ports::CrmWriteLog;

use super::payload::CrmPayload;
use crate::Context;

/// The write-log key of a CRM record.
pub fn entity_key(entity: Entity, id: &str) -> String {
    format!("{}-{id}", entity.as_str())
}

/// Remembers that the connector wrote `fields` to a CRM record. Failures are logged, not
/// returned: a missed record costs one echoed message, never a lost one.
pub async fn record_write(
    log: &dyn CrmWriteLog,
    entity: Entity,
    id: &str,
    fields: &[CrmField],
    now: DateTime<Utc>,
) {
    let write = CrmWrite::new(entity_key(entity, id), fields, now);
    if let Err(e) = log.record(&write).await {
        tracing::warn!(error = %crate::http::problem::error_chain(&e), "cannot record a CRM write for echo suppression");
    }
}

/// The connector's write this webhook only echoes, if any.
pub async fn find_echo(
    ctx: &Context,
    payload: &CrmPayload,
    now: DateTime<Utc>,
) -> Result<Option<CrmWrite>, StoreError> {
    let key = entity_key(payload.entity, &payload.entity_id);
    let writes = ctx.crm_writes.recent(&key, now - ECHO_WINDOW).await?;
    Ok(writes
        .into_iter()
        .rev()
        .find(|w| w.is_echoed_by(&payload.fields)))
}
