//! Ambiguous CRM matches, end to end: a search key that finds more than one LeadSquared record
//! (family members share a phone) answers AE with ERR 205 ("Duplicate key identifier") at the
//! key's HL7 field, writes nothing and is audited; a phone stored in LeadSquared's form
//! (`+1-2175550199`) is found by the E.164 value the flow maps.

use connector_domain::crm::CrmField;
use serde_json::{Value, json};

use crate::hl7_inbound_support::StockFlow::S14Update;
use crate::hl7_inbound_support::{
    ADT_A08, CrmKind, MllpClient, SAMPLE_PHI, SIU_S14, last_lead_action, last_processed, lead_flow,
    spawn_inbound, spawn_inbound_with,
};

/// The sample patient's phone (PID-13.1 of ADT^A08) as LeadSquared stores it.
const STORED_PHONE: &str = "+1-2175550199";

/// An ADT^A08 flow searching by MRN, then by the mobile phone (E.164).
fn phone_keyed_flow() -> Value {
    let mut flow = lead_flow("ADT^A08", ADT_A08, "capture");
    flow["secondary_search"] = json!({"crm_field": "Mobile", "hl7_path": "PID-13.1"});
    flow
}

#[tokio::test]
async fn two_leads_sharing_the_secondary_phone_key_answer_ae_205_and_change_nothing() {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.put_flow("a08-phone", phone_keyed_flow()).await;
    let fake = app.fake();
    fake.set_unique_fields(&["EmailAddress"]);
    // A parent and a child, both with the family phone, neither with the MRN.
    for (first, email) in [("Jordan", "jordan@example.org"), ("Sam", "sam@example.org")] {
        fake.insert_lead(vec![
            CrmField::new("FirstName", first),
            CrmField::new("EmailAddress", email),
            CrmField::new("Mobile", STORED_PHONE),
        ]);
    }
    let before = fake.leads();

    let ack = app.send(ADT_A08).await.expect("AE", "NE-A08-0002");

    assert_eq!(ack.errors, [205], "{}", ack.text);
    assert!(
        ack.text.contains("\rERR||PID^1^13^1^1|205^"),
        "{}",
        ack.text
    );
    assert_eq!(fake.leads(), before, "no lead changed");
    assert!(fake.requests_to("Lead.Create").is_empty());
    assert!(fake.requests_to("Lead.Update").is_empty());
    // Each search asked for two: the MRN (nothing), then the phone in both forms.
    let gets = fake.requests_to("Leads.Get");
    let searched: Vec<(&Value, &Value, &Value)> = gets
        .iter()
        .map(|r| {
            (
                &r.body["Parameter"]["LookupName"],
                &r.body["Parameter"]["LookupValue"],
                &r.body["Paging"]["PageSize"],
            )
        })
        .collect();
    assert_eq!(
        searched,
        [
            (&json!("mx_MRN"), &json!("MRN20001"), &json!(2)),
            (&json!("Mobile"), &json!("+12175550199"), &json!(2)),
            (&json!("Mobile"), &json!(STORED_PHONE), &json!(2)),
        ]
    );

    let entry = last_processed(&app).await;
    assert_eq!(entry["outcome"], "error");
    assert_eq!(entry["detail"]["ack"], "AE");
    let flow = &entry["detail"]["flows"][0];
    assert_eq!(flow["error"], "crm_ambiguous_match");
    assert_eq!(flow["search_key"], "Mobile");
    assert_eq!(flow["lead_id"], Value::Null);
    let audit = entry.to_string();
    for value in SAMPLE_PHI.iter().chain(&["2175550199", STORED_PHONE]) {
        assert!(!audit.contains(value), "the audit entry holds {value}");
    }

    // The EHR's resend fails the same way until someone merges the leads in the CRM.
    app.send(ADT_A08).await.expect("AE", "NE-A08-0002");
    assert_eq!(fake.leads(), before);
}

#[tokio::test]
async fn a_phone_stored_in_leadsquareds_form_is_found_by_its_e164_value() {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.put_flow("a08-phone", phone_keyed_flow()).await;
    let fake = app.fake();
    let existing = fake.insert_lead(vec![
        CrmField::new("FirstName", "Casey"),
        CrmField::new("Mobile", STORED_PHONE),
    ]);

    app.send(ADT_A08).await.expect("AA", "NE-A08-0002");

    let leads = fake.leads();
    assert_eq!(leads.len(), 1, "found, not duplicated");
    assert_eq!(leads[0].id, existing);
    assert!(
        leads[0]
            .fields
            .contains(&CrmField::new("mx_MRN", "MRN20001")),
        "the lead now carries the MRN"
    );
    assert_eq!(last_lead_action(&app).await, "updated");
}

#[tokio::test]
async fn two_activities_sharing_the_match_key_answer_ae_205_over_mllp() {
    let app = spawn_inbound_with(CrmKind::Fake, &[S14Update]).await;
    let fake = app.fake();
    let lead = fake.insert_lead(vec![
        CrmField::new("mx_MRN", "MRN20001"),
        CrmField::new("FirstName", "Casey"),
    ]);
    // A CRM user copied the visit: two activities carry appointment APT-5001.
    for note in ["Visit", "Visit (copy)"] {
        fake.insert_activity(
            &lead,
            201,
            note,
            chrono::Utc::now(),
            vec![CrmField::new("mx_Custom_1", "APT-5001")],
        );
    }
    let before = fake.activities();
    let mllp = app.start_mllp().await;
    let mut client = MllpClient::connect(mllp).await;

    let ack = client.send(SIU_S14).await.expect("AE", "NE-S14-0005");

    assert_eq!(ack.errors, [205], "{}", ack.text);
    assert!(ack.text.contains("\rERR||SCH^1^2^1^1|205^"), "{}", ack.text);
    assert_eq!(fake.activities(), before, "no activity changed");
    assert!(fake.requests_to("CustomActivity/Update").is_empty());
    assert!(fake.requests_to("ProspectActivity.svc/Create").is_empty());
    let entry = last_processed(&app).await;
    assert_eq!(entry["detail"]["flows"][0]["error"], "crm_ambiguous_match");
    assert_eq!(entry["detail"]["flows"][0]["search_key"], "mx_Custom_1");
}
