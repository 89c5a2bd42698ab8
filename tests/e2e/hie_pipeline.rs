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

/// `GET /hie/batch-preview` as an administrator; asserts 200.
async fn batch_preview(app: &TestApp) -> serde_json::Value {
    let reply = app
        .call(Method::GET, "/hie/batch-preview", "admin", None)
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    reply.body
}

/// The preview's entry for one appointment.
fn planned<'a>(preview: &'a serde_json::Value, appointment_id: &str) -> &'a serde_json::Value {
    preview["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["appointment_id"] == appointment_id)
        .unwrap_or_else(|| panic!("{appointment_id} not in the preview: {preview:#}"))
}

#[tokio::test]
async fn after_a_rewind_the_batch_preview_shows_what_was_already_sent() {
    let app = spawn_app().await;
    clinic_day(&app).await;
    app.collect().await;
    app.drain().await;
    app.settings(json!({"next_batch_start_time": "2026-11-19T00:00:00Z"}))
        .await;

    let preview = batch_preview(&app).await;
    assert_eq!(planned(&preview, "a-active")["status"], "already_sent");
    assert_eq!(planned(&preview, "a-old")["status"], "send");
    assert_eq!(planned(&preview, "a-revoked")["status"], "skip");
    assert_eq!(planned(&preview, "a-revoked")["reason"], "revoked");
    assert_eq!(preview["would_send"], 1, "{preview:#}");
    assert_eq!(preview["already_sent"], 1);
    assert_eq!(preview["would_skip"], 4);

    // The batch agrees: only a-old is sent.
    app.collect().await;
    app.drain().await;
    assert_eq!(app.outbox_mails().len(), 2);
}

#[tokio::test]
async fn appointments_inside_the_safety_lag_are_pending_until_they_become_eligible() {
    let app = spawn_app().await;
    enable_hie(&app).await;
    app.register("p-1").await;
    app.give("p-1", json!({})).await;
    app.transitioned_appointment("a-1", "p-1").await; // at 15:00:00
    app.clock.advance(Duration::seconds(30));

    let preview = batch_preview(&app).await;
    assert_eq!(preview["safety_lag_seconds"], 120);
    let a1 = planned(&preview, "a-1");
    assert_eq!(a1["status"], "pending", "{preview:#}");
    assert_eq!(a1["eligible_at"], "2026-11-21T15:02:00Z");
    assert_eq!(
        (preview["pending"].clone(), preview["would_send"].clone()),
        (json!(1), json!(0))
    );

    let report = serde_json::to_value(app.collect().await).unwrap();
    assert_eq!(report["scanned"], 0);
    assert_eq!(report["idle_reason"], "inside_safety_lag", "{report:#}");
    assert_eq!(report["first_eligible_at"], "2026-11-21T15:02:00Z");

    // A lag of 0 (demos, tests) makes it eligible at once.
    let settings = app.settings(json!({"safety_lag_seconds": 0})).await;
    assert_eq!(settings["safety_lag_seconds"], 0);
    assert_eq!(planned(&batch_preview(&app).await, "a-1")["status"], "send");
    let report = app.collect().await;
    assert_eq!((report.scanned, report.enqueued), (1, 1));
}

#[tokio::test]
async fn a_run_that_finds_nothing_says_why() {
    let app = spawn_app().await;
    let report = serde_json::to_value(app.collect().await).unwrap();
    assert_eq!(report["idle_reason"], "disabled", "{report:#}");

    enable_hie(&app).await;
    let report = serde_json::to_value(app.collect().await).unwrap();
    assert_eq!(
        report["idle_reason"], "nothing_after_watermark",
        "{report:#}"
    );
    assert!(report["first_eligible_at"].is_null());

    app.settings(json!({"next_batch_start_time": null})).await;
    let report = serde_json::to_value(app.collect().await).unwrap();
    assert_eq!(report["idle_reason"], "watermark_initialised", "{report:#}");

    app.register("p-1").await;
    app.transitioned_appointment("a-1", "p-1").await;
    app.clock.advance(Duration::minutes(5));
    let report = serde_json::to_value(app.collect().await).unwrap();
    assert_eq!(report["scanned"], 1);
    assert!(report["idle_reason"].is_null(), "{report:#}");
}

#[tokio::test]
async fn each_skipped_appointment_is_audited_with_its_reason() {
    let app = spawn_app().await;
    clinic_day(&app).await;
    app.collect().await;
    let entries = app
        .audit("log_type=hie_sent_appointments&outcome=skipped")
        .await;
    let mut skipped: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e["action"] == "appointment.skipped")
        .map(|e| {
            assert_eq!(e["actor"]["user"], "system:batch-collector", "{e:#}");
            assert_eq!(e["detail"]["transition_seq"], 1, "{e:#}");
            (
                e["appointment_id"].as_str().unwrap().to_owned(),
                e["detail"]["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            ("a-expired".to_owned(), "expired".to_owned()),
            ("a-future".to_owned(), "future_dated".to_owned()),
            ("a-none".to_owned(), "no_consent".to_owned()),
            ("a-revoked".to_owned(), "revoked".to_owned()),
        ]
    );
    let expired = app
        .audit("log_type=hie_sent_appointments&appointment_id=a-expired")
        .await;
    assert_eq!(expired[0]["patient_id"], "p-expired");
    assert!(expired[0]["consent_id"].is_string(), "{:#}", expired[0]);

    // The next run finds nothing new and audits nothing again.
    app.clock.advance(Duration::minutes(5));
    app.collect().await;
    let again = app
        .audit("log_type=hie_sent_appointments&outcome=skipped")
        .await;
    assert_eq!(
        again
            .iter()
            .filter(|e| e["action"] == "appointment.skipped")
            .count(),
        4
    );
}

#[tokio::test]
async fn more_skips_than_one_checkpoint_holds_are_each_audited_once() {
    let app = spawn_app().await;
    enable_hie(&app).await;
    app.register("p-none").await;
    // 120 at one instant (more than one DynamoDB transaction holds), then 130 a second apart.
    for i in 0..120 {
        app.transitioned_appointment(&format!("a-same-{i:03}"), "p-none")
            .await;
    }
    for i in 0..130 {
        app.clock.advance(Duration::seconds(1));
        app.transitioned_appointment(&format!("a-{i:03}"), "p-none")
            .await;
    }
    app.clock.advance(Duration::minutes(5));
    let options = connector_app::hie::collector::CollectorOptions {
        page_size: 100,
        ..Default::default()
    };
    let report = connector_app::hie::collector::run(&app.ctx, options)
        .await
        .unwrap();
    assert_eq!(report.scanned, 250);
    assert_eq!(report.skipped["no_consent"], 250);
    let skipped = app
        .audit("log_type=hie_sent_appointments&outcome=skipped")
        .await;
    let ids: std::collections::BTreeSet<&str> = skipped
        .iter()
        .filter(|e| e["action"] == "appointment.skipped")
        .map(|e| e["appointment_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 250);
    assert_eq!(
        skipped
            .iter()
            .filter(|e| e["action"] == "appointment.skipped")
            .count(),
        250,
        "each once"
    );
    let settings = app
        .call(Method::GET, "/settings/hie", "admin", None)
        .await
        .body;
    assert_eq!(settings["next_batch_start_time"], "2026-11-21T15:02:10Z");
}
