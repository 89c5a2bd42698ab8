//! What a flow would do, without doing it: the fields of a template for the mapping screen
//! ([`template_fields`]), the CRM operations an EHR -> CRM flow would perform for a message
//! ([`preview_ehr_to_crm`]) and the HL7 message a CRM -> EHR flow would build from a webhook
//! ([`preview_crm_to_ehr`]). Pure functions: no CRM call, no store, no log of any value.
//!
//! Their answers hold the values of the message or payload given (the administrator's own
//! test data, shown back to them); their errors name paths and fields only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use connector_domain::crm::CrmField;
use connector_domain::flow::{
    Direction, Entity, Flow, MappingError, SyncBehaviour, WebhookEvent, map_crm_to_ehr,
    map_ehr_to_crm,
};
use connector_domain::{ValidationError, ValidationErrors};
use connector_hl7::dictionary::{describe, field_name};
use connector_hl7::{Message, Value};
use serde::Serialize;

/// The largest template or test message accepted (as the flow validation's template limit).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// MSH-10 of the messages [`preview_crm_to_ehr`] builds.
pub const TEST_CONTROL_ID: &str = "FLOW-TEST";

/// One populated leaf of a template, with what the HL7 v2.5 dictionary calls it.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateField {
    /// The canonical path (`PID-5.1`, `PID-3[2].4`).
    pub path: String,
    /// The decoded value; the HL7 null as `""`.
    pub value: String,
    /// Whether the value is the HL7 null.
    pub null: bool,
    /// The most specific name the dictionary has (component or subcomponent, else field).
    pub name: Option<&'static str>,
    /// The field's name (`Patient Name`).
    pub field: Option<&'static str>,
    /// The field's data type when the dictionary knows it (`XPN`).
    pub data_type: Option<&'static str>,
}

/// Every populated leaf of a template.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateFields {
    /// `MSH-9.1^MSH-9.2` (`ADT^A04`), when the template has both.
    pub event_type: Option<String>,
    /// The segment ids in order (`MSH`, `EVN`, `PID` ...).
    pub segments: Vec<String>,
    /// The leaves, in message order.
    pub fields: Vec<TemplateField>,
}

fn too_large(field: &str) -> ValidationErrors {
    ValidationError::new(field, "must be at most 64 KiB").into()
}

/// Parses an HL7 message given in `field`; problems name the position, never content.
///
/// # Errors
/// On `field`: empty, too large, or not an HL7 v2 message (with the parse error's position).
pub fn parse_message<'t>(field: &str, text: &'t str) -> Result<Message<'t>, ValidationErrors> {
    if text.trim().is_empty() {
        return Err(ValidationError::new(field, "is required").into());
    }
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(too_large(field));
    }
    Message::parse(text).map_err(|err| {
        ValidationError::new(field, format!("is not an HL7 v2 message: {err}")).into()
    })
}

/// The populated leaves of `template` with their dictionary names.
///
/// # Errors
/// On `template`: see [`parse_message`].
pub fn template_fields(template: &str) -> Result<TemplateFields, ValidationErrors> {
    let message = parse_message("template", template)?;
    let event_type = message
        .message_code()
        .zip(message.trigger_event())
        .map(|(code, trigger)| format!("{code}^{trigger}"));
    let segments = message.segments().map(|s| s.id().to_owned()).collect();
    let fields = message
        .leaves()
        .into_iter()
        .map(|leaf| {
            let description = describe(&leaf.path);
            TemplateField {
                path: leaf.path.to_string(),
                null: matches!(leaf.value, Value::Null),
                value: leaf.value.as_str().unwrap_or_default().to_owned(),
                name: field_name(&leaf.path),
                field: description.map(|d| d.field),
                data_type: description.and_then(|d| d.data_type),
            }
        })
        .collect();
    Ok(TemplateFields {
        event_type,
        segments,
        fields,
    })
}

/// A CRM field and its value.
#[derive(Debug, Clone, Serialize)]
pub struct FieldValue {
    /// The schema name.
    pub field: String,
    /// The value.
    pub value: String,
}

impl From<&CrmField> for FieldValue {
    fn from(f: &CrmField) -> Self {
        Self {
            field: f.name.clone(),
            value: f.value.clone(),
        }
    }
}

