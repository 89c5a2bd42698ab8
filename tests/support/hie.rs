//! The HIE scenarios, written once over [`TestApp`] and run on both backends by
//! [`hie_scenarios!`] (as the store contract suites are): intake, collector, sender, mail and
//! audit. Where a backend adds something of its own to check (SQS's receive counts and
//! acknowledgements, moto's SES record), the scenario checks it on that backend.

use std::collections::BTreeSet;

use chrono::Duration;
use connector_app::Context;
use connector_app::hie::collector::{self, CollectorOptions};
use connector_app::hie::sender::{self, HieSendResult};
use connector_domain::hie::HieWork;
use connector_hl7::Message;
use connector_testkit::faults::CrashingCheckpoint;
use mail_parser::MessageParser;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::support::app::{Backend, TestApp};
use crate::support::fixtures::{actions, appointment_json, start_time};
use crate::support::listing;

/// One `#[tokio::test]` per scenario on `$backend` (a [`Backend`]); on AWS each prints
/// SKIPPED and passes when the endpoints cannot start outside CI.
macro_rules! hie_scenarios {
    ($backend:expr) => {
        $crate::support::hie::hie_scenarios!(@each $backend;
            only_consented_new_transitions_are_sent_each_exactly_once,
            rewinding_the_watermark_picks_up_what_was_missed_and_never_resends,
            a_corrected_appointment_transitioned_again_is_sent_again,
            an_administrator_can_resend_deliberately,
            the_batch_preview_explains_and_writes_nothing,
            appointment_intake_validates,
            after_a_rewind_the_batch_preview_shows_what_was_already_sent,
            the_batch_preview_consults_the_send_ledger_and_shows_the_safety_lag,
            appointments_inside_the_safety_lag_are_pending_until_they_become_eligible,
            a_run_that_finds_nothing_says_why,
            each_skipped_appointment_is_audited_with_its_reason,
            more_skips_than_one_checkpoint_holds_are_each_audited_once,
            a_revoke_between_collect_and_send_stops_the_send,
            skips_are_audited_only_with_the_checkpoint_that_passes_them,
        );
    };
    (@each $backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(app) = $crate::support::app::TestApp::builder($backend).spawn().await
                else {
                    return;
                };
                $crate::support::hie::$name(&app).await;
            }
        )*
    };
}
pub(crate) use hie_scenarios;

/// Five patients, one per consent situation, each with one appointment transitioned now
/// (15:00), plus one appointment transitioned the day before the watermark.
pub async fn clinic_day(app: &TestApp) {
    app.enable_hie().await;
    for p in ["p-active", "p-expired", "p-revoked", "p-future", "p-none"] {
        app.register(p).await;
    }
    app.give("p-active", json!({})).await.expect(201);
    app.give(
        "p-expired",
        json!({"given_on": "2025-01-01", "expires_on": "2025-06-01"}),
    )
    .await
    .expect(201);
    app.give("p-revoked", json!({})).await.expect(201);
    app.revoke_current("p-revoked").await;
    app.give("p-future", json!({"given_on": "2026-12-01"}))
        .await
        .expect(201);

    app.clock.set(start_time() - Duration::days(1));
    app.transitioned_appointment("a-old", "p-active").await;
    app.clock.set(start_time());
    for p in ["active", "expired", "revoked", "future", "none"] {
        app.transitioned_appointment(&format!("a-{p}"), &format!("p-{p}"))
            .await;
    }
    app.clock.advance(Duration::minutes(5)); // past the collector's safety lag
}

/// HIE enabled, and [`consented_transition`].
pub async fn one_consented_transition(app: &TestApp) {
    app.enable_hie().await;
    consented_transition(app).await;
}

/// One patient with consent and one appointment transitioned, past the safety lag.
pub async fn consented_transition(app: &TestApp) {
    app.register("p-1").await;
    app.give("p-1", json!({})).await.expect(201);
    app.transitioned_appointment("a-1", "p-1").await;
    app.clock.advance(Duration::minutes(5));
}

/// The app's context with a settings store whose checkpoint fails, as a collector stopped
/// between enqueueing and checkpointing would.
pub fn crashing_checkpoint(app: &TestApp) -> Context {
    Context {
        settings: Arc::new(CrashingCheckpoint::new(app.ctx.settings.clone())),
        ..(*app.ctx).clone()
    }
}

