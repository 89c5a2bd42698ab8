//! CRM -> EHR end to end, the intake side: LeadSquared webhooks POSTed over real HTTP to
//! `/crm/webhooks/{channel}` become the mapped HL7 messages, delivered over a real MLLP socket
//! to a scripted EHR; echoes of the connector's own CRM writes are suppressed; bad tokens,
//! unknown channels and unusable payloads change nothing; no patient data reaches the logs.

use connector_domain::crm::Lead;
use connector_domain::delivery::DeliveryState;
use serde_json::{Value, json};

use crate::crm_outbound_support::{
    A08_TEMPLATE, ADT_A04, CHANNEL, EhrReply, LEAD_UPDATE, LEAD_UPDATE_QUERY, OutboundApp,
    SAMPLE_LEAD, SAMPLE_PHI, TOKEN, at, inbound_lead_flow, lead_payload, modified, outbound_flow,
    spawn_outbound,
};
use crate::support::captured_logs;
use crate::support::listing;

fn sample() -> Value {
    serde_json::from_str(LEAD_UPDATE).expect("the sample payload")
}

/// The first audit entry with `action`.
fn entry<'a>(audit: &'a [Value], action: &str) -> &'a Value {
    audit
        .iter()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {action} entry in {audit:#?}"))
}

#[tokio::test]
async fn a_lead_update_becomes_the_mapped_adt_a08_and_is_delivered_on_aa() {
    let app = spawn_outbound().await;

    let reply = app.lead_update(&sample()).await;
    let ids = reply.delivery_ids();
    assert_eq!(ids.len(), 1);
    assert_eq!(reply.body["StatusReason"], "1 HL7 message(s) queued");
    let id = &ids[0];
    let queued = app.delivery(id).await;
    assert_eq!(queued.state, DeliveryState::Queued);
    assert_eq!(queued.group, format!("lead-{SAMPLE_LEAD}"));
    assert_eq!(queued.event, "ADT^A08");
    assert_eq!(queued.attempts, 0);
    let control_id = queued.control_id.as_str().to_owned();
    assert_ne!(control_id, "TEMPLATE");
    assert!(
        app.ehr.arrivals().is_empty(),
        "the webhook answers before delivery"
    );

    assert_eq!(app.drain().await, 1);
    let arrivals = app.ehr.arrivals();
    assert_eq!(arrivals.len(), 1, "{arrivals:#?}");
    let sent = &arrivals[0].text;
    // 2026-11-21 15:00 UTC is 09:00 in America/Chicago (CST, -0600).
    let expected = format!(
        "MSH|^~\\&|CONNECTOR|CRM|NORTHEHR|NORTHCLINIC|20261121090000-0600||ADT^A08^ADT_A01|{control_id}|P|2.5\r\
         EVN|A08|20261121090000-0600\r\
         PID|1||MRN20001^^^NORTHCLINIC^MR||Rivera^Casey||19870412|F|||48 Harbor Rd^^Springfield^IL^62704||+12175550199\r\
         PV1|1|O"
    );
    assert_eq!(
        sent.trim_end_matches(['\r', '\n']),
        expected,
        "\n{}",
        sent.replace('\r', "\n")
    );
    for (path, value) in [
        ("MSH-7", "20261121090000-0600"),
        ("MSH-9.1", "ADT"),
        ("MSH-9.2", "A08"),
        ("MSH-10", control_id.as_str()),
        ("EVN-2", "20261121090000-0600"),
        ("PID-3.1", "MRN20001"),
        ("PID-3.4", "NORTHCLINIC"),
        ("PID-5.1", "Rivera"),
        ("PID-5.2", "Casey"),
        ("PID-7", "19870412"),
        ("PID-8", "F"),
        ("PID-11.1", "48 Harbor Rd"),
        ("PID-11.3", "Springfield"),
        ("PID-11.4", "IL"),
        ("PID-11.5", "62704"),
        ("PID-13.1", "+12175550199"),
    ] {
        assert_eq!(at(sent, path), value, "{path}");
    }

    let delivered = app.delivery(id).await;
    assert_eq!(delivered.state, DeliveryState::Delivered);
    assert_eq!(delivered.attempts, 1);
    assert_eq!(delivered.last_outcome.as_deref(), Some("delivered"));
    let audit = app.audit().await;
    let accepted = entry(&audit, "webhook.accepted");
    assert_eq!(accepted["outcome"], "success");
    assert_eq!(accepted["detail"]["channel_id"], CHANNEL);
    assert_eq!(accepted["detail"]["lead_id"], SAMPLE_LEAD);
    assert_eq!(accepted["detail"]["flows"][0]["delivery_id"], id.as_str());
    assert_eq!(
        accepted["detail"]["flows"][0]["control_id"],
        control_id.as_str()
    );
    let done = entry(&audit, "delivery.delivered");
    assert_eq!(done["outcome"], "success");
    assert_eq!(done["detail"]["delivery_id"], id.as_str());
    assert_eq!(done["detail"]["control_id"], control_id.as_str());
    assert_eq!(done["detail"]["attempt"], 1);
    assert_eq!(app.delivery_actions(id).await, ["delivery.delivered"]);

    // The next change of the same lead, 90 minutes later: a new message with a fresh MSH-10.
    app.advance(90 * 60);
    let mut changed = sample();
    changed["ModifiedOn"] = json!("2026-11-21 10:29:00");
    changed["mx_City"] = json!("Shelbyville");
    let second = app.queue_one(&changed).await;
    assert_eq!(app.drain().await, 1);
    let arrivals = app.ehr.arrivals();
    assert_eq!(arrivals.len(), 2);
    let next = &arrivals[1].text;
    assert_ne!(
        at(next, "MSH-10"),
        control_id,
        "every message gets its own MSH-10"
    );
    assert_eq!(at(next, "MSH-10"), app.control_id(&second).await);
    assert_eq!(at(next, "MSH-7"), "20261121103000-0600");
    assert_eq!(at(next, "PID-11.3"), "Shelbyville");
    assert_eq!(app.delivery(&second).await.state, DeliveryState::Delivered);
}

