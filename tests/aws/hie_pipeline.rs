//! The HIE pipeline on AWS: the collector on DynamoDB enqueues on SQS, the hie-sender's batch
//! handler takes what SQS delivers and mails through SES (moto records it).

use chrono::Duration;
use connector_domain::hie::HieWork;
use connector_hl7::Message;
use mail_parser::MessageParser;
use serde_json::json;

use crate::helpers::{AwsApp, Caller, start_time};

/// Five patients, one per consent situation, each with one appointment transitioned now
/// (15:00), plus one appointment transitioned the day before the watermark.
async fn clinic_day(app: &AwsApp) {
    app.enable_hie(true).await;
    for p in ["p-active", "p-expired", "p-revoked", "p-future", "p-none"] {
        app.register(p).await;
    }
    app.give("p-active", json!({})).await;
    app.give(
        "p-expired",
        json!({"given_on": "2025-01-01", "expires_on": "2025-06-01"}),
    )
    .await;
    app.give("p-revoked", json!({})).await;
    app.revoke_current("p-revoked").await;
    app.give("p-future", json!({"given_on": "2026-12-01"}))
        .await;

    app.clock.set(start_time() - Duration::days(1));
    app.transitioned_appointment("a-old", "p-active").await;
    app.clock.set(start_time());
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
    let Some(app) = crate::helpers::spawn_on_aws().await else {
        return;
    };
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

    // The one work item is on SQS; the sender mails it and acknowledges it.
    let polled = app.lambda_poll().await;
    assert_eq!(polled.received, 1);
    assert_eq!(polled.receive_counts, [1]);
    assert!(polled.kept.is_empty(), "{:?}", polled.kept);
    assert_eq!(app.lambda_poll().await.received, 0, "deleted once handled");

    // moto's SES accepted exactly one raw message, from the clinic to the HIE.
    let mails = app.sent_mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let destinations = mails[0]["destinations"].as_array().expect("destinations");
    assert!(
        destinations
            .iter()
            .all(|d| d == "intake@direct.examplehie.org"),
        "{destinations:?}"
    );
    let raw = mails[0]["raw_data"].as_str().expect("raw_data").as_bytes();
    let mail = MessageParser::default().parse(raw).expect("MIME");
    assert_eq!(mail.subject(), Some("Encounter for the HIE"));
    assert_eq!(
        mail.to().unwrap().first().unwrap().address(),
        Some("intake@direct.examplehie.org")
    );
    assert_eq!(
        mail.from().unwrap().first().unwrap().address(),
        Some(app.sender().as_str())
    );
    assert_eq!(mail.body_text(0).unwrap().trim(), "One encounter attached.");
    let er7 = attachment_hl7(raw);
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

    // The audit log: the run with its counts, and the send with SES's message id.
    let entries = app.audit("log_type=hie_sent_appointments").await;
    let sent: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "appointment.sent")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["appointment_id"], "a-active");
    assert_eq!(sent[0]["detail"]["consent_status"], "active");
    assert!(sent[0]["consent_id"].is_string());
    assert!(
        sent[0]["detail"]["message_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
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
    assert_eq!(app.drain().await, 0);
    assert_eq!(app.sent_mails().len(), 1);

    // SQS delivers at least once: the same work item delivered again is dropped by the ledger.
    let work = HieWork {
        appointment_id: "a-active".parse().unwrap(),
        transition_seq: 1,
        resend: 0,
    };
    app.ctx
        .hie_queue
        .send_batch(&[work.to_message()])
        .await
        .unwrap();
    let polled = app.lambda_poll().await;
    assert_eq!(polled.received, 1);
    assert!(polled.kept.is_empty(), "a duplicate is acknowledged");
    assert_eq!(app.lambda_poll().await.received, 0);
    assert_eq!(app.sent_mails().len(), 1, "sent once");
    assert_eq!(app.mailer.sent(), 1);
    let sent_again = app
        .audit("log_type=hie_sent_appointments&appointment_id=a-active")
        .await;
    assert_eq!(crate::helpers::actions(&sent_again), ["appointment.sent"]);
}

#[tokio::test]
async fn the_batch_preview_reads_dynamodb_and_writes_nothing() {
    let Some(app) = crate::helpers::spawn_on_aws().await else {
        return;
    };
    clinic_day(&app).await;
    let reply = app
        .call("GET", "/hie/batch-preview", Caller::Admin, None)
        .await
        .expect(200);
    assert_eq!(reply.body["would_send"], 1);
    assert_eq!(reply.body["would_skip"], 4);
    let settings = app
        .call("GET", "/settings/hie", Caller::Admin, None)
        .await
        .expect(200);
    assert_eq!(
        settings.body["next_batch_start_time"],
        "2026-11-21T00:00:00Z"
    );
    assert_eq!(app.drain().await, 0, "nothing was enqueued");
}

#[tokio::test]
async fn the_batch_preview_consults_the_send_ledger_and_shows_the_safety_lag() {
    let Some(app) = crate::helpers::spawn_on_aws().await else {
        return;
    };
    clinic_day(&app).await;
    app.collect().await;
    app.drain().await;
    assert_eq!(app.sent_mails().len(), 1);
    app.call(
        "PUT",
        "/settings/hie",
        Caller::Admin,
        Some(json!({"next_batch_start_time": "2026-11-19T00:00:00Z"})),
    )
    .await
    .expect(200);
    app.transitioned_appointment("a-late", "p-active").await; // at 15:05, inside the lag

    let preview = app
        .call("GET", "/hie/batch-preview", Caller::Admin, None)
        .await
        .expect(200)
        .body;
    let status = |id: &str| {
        preview["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["appointment_id"] == id)
            .unwrap_or_else(|| panic!("{id} missing: {preview:#}"))
            .clone()
    };
    assert_eq!(status("a-active")["status"], "already_sent");
    assert_eq!(status("a-old")["status"], "send");
    assert_eq!(status("a-none")["status"], "skip");
    assert_eq!(status("a-late")["status"], "pending");
    assert_eq!(status("a-late")["eligible_at"], "2026-11-21T15:07:00Z");
    assert_eq!(
        (
            preview["would_send"].clone(),
            preview["already_sent"].clone(),
            preview["pending"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
}

#[tokio::test]
async fn more_skips_than_one_dynamodb_transaction_holds_are_each_audited_once() {
    let Some(app) = crate::helpers::spawn_on_aws().await else {
        return;
    };
    app.enable_hie(true).await;
    app.register("p-none").await;
    // 110 at one instant (more than the 99 a checkpoint transaction carries), then 40 a second
    // apart.
    for i in 0..110 {
        app.transitioned_appointment(&format!("a-same-{i:03}"), "p-none")
            .await;
    }
    for i in 0..40 {
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
    assert_eq!(report.scanned, 150);
    assert_eq!(report.skipped["no_consent"], 150);
    let skipped = app
        .audit("log_type=hie_sent_appointments&outcome=skipped")
        .await;
    let skips: Vec<&serde_json::Value> = skipped
        .iter()
        .filter(|e| e["action"] == "appointment.skipped")
        .collect();
    let ids: std::collections::BTreeSet<&str> = skips
        .iter()
        .map(|e| e["appointment_id"].as_str().unwrap())
        .collect();
    assert_eq!((skips.len(), ids.len()), (150, 150), "each once");
    assert_eq!(skips[0]["detail"]["reason"], "no_consent");
    let settings = app
        .call("GET", "/settings/hie", Caller::Admin, None)
        .await
        .expect(200);
    assert_eq!(
        settings.body["next_batch_start_time"],
        "2026-11-21T15:00:40Z"
    );
}
