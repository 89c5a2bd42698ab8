//! Test fixtures: templates, messages and flow inputs with invented data.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::input::FlowInput;
use super::model::{Flow, FlowId};
use crate::ValidationErrors;

/// ADT^A04 sample message (an EHR -> CRM template).
pub const ADT_A04: &str = "MSH|^~\\&|EPIC|NORTHCLINIC|CONNECTOR|CRM|20240310013000||ADT^A04^ADT_A01|MSG00001|P|2.5\r\
EVN|A04|20240310013000\r\
PID|1||MRN12345^^^NORTH^MR~999-99-9999^^^SSA^SS||Doe^Jane^Q||19800102|F|||12 Elm St^^Springfield^IL^62701||(555)201-3344^PRN^PH~^NET^Internet^jane.doe@example.org|\"\"\r\
PV1|1|O|CLINIC^101^1\r";

/// SIU^S12 sample message (an EHR -> CRM activity template). SCH-25 is "Booked".
pub fn siu_s12() -> String {
    format!(
        "MSH|^~\\&|EPIC|NORTHCLINIC|CONNECTOR|CRM|20240309120500||SIU^S12^SIU_S12|MSG00002|P|2.5\r\
SCH|APT-1001^EPIC|FIL-77^EPIC|||||^Annual physical|ROUTINE|30|MIN|^^30^20240310033000^20240310040000{}Booked\r\
PID|1||MRN12345^^^NORTH^MR||Doe^Jane||19800102|F|||||(555)201-3344\r\
AIL|1||^^^NORTH\r\
AIP|1||1234^Smith^John^^^Dr\r",
        "|".repeat(14)
    )
}

/// ADT^A04 template of a CRM -> EHR flow, holding sample values.
pub const OUTBOUND_ADT_A04: &str = "MSH|^~\\&|CONNECTOR|CRM|EPIC|NORTHCLINIC|20240101000000||ADT^A04^ADT_A01|TEMPLATE|P|2.5\r\
EVN|A04|20240101000000\r\
PID|1||SAMPLE^^^NORTH^MR||Sample^Patient||19000101|U|||1 Sample St^^Sampletown^ST^00000||(000)000-0000\r\
PV1|1|O\r";

/// A fixed "now".
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T15:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The id test flows get.
pub fn flow_id() -> FlowId {
    FlowId::parse("flow-1").unwrap_or_else(|_| FlowId::generate())
}

/// A valid EHR -> CRM lead flow (ADT^A04), as a client sends it.
pub fn lead_flow_json() -> Value {
    json!({
        "name": "Register patients",
        "description": "ADT^A04 registrations become leads",
        "channel_id": "north-ehr",
        "direction": "ehr_to_crm",
        "entity": "lead",
        "event_type": "ADT^A04",
        "lead_sync": "capture",
        "lead_source": "EHR Connector",
        "default_country_code": "+1",
        "time_zone": "America/New_York",
        "primary_search": {"crm_field": "mx_MRN", "hl7_path": "PID-3.1"},
        "secondary_search": {"crm_field": "EmailAddress", "hl7_path": "PID-13[2].4"},
        "mrn_crm_field": "mx_MRN",
        "template": ADT_A04,
        "mappings": [
            {"hl7_path": "PID-3.1", "crm_field": "mx_MRN", "required": true},
            {"hl7_path": "PID-5.2", "crm_field": "FirstName", "transforms": [{"type": "trim"}]},
            {"hl7_path": "PID-5.1", "crm_field": "LastName", "required": true},
            {"hl7_path": "PID-7", "crm_field": "mx_Date_of_Birth",
             "transforms": [{"type": "date", "to_format": "%Y-%m-%d"}]},
            {"hl7_path": "PID-8", "crm_field": "mx_Gender",
             "transforms": [{"type": "value_map", "map": {"F": "Female", "M": "Male"}, "otherwise": "Other"}]},
            {"hl7_path": "PID-11.1", "crm_field": "mx_Street1"},
            {"hl7_path": "PID-11.3", "crm_field": "mx_City"},
            {"hl7_path": "PID-13.1", "crm_field": "Mobile", "transforms": [{"type": "phone_e164"}]},
            {"hl7_path": "PID-13[2].4", "crm_field": "EmailAddress",
             "transforms": [{"type": "trim"}, {"type": "lower"}]},
            {"hl7_path": "PID-14", "crm_field": "mx_Work_Phone"},
            {"hl7_path": "EVN-2", "crm_field": "mx_Registered_On",
             "transforms": [{"type": "date_time", "to_format": "%Y-%m-%d %H:%M:%S", "to_time_zone": "UTC"}]}
        ],
        "enabled": true
    })
}