#[tokio::test]
async fn a_lead_create_and_a_lead_update_of_the_same_modification_are_two_webhooks() {
    let app = spawn_outbound().await;
    let mut create_flow = outbound_flow();
    create_flow["name"] = json!("New leads to the EHR");
    create_flow["event_type"] = json!("ADT^A04");
    create_flow["webhook_event"] = json!("lead_create");
    create_flow["template"] = json!(A08_TEMPLATE.replace("A08", "A04"));
    app.put_flow("new-leads-to-ehr", create_flow).await;

    // A new lead: the CRM fires both webhooks with the same ModifiedOn.
    let body = serde_json::to_vec(&sample()).unwrap();
    let created = app
        .post_webhook(
            CHANNEL,
            &format!("event=lead_create&entityId={SAMPLE_LEAD}"),
            Some(TOKEN),
            body.clone(),
        )
        .await
        .delivery_ids();
    let updated = app.lead_update(&sample()).await.delivery_ids();
    assert_eq!((created.len(), updated.len()), (1, 1));
    // Retries of either are duplicates.
    for query in ["event=lead_create", LEAD_UPDATE_QUERY] {
        let again = app
            .post_webhook(CHANNEL, query, Some(TOKEN), body.clone())
            .await;
        assert!(again.delivery_ids().is_empty());
        assert_eq!(again.body["StatusReason"], "duplicate webhook; nothing new");
    }
    assert_eq!(app.drain().await, 2);
    let events: Vec<String> = app
        .ehr
        .arrivals()
        .iter()
        .map(|a| at(&a.text, "MSH-9.2"))
        .collect();
    assert_eq!(events, ["A04", "A08"], "in the order the webhooks came");
}

/// The app after the EHR registered the sample patient (A04, answered AA): the EHR -> CRM flow
/// created the lead, returned as the CRM holds it.
async fn app_with_a_registered_lead() -> (OutboundApp, Lead) {
    let app = spawn_outbound().await;
    app.put_flow("a04-capture", inbound_lead_flow()).await;
    let (status, ack) = app.post_hl7(ADT_A04).await;
    assert_eq!(status, 200, "{ack}");
    assert!(ack.contains("MSA|AA|NE-A04-0001"), "{ack}");
    let lead = app.ctx.crm.find_lead("mx_MRN", "MRN20001").await;
    (app, lead.expect("CRM read").expect("the lead was created"))
}

