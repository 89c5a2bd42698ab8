//! LeadSquared webhook payloads, read into what the CRM -> EHR flows map from: a flat map of
//! field values by schema name.
//!
//! - Lead webhooks (lead create / update) POST the lead as flat JSON: `ProspectID`,
//!   `FirstName`, `EmailAddress`, ..., `mx_*` custom fields, `ModifiedOn`.
//! - Activity webhooks (activity create / update) POST the activity: `ProspectActivityId`,
//!   `RelatedProspectId`, `ActivityEvent`, `ActivityNote`, `ActivityDateTime`, `ModifiedOn`,
//!   custom fields either flat (`mx_Custom_1`) or as `Fields: [{SchemaName, Value}]`; some
//!   accounts add the lead as a nested object (`Lead` or `LeadDetails`), whose fields are taken
//!   where the activity has none of the same name.
//!
//! Strings are kept as sent; numbers and booleans become their JSON text; nulls and nested
//! values other than the above are left out.

use std::collections::BTreeMap;

use connector_domain::flow::{Entity, WebhookEvent};
use serde_json::{Map, Value};

/// A webhook body, read.
#[derive(Clone, PartialEq, Eq)]
pub struct CrmPayload {
    /// What the webhook is about.
    pub entity: Entity,
    /// The entity's id (`ProspectID` or `ProspectActivityId`).
    pub entity_id: String,
    /// The lead concerned (`ProspectID`, or the activity's `RelatedProspectId`).
    pub lead_id: String,
    /// `ModifiedOn`, when the payload has it.
    pub modified_on: Option<String>,
    /// Every scalar field by schema name (PHI).
    pub fields: BTreeMap<String, String>,
}

impl std::fmt::Debug for CrmPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrmPayload")
            .field("entity", &self.entity)
            .field("entity_id", &self.entity_id)
            .field("lead_id", &self.lead_id)
            .field("fields", &self.fields.len())
            .finish_non_exhaustive()
    }
}

/// Why a payload was refused. Names what is missing, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not a JSON object.
    #[error(
        "the body must be a JSON object (configure the webhook with ContentType application/json)"
    )]
    NotAnObject,
    /// A required id is missing.
    #[error("the payload has no {0}")]
    Missing(&'static str),
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn flatten_into(
    fields: &mut BTreeMap<String, String>,
    object: &Map<String, Value>,
    overwrite: bool,
) {
    for (name, value) in object {
        if let Some(text) = scalar(value)
            && (overwrite || !fields.contains_key(name))
        {
            fields.insert(name.clone(), text);
        }
    }
}

/// Field lookup ignoring ASCII case (LeadSquared spells `ProspectID` and `ProspectId`).
fn get_ci<'a>(fields: &'a BTreeMap<String, String>, name: &str) -> Option<&'a String> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.trim().is_empty())
}

/// Reads a webhook body for `event`. `entity_id_param` is the `entityId` query parameter, used
/// when the body lacks the id.
///
/// # Errors
/// A body that is not a JSON object, or lacks the lead id.
pub fn parse(
    body: &[u8],
    event: WebhookEvent,
    entity_id_param: Option<&str>,
) -> Result<CrmPayload, PayloadError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| PayloadError::NotAnObject)?;
    let Value::Object(object) = value else {
        return Err(PayloadError::NotAnObject);
    };
    let mut fields = BTreeMap::new();
    flatten_into(&mut fields, &object, true);
    if let Some(Value::Array(custom)) = object.get("Fields") {
        for item in custom {
            if let (Some(name), Some(value)) = (
                item.get("SchemaName").and_then(Value::as_str),
                item.get("Value").and_then(scalar),
            ) {
                fields.insert(name.to_owned(), value);
            }
        }
    }
    for nested in ["Lead", "LeadDetails"] {
        match object.get(nested) {
            Some(Value::Object(lead)) => flatten_into(&mut fields, lead, false),
            // LeadDetails as [{Attribute, Value}]
            Some(Value::Array(items)) => {
                for item in items {
                    if let (Some(name), Some(value)) = (
                        item.get("Attribute").and_then(Value::as_str),
                        item.get("Value").and_then(scalar),
                    ) {
                        fields.entry(name.to_owned()).or_insert(value);
                    }
                }
            }
            _ => {}
        }
    }
    let entity = event.entity();
    let param = entity_id_param.map(str::trim).filter(|v| !v.is_empty());
    let (entity_id, lead_id) = match entity {
        Entity::Lead => {
            let id = get_ci(&fields, "ProspectID")
                .cloned()
                .or_else(|| param.map(str::to_owned))
                .ok_or(PayloadError::Missing("ProspectID"))?;
            (id.clone(), id)
        }
        Entity::Activity => {
            let lead = get_ci(&fields, "RelatedProspectId")
                .or_else(|| get_ci(&fields, "ProspectID"))
                .cloned()
                .ok_or(PayloadError::Missing("RelatedProspectId"))?;
            let id = get_ci(&fields, "ProspectActivityId")
                .or_else(|| get_ci(&fields, "Id"))
                .cloned()
                .or_else(|| param.map(str::to_owned))
                .ok_or(PayloadError::Missing("ProspectActivityId"))?;
            (id, lead)
        }
    };
    let modified_on = get_ci(&fields, "ModifiedOn").cloned();
    Ok(CrmPayload {
        entity,
        entity_id,
        lead_id,
        modified_on,
        fields,
    })
}

