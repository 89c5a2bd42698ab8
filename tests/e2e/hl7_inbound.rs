//! Inbound HL7 end to end: messages POSTed to `/hl7/{channel}` over real HTTP (signed) and sent
//! through a real MLLP listener, flows writing to LeadSquared's wire format (the fake) or to the
//! embedded CRM, and the HIE side (patients, consents, appointments, transitions).

use connector_crm::fake::{Fault, FaultRule};
use connector_domain::crm::CrmField;
use connector_domain::inbound::InboundState;
use serde_json::{Value, json};

use crate::hl7_inbound_support::StockFlow::{A04Capture, A08Update, S12Capture, S14Update};
use crate::hl7_inbound_support::{
    ADT_A04, ADT_A08, ADT_A28, CrmKind, DFT_P03, MllpClient, SAMPLE_PHI, SIU_S12, SIU_S14,
    SIU_S14_COMPLETE, SIU_S15, Signing, activity_flow, last_lead_action, last_processed, lead_flow,
    patient_id_of, spawn_inbound, spawn_inbound_with, with_control_id,
};
use crate::support::captured_logs;
use crate::support::listing;

fn field<'a>(fields: &'a [CrmField], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.as_str())
}

/// Another invented patient in the same message shape (a different MRN and email).
fn other_patient(message: &str, control_id: &str) -> String {
    with_control_id(message, control_id)
        .replace("MRN20001", "MRN20002")
        .replace("casey.rivera@example.org", "casey.rivera2@example.org")
}

#[tokio::test]
async fn capture_creates_the_lead_then_updates_it() {
    let app = spawn_inbound_with(CrmKind::Fake, &[A04Capture]).await;
    app.put_flow("a08-capture", lead_flow("ADT^A08", ADT_A08, "capture"))
        .await;
    let fake = app.fake();

    let ack = app.send(ADT_A04).await.expect("AA", "NE-A04-0001");
    assert!(ack.errors.is_empty());
    let leads = fake.leads();
    assert_eq!(leads.len(), 1);
    let lead = &leads[0];
    assert_eq!(field(&lead.fields, "mx_MRN"), Some("MRN20001"));
    assert_eq!(field(&lead.fields, "FirstName"), Some("Casey"));
    assert_eq!(field(&lead.fields, "LastName"), Some("Rivera"));
    assert_eq!(field(&lead.fields, "mx_Date_of_Birth"), Some("1987-04-12"));
    assert_eq!(field(&lead.fields, "Mobile"), Some("+12175550142"));
    assert_eq!(
        field(&lead.fields, "EmailAddress"),
        Some("casey.rivera@example.org")
    );
    assert_eq!(field(&lead.fields, "Source"), Some("EHR Connector"));
    // Primary key, then secondary key, then the create: LeadSquared's wire format.
    let gets = fake.requests_to("Leads.Get");
    assert_eq!(gets.len(), 2);
    assert_eq!(gets[0].body["Parameter"]["LookupName"], "mx_MRN");
    assert_eq!(gets[1].body["Parameter"]["LookupName"], "EmailAddress");
    assert_eq!(fake.requests_to("Lead.Create").len(), 1);
    let entry = last_processed(&app).await;
    assert_eq!(entry["outcome"], "success");
    assert_eq!(entry["detail"]["ack"], "AA");
    assert_eq!(entry["detail"]["flows"][0]["lead"], "created");
    assert_eq!(entry["detail"]["flows"][0]["lead_id"], lead.id.0.as_str());

    app.send(ADT_A08).await.expect("AA", "NE-A08-0002");
    let leads = fake.leads();
    assert_eq!(leads.len(), 1, "the A08 updated the lead the A04 created");
    assert_eq!(field(&leads[0].fields, "Mobile"), Some("+12175550199"));
    assert_eq!(fake.requests_to("Lead.Create").len(), 1);
    let updates = fake.requests_to("Lead.Update");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].query_param("leadId"), Some(lead.id.0.as_str()));
    let entry = last_processed(&app).await;
    assert_eq!(entry["detail"]["event"], "ADT^A08");
    assert_eq!(entry["detail"]["flows"][0]["lead"], "updated");
}