#[tokio::test]
async fn a_webhook_echoing_the_connectors_own_crm_write_is_suppressed() {
    // The EHR registers the patient: the EHR -> CRM pipeline creates the lead in the CRM.
    let (app, lead) = app_with_a_registered_lead().await;

    // ...and the CRM fires its lead update webhook with the values the connector wrote, plus
    // its own bookkeeping fields.
    let mut echo = json!({
        "ProspectID": lead.id.0,
        "ProspectAutoId": "10452",
        "ProspectStage": "Patient",
        "Score": 12,
        "ModifiedOn": modified(1),
    });
    for field in &lead.fields {
        echo[&field.name] = json!(field.value);
    }
    let reply = app.lead_update(&echo).await;
    assert!(reply.delivery_ids().is_empty(), "{:#}", reply.body);
    assert!(
        reply.body["StatusReason"]
            .as_str()
            .is_some_and(|r| r.contains("echo")),
        "{:#}",
        reply.body
    );
    assert_eq!(app.drain().await, 0);
    assert!(
        app.ehr.arrivals().is_empty(),
        "the echo went back to the EHR"
    );
    assert!(app.deliveries().await.is_empty());
    let audit = app.audit().await;
    let suppressed = entry(&audit, "webhook.echo_suppressed");
    assert_eq!(suppressed["outcome"], "skipped");
    assert_eq!(suppressed["detail"]["lead_id"], lead.id.0.as_str());
    assert!(suppressed["detail"]["echo"]["write_at"].is_string());
    assert_eq!(suppressed["detail"]["echo"]["verdict"], "echo");
    assert!(suppressed["detail"]["echo"]["write_modified_by"].is_string());
    assert!(suppressed["detail"]["reason"].is_string());

    // A member of staff changes the city in the CRM: a real change, delivered.
    let mut changed = echo.clone();
    changed["mx_City"] = json!("Shelbyville");
    changed["ModifiedOn"] = json!(modified(2));
    let id = app.queue_one(&changed).await;
    assert_eq!(app.drain().await, 1);
    let arrivals = app.ehr.arrivals();
    assert_eq!(arrivals.len(), 1);
    assert_eq!(at(&arrivals[0].text, "PID-11.3"), "Shelbyville");
    assert_eq!(at(&arrivals[0].text, "PID-3.1"), "MRN20001");
    assert_eq!(app.delivery(&id).await.state, DeliveryState::Delivered);

    // The connector's write is remembered for 15 minutes only: later, the same values are a
    // change somebody made in the CRM.
    app.advance(16 * 60);
    let mut late = echo.clone();
    late["ModifiedOn"] = json!(modified(3));
    app.queue_one(&late).await;
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.ehr.arrivals().len(), 2);
    let suppressed = app
        .audit()
        .await
        .iter()
        .filter(|e| e["action"] == "webhook.echo_suppressed")
        .count();
    assert_eq!(suppressed, 1);
}

#[tokio::test]
async fn bad_tokens_and_unknown_channels_change_nothing_and_head_answers_200() {
    let app = spawn_outbound().await;
    let client = reqwest::Client::new();
    for channel in [CHANNEL, "south-ehr"] {
        let head = client
            .head(format!("{}/crm/webhooks/{channel}", app.address()))
            .send()
            .await
            .expect("HEAD");
        assert_eq!(head.status().as_u16(), 200, "HEAD {channel}");
    }

    let body = serde_json::to_vec(&sample()).unwrap();
    let query = format!("{LEAD_UPDATE_QUERY}&entityId={SAMPLE_LEAD}");
    for token in [Some("north-ehr-webhook-token-e2e-0002"), Some(""), None] {
        app.post_webhook(CHANNEL, &query, token, body.clone())
            .await
            .assert_problem(401);
    }
    // The right token on a channel that does not exist, or takes no webhooks.
    app.post_webhook("south-ehr", &query, Some(TOKEN), body.clone())
        .await
        .assert_problem(404);
    let west = json!({
        "name": "West EHR",
        "inbound": {"type": "hmac", "secret": "local:north-hmac"}
    });
    app.put_channel("west-ehr", west).await;
    app.post_webhook("west-ehr", &query, Some(TOKEN), body.clone())
        .await
        .assert_problem(404);
    // Unreadable bodies and events are refused before anything is written.
    app.post_webhook(CHANNEL, &query, Some(TOKEN), b"FirstName=Casey".to_vec())
        .await
        .assert_problem(400);
    app.post_webhook(
        CHANNEL,
        "entityType=Task&eventType=Task_Post_Create",
        Some(TOKEN),
        body.clone(),
    )
    .await
    .assert_problem(400);

    assert!(app.deliveries().await.is_empty());
    assert!(app.audit().await.is_empty(), "{:#?}", app.audit().await);
    assert_eq!(app.queue.sent(), 0);
    assert_eq!(app.drain().await, 0);
    assert!(app.ehr.arrivals().is_empty());

    // The right token still works afterwards.
    assert_eq!(app.lead_update(&sample()).await.delivery_ids().len(), 1);
}