/// One lead search, in the order the connector tries them.
#[derive(Debug, Clone, Serialize)]
pub struct SearchStep {
    /// `primary` or `secondary`.
    pub key: &'static str,
    /// The CRM field searched.
    pub field: String,
    /// Where the value comes from in HL7.
    pub hl7_path: String,
    /// The value searched for; `None` when the message has none (the key is skipped).
    pub value: Option<String>,
}

/// A sync behaviour and what it does to a record (a lead or an activity) that is not found or
/// found; flattened into [`LeadPreview`] and [`ActivityPreview`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SyncPreview {
    /// The flow's sync behaviour for the record.
    pub sync: SyncBehaviour,
    /// Whether a record that is not found is created.
    pub creates: bool,
    /// Whether a record that is found is updated.
    pub updates: bool,
}

impl From<SyncBehaviour> for SyncPreview {
    fn from(sync: SyncBehaviour) -> Self {
        Self {
            sync,
            creates: sync.creates(),
            updates: sync.updates(),
        }
    }
}

/// What would happen to the lead.
#[derive(Debug, Clone, Serialize)]
pub struct LeadPreview {
    /// The flow's lead sync behaviour: `sync`, `creates`, `updates`.
    #[serde(flatten)]
    pub sync: SyncPreview,
    /// The searches, in order; the first that finds a lead wins.
    pub search: Vec<SearchStep>,
    /// The fields a new lead is created with (the lead source included).
    pub fields_for_create: Vec<FieldValue>,
    /// The fields an existing lead is updated with.
    pub fields_for_update: Vec<FieldValue>,
}

/// What would happen to the activity.
#[derive(Debug, Clone, Serialize)]
pub struct ActivityPreview {
    /// The flow's activity sync behaviour: `sync`, `creates`, `updates`.
    #[serde(flatten)]
    pub sync: SyncPreview,
    /// LeadSquared `ActivityEvent` code.
    pub event: i32,
    /// The note.
    pub note: String,
    /// When it happened (UTC).
    pub date_time: DateTime<Utc>,
    /// The same as LeadSquared receives it: UTC `yyyy-MM-dd HH:mm:ss`.
    pub crm_date_time: String,
    /// The activity's fields, match key included.
    pub fields: Vec<FieldValue>,
    /// The field and value that find the existing activity.
    pub match_key: Option<FieldValue>,
}

/// The flow a preview is of; flattened into [`EhrToCrmPreview`] and [`CrmToEhrPreview`].
#[derive(Debug, Clone, Serialize)]
pub struct FlowTested {
    /// The flow tested.
    pub flow_id: String,
    /// Its direction (always the preview's own).
    pub direction: Direction,
    /// The flow's event type.
    pub event_type: String,
}

impl From<&Flow> for FlowTested {
    fn from(flow: &Flow) -> Self {
        Self {
            flow_id: flow.flow_id.to_string(),
            direction: flow.direction,
            event_type: flow.event_type.to_string(),
        }
    }
}

/// The CRM operations an EHR -> CRM flow would perform for one message.
#[derive(Debug, Clone, Serialize)]
pub struct EhrToCrmPreview {
    /// The flow tested (`flow_id`, `direction` always `ehr_to_crm`, `event_type`).
    #[serde(flatten)]
    pub flow: FlowTested,
    /// The lead.
    pub lead: LeadPreview,
    /// The activity, for activity flows.
    pub activity: Option<ActivityPreview>,
    /// Mappings left out (a transform failed on a non-required mapping, an unreadable
    /// `ActivityDateTime`): fields and rules, no values.
    pub warnings: Vec<ValidationError>,
}

/// The HL7 message a CRM -> EHR flow would build for one webhook payload.
#[derive(Debug, Clone, Serialize)]
pub struct CrmToEhrPreview {
    /// The flow tested (`flow_id`, `direction` always `crm_to_ehr`, `event_type`).
    #[serde(flatten)]
    pub flow: FlowTested,
    /// The webhook that triggers the flow.
    pub webhook_event: Option<WebhookEvent>,
    /// The message, segments separated by `\r` (MSH-10 is [`TEST_CONTROL_ID`]).
    pub message: String,
    /// The same, one segment per item.
    pub segments: Vec<String>,
}

/// The answer of a flow test: one of the two previews.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum FlowPreview {
    /// An EHR -> CRM flow's CRM operations.
    EhrToCrm(EhrToCrmPreview),
    /// A CRM -> EHR flow's HL7 message.
    CrmToEhr(CrmToEhrPreview),
}