/// The actions of the HIE audit entries about `appointment_id`, oldest first.
pub async fn hie_actions(app: &TestApp, appointment_id: &str) -> Vec<String> {
    actions(&app.hie_entries(appointment_id).await)
}

impl TestApp {
    /// The HIE audit entries of one appointment, newest first.
    pub async fn hie_entries(&self, appointment_id: &str) -> Vec<Value> {
        let query = format!("log_type=hie_sent_appointments&appointment_id={appointment_id}");
        self.audit(&query).await
    }
}

/// The HL7 attachment of a raw mail.
pub fn attachment_hl7(raw: &[u8]) -> String {
    let mail = MessageParser::default().parse(raw).expect("MIME");
    let attachment = mail.attachment(0).expect("attachment");
    String::from_utf8(attachment.contents().to_vec()).expect("UTF-8 HL7")
}

/// Hands the one visible HIE message to the sender and asserts it is acknowledged (on AWS:
/// received once, first delivery, not reported as a failure, gone after).
async fn deliver_one(app: &TestApp) {
    match app.backend {
        Backend::Sqlite => assert_eq!(app.drain().await, 1),
        Backend::Aws => {
            let polled = app.lambda_poll().await;
            assert_eq!(polled.received, 1);
            assert!(polled.kept.is_empty(), "acknowledged: {:?}", polled.kept);
            assert_eq!(app.lambda_poll().await.received, 0, "deleted once handled");
        }
    }
}

/// The work item of `appointment_id`'s first transition, put on the queue again (queues
/// deliver at least once).
async fn enqueue_again(app: &TestApp, appointment_id: &str) {
    let work = HieWork {
        appointment_id: appointment_id.parse().unwrap(),
        transition_seq: 1,
        resend: 0,
    };
    app.ctx
        .hie_queue
        .send_batch(&[work.to_message()])
        .await
        .unwrap();
}

/// Only consented new transitions are sent, each exactly once.
pub async fn only_consented_new_transitions_are_sent_each_exactly_once(app: &TestApp) {
    clinic_day(app).await;

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

    // The one work item is on the queue; the sender mails it and acknowledges it.
    if app.backend == Backend::Aws {
        let polled = app.lambda_poll().await;
        assert_eq!(polled.received, 1);
        assert_eq!(polled.receive_counts, [1]);
        assert!(polled.kept.is_empty(), "{:?}", polled.kept);
        assert_eq!(app.lambda_poll().await.received, 0, "deleted once handled");
        // moto's SES accepted exactly one raw message, to the HIE.
        let records = app.ses_records();
        assert_eq!(records.len(), 1, "{records:#?}");
        let destinations = records[0]["destinations"].as_array().expect("destinations");
        assert!(
            destinations
                .iter()
                .all(|d| d == "intake@direct.examplehie.org"),
            "{destinations:?}"
        );
    } else {
        assert_eq!(app.drain().await, 1);
    }

    let mails = app.mails();
    assert_eq!(mails.len(), 1);
    let mail = MessageParser::default().parse(&mails[0]).unwrap();
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

    // The audit log: the run with its counts, and the send with the consent that allowed it
    // and the mailer's message id.
    let entries = app.audit("log_type=hie_sent_appointments").await;
    let sent = listing::with_action(&entries, "appointment.sent");
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
    assert_eq!(app.mails().len(), 1);

    // Queues deliver at least once: the same work item delivered again is dropped by the
    // ledger (SQS delivers it and it is acknowledged; the embedded queue may drop it first).
    enqueue_again(app, "a-active").await;
    if app.backend == Backend::Aws {
        let polled = app.lambda_poll().await;
        assert_eq!(polled.received, 1);
        assert!(polled.kept.is_empty(), "a duplicate is acknowledged");
        assert_eq!(app.lambda_poll().await.received, 0);
    } else {
        app.drain().await;
    }
    assert_eq!(app.mails().len(), 1, "sent once");
    assert_eq!(app.mailer.sent(), 1);
    assert_eq!(hie_actions(app, "a-active").await, ["appointment.sent"]);
}

