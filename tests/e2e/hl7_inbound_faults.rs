//! Inbound HL7 when things go wrong: refused signatures write nothing; a CRM that rate-limits
//! or fails ends in AE with an audit entry, and the EHR's resend finishes the work without
//! repeating what was done; a control id reused for another message is refused without
//! blocking the original's resend.

use connector_crm::fake::{Fault, FaultRule};
use connector_domain::inbound::InboundState;
use serde_json::{Value, json};

use crate::hl7_inbound_support::StockFlow::{A04Capture, S12Capture};
use crate::hl7_inbound_support::{
    ADT_A04, ADT_A08, CrmKind, InboundApp, SIU_S12, SIU_S15, Signing, lead_flow, patient_id_of,
    spawn_inbound, spawn_inbound_with, with_control_id,
};

/// The `hl7.processed` audit entries, newest first.
async fn processed(app: &InboundApp) -> Vec<Value> {
    app.hl7_audit_of("hl7.processed").await
}

#[tokio::test]
async fn a_bad_signature_is_refused_with_401_and_writes_nothing() {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.app.settings(json!({"opt_in_by_default": true})).await;
    app.put_stock(A04Capture).await;
    let patient = patient_id_of(ADT_A04);
    let audit_before = app.app.audit("").await.len();

    let cases = [
        ("wrong secret", Signing::Secret(b"not-the-channel-secret")),
        ("stale timestamp", Signing::Skewed(-301)),
        ("timestamp from the future", Signing::Skewed(301)),
        ("no signature headers", Signing::Unsigned),
        ("timestamp without signature", Signing::TimestampOnly),
        ("signed for another body", Signing::OtherBody("MSH|^~\\&|X")),
    ];
    for (case, signing) in cases {
        let problem = app.post(ADT_A04, signing).await.assert_problem(401).body;
        assert_eq!(problem["status"], 401, "{case}");
        assert!(
            !problem.to_string().contains("MRN20001"),
            "{case}: the problem quotes nothing of the message"
        );
    }
    // An unknown channel is a 404, also without writing.
    app.post_to("south-ehr", ADT_A04, Signing::Valid)
        .await
        .assert_problem(404);

    assert!(
        app.ledger("NE-A04-0001").await.is_none(),
        "ledger untouched"
    );
    assert!(app.hl7_audit().await.is_empty(), "no hl7_inbound entry");
    assert_eq!(
        app.app.audit("").await.len(),
        audit_before,
        "no audit entry"
    );
    assert!(app.fake().requests().is_empty(), "the CRM was not called");
    let reply = app.app.get(&format!("/patients/{patient}"), "staff").await;
    assert_eq!(reply.status, 404, "no patient registered");

    // Signed properly, the same message goes through.
    app.send(ADT_A04).await.expect("AA", "NE-A04-0001");
    assert_eq!(app.fake().leads().len(), 1);
}