#[tokio::test]
async fn create_only_creates_new_leads_and_leaves_existing_ones_unchanged() {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.put_flow("a28-create", lead_flow("ADT^A28", ADT_A28, "create_only"))
        .await;
    let fake = app.fake();
    let existing = fake.insert_lead(vec![
        CrmField::new("mx_MRN", "MRN20001"),
        CrmField::new("FirstName", "Cas"),
        CrmField::new("Mobile", "+12175550100"),
    ]);

    app.send(ADT_A28).await.expect("AA", "NE-A28-0003");
    let lead = fake.lead(&existing).unwrap();
    assert_eq!(
        lead.fields,
        vec![
            CrmField::new("mx_MRN", "MRN20001"),
            CrmField::new("FirstName", "Cas"),
            CrmField::new("Mobile", "+12175550100"),
        ],
        "create_only does not touch an existing lead"
    );
    assert_eq!(fake.leads().len(), 1);
    assert!(fake.requests_to("Lead.Create").is_empty());
    assert!(fake.requests_to("Lead.Update").is_empty());
    let entry = last_processed(&app).await;
    assert_eq!(entry["detail"]["flows"][0]["lead"], "unchanged");
    assert_eq!(entry["detail"]["flows"][0]["lead_id"], existing.0.as_str());

    app.send(&other_patient(ADT_A28, "NE-A28-0103"))
        .await
        .expect("AA", "NE-A28-0103");
    assert_eq!(fake.leads().len(), 2, "a new patient is created");
    assert_eq!(fake.requests_to("Lead.Create").len(), 1);
    assert_eq!(last_lead_action(&app).await, "created");
}

#[tokio::test]
async fn update_only_on_a_missing_lead_creates_nothing_and_accepts() {
    let app = spawn_inbound_with(CrmKind::Fake, &[A08Update]).await;
    let fake = app.fake();

    let ack = app.send(ADT_A08).await.expect("AA", "NE-A08-0002");
    assert!(ack.errors.is_empty());
    assert!(fake.leads().is_empty());
    assert!(fake.requests_to("Lead.Create").is_empty());
    assert!(fake.requests_to("Lead.Update").is_empty());
    let entry = last_processed(&app).await;
    assert_eq!(entry["outcome"], "success");
    assert_eq!(entry["detail"]["flows"][0]["outcome"], "done");
    assert_eq!(entry["detail"]["flows"][0]["lead"], "not_found");
    assert_eq!(entry["detail"]["flows"][0]["lead_id"], Value::Null);
    assert_eq!(
        app.ledger("NE-A08-0002").await.unwrap().state,
        InboundState::Done
    );
}

#[tokio::test]
async fn do_nothing_leaves_the_crm_alone() {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.put_flow("a04-nothing", lead_flow("ADT^A04", ADT_A04, "do_nothing"))
        .await;
    app.put_flow(
        "s12-nothing",
        activity_flow("SIU^S12", SIU_S12, "do_nothing", "do_nothing"),
    )
    .await;
    let fake = app.fake();
    let existing = fake.insert_lead(vec![CrmField::new("mx_MRN", "MRN20001")]);

    app.send(ADT_A04).await.expect("AA", "NE-A04-0001");
    app.send(SIU_S12).await.expect("AA", "NE-S12-0004");
    assert_eq!(
        fake.lead(&existing).unwrap().fields,
        vec![CrmField::new("mx_MRN", "MRN20001")]
    );
    assert_eq!(fake.leads().len(), 1);
    assert!(fake.activities().is_empty());
    for endpoint in [
        "Lead.Create",
        "Lead.Update",
        "ProspectActivity.svc/Create",
        "CustomActivity/Update",
    ] {
        assert!(fake.requests_to(endpoint).is_empty(), "{endpoint}");
    }
    assert!(
        fake.requests_to("Leads.Get").is_empty(),
        "a lead flow that does nothing does not spend the CRM's rate limit on searches"
    );
    // The HIE side still takes the messages.
    let patient = patient_id_of(ADT_A04);
    let reply = app.app.get(&format!("/patients/{patient}"), "staff").await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert!(app.transition_seq("APT-5001").await.is_some());
}

