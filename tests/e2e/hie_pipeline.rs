//! The HIE pipeline end to end on the embedded store: intake, collector, sender, outbox, audit.

use chrono::Duration;
use connector_hl7::Message;
use mail_parser::MessageParser;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, appointment_json, enable_hie, spawn_app};

/// Five patients, one per consent situation, each with one appointment transitioned now
/// (15:00), plus one appointment transitioned the day before the watermark.
async fn clinic_day(app: &TestApp) {
    enable_hie(app).await;
    for p in ["p-active", "p-expired", "p-revoked", "p-future", "p-none"] {
        app.register(p).await;
    }
    app.give("p-active", json!({})).await;
    app.give(
        "p-expired",
        json!({"given_on": "2025-01-01", "expires_on": "2025-06-01"}),
    )
    .await;
    let revoked = app.give("p-revoked", json!({})).await.body;
    let path = format!(
        "/patients/p-revoked/consents/{}/revoke",
        revoked["consent_id"].as_str().unwrap()
    );
    app.call(Method::POST, &path, "staff", None).await;
    app.give("p-future", json!({"given_on": "2026-12-01"}))
        .await;

    app.clock
        .set(crate::helpers::start_time() - Duration::days(1));
    app.transitioned_appointment("a-old", "p-active").await;
    app.clock.set(crate::helpers::start_time());
    for p in ["active", "expired", "revoked", "future", "none"] {
        app.transitioned_appointment(&format!("a-{p}"), &format!("p-{p}"))
            .await;
    }
    app.clock.advance(Duration::minutes(5)); // past the collector's safety lag
}

fn attachment_hl7(raw: &[u8]) -> String {
    let mail = MessageParser::default().parse(raw).expect("MIME");
    let attachment = mail.attachment(0).expect("attachment");
    String::from_utf8(attachment.contents().to_vec()).expect("UTF-8 HL7")
}

#[tokio::test]
async fn only_consented_new_transitions_are_sent_each_exactly_once() {
    let app = spawn_app().await;
    clinic_day(&app).await;

    let report = app.collect().await;
    assert_eq!(
        report.scanned, 5,
        "a-old was transitioned before the watermark"
    );
    assert_eq!(report.enqueued, 1);
    let skipped: Vec<(&str, usize)> = report
        .skipped
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        skipped,
        [
            ("expired", 1),
            ("future_dated", 1),
            ("no_consent", 1),
            ("revoked", 1)
        ]
    );
    assert_eq!(app.drain().await, 1);

    let mails = app.outbox_mails();
    assert_eq!(mails.len(), 1);
    let mail = MessageParser::default().parse(&mails[0]).unwrap();
    assert_eq!(mail.subject(), Some("Encounter for the HIE"));
    assert_eq!(
        mail.to().unwrap().first().unwrap().address(),
        Some("intake@direct.examplehie.org")
    );
    assert_eq!(
        mail.from().unwrap().first().unwrap().address(),
        Some("records@direct.exampleclinic.org")
    );
    assert_eq!(mail.body_text(0).unwrap().trim(), "One encounter attached.");
    let er7 = attachment_hl7(&mails[0]);
    let hl7 = Message::parse(&er7).expect("attachment parses as HL7");
    let get = |p: &str| {
        hl7.get(&p.parse().unwrap())
            .map(|v| v.into_owned())
            .unwrap_or_default()
    };
    assert_eq!(get("MSH-9"), "ADT^A04^ADT_A01");
    assert_eq!(get("MSH-12"), "2.5.1");
    assert_eq!(get("PID-3.1"), "MRN-p-active-7731");
    assert_eq!(get("PID-5.2"), "Zephyrine");
    assert_eq!(get("PV1-19"), "a-active");

    // The audit log: the run with its counts, and the send with the consent that allowed it.
    let entries = app.audit("log_type=hie_sent_appointments").await;
    let sent: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "appointment.sent")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["appointment_id"], "a-active");
    assert_eq!(sent[0]["detail"]["consent_status"], "active");
    assert!(sent[0]["consent_id"].is_string());
    assert!(sent[0]["detail"]["message_id"].is_string());
    let run = entries
        .iter()
        .find(|e| e["action"] == "batch.collected")
        .unwrap();
    assert_eq!(run["detail"]["enqueued"], 1);
    assert_eq!(run["detail"]["skipped"]["no_consent"], 1);

    // The next run finds nothing new; nothing is sent again.
    app.clock.advance(Duration::minutes(5));
    let again = app.collect().await;
    assert_eq!((again.scanned, again.enqueued), (0, 0));
    app.drain().await;
    assert_eq!(app.outbox_mails().len(), 1);
}