/// Sends an A04 through a CRM failing as `fault` says (on `endpoint`, which the client tries
/// `attempts` times), checks the AE and the audit entry, then lets the CRM recover and checks
/// the resend finishes with one lead and one opt-in consent.
async fn crm_failure_then_recovery(
    fault: FaultRule,
    endpoint: &str,
    attempts: usize,
    expected_error: &str,
) {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.app.settings(json!({"opt_in_by_default": true})).await;
    app.put_stock(A04Capture).await;
    let fake = app.fake();
    fake.inject(fault);

    let ack = app.send(ADT_A04).await.expect("AE", "NE-A04-0001");
    assert_eq!(
        ack.errors,
        [207],
        "application internal error: {}",
        ack.text
    );
    assert!(fake.leads().is_empty());
    assert_eq!(fake.requests_to(endpoint).len(), attempts, "{endpoint}");
    let entries = processed(&app).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["outcome"], "error");
    assert_eq!(entries[0]["detail"]["ack"], "AE");
    assert_eq!(entries[0]["detail"]["flows"][0]["outcome"], "failed");
    assert_eq!(entries[0]["detail"]["flows"][0]["error"], expected_error);
    assert_eq!(entries[0]["detail"]["hie"]["patient"], "created");
    let record = app.ledger("NE-A04-0001").await.unwrap();
    assert_eq!(record.state, InboundState::Failed);
    assert!(record.steps["hie"].done, "the HIE side is recorded as done");

    fake.clear_faults();
    app.send(ADT_A04).await.expect("AA", "NE-A04-0001");
    assert_eq!(fake.leads().len(), 1);
    let entries = processed(&app).await;
    assert_eq!(entries[0]["outcome"], "success");
    assert_eq!(entries[0]["detail"]["attempt"], 2);
    assert_eq!(entries[0]["detail"]["hie"]["outcome"], "done_before");
    assert_eq!(entries[0]["detail"]["flows"][0]["lead"], "created");
    let history = app.app.history(patient_id_of(ADT_A04).as_str()).await;
    assert_eq!(
        history["consents"].as_array().unwrap().len(),
        1,
        "the resend did not register the patient again"
    );
    assert_eq!(
        app.ledger("NE-A04-0001").await.unwrap().state,
        InboundState::Done
    );
}

#[tokio::test]
async fn a_crm_rate_limit_beyond_the_retry_budget_ends_in_ae_and_the_resend_finishes() {
    crm_failure_then_recovery(
        FaultRule::once(Fault::rate_limited(None))
            .always()
            .on("Lead.Create"),
        "Lead.Create",
        4, // 429s are retried (the fake's client: 4 attempts), then given up
        "crm_rate_limited",
    )
    .await;
}

#[tokio::test]
async fn a_crm_500_on_the_lead_search_ends_in_ae_and_the_resend_finishes() {
    crm_failure_then_recovery(
        FaultRule::once(Fault::server_error())
            .always()
            .on("Leads.Get"),
        "Leads.Get",
        4, // a search is idempotent: retried after a 500
        "crm_unavailable",
    )
    .await;
}

#[tokio::test]
async fn a_crm_500_on_the_lead_create_ends_in_ae_and_the_resend_creates_it_once() {
    crm_failure_then_recovery(
        FaultRule::once(Fault::server_error()).on("Lead.Create"),
        "Lead.Create",
        1, // a create that may have been applied is never retried
        "crm_unavailable",
    )
    .await;
}

#[tokio::test]
async fn a_failed_activity_create_is_finished_by_the_resend_without_a_second_lead() {
    let app = spawn_inbound_with(CrmKind::Fake, &[S12Capture]).await;
    let fake = app.fake();
    fake.inject(FaultRule::once(Fault::server_error()).on("ProspectActivity.svc/Create"));

    let ack = app.send(SIU_S12).await.expect("AE", "NE-S12-0004");
    assert_eq!(ack.errors, [207]);
    let leads = fake.leads();
    assert_eq!(leads.len(), 1, "the lead was created before the failure");
    assert!(fake.activities().is_empty());
    let entry = &processed(&app).await[0];
    assert_eq!(entry["detail"]["flows"][0]["lead"], "created");
    assert_eq!(entry["detail"]["flows"][0]["activity"], Value::Null);
    assert_eq!(entry["detail"]["flows"][0]["error"], "crm_unavailable");
    let step = &app.ledger("NE-S12-0004").await.unwrap().steps["flow:s12-capture"];
    assert_eq!(
        step.lead_id.as_ref(),
        Some(&leads[0].id),
        "saved right after the create"
    );
    assert!(!step.done);

    fake.clear_requests();
    app.send(SIU_S12).await.expect("AA", "NE-S12-0004");
    let paths: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.path.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        paths,
        ["Retrieve", "Create"],
        "the resend only looks for and creates the activity"
    );
    assert_eq!(fake.leads().len(), 1, "one lead in total");
    let activities = fake.activities();
    assert_eq!(activities.len(), 1);
    assert_eq!(activities[0].lead, leads[0].id);
    let entry = &processed(&app).await[0];
    assert_eq!(entry["outcome"], "success");
    assert_eq!(entry["detail"]["flows"][0]["lead"], "created");
    assert_eq!(entry["detail"]["flows"][0]["activity"], "created");
}