#[tokio::test]
async fn the_secondary_key_finds_the_lead_when_the_primary_finds_nothing() {
    let app = spawn_inbound_with(CrmKind::Fake, &[A08Update]).await;
    let fake = app.fake();
    // A lead captured from a web form: email only, no MRN yet.
    let existing = fake.insert_lead(vec![
        CrmField::new("EmailAddress", "casey.rivera@example.org"),
        CrmField::new("FirstName", "Casey"),
    ]);

    app.send(ADT_A08).await.expect("AA", "NE-A08-0002");
    let gets = fake.requests_to("Leads.Get");
    assert_eq!(gets.len(), 2);
    assert_eq!(gets[0].body["Parameter"]["LookupName"], "mx_MRN");
    assert_eq!(gets[0].body["Parameter"]["LookupValue"], "MRN20001");
    assert_eq!(gets[1].body["Parameter"]["LookupName"], "EmailAddress");
    let leads = fake.leads();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].id, existing);
    assert_eq!(
        field(&leads[0].fields, "mx_MRN"),
        Some("MRN20001"),
        "the lead now carries the MRN"
    );
    assert_eq!(field(&leads[0].fields, "Mobile"), Some("+12175550199"));
    assert_eq!(last_lead_action(&app).await, "updated");
}

#[tokio::test]
async fn an_activity_flow_creates_the_activity_and_a_later_s14_updates_it() {
    let app = spawn_inbound_with(CrmKind::Fake, &[S12Capture, S14Update]).await;
    let fake = app.fake();

    app.send(SIU_S12).await.expect("AA", "NE-S12-0004");
    let leads = fake.leads();
    assert_eq!(leads.len(), 1, "the activity's lead is captured first");
    let activities = fake.activities();
    assert_eq!(activities.len(), 1);
    let activity = &activities[0];
    assert_eq!(activity.lead, leads[0].id);
    assert_eq!(activity.event, 201);
    assert_eq!(activity.field("mx_Custom_1"), Some("APT-5001"));
    assert_eq!(activity.field("mx_Custom_3"), Some("Scheduled"));
    assert_eq!(activity.note, "Annual physical");
    let entry = last_processed(&app).await;
    assert_eq!(entry["detail"]["flows"][0]["activity"], "created");
    assert_eq!(
        entry["detail"]["flows"][0]["activity_id"],
        activity.id.0.as_str()
    );

    app.send(SIU_S14).await.expect("AA", "NE-S14-0005");
    let activities = fake.activities();
    assert_eq!(activities.len(), 1, "the S14 found the S12's activity");
    assert_eq!(activities[0].id, activity.id);
    assert_eq!(activities[0].note, "Annual physical and labs");
    assert_eq!(fake.requests_to("ProspectActivity.svc/Create").len(), 1);
    let updates = fake.requests_to("CustomActivity/Update");
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].body["ProspectActivityId"],
        activity.id.0.as_str()
    );
    let entry = last_processed(&app).await;
    assert_eq!(entry["detail"]["flows"][0]["flow_id"], "s14-update");
    assert_eq!(entry["detail"]["flows"][0]["activity"], "updated");
    assert_eq!(
        entry["detail"]["flows"][0]["activity_id"],
        activity.id.0.as_str()
    );
}

