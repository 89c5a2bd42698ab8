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

/// The primary search every test flow uses: `mx_MRN` = PID-3.1.
pub fn mrn_search() -> Value {
    json!({"crm_field": "mx_MRN", "hl7_path": "PID-3.1"})
}

/// The secondary search on the e-mail address: `EmailAddress` = PID-13[2].4.
pub fn email_search() -> Value {
    json!({"crm_field": "EmailAddress", "hl7_path": "PID-13[2].4"})
}

/// A plain mapping of `hl7_path` to `crm_field`.
pub fn map(hl7_path: &str, crm_field: &str) -> Value {
    json!({"hl7_path": hl7_path, "crm_field": crm_field})
}

/// A required mapping of `hl7_path` to `crm_field`.
pub fn required(hl7_path: &str, crm_field: &str) -> Value {
    json!({"hl7_path": hl7_path, "crm_field": crm_field, "required": true})
}

/// A mapping of `hl7_path` to `crm_field` through `transforms`.
pub fn transformed(hl7_path: &str, crm_field: &str, transforms: Value) -> Value {
    json!({"hl7_path": hl7_path, "crm_field": crm_field, "transforms": transforms})
}

/// An activity-side mapping of `hl7_path` to `crm_field`.
pub fn activity(hl7_path: &str, crm_field: &str) -> Value {
    json!({"hl7_path": hl7_path, "crm_field": crm_field, "target": "activity"})
}

/// PID-7 <-> `mx_Date_of_Birth` as `%Y-%m-%d`.
pub fn birth_date() -> Value {
    transformed(
        "PID-7",
        "mx_Date_of_Birth",
        json!([{"type": "date", "to_format": "%Y-%m-%d"}]),
    )
}

/// PID-13.1 <-> `Mobile` in E.164.
pub fn mobile() -> Value {
    transformed("PID-13.1", "Mobile", json!([{"type": "phone_e164"}]))
}

/// PID-13[2].4 -> `EmailAddress`, trimmed and lower-cased.
pub fn email() -> Value {
    transformed(
        "PID-13[2].4",
        "EmailAddress",
        json!([{"type": "trim"}, {"type": "lower"}]),
    )
}

/// PID-8 -> `mx_Gender` (F/M to Female/Male, else Other).
pub fn gender_to_crm() -> Value {
    let map =
        json!({"type": "value_map", "map": {"F": "Female", "M": "Male"}, "otherwise": "Other"});
    transformed("PID-8", "mx_Gender", json!([map]))
}

/// `mx_Gender` -> PID-8 (Female/Male to F/M, else U).
pub fn gender_to_ehr() -> Value {
    let map = json!({"type": "value_map", "map": {"Female": "F", "Male": "M"}, "otherwise": "U"});
    transformed("PID-8", "mx_Gender", json!([map]))
}

/// The patient mappings of the registration flows: MRN, first and last name, birth date, city,
/// mobile and e-mail.
pub fn registration_mappings() -> Vec<Value> {
    vec![
        required("PID-3.1", "mx_MRN"),
        map("PID-5.2", "FirstName"),
        required("PID-5.1", "LastName"),
        birth_date(),
        map("PID-11.3", "mx_City"),
        mobile(),
        email(),
    ]
}

/// The patient mappings of the CRM -> EHR lead updates: last and first name, birth date,
/// gender, address (street, city, state, zip) and mobile.
pub fn lead_update_mappings() -> Vec<Value> {
    vec![
        required("PID-5.1", "LastName"),
        map("PID-5.2", "FirstName"),
        birth_date(),
        gender_to_ehr(),
        map("PID-11.1", "mx_Street1"),
        map("PID-11.3", "mx_City"),
        map("PID-11.4", "mx_State"),
        map("PID-11.5", "mx_Zip"),
        mobile(),
    ]
}

/// An EHR -> CRM ADT^A04 lead flow named `name` on `channel` that captures leads (source "EHR
/// Connector", country code +1) found by MRN, in `time_zone`, with `template` and `mappings`.
pub fn ehr_to_crm_lead(
    name: &str,
    channel: &str,
    time_zone: &str,
    template: &str,
    mappings: Vec<Value>,
) -> Value {
    json!({
        "name": name,
        "channel_id": channel,
        "direction": "ehr_to_crm",
        "entity": "lead",
        "event_type": "ADT^A04",
        "lead_sync": "capture",
        "lead_source": "EHR Connector",
        "default_country_code": "+1",
        "time_zone": time_zone,
        "primary_search": mrn_search(),
        "mrn_crm_field": "mx_MRN",
        "template": template,
        "mappings": mappings,
    })
}