#[tokio::test]
async fn a_control_id_reused_for_another_message_is_refused_and_the_original_still_finishes() {
    let app = spawn_inbound_with(CrmKind::Fake, &[S12Capture]).await;
    let fake = app.fake();
    fake.inject(FaultRule::once(Fault::server_error()).on("ProspectActivity.svc/Create"));
    app.send(SIU_S12).await.expect("AE", "NE-S12-0004");

    // Another message with the failed one's MSH-10.
    let impostor = with_control_id(SIU_S15, "NE-S12-0004");
    let ack = app.send(&impostor).await.expect("AR", "NE-S12-0004");
    assert_eq!(ack.errors, [205], "duplicate key identifier");
    let rejected = app.hl7_audit_of("hl7.rejected").await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["detail"]["reason"], "control_id_reused");
    let record = app.ledger("NE-S12-0004").await.unwrap();
    assert_ne!(
        record.state,
        InboundState::Processing,
        "the refused message does not hold the original's claim"
    );

    // The original's resend is not locked out by the refused message.
    app.send(SIU_S12).await.expect("AA", "NE-S12-0004");
    assert_eq!((fake.leads().len(), fake.activities().len()), (1, 1));
    assert_eq!(
        app.ledger("NE-S12-0004").await.unwrap().state,
        InboundState::Done
    );

    // Once done, a reuse is still refused and changes nothing.
    app.send(&impostor).await.expect("AR", "NE-S12-0004");
    app.send(SIU_S12).await.expect("AA", "NE-S12-0004");
    assert_eq!(fake.activities().len(), 1);
    assert_eq!(fake.activities()[0].field("mx_Custom_3"), Some("Scheduled"));
}

/// Issue 11.2: two messages for one new patient (different MSH-10: an A04 and an A08 on two
/// connections, or two interfaces) arriving at once both searched, found nothing and both
/// created a lead. The patient's search key lock makes one create it and the others find it.
#[tokio::test]
async fn concurrent_messages_for_one_new_patient_make_one_lead() {
    const MESSAGES: usize = 6;
    let app = spawn_inbound_with(CrmKind::Fake, &[A04Capture]).await;
    app.put_flow("a08-capture", lead_flow("ADT^A08", ADT_A08, "capture"))
        .await;
    let fake = app.fake();
    // Slow searches, so that every message searches before any create could be seen.
    fake.inject(
        FaultRule::once(Fault::Delay(std::time::Duration::from_millis(300)))
            .times(MESSAGES)
            .on("Leads.Get"),
    );
    let messages: Vec<String> = (0..MESSAGES)
        .map(|n| {
            let template = if n % 2 == 0 { ADT_A04 } else { ADT_A08 };
            with_control_id(template, &format!("RACE-{n:04}"))
        })
        .collect();
    let acks = futures::future::join_all(messages.iter().map(|m| app.send(m))).await;
    for (message, ack) in messages.iter().zip(&acks) {
        if ack.code != "AA" {
            // Told to resend (the lock was busy for too long): the resend finishes.
            assert_eq!(ack.code, "AE", "{ack:?}");
            let control_id = ack.control_id.clone();
            app.send(message).await.expect("AA", &control_id);
        }
    }
    assert_eq!(fake.leads().len(), 1, "one patient, one lead");
    assert_eq!(fake.requests_to("Lead.Create").len(), 1);
    let audit = app.hl7_audit().await;
    let created = audit
        .iter()
        .flat_map(|e| e["detail"]["flows"].as_array().cloned().unwrap_or_default())
        .filter(|f| f["lead"] == "created")
        .count();
    assert_eq!(created, 1, "{audit:#?}");
}
