//! Faults and duplicates in the HIE pipeline: nothing lost, nothing sent twice, every outcome
//! audited.

use chrono::Duration;
use connector_app::hie::collector;
use connector_app::hie::sender::{self, HieSendResult};
use connector_domain::hie::HieWork;
use connector_embedded::QueueOptions;
use connector_testkit::faults::MailFault;
use serde_json::json;

use crate::support::hie::{crashing_checkpoint, one_consented_transition};
use crate::support::{TestApp, actions, spawn_app};

/// A connector with the HIE on and one consented transition due, whose next mails fail as
/// `faults` say.
async fn due_transition_failing(faults: &[MailFault]) -> TestApp {
    let app = spawn_app().await;
    one_consented_transition(&app).await;
    app.mailer.fail_next(faults);
    app
}

#[tokio::test]
async fn a_transient_failure_is_retried_with_backoff_then_sent_once() {
    let app = due_transition_failing(&[MailFault::Transient]).await;
    app.collect().await;
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.mails().len(), 0);
    assert_eq!(
        app.drain().await,
        0,
        "released with a backoff, not visible yet"
    );
    app.clock.advance(Duration::seconds(31));
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.mails().len(), 1);
    let entries = app.hie_entries("a-1").await;
    assert_eq!(actions(&entries), ["appointment.retry", "appointment.sent"]);
    assert_eq!(entries[1]["outcome"], "error");
    assert_eq!(entries[1]["detail"]["error"], "transient");
}

#[tokio::test]
async fn a_permanent_failure_is_audited_and_not_retried() {
    let app = due_transition_failing(&[MailFault::Permanent]).await;
    app.collect_and_drain().await;
    app.clock.advance(Duration::hours(1));
    assert_eq!(app.drain().await, 0, "the message was acknowledged");
    // A rewind re-enqueues it; the ledger keeps it closed.
    app.settings(json!({"next_batch_start_time": "2026-11-21T00:00:00Z"}))
        .await;
    app.collect_and_drain().await;
    assert_eq!(app.mailer.sent(), 0);
    let entries = app.hie_entries("a-1").await;
    assert_eq!(actions(&entries), ["appointment.failed"]);
    assert_eq!(entries[0]["detail"]["error"], "rejected");
}

#[tokio::test]
async fn failures_that_never_end_park_the_work_in_the_dead_letter_queue() {
    let app = spawn_app().await;
    one_consented_transition(&app).await;
    app.mailer.fail_always(Some(MailFault::Transient));
    app.collect().await;
    for _ in 0..8 {
        app.drain().await;
        app.clock.advance(Duration::minutes(20));
    }
    let queue = app.db().queue(
        connector_app::config::HIE_QUEUE_NAME,
        QueueOptions::default().clock(app.clock.clone()),
    );
    let dead = queue.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        HieWork::parse(&dead[0].body)
            .unwrap()
            .appointment_id
            .as_str(),
        "a-1"
    );
    let entries = app.hie_entries("a-1").await;
    assert_eq!(
        actions(&entries),
        vec!["appointment.retry"; 5],
        "audited each time"
    );

    // An operator fixes the cause and redrives: sent once.
    app.mailer.fail_always(None);
    assert_eq!(queue.redrive(None).await.unwrap(), 1);
    app.drain().await;
    assert_eq!(app.mailer.sent(), 1);
}

#[tokio::test]
async fn a_message_delivered_twice_is_sent_once() {
    let app = spawn_app().await;
    one_consented_transition(&app).await;
    let work = HieWork {
        appointment_id: "a-1".parse().unwrap(),
        transition_seq: 1,
        resend: 0,
    };
    // Twice on the queue (standard queues deliver at least once), and twice at the same moment.
    let mut duplicate = work.to_message();
    duplicate.dedup_id = None;
    app.ctx
        .hie_queue
        .send_batch(&[duplicate.clone(), duplicate])
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        sender::handle(&app.ctx, &work, 1),
        sender::handle(&app.ctx, &work, 1)
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, HieSendResult::Sent { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );
    app.drain().await;
    app.clock.advance(Duration::minutes(10));
    app.drain().await;
    assert_eq!(app.mailer.sent(), 1);
    assert_eq!(app.mails().len(), 1);
}

#[tokio::test]
async fn a_collector_stopped_between_enqueue_and_checkpoint_loses_nothing_and_sends_once() {
    let app = spawn_app().await;
    app.enable_hie().await;
    for i in 0..25 {
        let p = format!("p-{i}");
        app.register(&p).await;
        app.give(&p, json!({})).await;
        app.transitioned_appointment(&format!("a-{i}"), &p).await;
        app.clock.advance(Duration::seconds(1));
    }
    app.clock.advance(Duration::minutes(5));
    let crashing_ctx = crashing_checkpoint(&app);
    let options = collector::CollectorOptions {
        page_size: 10,
        ..Default::default()
    };
    assert!(
        collector::run(&crashing_ctx, options).await.is_err(),
        "dies at its first checkpoint"
    );
    let settings = app.get("/settings/hie", "admin").await.body;
    assert_eq!(
        settings["next_batch_start_time"], "2026-11-21T00:00:00Z",
        "the watermark did not move"
    );

    // The next run resumes from the unchanged watermark and re-enqueues the first page.
    let report = collector::run(&app.ctx, options).await.unwrap();
    assert_eq!(report.enqueued, 25);
    app.drain().await;
    assert_eq!(app.mailer.sent(), 25, "each appointment exactly once");
    assert_eq!(app.mails().len(), 25);
    let sent = app
        .audit("log_type=hie_sent_appointments&outcome=success")
        .await;
    assert_eq!(
        sent.iter()
            .filter(|e| e["action"] == "appointment.sent")
            .count(),
        25
    );
}