/// A CRM -> EHR lead flow named `name` on `channel`: `webhook_event` becomes `event_type` from
/// `template` in `time_zone`, the patient found by MRN, with `mappings`.
pub fn crm_to_ehr_lead(
    name: &str,
    channel: &str,
    (webhook_event, event_type): (&str, &str),
    time_zone: &str,
    template: &str,
    mappings: Vec<Value>,
) -> Value {
    let flow = ehr_to_crm_lead(name, channel, time_zone, template, mappings);
    let changes = json!({
        "direction": "crm_to_ehr",
        "event_type": event_type,
        "webhook_event": webhook_event,
        "lead_sync": null,
        "lead_source": null,
        "default_country_code": null,
    });
    with(flow, changes)
}

/// The CRM -> EHR flow the outbound tests and benchmark run: `lead_update` -> ADT^A08 from
/// `template` in America/Chicago, the MRN (mx_MRN) to PID-3.1, North American phone numbers.
pub fn lead_updates_to_ehr(channel: &str, template: &str) -> Value {
    let flow = crm_to_ehr_lead(
        "Lead updates to the EHR",
        channel,
        ("lead_update", "ADT^A08"),
        "America/Chicago",
        template,
        lead_update_mappings(),
    );
    with(flow, json!({"default_country_code": "1"}))
}

/// `base` with the keys of `changes` set (a `null` removes the key).
pub fn with(mut base: Value, changes: Value) -> Value {
    if let (Value::Object(target), Value::Object(changes)) = (&mut base, changes) {
        for (key, value) in changes {
            if value.is_null() {
                target.remove(&key);
            } else {
                target.insert(key, value);
            }
        }
    }
    base
}

/// A valid EHR -> CRM lead flow (ADT^A04), as a client sends it.
pub fn lead_flow_json() -> Value {
    let mappings = vec![
        required("PID-3.1", "mx_MRN"),
        transformed("PID-5.2", "FirstName", json!([{"type": "trim"}])),
        required("PID-5.1", "LastName"),
        birth_date(),
        gender_to_crm(),
        map("PID-11.1", "mx_Street1"),
        map("PID-11.3", "mx_City"),
        mobile(),
        email(),
        map("PID-14", "mx_Work_Phone"),
        transformed(
            "EVN-2",
            "mx_Registered_On",
            json!([{"type": "date_time", "to_format": "%Y-%m-%d %H:%M:%S", "to_time_zone": "UTC"}]),
        ),
    ];
    with(
        ehr_to_crm_lead(
            "Register patients",
            "north-ehr",
            "America/New_York",
            ADT_A04,
            mappings,
        ),
        json!({
            "description": "ADT^A04 registrations become leads",
            "secondary_search": email_search(),
            "enabled": true
        }),
    )
}

/// A valid EHR -> CRM activity flow (SIU^S12).
pub fn activity_flow_json() -> Value {
    let mappings = vec![
        map("PID-3.1", "mx_MRN"),
        map("PID-5.2", "FirstName"),
        map("PID-5.1", "LastName"),
        json!({"hl7_path": "SCH-1.1", "crm_field": "mx_Custom_1", "target": "activity", "required": true}),
        activity("SCH-11.4", "ActivityDateTime"),
        json!({"hl7_path": "SCH-11.4", "crm_field": "mx_Custom_2", "target": "activity",
               "transforms": [{"type": "date_time", "to_format": "%Y-%m-%d %H:%M"}]}),
        activity("SCH-7.2", "ActivityNote"),
        json!({"hl7_path": "SCH-25", "crm_field": "mx_Custom_3", "target": "activity",
               "transforms": [{"type": "value_map", "map": {"Booked": "Scheduled"}}]}),
        json!({"hl7_path": "AIP-3.2", "crm_field": "mx_Custom_4", "target": "activity",
               "transforms": [{"type": "default", "value": "Unassigned"}]}),
        activity("AIL-3.4", "mx_Custom_5"),
    ];
    let lead = ehr_to_crm_lead(
        "Appointments",
        "north-ehr",
        "America/New_York",
        &siu_s12(),
        mappings,
    );
    with(
        lead,
        json!({
            "entity": "activity",
            "event_type": "SIU^S12",
            "lead_source": null,
            "activity_sync": "capture",
            "activity_type": 201,
            "activity_match": {"crm_field": "mx_Custom_1", "hl7_path": "SCH-1.1"},
            "default_country_code": "1"
        }),
    )
}

/// A valid CRM -> EHR lead flow (lead created -> ADT^A04).
pub fn outbound_flow_json() -> Value {
    // The lead update mappings without state and zip, plus the last visit.
    let mut mappings: Vec<Value> = lead_update_mappings()
        .into_iter()
        .filter(|m| m["crm_field"] != "mx_State" && m["crm_field"] != "mx_Zip")
        .collect();
    mappings.push(transformed(
        "PV1-44",
        "mx_Last_Visit",
        json!([{"type": "date_time", "to_format": "%Y-%m-%d %H:%M:%S", "to_time_zone": "UTC"}]),
    ));
    let flow = crm_to_ehr_lead(
        "New leads to the EHR",
        "north-ehr",
        ("lead_create", "ADT^A04"),
        "America/New_York",
        OUTBOUND_ADT_A04,
        mappings,
    );
    with(flow, json!({"default_country_code": "1"}))
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