#[tokio::test]
async fn acks_accept_error_and_reject_as_hl7_says() {
    let app = spawn_inbound_with(CrmKind::Fake, &[A04Capture]).await;

    // AA: MSA-2 is the message's MSH-10, no ERR.
    let ack = app.send(ADT_A04).await.expect("AA", "NE-A04-0001");
    assert!(ack.errors.is_empty());
    assert!(!ack.text.contains("\rERR|"));

    // AE with an ERR: the flow requires PID-5.1 (LastName) and the message has none.
    let no_family_name =
        with_control_id(ADT_A04, "NE-A04-0009").replace("|Rivera^Casey^J|", "|^Casey^J|");
    let ack = app.send(&no_family_name).await.expect("AE", "NE-A04-0009");
    assert_eq!(ack.errors, [101], "{}", ack.text);
    assert!(ack.text.contains("\rERR||PID^1^5^1^1|101^"), "{}", ack.text);
    let entry = last_processed(&app).await;
    assert_eq!(entry["outcome"], "error");
    assert_eq!(entry["detail"]["ack"], "AE");
    assert_eq!(entry["detail"]["flows"][0]["error"], "mapping");

    // AR: not HL7 at all (no MSH-10 to echo).
    let reply = app.post("hello, this is not HL7", Signing::Valid).await;
    let ack = reply.ack().expect("AR", "");
    assert!(!ack.errors.is_empty());

    // AR: no MSH-10.
    let ack = app
        .send(&with_control_id(ADT_A04, ""))
        .await
        .expect("AR", "");
    assert_eq!(ack.errors, [101]);

    // AR: an event that no flow and no HIE side takes.
    let discharge = with_control_id(ADT_A04, "NE-A03-0010")
        .replace("ADT^A04^ADT_A01", "ADT^A03^ADT_A03")
        .replace("EVN|A04", "EVN|A03");
    let ack = app.send(&discharge).await.expect("AR", "NE-A03-0010");
    assert_eq!(ack.errors, [201]);
    assert!(app.ledger("NE-A03-0010").await.is_none());

    let rejected = app.hl7_audit_of("hl7.rejected").await;
    let mut reasons: Vec<&str> = rejected
        .iter()
        .map(|e| e["detail"]["reason"].as_str().unwrap())
        .collect();
    reasons.sort_unstable();
    assert_eq!(
        reasons,
        ["no_control_id", "no_flow_for_event", "unparseable"]
    );
    assert!(rejected.iter().all(|e| e["detail"]["ack"] == "AR"));
    assert_eq!(
        app.fake().leads().len(),
        1,
        "only the accepted message wrote"
    );
}

#[tokio::test]
async fn a_resent_message_changes_nothing() {
    let app = spawn_inbound_with(CrmKind::Fake, &[S12Capture]).await;
    let fake = app.fake();
    let first = app.send(SIU_S12).await.expect("AA", "NE-S12-0004");
    let requests = fake.requests().len();
    let seq = app.transition_seq("APT-5001").await;

    for _ in 0..2 {
        let again = app.send(SIU_S12).await.expect("AA", "NE-S12-0004");
        assert_eq!(again.text, first.text, "the same ACK, word for word");
    }
    assert_eq!(fake.requests().len(), requests, "not one CRM call");
    assert_eq!((fake.leads().len(), fake.activities().len()), (1, 1));
    assert_eq!(app.transition_seq("APT-5001").await, seq);
    let entries = app.hl7_audit().await;
    let duplicates = listing::with_action(&entries, "hl7.duplicate");
    assert_eq!(duplicates.len(), 2);
    assert_eq!(duplicates[0]["outcome"], "skipped");
    assert_eq!(duplicates[0]["detail"]["control_id"], "NE-S12-0004");
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["action"] == "hl7.processed")
            .count(),
        1
    );
}