#[tokio::test]
async fn a_payload_the_flow_cannot_map_is_answered_status_error_and_audited() {
    let app = spawn_outbound().await;

    let mut no_last_name = sample();
    no_last_name
        .as_object_mut()
        .expect("an object")
        .remove("LastName");
    let reply = app.lead_update(&no_last_name).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["Status"], "Error", "{:#}", reply.body);
    assert!(reply.body["StatusReason"].is_string());

    let mut bad_date = lead_payload("lead-bad-date", "MRN20901", &modified(1));
    bad_date["mx_Date_of_Birth"] = json!("April 12th");
    let reply = app.lead_update(&bad_date).await;
    assert_eq!(reply.body["Status"], "Error", "{:#}", reply.body);

    let audit = app.audit().await;
    let refused = listing::with_action(&audit, "webhook.refused");
    assert_eq!(refused.len(), 2, "{audit:#?}");
    for entry in &refused {
        assert_eq!(entry["outcome"], "error");
        assert_eq!(entry["detail"]["flows"][0]["error"], "mapping");
        assert!(
            !entry["detail"]["flows"][0]["problems"]
                .as_array()
                .expect("problems")
                .is_empty()
        );
    }
    let problems = refused[0]["detail"]["flows"][0]["problems"].to_string();
    assert!(problems.contains("PID-5.1"), "{problems}");
    let problems = refused[1]["detail"]["flows"][0]["problems"].to_string();
    assert!(problems.contains("PID-7"), "{problems}");
    assert!(!problems.contains("April"), "{problems}");

    // An event no flow takes is accepted and audited as such.
    let create = app
        .post_webhook(
            CHANNEL,
            &format!("event=lead_create&entityId={SAMPLE_LEAD}"),
            Some(TOKEN),
            serde_json::to_vec(&sample()).unwrap(),
        )
        .await;
    assert!(create.delivery_ids().is_empty());
    assert_eq!(create.body["StatusReason"], "no flow takes this event");
    assert_eq!(
        entry(&app.audit().await, "webhook.no_flow")["outcome"],
        "skipped"
    );

    assert!(app.deliveries().await.is_empty());
    assert_eq!(app.drain().await, 0);
    assert!(app.ehr.arrivals().is_empty());
}

#[tokio::test]
async fn a_session_of_webhooks_and_deliveries_logs_no_patient_data() {
    let app = spawn_outbound().await;
    app.put_flow("a04-capture", inbound_lead_flow()).await;
    app.ehr.script(
        "MRN20001",
        &[EhrReply::Ae, EhrReply::WrongControlId, EhrReply::Ar],
    );

    // Delivered after AE and a wrong ACK; a duplicate; refused attempts.
    let first = app.queue_one(&sample()).await;
    assert!(app.lead_update(&sample()).await.delivery_ids().is_empty());
    app.drain().await;
    app.advance(60);
    app.drain().await;
    app.advance(60);
    app.drain().await;
    assert_eq!(app.delivery(&first).await.state, DeliveryState::Parked);
    let body = serde_json::to_vec(&sample()).unwrap();
    let query = format!("{LEAD_UPDATE_QUERY}&entityId={SAMPLE_LEAD}");
    app.post_webhook(CHANNEL, &query, Some("wrong-token"), body.clone())
        .await
        .assert_problem(401);
    app.post_webhook(CHANNEL, &query, Some(TOKEN), b"[\"Casey\"]".to_vec())
        .await
        .assert_problem(400);
    let mut unmappable = sample();
    unmappable["ModifiedOn"] = json!(modified(7));
    unmappable["mx_Date_of_Birth"] = json!("12/04/1987 (Casey Rivera)");
    assert_eq!(app.lead_update(&unmappable).await.body["Status"], "Error");
    // A later change waits behind the parked one, then both go after a redrive.
    let mut later = sample();
    later["ModifiedOn"] = json!(modified(8));
    let held = app.queue_one(&later).await;
    app.drain().await;
    assert_eq!(app.delivery(&held).await.state, DeliveryState::Held);
    app.redrive(&first).await;
    app.drain().await;
    assert_eq!(app.delivery(&held).await.state, DeliveryState::Delivered);
    // An echo of an inbound write.
    let (status, _) = app.post_hl7(ADT_A04).await;
    assert_eq!(status, 200);
    let lead = app
        .ctx
        .crm
        .find_lead("mx_MRN", "MRN20001")
        .await
        .unwrap()
        .expect("lead");
    let mut echo = json!({"ProspectID": lead.id.0, "ModifiedOn": modified(9)});
    for field in &lead.fields {
        echo[&field.name] = json!(field.value);
    }
    assert!(app.lead_update(&echo).await.delivery_ids().is_empty());
    assert!(!app.ehr.arrivals().is_empty());

    let logs = captured_logs();
    for expected in ["webhook accepted", "delivery attempt", "MLLP send"] {
        assert!(logs.contains(expected), "logging is on: no {expected:?}");
    }
    for value in SAMPLE_PHI
        .iter()
        .chain(&["Harbor Rd", "April", "12/04/1987"])
    {
        assert!(
            !crate::support::mentions(&logs, value),
            "PHI value {value:?} reached the logs"
        );
    }
}

