//! Issue 12.7: honest ACKs and CRM value limits. A message whose HIE registration is refused is
//! answered AE with an ERR at the refused field (it was AA with an `invalid` audit entry), and
//! a value longer than its CRM field is refused (or, when the mapping says so, truncated and
//! audited) instead of being written as it came.

use connector_app::flows::admin;
use connector_domain::Actor;
use connector_domain::flow::{FlowId, FlowInput};
use serde_json::{Value, json};

use crate::hl7_inbound_support::{
    ADT_A04, CrmKind, InboundApp, last_processed, lead_flow, patient_id_of, spawn_inbound,
    with_control_id,
};

/// The A04 sample with PID-10 (race, which the HIE side does not read) set to `value`.
fn with_race(message: &str, control_id: &str, value: &str) -> String {
    with_control_id(message, control_id)
        .replace("|19870412|F|||", &format!("|19870412|F||{value}|"))
}

/// The lead flow plus a mapping of PID-10 to `mx_Race` with these extra settings.
fn flow_with_race_mapping(extra: Value) -> Value {
    let mut flow = lead_flow("ADT^A04", ADT_A04, "capture");
    let mut mapping = json!({"hl7_path": "PID-10", "crm_field": "mx_Race"});
    for (k, v) in extra.as_object().expect("an object") {
        mapping[k] = v.clone();
    }
    flow["mappings"]
        .as_array_mut()
        .expect("mappings")
        .push(mapping);
    flow
}

/// Whether the A04 sample's patient is registered.
async fn a04_patient_registered(app: &InboundApp) -> bool {
    let patient = app.ctx.patients.get(&patient_id_of(ADT_A04)).await;
    patient.expect("store").is_some()
}

#[tokio::test]
async fn an_a04_whose_hie_registration_is_refused_is_answered_ae_at_the_field() {
    let app = spawn_inbound(CrmKind::Embedded).await;
    let long_name = "R".repeat(100_000);
    let message = with_control_id(ADT_A04, "LIM-HIE-1")
        .replace("Rivera^Casey", &format!("{long_name}^Casey"));

    let ack = app.send(&message).await.expect("AE", "LIM-HIE-1");
    ack.expect_error_at(102, "|PID^1^5^");
    assert!(!a04_patient_registered(&app).await, "nothing registered");
    let entry = last_processed(&app).await;
    assert_eq!(entry["detail"]["ack"], "AE");
    assert_eq!(entry["detail"]["hie"]["patient"], "invalid");
    assert_eq!(
        entry["detail"]["hie"]["invalid_fields"],
        json!(["last_name"])
    );

    // A resend of the same message is checked again (AE again), not acknowledged as done.
    app.send(&message).await.expect("AE", "LIM-HIE-1");
    // The corrected message registers the patient.
    app.send(&with_control_id(ADT_A04, "LIM-HIE-2"))
        .await
        .expect("AA", "LIM-HIE-2");
    assert!(a04_patient_registered(&app).await);
}

#[tokio::test]
async fn an_a04_without_an_mrn_is_answered_ae_with_required_field_missing() {
    let app = spawn_inbound(CrmKind::Embedded).await;
    let message = with_control_id(ADT_A04, "LIM-HIE-3").replace("MRN20001^^^NORTHCLINIC^MR", "");
    let ack = app.send(&message).await.expect("AE", "LIM-HIE-3");
    assert_eq!(ack.errors, vec![101], "{}", ack.text);
}

#[tokio::test]
async fn a_value_longer_than_its_crm_field_is_refused_and_nothing_is_written() {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.put_flow(
        "a04-capture",
        flow_with_race_mapping(json!({"max_length": 20})),
    )
    .await;

    let message = with_race(ADT_A04, "LIM-CRM-1", &"W".repeat(21));
    let ack = app.send(&message).await.expect("AE", "LIM-CRM-1");
    ack.expect_error_at(102, "PID^1^10");
    assert!(app.fake().leads().is_empty(), "no lead was written");
    let entry = last_processed(&app).await;
    assert_eq!(entry["detail"]["flows"][0]["error"], "mapping");

    // Exactly the limit is written.
    let message = with_race(ADT_A04, "LIM-CRM-2", &"W".repeat(20));
    app.send(&message).await.expect("AA", "LIM-CRM-2");
    let leads = app.fake().leads();
    assert_eq!(leads.len(), 1);
    let race = leads[0]
        .fields
        .iter()
        .find(|f| f.name == "mx_Race")
        .expect("mx_Race");
    assert_eq!(race.value.chars().count(), 20);
}

#[tokio::test]
async fn without_max_length_a_megabyte_value_is_refused_at_the_default_limit() {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.put_flow("a04-capture", flow_with_race_mapping(json!({})))
        .await;
    let message = with_race(ADT_A04, "LIM-CRM-3", &"W".repeat(1_000_000));
    let ack = app.send(&message).await.expect("AE", "LIM-CRM-3");
    assert_eq!(ack.errors, vec![102], "{}", ack.text.len());
    assert!(app.fake().leads().is_empty(), "no lead was written");
}

#[tokio::test]
async fn a_truncating_mapping_cuts_the_value_and_says_so_in_the_audit() {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.put_flow(
        "a04-capture",
        flow_with_race_mapping(json!({"max_length": 5, "on_too_long": "truncate"})),
    )
    .await;
    let message = with_race(ADT_A04, "LIM-CRM-4", "Wéééééééé");
    app.send(&message).await.expect("AA", "LIM-CRM-4");
    let leads = app.fake().leads();
    let race = leads[0]
        .fields
        .iter()
        .find(|f| f.name == "mx_Race")
        .expect("mx_Race");
    assert_eq!(race.value, "Wéééé", "cut at 5 characters, not bytes");
    let entry = last_processed(&app).await;
    assert_eq!(entry["detail"]["flows"][0]["truncated"], json!(["mx_Race"]));
    assert!(
        !entry.to_string().contains("Wéé"),
        "the audit names the field, not the value"
    );
}

#[tokio::test]
async fn max_length_and_on_too_long_are_validated() {
    let app = spawn_inbound(CrmKind::Embedded).await;
    let admin = Actor::system("e2e-setup");
    for (extra, field) in [
        (json!({"max_length": 0}), "mappings[7].max_length"),
        (json!({"max_length": 32001}), "mappings[7].max_length"),
        (json!({"on_too_long": "cut"}), "mappings[7].on_too_long"),
    ] {
        let input: FlowInput =
            serde_json::from_value(flow_with_race_mapping(extra)).expect("a flow input");
        let id = FlowId::parse("bad").expect("an id");
        match admin::put_flow(app.ports(), &admin, &id, input).await {
            Err(admin::AdminError::Invalid(errors)) => assert!(
                errors.0.iter().any(|e| e.field == field),
                "{field}: {:?}",
                errors.0
            ),
            other => panic!(
                "{field}: expected a validation error, got {:?}",
                other.is_ok()
            ),
        }
    }
}