#[tokio::test]
async fn two_concurrent_sends_of_one_message_create_one_lead() {
    let app = spawn_inbound_with(CrmKind::Fake, &[S12Capture]).await;
    let fake = app.fake();
    // Hold the first search so that the two sends overlap.
    fake.inject(
        FaultRule::once(Fault::Delay(std::time::Duration::from_millis(400))).on("Leads.Get"),
    );

    let (one, two) = tokio::join!(app.send(SIU_S12), app.send(SIU_S12));
    let mut codes = vec![one.code.clone(), two.code.clone()];
    codes.sort();
    assert!(
        codes == ["AA", "AA"] || codes == ["AA", "AE"],
        "one is processed, the other waits or is told to resend: {codes:?}"
    );
    for ack in [&one, &two] {
        assert_eq!(ack.control_id, "NE-S12-0004");
        if ack.code == "AE" {
            assert_eq!(ack.errors, [206], "application record locked");
        }
    }
    // The EHR resends what got an AE; now it is done.
    app.send(SIU_S12).await.expect("AA", "NE-S12-0004");
    assert_eq!(fake.leads().len(), 1);
    assert_eq!(fake.activities().len(), 1);
    assert_eq!(fake.requests_to("Lead.Create").len(), 1);
    assert_eq!(fake.requests_to("ProspectActivity.svc/Create").len(), 1);

    // The same over MLLP: two connections sending one message at once.
    let mllp = app.start_mllp().await;
    app.put_flow(
        "s14-capture",
        activity_flow("SIU^S14", SIU_S14, "capture", "capture"),
    )
    .await;
    fake.inject(
        FaultRule::once(Fault::Delay(std::time::Duration::from_millis(400))).on("Leads.Get"),
    );
    let mut first = MllpClient::connect(mllp).await;
    let mut second = MllpClient::connect(mllp).await;
    let (one, two) = tokio::join!(first.send(SIU_S14), second.send(SIU_S14));
    assert!([&one, &two].iter().any(|a| a.code == "AA"));
    assert!(
        [&one, &two]
            .iter()
            .all(|a| a.code == "AA" || a.errors == [206])
    );
    first.send(SIU_S14).await.expect("AA", "NE-S14-0005");
    assert_eq!(fake.activities().len(), 1);
    assert_eq!(fake.requests_to("CustomActivity/Update").len(), 1);
}

#[tokio::test]
async fn the_hie_side_registers_schedules_and_transitions_each_message_once() {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.app.settings(json!({"opt_in_by_default": true})).await;
    let patient = patient_id_of(ADT_A04);
    assert!(
        patient.as_str().starts_with("mrn-"),
        "a pseudonym, not the MRN"
    );

    // No flows: the HIE side alone takes these events.
    app.send(ADT_A04).await.expect("AA", "NE-A04-0001");
    let reply = app.app.get(&format!("/patients/{patient}"), "staff").await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["mrn"], "MRN20001");
    assert_eq!(reply.body["last_name"], "Rivera");
    assert_eq!(reply.body["birth_date"], "1987-04-12");
    let history = app.app.history(patient.as_str()).await;
    let consents = history["consents"].as_array().expect("consents");
    assert_eq!(consents.len(), 1, "opt-in by default: {history:#}");

    app.send(ADT_A04).await.expect("AA", "NE-A04-0001");
    let history = app.app.history(patient.as_str()).await;
    assert_eq!(history["consents"].as_array().unwrap().len(), 1);

    app.send(SIU_S12).await.expect("AA", "NE-S12-0004");
    assert_eq!(app.transition_seq("APT-5001").await, Some(0));
    let entry = last_processed(&app).await;
    assert_eq!(entry["appointment_id"], "APT-5001");
    assert_eq!(entry["detail"]["hie"]["appointment"], "created");

    app.send(SIU_S15).await.expect("AA", "NE-S15-0006");
    assert_eq!(app.transition_seq("APT-5001").await, Some(0));

    // Each transitions the appointment once, sent twice: (message, its control id, the
    // transition sequence after it, what it is).
    for (message, control_id, seq, what) in [
        (SIU_S14_COMPLETE, "NE-S14-0007", 1, "S14 Complete"),
        (DFT_P03, "NE-P03-0008", 2, "the charge"),
    ] {
        for _ in 0..2 {
            app.send(message).await.expect("AA", control_id);
            let why = format!("{what} transitions once, resent or not");
            assert_eq!(app.transition_seq("APT-5001").await, Some(seq), "{why}");
        }
    }
    let entry = last_processed(&app).await;
    assert_eq!(entry["detail"]["event"], "DFT^P03");
    assert_eq!(entry["detail"]["hie"]["appointment"], "transitioned");
}