/// Issue 11.1 (data loss): a webhook counted as an echo when it still held every value the
/// connector wrote, so a person's change to any other field within 15 minutes of a connector
/// write was answered "echo ... not sent" and never reached the EHR. Now only a webhook whose
/// `ModifiedBy` is the connector's CRM user and whose mapped fields equal the lead as the
/// connector's write left it is an echo.
#[tokio::test]
async fn a_persons_crm_edit_right_after_a_connector_write_reaches_the_ehr() {
    let (app, lead) = app_with_a_registered_lead().await;
    let connector_user = lead
        .fields
        .iter()
        .find(|f| f.name == "ModifiedBy")
        .map(|f| f.value.clone())
        .expect("the CRM names who wrote the lead");

    // A minute later a member of staff adds the patient's home phone and street (fields the
    // connector never wrote) in the CRM; the lead's other values are the connector's.
    let mut edited = json!({"ProspectID": lead.id.0, "ModifiedOn": modified(60)});
    for field in &lead.fields {
        edited[&field.name] = json!(field.value);
    }
    edited["ModifiedBy"] = json!("5a1e0000-staff-user-0007");
    edited["mx_Street1"] = json!("48 Harbor Rd");
    let id = app.queue_one(&edited).await;
    assert_eq!(app.drain().await, 1);
    let arrivals = app.ehr.arrivals();
    assert_eq!(arrivals.len(), 1, "the person's change reached the EHR");
    assert_eq!(at(&arrivals[0].text, "PID-11.1"), "48 Harbor Rd");
    assert_eq!(app.delivery(&id).await.state, DeliveryState::Delivered);
    let audit = app.audit().await;
    let accepted = entry(&audit, "webhook.accepted");
    assert_eq!(
        accepted["detail"]["echo"]["verdict"], "modified_by_another_user",
        "{accepted:#}"
    );

    // Under the connector's own user, a mapped field that differs from the lead as the write
    // left it is a change too (another integration sharing the API user, say).
    let mut same_user = edited.clone();
    same_user["ModifiedBy"] = json!(connector_user);
    same_user["ModifiedOn"] = json!(modified(61));
    app.queue_one(&same_user).await;
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.ehr.arrivals().len(), 2);
    let audit = app.audit().await;
    let second = audit
        .iter()
        .find(|e| {
            e["action"] == "webhook.accepted"
                && e["detail"]["version"]
                    .as_str()
                    .is_some_and(|v| v.ends_with(&modified(61)))
        })
        .expect("the second webhook's entry");
    assert_eq!(second["detail"]["echo"]["verdict"], "fields_changed");
    assert_eq!(
        second["detail"]["echo"]["changed_fields"],
        json!(["mx_Street1"])
    );

    // A webhook that does not say who changed the lead is delivered too.
    let mut anonymous = edited.clone();
    anonymous.as_object_mut().unwrap().remove("ModifiedBy");
    anonymous["mx_Street1"] = json!("");
    anonymous["ModifiedOn"] = json!(modified(62));
    app.queue_one(&anonymous).await;
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.ehr.arrivals().len(), 3);
    assert!(
        !app.audit()
            .await
            .iter()
            .any(|e| e["action"] == "webhook.echo_suppressed"),
        "nothing was suppressed"
    );
}

#[tokio::test]
async fn a_date_field_in_leadsquareds_date_time_form_becomes_the_hl7_date() {
    // LeadSquared carries a date field as midnight `yyyy-MM-dd HH:mm:ss` in webhooks; the
    // flow's `date` transform (`%Y-%m-%d`) takes it as the day it names.
    let app = spawn_outbound().await;
    let mut body = sample();
    body["mx_Date_of_Birth"] = json!("1987-04-12 00:00:00");

    let reply = app.lead_update(&body).await;
    assert_eq!(reply.delivery_ids().len(), 1, "{}", reply.body);
    assert_eq!(app.drain().await, 1);

    let arrivals = app.ehr.arrivals();
    assert_eq!(arrivals.len(), 1);
    assert_eq!(at(&arrivals[0].text, "PID-7"), "19870412");
    assert_eq!(at(&arrivals[0].text, "PID-13.1"), "+12175550199");
}
