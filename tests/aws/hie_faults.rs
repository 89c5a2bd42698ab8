//! Faults in the HIE pipeline on AWS: SES failures (moto's own rejection of an unverified sender;
//! injected transient failures), and SQS's real redelivery and dead-letter redrive. (A revoke
//! between collect and send is a scenario of `support::hie`, run on both backends.)

use std::time::{Duration as StdDuration, Instant};

use connector_domain::hie::HieWork;
use connector_domain::ports::QueueMessage;
use connector_testkit::faults::MailFault;

use crate::support::hie::{consented_transition, one_consented_transition};
use crate::support::{Polled, QueueSetup, TestApp, actions, spawn_on_aws_with};

/// A one-second visibility timeout, so redeliveries come quickly (these tests only).
const QUICK: QueueSetup = QueueSetup {
    max_receives: 3,
    visibility_secs: 1,
};

/// Polls until SQS delivers something (its visibility timeout elapsing), within `within`.
async fn poll_until_delivered(app: &TestApp, within: StdDuration) -> Polled {
    let deadline = Instant::now() + within;
    loop {
        let polled = app.lambda_poll().await;
        if polled.received > 0 || Instant::now() >= deadline {
            return polled;
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_sender_ses_rejects_is_a_permanent_failure_audited_and_acknowledged() {
    let Some(app) = spawn_on_aws_with(QUICK).await else {
        return;
    };
    // The sender's domain is not a verified SES identity: moto rejects the mail, as SES does.
    app.enable_hie_unverified().await;
    consented_transition(&app).await;
    app.collect().await;
    let polled = app.lambda_poll().await;
    assert_eq!(polled.received, 1);
    assert!(polled.kept.is_empty(), "retrying cannot help: acknowledged");
    assert!(app.mails().is_empty());
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    assert_eq!(
        app.lambda_poll().await.received,
        0,
        "deleted, not redelivered"
    );
    let entries = app.hie_entries("a-1").await;
    assert_eq!(actions(&entries), ["appointment.failed"]);
    assert_eq!(entries[0]["outcome"], "error");
    assert_eq!(entries[0]["detail"]["error"], "rejected");
}

#[tokio::test]
async fn a_transient_failure_is_redelivered_by_sqs_then_sent_once() {
    let Some(app) = spawn_on_aws_with(QUICK).await else {
        return;
    };
    one_consented_transition(&app).await;
    app.mailer.fail_next(&[MailFault::Transient]);
    app.collect().await;

    let first = app.lambda_poll().await;
    assert_eq!(first.received, 1);
    assert_eq!(first.kept.len(), 1, "reported as a batch item failure");
    assert!(app.mails().is_empty());

    // Left on the queue, SQS delivers it again once the visibility timeout lapses.
    let second = poll_until_delivered(&app, StdDuration::from_secs(5)).await;
    assert_eq!(second.receive_counts, [2]);
    assert!(second.kept.is_empty());
    assert_eq!(app.mails().len(), 1);
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    assert_eq!(app.lambda_poll().await.received, 0, "deleted once sent");

    let entries = app.hie_entries("a-1").await;
    assert_eq!(actions(&entries), ["appointment.retry", "appointment.sent"]);
    assert_eq!(entries[1]["detail"]["error"], "transient");
    assert_eq!(entries[1]["detail"]["receive_count"], 1);
}

#[tokio::test]
async fn failures_that_never_end_are_redriven_to_the_dead_letter_queue_by_sqs() {
    let Some(app) = spawn_on_aws_with(QUICK).await else {
        return;
    };
    one_consented_transition(&app).await;
    app.mailer.fail_always(Some(MailFault::Transient));
    app.collect().await;

    let mut receive_counts = Vec::new();
    let mut dead = Vec::new();
    let deadline = Instant::now() + StdDuration::from_secs(12);
    while dead.is_empty() && Instant::now() < deadline {
        let polled = app.lambda_poll().await;
        assert_eq!(polled.kept.len(), polled.received, "every failure is kept");
        receive_counts.extend(polled.receive_counts);
        if polled.received == 0 {
            dead = app.dead_letters().await;
            tokio::time::sleep(StdDuration::from_millis(200)).await;
        }
    }
    assert_eq!(receive_counts, [1, 2, 3], "maxReceiveCount is 3");
    assert_eq!(dead.len(), 1, "moved to the dead-letter queue");
    let work = HieWork::parse(&dead[0]).expect("a work item");
    assert_eq!(work.appointment_id.as_str(), "a-1");
    let entries = app.hie_entries("a-1").await;
    assert_eq!(actions(&entries), vec!["appointment.retry"; 3]);

    // An operator fixes the cause and moves the message back: sent once.
    app.mailer.fail_always(None);
    app.ctx
        .hie_queue
        .send_batch(&[QueueMessage {
            body: dead[0].clone(),
            group_id: None,
            dedup_id: None,
        }])
        .await
        .unwrap();
    let polled = poll_until_delivered(&app, StdDuration::from_secs(5)).await;
    assert_eq!((polled.received, polled.kept.len()), (1, 0));
    assert_eq!(app.mails().len(), 1);
    assert_eq!(app.mailer.sent(), 1);
}
