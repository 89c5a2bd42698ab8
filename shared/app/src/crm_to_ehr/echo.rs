//! Echo suppression: when the connector writes a lead or an activity to the CRM (from an
//! inbound HL7 message), the CRM may fire a webhook for it. That webhook only echoes what the
//! EHR already has and must not travel back.
//!
//! The EHR -> CRM pipeline ([`crate::ehr_to_crm`]) reads each such record back right after
//! writing it and remembers it ([`record_write`]: the entity, the CRM user its `ModifiedBy` names, and a digest of every
//! field). A webhook for the same entity within [`ECHO_WINDOW`] is an echo only when it carries
//! nothing but that write: its `ModifiedBy` is the connector's CRM user, and every field the
//! flows that would run map equals the record as the write left it
//! ([`connector_domain::delivery::CrmWrite::check`]). A change by anybody else, or any mapped
//! field that differs, or a webhook that does not say who changed the record, goes to the EHR:
//! a repeated message is harmless, a lost change is not.

use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::crm::CrmField;
use connector_domain::delivery::{CrmWrite, ECHO_WINDOW, EchoCheck};
use connector_domain::flow::{Entity, Flow};
use connector_domain::ports::CrmWriteLog;

use super::payload::CrmPayload;
use crate::Context;

/// The write-log key of a CRM record.
pub fn entity_key(entity: Entity, id: &str) -> String {
    format!("{}-{id}", entity.as_str())
}

/// Remembers the state of a CRM record right after the connector wrote it (`state`, as read
/// back). Failures are logged, not returned: a missed record costs one echoed message, never a
/// lost one.
pub async fn record_write(
    log: &dyn CrmWriteLog,
    entity: Entity,
    id: &str,
    state: &[CrmField],
    now: DateTime<Utc>,
) {
    let write = CrmWrite::new(entity_key(entity, id), state, now);
    if write.modified_by.is_none() {
        tracing::warn!(
            entity = entity.as_str(),
            "the CRM did not say who wrote the record; its webhook will not be taken for an echo"
        );
    }
    if let Err(e) = log.record(&write).await {
        tracing::warn!(error = %crate::telemetry::error_chain(&e), "cannot record a CRM write for echo suppression");
    }
}

/// What the echo check found for a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoFinding {
    /// The verdict against the most recent write of the record (or the write it echoes).
    pub check: EchoCheck,
    /// That write; `None` when the connector wrote the record in the window not at all.
    pub write: Option<CrmWrite>,
}

impl EchoFinding {
    /// Whether the webhook is only an echo (and is not sent).
    pub fn is_echo(&self) -> bool {
        self.check == EchoCheck::Echo
    }

    /// The audit detail: why the webhook was (not) taken for an echo, and which write it was
    /// compared with (names and times only, no values).
    pub fn detail(&self) -> serde_json::Value {
        let mut detail = serde_json::json!({ "verdict": self.check.word() });
        if let EchoCheck::FieldsChanged(names) = &self.check {
            detail["changed_fields"] = serde_json::json!(names);
        }
        if let Some(write) = &self.write {
            detail["write_at"] = serde_json::json!(write.at);
            detail["write_modified_by"] = serde_json::json!(write.modified_by);
        }
        detail
    }
}

/// The CRM fields of the webhook's entity that `flows` read.
fn mapped_fields(flows: &[Flow], entity: Entity) -> Vec<&str> {
    let mut names: Vec<&str> = flows
        .iter()
        .flat_map(|flow| {
            let mrn = (entity == Entity::Lead).then_some(flow.mrn_crm_field.as_str());
            flow.mappings
                .iter()
                .filter(|m| m.target == entity)
                .map(|m| m.crm_field.as_str())
                .chain(mrn)
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Checks the webhook against the connector's recent writes of its record: an echo when it
/// echoes any of them; otherwise the verdict against the latest.
pub async fn check(
    ctx: &Context,
    payload: &CrmPayload,
    flows: &[Flow],
    now: DateTime<Utc>,
) -> Result<EchoFinding, StoreError> {
    let key = entity_key(payload.entity, &payload.entity_id);
    let writes = ctx.crm_writes.recent(&key, now - ECHO_WINDOW).await?;
    let mapped = mapped_fields(flows, payload.entity);
    let mut latest: Option<EchoFinding> = None;
    for write in writes.into_iter().rev() {
        let check = write.check(&payload.fields, mapped.iter().copied());
        let finding = EchoFinding {
            check,
            write: Some(write),
        };
        if finding.is_echo() {
            return Ok(finding);
        }
        latest.get_or_insert(finding);
    }
    Ok(latest.unwrap_or(EchoFinding {
        check: EchoCheck::NoRecentWrite,
        write: None,
    }))
}