#[tokio::test]
async fn mllp_acks_each_message_only_after_its_ledger_record_is_done() {
    let app = spawn_inbound_with(CrmKind::Fake, &[A04Capture, S12Capture]).await;
    let mllp = app.start_mllp().await;
    let mut client = MllpClient::connect(mllp).await;
    for (message, control_id) in [(ADT_A04, "NE-A04-0001"), (SIU_S12, "NE-S12-0004")] {
        client.send(message).await.expect("AA", control_id);
        let record = app.ledger(control_id).await.expect("a ledger record");
        assert_eq!(record.state, InboundState::Done, "{control_id}");
        assert!(record.steps.values().all(|s| s.done));
        assert_eq!(
            last_processed(&app).await["detail"]["control_id"],
            control_id
        );
    }
    assert_eq!(app.fake().leads().len(), 1);
    assert_eq!(app.fake().activities().len(), 1);

    // An AE is also sent only once the failed attempt is recorded.
    app.fake().inject(
        FaultRule::once(Fault::server_error())
            .always()
            .on("Leads.Get"),
    );
    let a04 = other_patient(ADT_A04, "NE-A04-0101");
    client.send(&a04).await.expect("AE", "NE-A04-0101");
    assert_eq!(
        app.ledger("NE-A04-0101").await.unwrap().state,
        InboundState::Failed
    );
}

#[tokio::test]
async fn mllp_takes_several_messages_on_one_connection_in_order() {
    let app = spawn_inbound_with(
        CrmKind::Fake,
        &[A04Capture, A08Update, S12Capture, S14Update],
    )
    .await;
    let mllp = app.start_mllp().await;
    let mut client = MllpClient::connect(mllp).await;

    // Written back to back, before reading any ACK.
    let sequence = [
        (ADT_A04, "AA", "NE-A04-0001"),
        (ADT_A08, "AA", "NE-A08-0002"),
        ("MSH|^~\\&|broken", "AR", ""),
        (SIU_S12, "AA", "NE-S12-0004"),
        (SIU_S14, "AA", "NE-S14-0005"),
        (SIU_S14_COMPLETE, "AA", "NE-S14-0007"),
        (DFT_P03, "AA", "NE-P03-0008"),
    ];
    for (message, _, _) in &sequence {
        client.write(message).await;
    }
    for (_, code, control_id) in &sequence {
        client.read_ack().await.expect(code, control_id);
    }

    let fake = app.fake();
    let leads = fake.leads();
    assert_eq!(leads.len(), 1);
    assert_eq!(
        field(&leads[0].fields, "Mobile"),
        Some("+12175550142"),
        "the SIU messages, after the A08, set the phone they carry (the A08's came before)"
    );
    let activities = fake.activities();
    assert_eq!(activities.len(), 1);
    assert_eq!(
        activities[0].field("mx_Custom_3"),
        Some("Complete"),
        "the last S14 was applied last"
    );
    assert_eq!(app.transition_seq("APT-5001").await, Some(2));
}

#[tokio::test]
async fn the_embedded_crm_takes_the_same_flows() {
    let app = spawn_inbound_with(CrmKind::Embedded, &[A04Capture]).await;
    app.put_flow("a08-capture", lead_flow("ADT^A08", ADT_A08, "capture"))
        .await;
    app.put_stock(S12Capture).await;
    app.put_stock(S14Update).await;
    let crm = app.app.db().crm_records();

    app.send(ADT_A04).await.expect("AA", "NE-A04-0001");
    let leads = crm.leads().await.unwrap();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].field("mx_MRN"), Some("MRN20001"));
    assert_eq!(leads[0].field("Mobile"), Some("+12175550142"));
    assert_eq!(leads[0].field("Source"), Some("EHR Connector"));

    let mllp = app.start_mllp().await;
    let mut client = MllpClient::connect(mllp).await;
    client.send(ADT_A08).await.expect("AA", "NE-A08-0002");
    let leads = crm.leads().await.unwrap();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].field("Mobile"), Some("+12175550199"));
    client.send(SIU_S12).await.expect("AA", "NE-S12-0004");
    app.send(SIU_S14).await.expect("AA", "NE-S14-0005");
    client.send(SIU_S12).await.expect("AA", "NE-S12-0004");

    let leads = crm.leads().await.unwrap();
    assert_eq!(leads.len(), 1);
    // The A08 changed the phone; the SIU messages after it carry the earlier one.
    assert_eq!(leads[0].field("Mobile"), Some("+12175550142"));
    let activities = crm.activities(&leads[0].id).await.unwrap();
    assert_eq!(activities.len(), 1);
    assert_eq!(activities[0].event, 201);
    assert_eq!(activities[0].field("mx_Custom_1"), Some("APT-5001"));
    assert_eq!(activities[0].note, "Annual physical and labs");
    let entry = last_processed(&app).await;
    assert_eq!(entry["detail"]["flows"][0]["activity"], "updated");
}