/// The event a webhook is, from our own `event` query parameter (the webhook URL the admin
/// registers names it) or else from LeadSquared's `entityType` and `eventType`.
pub fn event_of(
    event: Option<&str>,
    entity_type: Option<&str>,
    event_type: Option<&str>,
) -> Option<WebhookEvent> {
    if let Some(event) = event {
        return [
            WebhookEvent::LeadCreate,
            WebhookEvent::LeadUpdate,
            WebhookEvent::ActivityCreate,
            WebhookEvent::ActivityUpdate,
        ]
        .into_iter()
        .find(|e| e.as_str() == event);
    }
    let entity = entity_type?.to_ascii_lowercase();
    let kind = event_type?.to_ascii_lowercase();
    let is_lead =
        entity.contains("lead") || entity.contains("prospect") && !entity.contains("activity");
    let is_activity = entity.contains("activity");
    let created = kind.contains("create") || kind.contains("add");
    let updated = kind.contains("update") || kind.contains("edit");
    match (is_activity, is_lead, created, updated) {
        (true, _, true, false) => Some(WebhookEvent::ActivityCreate),
        (true, _, false, true) => Some(WebhookEvent::ActivityUpdate),
        (false, true, true, false) => Some(WebhookEvent::LeadCreate),
        (false, true, false, true) => Some(WebhookEvent::LeadUpdate),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_flat_lead() {
        let body = br#"{"ProspectID":"5d1c-77","FirstName":"Casey","mx_MRN":"MRN20001","Score":12,"DoNotCall":false,"Owner":null,"ModifiedOn":"2026-11-20 10:00:00"}"#;
        let p = parse(body, WebhookEvent::LeadUpdate, None).unwrap();
        assert_eq!(p.entity_id, "5d1c-77");
        assert_eq!(p.lead_id, "5d1c-77");
        assert_eq!(p.modified_on.as_deref(), Some("2026-11-20 10:00:00"));
        assert_eq!(p.fields["Score"], "12");
        assert_eq!(p.fields["DoNotCall"], "false");
        assert!(!p.fields.contains_key("Owner"));
        assert!(!format!("{p:?}").contains("Casey"));
    }

    #[test]
    fn reads_an_activity_with_custom_fields_and_a_nested_lead() {
        let body =
            br#"{"ProspectActivityId":"act-9","RelatedProspectId":"5d1c-77","ActivityEvent":201,
            "Fields":[{"SchemaName":"mx_Custom_1","Value":"APT-5001"}],
            "Lead":{"mx_MRN":"MRN20001","ProspectID":"5d1c-77"}}"#;
        let p = parse(body, WebhookEvent::ActivityUpdate, None).unwrap();
        assert_eq!(p.entity_id, "act-9");
        assert_eq!(p.lead_id, "5d1c-77");
        assert_eq!(p.fields["mx_Custom_1"], "APT-5001");
        assert_eq!(p.fields["mx_MRN"], "MRN20001");
        assert_eq!(p.fields["ActivityEvent"], "201");
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        assert_eq!(
            parse(b"[1]", WebhookEvent::LeadUpdate, None),
            Err(PayloadError::NotAnObject)
        );
        assert_eq!(
            parse(b"{\"FirstName\":\"x\"}", WebhookEvent::LeadUpdate, None),
            Err(PayloadError::Missing("ProspectID"))
        );
        assert_eq!(
            parse(
                b"{\"FirstName\":\"x\"}",
                WebhookEvent::LeadUpdate,
                Some("id-1")
            )
            .unwrap()
            .entity_id,
            "id-1"
        );
    }

    #[test]
    fn infers_the_event() {
        assert_eq!(
            event_of(Some("lead_update"), None, None),
            Some(WebhookEvent::LeadUpdate)
        );
        assert_eq!(
            event_of(None, Some("Lead"), Some("Lead_Post_Create")),
            Some(WebhookEvent::LeadCreate)
        );
        assert_eq!(
            event_of(None, Some("Activity"), Some("SalesActivity_Post_Update")),
            Some(WebhookEvent::ActivityUpdate)
        );
        assert_eq!(event_of(None, Some("Task"), Some("Create")), None);
        assert_eq!(event_of(Some("nonsense"), None, None), None);
    }
}