/// A valid EHR -> CRM activity flow (SIU^S12).
pub fn activity_flow_json() -> Value {
    json!({
        "name": "Appointments",
        "channel_id": "north-ehr",
        "direction": "ehr_to_crm",
        "entity": "activity",
        "event_type": "SIU^S12",
        "lead_sync": "capture",
        "activity_sync": "capture",
        "activity_type": 201,
        "activity_match": {"crm_field": "mx_Custom_1", "hl7_path": "SCH-1.1"},
        "default_country_code": "1",
        "time_zone": "America/New_York",
        "primary_search": {"crm_field": "mx_MRN", "hl7_path": "PID-3.1"},
        "mrn_crm_field": "mx_MRN",
        "template": siu_s12(),
        "mappings": [
            {"hl7_path": "PID-3.1", "crm_field": "mx_MRN"},
            {"hl7_path": "PID-5.2", "crm_field": "FirstName"},
            {"hl7_path": "PID-5.1", "crm_field": "LastName"},
            {"hl7_path": "SCH-1.1", "crm_field": "mx_Custom_1", "target": "activity", "required": true},
            {"hl7_path": "SCH-11.4", "crm_field": "ActivityDateTime", "target": "activity"},
            {"hl7_path": "SCH-11.4", "crm_field": "mx_Custom_2", "target": "activity",
             "transforms": [{"type": "date_time", "to_format": "%Y-%m-%d %H:%M"}]},
            {"hl7_path": "SCH-7.2", "crm_field": "ActivityNote", "target": "activity"},
            {"hl7_path": "SCH-25", "crm_field": "mx_Custom_3", "target": "activity",
             "transforms": [{"type": "value_map", "map": {"Booked": "Scheduled"}}]},
            {"hl7_path": "AIP-3.2", "crm_field": "mx_Custom_4", "target": "activity",
             "transforms": [{"type": "default", "value": "Unassigned"}]},
            {"hl7_path": "AIL-3.4", "crm_field": "mx_Custom_5", "target": "activity"}
        ]
    })
}

/// A valid CRM -> EHR lead flow (lead created -> ADT^A04).
pub fn outbound_flow_json() -> Value {
    json!({
        "name": "New leads to the EHR",
        "channel_id": "north-ehr",
        "direction": "crm_to_ehr",
        "entity": "lead",
        "event_type": "ADT^A04",
        "webhook_event": "lead_create",
        "default_country_code": "1",
        "time_zone": "America/New_York",
        "primary_search": {"crm_field": "mx_MRN", "hl7_path": "PID-3.1"},
        "mrn_crm_field": "mx_MRN",
        "template": OUTBOUND_ADT_A04,
        "mappings": [
            {"hl7_path": "PID-5.1", "crm_field": "LastName", "required": true},
            {"hl7_path": "PID-5.2", "crm_field": "FirstName"},
            {"hl7_path": "PID-7", "crm_field": "mx_Date_of_Birth",
             "transforms": [{"type": "date", "to_format": "%Y-%m-%d"}]},
            {"hl7_path": "PID-8", "crm_field": "mx_Gender",
             "transforms": [{"type": "value_map", "map": {"Female": "F", "Male": "M"}, "otherwise": "U"}]},
            {"hl7_path": "PID-11.1", "crm_field": "mx_Street1"},
            {"hl7_path": "PID-11.3", "crm_field": "mx_City"},
            {"hl7_path": "PID-13.1", "crm_field": "Mobile", "transforms": [{"type": "phone_e164"}]},
            {"hl7_path": "PV1-44", "crm_field": "mx_Last_Visit",
             "transforms": [{"type": "date_time", "to_format": "%Y-%m-%d %H:%M:%S", "to_time_zone": "UTC"}]}
        ]
    })
}

/// Validates a JSON flow input.
pub fn validate(v: Value) -> Result<Flow, ValidationErrors> {
    let input: FlowInput = serde_json::from_value(v).expect("a FlowInput");
    input.into_flow(flow_id(), now())
}

/// A flow that must be valid.
pub fn flow(v: Value) -> Flow {
    match validate(v) {
        Ok(f) => f,
        Err(e) => panic!("invalid fixture: {:?}", e.0),
    }
}

/// Sets the value at a JSON pointer, creating the last key (or appending to an array).
pub fn set(v: &mut Value, pointer: &str, value: Value) {
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer");
    match v.pointer_mut(parent).expect("the parent exists") {
        Value::Object(map) => {
            map.insert(last.to_owned(), value);
        }
        Value::Array(items) => {
            let i: usize = last.parse().expect("an index");
            if i == items.len() {
                items.push(value);
            } else {
                items[i] = value;
            }
        }
        _ => panic!("not a container"),
    }
}

/// Removes the key at a JSON pointer.
pub fn remove(v: &mut Value, pointer: &str) {
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer");
    if let Some(Value::Object(map)) = v.pointer_mut(parent) {
        map.remove(last);
    }
}