/// The clinic day collected and sent (one mail), then the watermark rewound to before it.
async fn sent_the_clinic_day_then_rewound(app: &TestApp) {
    clinic_day(app).await;
    app.collect_and_drain().await;
    assert_eq!(app.mails().len(), 1);
    app.settings(json!({"next_batch_start_time": "2026-11-19T00:00:00Z"}))
        .await;
}

/// Rewinding the watermark picks up what was missed, and never sends again what was sent.
pub async fn rewinding_the_watermark_picks_up_what_was_missed_and_never_resends(app: &TestApp) {
    sent_the_clinic_day_then_rewound(app).await;
    let report = app.collect().await;
    assert_eq!(report.scanned, 6);
    assert_eq!(
        report.enqueued, 2,
        "a-old (missed) and a-active (already sent) are enqueued"
    );
    app.drain().await;
    let mails = app.mails();
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

/// A corrected appointment, transitioned again, is sent again.
pub async fn a_corrected_appointment_transitioned_again_is_sent_again(app: &TestApp) {
    clinic_day(app).await;
    app.collect_and_drain().await;
    app.clock.advance(Duration::minutes(1));
    let again = app.transitioned_appointment("a-active", "p-active").await;
    assert_eq!(again["transition_seq"], 2);
    app.clock.advance(Duration::minutes(5));
    let report = app.collect().await;
    assert_eq!(report.enqueued, 1);
    app.drain().await;
    assert_eq!(app.mails().len(), 2);
}

/// An administrator can resend deliberately; staff cannot.
pub async fn an_administrator_can_resend_deliberately(app: &TestApp) {
    clinic_day(app).await;
    app.collect_and_drain().await;
    app.call(Method::POST, "/appointments/a-active/resend", "staff", None)
        .await
        .assert_problem(403);
    let reply = app
        .call(Method::POST, "/appointments/a-active/resend", "admin", None)
        .await;
    assert_eq!(reply.status, 202, "{:#}", reply.body);
    app.drain().await;
    assert_eq!(app.mails().len(), 2);
    let entries = app.hie_entries("a-active").await;
    let actions = listing::action_names(&entries);
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

/// The batch preview explains each decision and writes nothing.
pub async fn the_batch_preview_explains_and_writes_nothing(app: &TestApp) {
    clinic_day(app).await;
    let reply = app.get("/hie/batch-preview", "admin").await;
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
    let settings = app.get("/settings/hie", "admin").await.expect(200).body;
    assert_eq!(settings["next_batch_start_time"], "2026-11-21T00:00:00Z");
    assert_eq!(app.drain().await, 0, "nothing was enqueued");
    app.get("/hie/batch-preview?limit=0", "admin")
        .await
        .assert_problem(422);
}

/// Appointment intake validates its input and keeps the transition on update.
pub async fn appointment_intake_validates(app: &TestApp) {
    app.register("p-1").await;
    let mut bad = appointment_json("p-1");
    bad["scheduled_start"] = json!("next tuesday");
    bad["provider"] = json!({"id": "NPI-1"});
    let reply = app
        .put("/appointments/a-1", "staff", bad)
        .await
        .assert_problem(422);
    let fields = reply.error_fields();
    assert_eq!(fields, ["scheduled_start", "provider.name"]);
    let reply = app
        .put("/appointments/a-1", "staff", appointment_json("p-unknown"))
        .await;
    reply.assert_invalid("patient_id");
    app.get("/appointments/a-1", "staff")
        .await
        .assert_problem(404);
    app.call(Method::POST, "/appointments/a-1/transition", "staff", None)
        .await
        .assert_problem(404);
    let created = app
        .put("/appointments/a-1", "staff", appointment_json("p-1"))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["transition_seq"], 0);
    let t = app
        .call(Method::POST, "/appointments/a-1/transition", "staff", None)
        .await;
    assert_eq!(t.body["transition_seq"], 1);
    assert_eq!(t.body["transitioned_at"], "2026-11-21T15:00:00Z");
    let updated = app
        .put("/appointments/a-1", "staff", appointment_json("p-1"))
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(
        updated.body["transition_seq"], 1,
        "an update keeps the transition"
    );
}

/// `GET /hie/batch-preview` as an administrator; asserts 200.
async fn batch_preview(app: &TestApp) -> Value {
    app.get("/hie/batch-preview", "admin")
        .await
        .expect(200)
        .body
}

/// The preview's entry for one appointment.
fn planned<'a>(preview: &'a Value, appointment_id: &str) -> &'a Value {
    listing::item_where(preview, "appointments", "appointment_id", appointment_id)
}