/// Why a flow test gave no preview.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    /// The test input is missing, misplaced, or not a message / payload at all.
    #[error("invalid test input: {0}")]
    Input(ValidationErrors),
    /// The flow does not map the input: every mapping problem.
    #[error("the flow does not map the input: {0}")]
    Mapping(ValidationErrors),
}

impl PreviewError {
    /// The problems, whichever the kind.
    pub fn errors(&self) -> &ValidationErrors {
        match self {
            Self::Input(e) | Self::Mapping(e) => e,
        }
    }
}

/// A mapping problem as a validation problem: on the HL7 path (EHR -> CRM) or on
/// `payload.<field>` (CRM -> EHR) when it has one, else on `input`.
pub fn mapping_problem(err: &MappingError, input: &str) -> ValidationError {
    let field = match (err, input) {
        (
            MappingError::Required { crm_field, .. } | MappingError::Transform { crm_field, .. },
            "payload",
        ) => format!("payload.{crm_field}"),
        (
            MappingError::Required { path, .. }
            | MappingError::Transform { path, .. }
            | MappingError::NotADateTime { path }
            | MappingError::NoActivityMatch { path }
            | MappingError::Build { path, .. },
            _,
        ) => format!("{input}.{path}"),
        _ => input.to_owned(),
    };
    ValidationError::new(field, err.to_string())
}

fn problems(errors: &[MappingError], input: &str) -> ValidationErrors {
    ValidationErrors(errors.iter().map(|e| mapping_problem(e, input)).collect())
}

/// The CRM operations `flow` (EHR -> CRM) would perform for `message`.
///
/// # Errors
/// `Input` when the message does not parse (on `message`); `Mapping` when it does not map
/// (every mapping problem, on `message.<path>` or `message`).
pub fn preview_ehr_to_crm(flow: &Flow, message: &str) -> Result<EhrToCrmPreview, PreviewError> {
    let parsed = parse_message("message", message).map_err(PreviewError::Input)?;
    let plan = map_ehr_to_crm(flow, &parsed)
        .map_err(|e| PreviewError::Mapping(problems(&e.0, "message")))?;
    let search = flow
        .search_keys()
        .zip(["primary", "secondary"])
        .map(|(key, which)| {
            let found = match which {
                "primary" => plan.primary_key.as_ref(),
                _ => plan.secondary_key.as_ref(),
            };
            SearchStep {
                key: which,
                field: key.crm_field.to_string(),
                hl7_path: key.hl7_path.to_string(),
                value: found.map(|f| f.value.clone()),
            }
        })
        .collect();
    let lead = LeadPreview {
        sync: plan.lead_sync.into(),
        search,
        fields_for_create: plan
            .lead_fields_for_create()
            .iter()
            .map(FieldValue::from)
            .collect(),
        fields_for_update: plan.lead_fields.iter().map(FieldValue::from).collect(),
    };
    let activity = plan.activity.as_ref().map(|a| ActivityPreview {
        sync: a.sync.into(),
        event: a.event,
        note: a.note.clone(),
        date_time: a.at,
        crm_date_time: a.at.format("%Y-%m-%d %H:%M:%S").to_string(),
        fields: a.fields.iter().map(FieldValue::from).collect(),
        match_key: a.match_key.as_ref().map(FieldValue::from),
    });
    Ok(EhrToCrmPreview {
        flow: flow.into(),
        lead,
        activity,
        warnings: problems(&plan.warnings, "message").0,
    })
}

/// The CRM fields of a webhook payload for `flow`, read exactly as the CRM -> EHR intake
/// reads a webhook body ([`crate::crm_to_ehr::payload::parse`]).
///
/// # Errors
/// On `payload`: not a JSON object, or without the lead's id.
pub fn webhook_fields(
    flow: &Flow,
    payload: &serde_json::Value,
) -> Result<BTreeMap<String, String>, ValidationErrors> {
    let event = flow.webhook_event.unwrap_or(match flow.entity {
        Entity::Lead => WebhookEvent::LeadUpdate,
        Entity::Activity => WebhookEvent::ActivityUpdate,
    });
    let body = serde_json::to_vec(payload).unwrap_or_default();
    crate::crm_to_ehr::payload::parse(&body, event, None)
        .map(|p| p.fields)
        .map_err(|e| ValidationError::new("payload", e.to_string()).into())
}