/// A session of inbound traffic over HTTP and MLLP — accepted, resent, refused, rejected,
/// failed by the CRM (a 500, and a rejection whose LeadSquared message quotes the email) — and
/// not one of the patient's values, nor the raw HL7, in the log output.
#[tokio::test]
async fn an_inbound_session_logs_no_patient_data() {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.app.settings(json!({"opt_in_by_default": true})).await;
    app.put_stock(A04Capture).await;
    app.put_stock(A08Update).await;
    let mut no_secondary = lead_flow("ADT^A28", ADT_A28, "create_only");
    no_secondary
        .as_object_mut()
        .unwrap()
        .remove("secondary_search");
    app.put_flow("a28-create", no_secondary).await;
    app.put_stock(S12Capture).await;
    app.put_stock(S14Update).await;
    let fake = app.fake();

    app.send(ADT_A04).await.expect("AA", "NE-A04-0001");
    app.send(ADT_A04).await.expect("AA", "NE-A04-0001");
    app.post(ADT_A08, Signing::Secret(b"wrong"))
        .await
        .assert_problem(401);
    app.send(ADT_A08).await.expect("AA", "NE-A08-0002");
    // The fake's rejection message quotes the email: "A Lead with same EmailAddress ...".
    let a28 = with_control_id(ADT_A28, "NE-A28-0203").replace("MRN20001", "MRN20009");
    app.send(&a28).await.expect("AE", "NE-A28-0203");
    fake.inject(FaultRule::once(Fault::server_error()).on("ProspectActivity.svc/Create"));
    app.send(SIU_S12).await.expect("AE", "NE-S12-0004");
    app.send(SIU_S12).await.expect("AA", "NE-S12-0004");
    app.post(
        "PID|1||MRN20001^^^NORTHCLINIC^MR||Rivera^Casey",
        Signing::Valid,
    )
    .await
    .ack()
    .expect("AR", "");
    let no_family_name =
        with_control_id(ADT_A04, "NE-A04-0209").replace("|Rivera^Casey^J|", "|^Casey^J|");
    app.send(&no_family_name).await.expect("AE", "NE-A04-0209");

    let mllp = app.start_mllp().await;
    let mut client = MllpClient::connect(mllp).await;
    client.send(SIU_S14).await.expect("AA", "NE-S14-0005");
    client
        .send(SIU_S14_COMPLETE)
        .await
        .expect("AA", "NE-S14-0007");
    client.send(DFT_P03).await.expect("AA", "NE-P03-0008");
    let discharge = with_control_id(ADT_A04, "NE-A03-0210").replace("ADT^A04^ADT_A01", "ADT^A03");
    client.send(&discharge).await.expect("AR", "NE-A03-0210");

    let reply = app
        .app
        .get("/audit-entries?log_type=hl7_inbound", "admin")
        .await;
    assert_eq!(reply.status, 200);
    let audit = reply.body.to_string();

    let logs = captured_logs();
    assert!(
        logs.contains("inbound message processed") && logs.contains("inbound signature refused"),
        "logging is on"
    );
    for value in SAMPLE_PHI {
        assert!(
            !crate::support::mentions(&logs, value),
            "PHI value {value:?} reached the logs"
        );
        assert!(
            !audit.contains(value),
            "PHI value {value:?} reached the hl7_inbound audit entries"
        );
    }
    for raw in ["PID|", "SCH|", "MSH|", "EVN|", "PV1|"] {
        assert!(!logs.contains(raw), "raw HL7 ({raw}) reached the logs");
    }
}