/// After a rewind, the batch preview shows what was already sent, and the batch agrees.
pub async fn after_a_rewind_the_batch_preview_shows_what_was_already_sent(app: &TestApp) {
    clinic_day(app).await;
    app.collect_and_drain().await;
    app.settings(json!({"next_batch_start_time": "2026-11-19T00:00:00Z"}))
        .await;

    let preview = batch_preview(app).await;
    assert_eq!(planned(&preview, "a-active")["status"], "already_sent");
    assert_eq!(planned(&preview, "a-old")["status"], "send");
    assert_eq!(planned(&preview, "a-revoked")["status"], "skip");
    assert_eq!(planned(&preview, "a-revoked")["reason"], "revoked");
    assert_eq!(preview["would_send"], 1, "{preview:#}");
    assert_eq!(preview["already_sent"], 1);
    assert_eq!(preview["would_skip"], 4);

    // The batch agrees: only a-old is sent.
    app.collect_and_drain().await;
    assert_eq!(app.mails().len(), 2);
}

/// The batch preview consults the send ledger and shows what waits for the safety lag.
pub async fn the_batch_preview_consults_the_send_ledger_and_shows_the_safety_lag(app: &TestApp) {
    sent_the_clinic_day_then_rewound(app).await;
    app.transitioned_appointment("a-late", "p-active").await; // at 15:05, inside the lag

    let preview = batch_preview(app).await;
    assert_eq!(planned(&preview, "a-active")["status"], "already_sent");
    assert_eq!(planned(&preview, "a-old")["status"], "send");
    assert_eq!(planned(&preview, "a-none")["status"], "skip");
    assert_eq!(planned(&preview, "a-late")["status"], "pending");
    assert_eq!(
        planned(&preview, "a-late")["eligible_at"],
        "2026-11-21T15:07:00Z"
    );
    assert_eq!(
        (
            preview["would_send"].clone(),
            preview["already_sent"].clone(),
            preview["pending"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
}

/// Appointments inside the safety lag are pending until they become eligible.
pub async fn appointments_inside_the_safety_lag_are_pending_until_they_become_eligible(
    app: &TestApp,
) {
    app.enable_hie().await;
    app.register("p-1").await;
    app.give("p-1", json!({})).await.expect(201);
    app.transitioned_appointment("a-1", "p-1").await; // at 15:00:00
    app.clock.advance(Duration::seconds(30));

    let preview = batch_preview(app).await;
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
    assert_eq!(planned(&batch_preview(app).await, "a-1")["status"], "send");
    let report = app.collect().await;
    assert_eq!((report.scanned, report.enqueued), (1, 1));
}

/// A run that finds nothing says why.
pub async fn a_run_that_finds_nothing_says_why(app: &TestApp) {
    let report = serde_json::to_value(app.collect().await).unwrap();
    assert_eq!(report["idle_reason"], "disabled", "{report:#}");

    app.enable_hie().await;
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

/// Each skipped appointment is audited once, with its reason.
pub async fn each_skipped_appointment_is_audited_with_its_reason(app: &TestApp) {
    clinic_day(app).await;
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
    let expired = app.hie_entries("a-expired").await;
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

/// More skips than one checkpoint holds (a DynamoDB transaction carries 99) are each audited
/// once: many at one instant, then more a second apart (fewer on AWS, to keep DynamoDB Local
/// quick; both pass a checkpoint's size at one instant).
pub async fn more_skips_than_one_checkpoint_holds_are_each_audited_once(app: &TestApp) {
    let (same, spread) = match app.backend {
        Backend::Sqlite => (120, 130),
        Backend::Aws => (110, 40),
    };
    app.enable_hie().await;
    app.register("p-none").await;
    for i in 0..same {
        app.transitioned_appointment(&format!("a-same-{i:03}"), "p-none")
            .await;
    }
    for i in 0..spread {
        app.clock.advance(Duration::seconds(1));
        app.transitioned_appointment(&format!("a-{i:03}"), "p-none")
            .await;
    }
    app.clock.advance(Duration::minutes(5));
    let options = CollectorOptions {
        page_size: 100,
        ..Default::default()
    };
    let report = collector::run(&app.ctx, options).await.unwrap();
    let total = usize::try_from(same + spread).unwrap();
    assert_eq!(report.scanned, total);
    assert_eq!(report.skipped["no_consent"], total);
    let skipped = app
        .audit("log_type=hie_sent_appointments&outcome=skipped")
        .await;
    let skips = listing::with_action(&skipped, "appointment.skipped");
    let ids: BTreeSet<&str> = skips
        .iter()
        .map(|e| e["appointment_id"].as_str().unwrap())
        .collect();
    assert_eq!((skips.len(), ids.len()), (total, total), "each once");
    assert_eq!(skips[0]["detail"]["reason"], "no_consent");
    let settings = app.get("/settings/hie", "admin").await.expect(200).body;
    let watermark = start_time() + Duration::seconds(spread);
    assert_eq!(
        settings["next_batch_start_time"],
        watermark.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
}

/// A revoke between collect and send stops the send, and a later delivery stays skipped.
pub async fn a_revoke_between_collect_and_send_stops_the_send(app: &TestApp) {
    one_consented_transition(app).await;
    assert_eq!(app.collect().await.enqueued, 1);
    let consent_id = app.revoke_current("p-1").await;

    deliver_one(app).await;
    assert_eq!(app.mailer.sent(), 0);
    assert!(app.mails().is_empty());
    let entries = app.hie_entries("a-1").await;
    assert_eq!(actions(&entries), ["appointment.skipped"]);
    assert_eq!(entries[0]["outcome"], "skipped");
    assert_eq!(entries[0]["detail"]["reason"], "revoked");
    assert_eq!(entries[0]["detail"]["consent_status"], "revoked");
    assert_eq!(entries[0]["consent_id"], consent_id.as_str());

    // Delivered again later, it stays skipped: to the sender directly, and through the queue.
    let work = HieWork {
        appointment_id: "a-1".parse().unwrap(),
        transition_seq: 1,
        resend: 0,
    };
    assert_eq!(
        sender::handle(&app.ctx, &work, 2).await.unwrap(),
        HieSendResult::Duplicate
    );
    if app.backend == Backend::Aws {
        enqueue_again(app, "a-1").await;
        deliver_one(app).await;
    }
    assert_eq!(app.mailer.sent(), 0);
    assert_eq!(hie_actions(app, "a-1").await, ["appointment.skipped"]);
}

/// Skips are audited only with the checkpoint that passes them: a checkpoint that fails
/// audits none, the next run audits each once.
pub async fn skips_are_audited_only_with_the_checkpoint_that_passes_them(app: &TestApp) {
    app.enable_hie().await;
    for i in 0..15 {
        let p = format!("p-{i}");
        app.register(&p).await;
        app.transitioned_appointment(&format!("a-{i}"), &p).await; // no consent: skipped
        app.clock.advance(Duration::seconds(1));
    }
    app.clock.advance(Duration::minutes(5));
    let crashing_ctx = crashing_checkpoint(app);
    let options = CollectorOptions {
        page_size: 10,
        ..Default::default()
    };
    assert!(collector::run(&crashing_ctx, options).await.is_err());
    let skipped = |entries: Vec<Value>| {
        entries
            .iter()
            .filter(|e| e["action"] == "appointment.skipped")
            .count()
    };
    assert_eq!(
        skipped(app.audit("log_type=hie_sent_appointments").await),
        0,
        "no skip is audited by a checkpoint that failed"
    );

    let report = collector::run(&app.ctx, options).await.unwrap();
    assert_eq!(report.skipped["no_consent"], 15);
    assert_eq!(
        skipped(app.audit("log_type=hie_sent_appointments").await),
        15,
        "each skip audited once, with the checkpoint that passed it"
    );
}
