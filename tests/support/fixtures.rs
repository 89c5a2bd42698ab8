//! The invented data every test starts from: the start instant, the fixture patient and
//! appointment as the API takes them, the sample API Gateway events, and small readers of
//! audit entries and DynamoDB items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

/// The instant every test starts at: 2026-11-21 15:00 UTC (the sample events' day).
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 15, 0, 0).unwrap()
}

/// The invented demographics of fixture patient `patient_id`, as the API takes them. Every
/// value is fictional and distinctive enough to grep logs for.
pub fn patient_json(patient_id: &str) -> Value {
    json!({
        "mrn": format!("MRN-{patient_id}-7731"),
        "first_name": "Zephyrine",
        "last_name": "Quillfeather",
        "birth_date": "1979-04-03",
        "sex": "F",
        "phone": "+1-555-0142",
        "email": "zephyrine.quillfeather@example.org",
        "address": {
            "line1": "77 Larkspur Crescent",
            "line2": "Apt 4B",
            "city": "Fernhollow",
            "state": "OR",
            "postal_code": "97999-4321",
            "country": "US"
        }
    })
}

/// Every PHI value in [`patient_json`] (for any id), as it could appear in output.
pub fn phi_values(patient_id: &str) -> Vec<String> {
    vec![
        format!("MRN-{patient_id}-7731"),
        "Zephyrine".into(),
        "Quillfeather".into(),
        "1979-04-03".into(),
        "19790403".into(),
        "555-0142".into(),
        "zephyrine.quillfeather@example.org".into(),
        "Larkspur".into(),
        "Apt 4B".into(),
        "Fernhollow".into(),
        "97999-4321".into(),
    ]
}

/// An appointment for `patient_id`, as the API takes it.
pub fn appointment_json(patient_id: &str) -> Value {
    json!({
        "patient_id": patient_id,
        "scheduled_start": "2026-11-21T09:30:00-06:00",
        "provider": {"id": "NPI-1234567890", "name": "Dr. Rowan Ashby"},
        "location": "CLINIC-2",
        "reason": "Zephyrine's knee follow-up",
        "status": "complete"
    })
}

/// A sample event from `events/{folder}/{name}.json`.
pub fn event(folder: &str, name: &str) -> Value {
    let path = format!(
        "{}/../events/{folder}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A sample API Gateway v2 event from `events/consent-api/`.
pub fn sample_event(name: &str) -> Value {
    event("consent-api", name)
}

/// Audit actions oldest first (the API lists newest first).
pub fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .rev()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A string attribute of an item.
pub fn s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value,
        other => panic!("{name} is not a string: {other:?}"),
    }
}

/// A number attribute of an item.
pub fn n(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().expect("a number"),
        other => panic!("{name} is not a number: {other:?}"),
    }
}