/// The HL7 message `flow` (CRM -> EHR) would build from `payload` at `now`.
///
/// # Errors
/// `Input` when the payload is not an object (on `payload`); `Mapping` when it does not map
/// (every mapping problem, on `payload.<field>`, `payload.<path>` or `payload`).
pub fn preview_crm_to_ehr(
    flow: &Flow,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<CrmToEhrPreview, PreviewError> {
    let fields = webhook_fields(flow, payload).map_err(PreviewError::Input)?;
    let message = map_crm_to_ehr(flow, &fields, now, TEST_CONTROL_ID)
        .map_err(|e| PreviewError::Mapping(problems(&e.0, "payload")))?;
    let text = message.to_er7();
    Ok(CrmToEhrPreview {
        flow: flow.into(),
        webhook_event: flow.webhook_event,
        segments: text
            .split('\r')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        message: text,
    })
}

/// What a flow test is given: an HL7 message (EHR -> CRM flows) or a webhook payload
/// (CRM -> EHR flows).
#[derive(Debug, Clone, Default)]
pub struct TestInput {
    /// ER7 text.
    pub message: Option<String>,
    /// Webhook JSON.
    pub payload: Option<serde_json::Value>,
}

/// Runs the preview that fits the flow's direction.
///
/// # Errors
/// `Input` when the input the direction needs is missing or the other one is given; else as
/// [`preview_ehr_to_crm`] / [`preview_crm_to_ehr`].
pub fn preview(
    flow: &Flow,
    input: &TestInput,
    now: DateTime<Utc>,
) -> Result<FlowPreview, PreviewError> {
    let message = ("message", input.message.as_deref());
    let payload = ("payload", input.payload.as_ref());
    match flow.direction {
        Direction::EhrToCrm => {
            let message = the_input(Direction::EhrToCrm, message, payload)?;
            preview_ehr_to_crm(flow, message).map(FlowPreview::EhrToCrm)
        }
        Direction::CrmToEhr => {
            let payload = the_input(Direction::CrmToEhr, payload, message)?;
            preview_crm_to_ehr(flow, payload, now).map(FlowPreview::CrmToEhr)
        }
    }
}

/// The one input a `direction` takes, `(name, value)`, refused when it is missing or when the
/// other direction's input is given too.
fn the_input<'a, T: ?Sized, U: ?Sized>(
    direction: Direction,
    (name, value): (&str, Option<&'a T>),
    (other, other_value): (&str, Option<&U>),
) -> Result<&'a T, PreviewError> {
    let mut errors = ValidationErrors::default();
    if other_value.is_some() {
        let theirs = match direction {
            Direction::EhrToCrm => Direction::CrmToEhr,
            Direction::CrmToEhr => Direction::EhrToCrm,
        };
        errors.push(ValidationError::new(
            other,
            format!("applies only to {} flows: send {name}", theirs.as_str()),
        ));
    }
    let Some(value) = value else {
        errors.push(ValidationError::new(
            name,
            format!("is required for {} flows", direction.as_str()),
        ));
        return Err(PreviewError::Input(errors));
    };
    errors.finish(|| value).map_err(PreviewError::Input)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "MSH|^~\\&|EHR|CLINIC|CRM|HQ|20240102030405||ADT^A04^ADT_A01|1|P|2.5\r\
PID|1||MRN-1^^^CLINIC^MR||Testperson^Alma||19750704|F|||||\"\"\r";

    #[test]
    fn template_fields_are_named() {
        let fields = template_fields(TEMPLATE).unwrap();
        assert_eq!(fields.event_type.as_deref(), Some("ADT^A04"));
        assert_eq!(fields.segments, ["MSH", "PID"]);
        let family = fields.fields.iter().find(|f| f.path == "PID-5.1").unwrap();
        assert_eq!(family.value, "Testperson");
        assert_eq!(family.field, Some("Patient Name"));
        assert!(family.name.is_some());
        let null = fields.fields.iter().find(|f| f.path == "PID-13").unwrap();
        assert!(null.null);
    }

    #[test]
    fn unparseable_templates_name_the_position_not_the_content() {
        let err = template_fields("MSH|^~\\&|A\rpid|Testperson\r").unwrap_err();
        assert_eq!(err.0[0].field, "template");
        assert!(
            err.0[0].message.contains("segment 2"),
            "{}",
            err.0[0].message
        );
        assert!(!err.0[0].message.contains("Testperson"));
        assert_eq!(
            template_fields("  ").unwrap_err().0[0].message,
            "is required"
        );
    }
}