#[tokio::test]
async fn rewinding_the_watermark_picks_up_what_was_missed_and_never_resends() {
    let app = spawn_app().await;
    clinic_day(&app).await;
    app.collect().await;
    app.drain().await;
    assert_eq!(app.outbox_mails().len(), 1);

    app.settings(json!({"next_batch_start_time": "2026-11-19T00:00:00Z"}))
        .await;
    let report = app.collect().await;
    assert_eq!(report.scanned, 6);
    assert_eq!(
        report.enqueued, 2,
        "a-old (missed) and a-active (already sent) are enqueued"
    );
    app.drain().await;
    let mails = app.outbox_mails();
    assert_eq!(mails.len(), 2, "only a-old is sent");
    let ids: Vec<String> = mails
        .iter()
        .map(|m| {
            Message::parse(&attachment_hl7(m))
                .unwrap()
                .get(&"PV1-19".parse().unwrap())
                .unwrap()
                .into_owned()
        })
        .collect();
    assert!(ids.contains(&"a-old".to_owned()) && ids.contains(&"a-active".to_owned()));
}

#[tokio::test]
async fn a_corrected_appointment_transitioned_again_is_sent_again() {
    let app = spawn_app().await;
    clinic_day(&app).await;
    app.collect().await;
    app.drain().await;
    app.clock.advance(Duration::minutes(1));
    let again = app.transitioned_appointment("a-active", "p-active").await;
    assert_eq!(again["transition_seq"], 2);
    app.clock.advance(Duration::minutes(5));
    let report = app.collect().await;
    assert_eq!(report.enqueued, 1);
    app.drain().await;
    assert_eq!(app.outbox_mails().len(), 2);
}

#[tokio::test]
async fn an_administrator_can_resend_deliberately() {
    let app = spawn_app().await;
    clinic_day(&app).await;
    app.collect().await;
    app.drain().await;
    app.call(Method::POST, "/appointments/a-active/resend", "staff", None)
        .await
        .assert_problem(403);
    let reply = app
        .call(Method::POST, "/appointments/a-active/resend", "admin", None)
        .await;
    assert_eq!(reply.status, 202, "{:#}", reply.body);
    app.drain().await;
    assert_eq!(app.outbox_mails().len(), 2);
    let entries = app
        .audit("log_type=hie_sent_appointments&appointment_id=a-active")
        .await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "appointment.sent",
            "appointment.resend_requested",
            "appointment.sent"
        ]
    );
    app.call(
        Method::POST,
        "/appointments/a-none-such/resend",
        "admin",
        None,
    )
    .await
    .assert_problem(404);
}

#[tokio::test]
async fn the_batch_preview_explains_and_writes_nothing() {
    let app = spawn_app().await;
    clinic_day(&app).await;
    let reply = app
        .call(Method::GET, "/hie/batch-preview", "admin", None)
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["would_send"], 1);
    assert_eq!(reply.body["would_skip"], 4);
    let reasons: Vec<(String, String)> = reply.body["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["appointment_id"].as_str().unwrap().to_owned(),
                a["reason"].as_str().unwrap_or("send").to_owned(),
            )
        })
        .collect();
    assert!(reasons.contains(&("a-revoked".into(), "revoked".into())));
    assert!(reasons.contains(&("a-future".into(), "future_dated".into())));
    assert!(reasons.contains(&("a-active".into(), "send".into())));
    let settings = app
        .call(Method::GET, "/settings/hie", "admin", None)
        .await
        .body;
    assert_eq!(settings["next_batch_start_time"], "2026-11-21T00:00:00Z");
    assert_eq!(app.drain().await, 0, "nothing was enqueued");
    app.call(Method::GET, "/hie/batch-preview?limit=0", "admin", None)
        .await
        .assert_problem(422);
}

#[tokio::test]
async fn appointment_intake_validates() {
    let app = spawn_app().await;
    app.register("p-1").await;
    let mut bad = appointment_json("p-1");
    bad["scheduled_start"] = json!("next tuesday");
    bad["provider"] = json!({"id": "NPI-1"});
    let reply = app
        .call(Method::PUT, "/appointments/a-1", "staff", Some(bad))
        .await
        .assert_problem(422);
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["scheduled_start", "provider.name"]);
    let reply = app
        .call(
            Method::PUT,
            "/appointments/a-1",
            "staff",
            Some(appointment_json("p-unknown")),
        )
        .await;
    assert_eq!(
        reply.assert_problem(422).body["errors"][0]["field"],
        "patient_id"
    );
    app.call(Method::GET, "/appointments/a-1", "staff", None)
        .await
        .assert_problem(404);
    app.call(Method::POST, "/appointments/a-1/transition", "staff", None)
        .await
        .assert_problem(404);
    let created = app
        .call(
            Method::PUT,
            "/appointments/a-1",
            "staff",
            Some(appointment_json("p-1")),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["transition_seq"], 0);
    let t = app
        .call(Method::POST, "/appointments/a-1/transition", "staff", None)
        .await;
    assert_eq!(t.body["transition_seq"], 1);
    assert_eq!(t.body["transitioned_at"], "2026-11-21T15:00:00Z");
    let updated = app
        .call(
            Method::PUT,
            "/appointments/a-1",
            "staff",
            Some(appointment_json("p-1")),
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(
        updated.body["transition_seq"], 1,
        "an update keeps the transition"
    );
}
