//! CRM -> EHR end to end, the delivery side: what the EHR answers (AA, AE, a wrong MSA-2,
//! nothing) and what the connector does about it (deliver, retry with the same MSH-10, park,
//! hold, redrive), patients' order across retries, and nothing lost or sent twice (duplicate
//! webhooks, a queue failure after the webhook was recorded, two workers at once).
//!
//! Delivery runs through `crm_to_ehr::delivery::drain_once`; backoff waits are skipped by moving the
//! connector's clock; the EHR is a real MLLP listener.

use std::collections::HashMap;
use std::sync::Arc;

use connector_app::Context;
use connector_app::crm_to_ehr::delivery;
use connector_domain::delivery::{Delivery, DeliveryState};
use connector_embedded::SqliteDb;
use reqwest::Method;
use serde_json::Value;

use crate::crm_outbound_support::{
    EhrReply, OutboundApp, SAMPLE_LEAD, lead_payload, modified, spawn_outbound,
};
use crate::support::listing;

/// A test patient: its lead id and MRN.
struct Patient {
    lead: String,
    mrn: String,
}

fn patient(name: &str) -> Patient {
    Patient {
        lead: format!("lead-{name}"),
        mrn: format!("MRN-{name}"),
    }
}

impl Patient {
    /// This patient's `n`th change (one per ModifiedOn).
    fn change(&self, n: u32) -> Value {
        lead_payload(&self.lead, &self.mrn, &modified(n))
    }
}

/// Queues `n` changes of `patient` (modification times from `first`); returns (delivery id,
/// control id) of each, in order.
async fn queue_changes(
    app: &OutboundApp,
    patient: &Patient,
    first: u32,
    n: u32,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in first..first + n {
        let id = app.queue_one(&patient.change(i)).await;
        let control_id = app.control_id(&id).await;
        out.push((id, control_id));
    }
    out
}

/// The app with one change of the patient `name` queued, the EHR scripted to answer it with
/// `replies` first: (app, delivery id, control id).
async fn one_change_answered(name: &str, replies: &[EhrReply]) -> (OutboundApp, String, String) {
    let app = spawn_outbound().await;
    let patient = patient(name);
    app.ehr.script(&patient.mrn, replies);
    let id = app.queue_one(&patient.change(1)).await;
    let control_id = app.control_id(&id).await;
    (app, id, control_id)
}

/// One drain attempts the delivery `id` and leaves it retrying after `outcome`; the delivery.
async fn drained_to_retrying(app: &OutboundApp, id: &str, outcome: &str) -> Delivery {
    assert_eq!(app.drain().await, 1);
    let delivery = app.delivery(id).await;
    assert_eq!(delivery.state, DeliveryState::Retrying);
    assert_eq!(delivery.last_outcome.as_deref(), Some(outcome));
    delivery
}

fn control_ids(items: &[(String, String)]) -> Vec<String> {
    items.iter().map(|(_, c)| c.clone()).collect()
}

/// The arrivals at the EHR with MSH-10 `control_id`: (text, reply) pairs.
fn arrivals_of(app: &OutboundApp, control_id: &str) -> Vec<(String, EhrReply)> {
    app.ehr
        .arrivals()
        .into_iter()
        .filter(|a| a.control_id == control_id)
        .map(|a| (a.text, a.reply))
        .collect()
}

#[tokio::test]
async fn an_ae_is_retried_with_the_same_control_id_and_delivered_once() {
    let (app, id, control_id) = one_change_answered("alice", &[EhrReply::Ae]).await;

    let retrying = drained_to_retrying(&app, &id, "rejected_AE").await;
    assert_eq!(retrying.attempts, 1);
    // 1 s backoff (the channel's first delay), on the connector's clock.
    assert_eq!(
        retrying.next_attempt_at,
        Some(crate::support::start_time() + chrono::Duration::seconds(1))
    );
    // Not due yet: nothing happens.
    assert_eq!(app.drain().await, 0);
    assert_eq!(app.ehr.arrivals().len(), 1);

    app.advance(1);
    assert_eq!(app.drain().await, 1);
    let arrivals = arrivals_of(&app, &control_id);
    assert_eq!(arrivals.len(), 2, "{arrivals:#?}");
    assert_eq!(arrivals[0].1, EhrReply::Ae);
    assert_eq!(arrivals[1].1, EhrReply::Aa);
    assert_eq!(
        arrivals[0].0, arrivals[1].0,
        "the resend is the same message"
    );
    assert_eq!(app.ehr.accepted(&control_id), 1);
    let delivered = app.delivery(&id).await;
    assert_eq!(delivered.state, DeliveryState::Delivered);
    assert_eq!(delivered.attempts, 2);
    assert_eq!(
        app.delivery_actions(&id).await,
        ["delivery.retrying", "delivery.delivered"]
    );
    let audit = app.audit().await;
    let retry = listing::first_with_action(&audit, "delivery.retrying");
    assert_eq!(retry["detail"]["outcome"], "rejected_AE");
    assert_eq!(retry["detail"]["control_id"], control_id.as_str());
    assert!(retry["detail"]["next_attempt_at"].is_string());

    // Nothing more to do, however long the worker keeps going.
    app.advance(3600);
    assert_eq!(app.drain().await, 0);
    assert_eq!(app.ehr.arrivals().len(), 2);
}

#[tokio::test]
async fn no_ack_is_resent_with_the_same_control_id() {
    let (app, id, control_id) = one_change_answered("bob", &[EhrReply::Silent]).await;

    let began = std::time::Instant::now();
    assert_eq!(app.drain().await, 1);
    assert!(
        began.elapsed() >= std::time::Duration::from_millis(900),
        "the ACK timeout ran"
    );
    let waiting = app.delivery(&id).await;
    assert_eq!(waiting.state, DeliveryState::Retrying);
    assert_eq!(waiting.last_outcome.as_deref(), Some("no_ack"));

    app.advance(1);
    assert_eq!(app.drain().await, 1);
    let arrivals = arrivals_of(&app, &control_id);
    assert_eq!(arrivals.len(), 2);
    assert_eq!(arrivals[0].0, arrivals[1].0);
    assert_eq!(
        (arrivals[0].1, arrivals[1].1),
        (EhrReply::Silent, EhrReply::Aa)
    );
    assert_eq!(app.delivery(&id).await.state, DeliveryState::Delivered);
}

#[tokio::test]
async fn an_ack_of_another_message_is_retried() {
    let (app, id, control_id) = one_change_answered("cara", &[EhrReply::WrongControlId]).await;

    drained_to_retrying(&app, &id, "wrong_ack").await;
    app.advance(1);
    assert_eq!(app.drain().await, 1);
    assert_eq!(arrivals_of(&app, &control_id).len(), 2);
    assert_eq!(app.ehr.accepted(&control_id), 1);
    assert_eq!(app.delivery(&id).await.state, DeliveryState::Delivered);
}

#[tokio::test]
async fn a_message_that_uses_up_its_attempts_is_parked_and_a_redrive_delivers_it() {
    let (app, id, control_id) =
        one_change_answered("dan", &[EhrReply::Ae, EhrReply::Silent, EhrReply::Ae]).await;

    for _ in 0..3 {
        assert_eq!(app.drain().await, 1);
        app.advance(60);
    }
    let parked = app.delivery(&id).await;
    assert_eq!(parked.state, DeliveryState::Parked);
    assert_eq!(parked.attempts, 3);
    assert_eq!(parked.last_outcome.as_deref(), Some("rejected_AE"));
    assert_eq!(
        app.delivery_actions(&id).await,
        ["delivery.retrying", "delivery.retrying", "delivery.parked"]
    );
    let audit = app.audit().await;
    let entry = listing::first_with_action(&audit, "delivery.parked");
    assert_eq!(entry["outcome"], "error");
    assert_eq!(entry["detail"]["attempt"], 3);
    // Parked is final until an admin acts: the worker leaves it alone.
    app.advance(3600);
    assert_eq!(app.drain().await, 0);
    assert_eq!(arrivals_of(&app, &control_id).len(), 3);

    // The EHR is fixed; an admin redrives the message a minute later.
    let redriven = app.redrive(&id).await;
    assert_eq!(redriven, std::slice::from_ref(&id));
    let queued = app.delivery(&id).await;
    assert_eq!(queued.state, DeliveryState::Queued);
    assert_eq!(queued.attempts, 0);
    assert_eq!(app.drain().await, 1);
    let arrivals = arrivals_of(&app, &control_id);
    assert_eq!(arrivals.len(), 4);
    assert!(arrivals.iter().all(|(text, _)| *text == arrivals[0].0));
    assert_eq!(app.ehr.accepted(&control_id), 1);
    assert_eq!(app.delivery(&id).await.state, DeliveryState::Delivered);
    let actions = app.delivery_actions(&id).await;
    assert_eq!(
        actions[3..],
        ["delivery.redriven", "delivery.delivered"],
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_redrive_soon_after_parking_still_delivers() {
    // The EHR refuses (AR) and is fixed within seconds: the redrive comes well inside the
    // queue's five-minute deduplication window of the first enqueue.
    let app = spawn_outbound().await;
    let erin = patient("erin");
    app.ehr.script(&erin.mrn, &[EhrReply::Ar]);
    let id = app.queue_one(&erin.change(1)).await;
    assert_eq!(app.drain().await, 1);
    let parked = app.delivery(&id).await;
    assert_eq!(parked.state, DeliveryState::Parked, "AR parks at once");
    assert_eq!(parked.attempts, 1);
    assert_eq!(parked.last_outcome.as_deref(), Some("rejected_AR"));

    app.advance(5);
    app.redrive(&id).await;
    assert_eq!(
        app.drain().await,
        1,
        "the redriven delivery is on the queue"
    );
    assert_eq!(app.delivery(&id).await.state, DeliveryState::Delivered);
}

#[tokio::test]
async fn a_patients_order_holds_across_retries_while_other_patients_proceed() {
    let app = spawn_outbound().await;
    let (alice, bob) = (patient("alice"), patient("bob"));
    let a = queue_changes(&app, &alice, 1, 2).await;
    let b = queue_changes(&app, &bob, 11, 2).await;
    // Alice's first message fails twice, then goes through.
    app.ehr.script(&a[0].1, &[EhrReply::Ae, EhrReply::Silent]);

    app.drain().await;
    // Bob's messages are delivered while Alice's first waits for its retry, and her second
    // waits behind it.
    assert_eq!(app.ehr.control_ids_of(&bob.mrn), control_ids(&b));
    assert_eq!(app.ehr.control_ids_of(&alice.mrn), [a[0].1.clone()]);
    assert_eq!(app.delivery(&a[1].0).await.state, DeliveryState::Queued);
    for (id, _) in &b {
        assert_eq!(app.delivery(id).await.state, DeliveryState::Delivered);
    }

    // Bob changes again while Alice is still retrying: delivered at once.
    let b3 = queue_changes(&app, &bob, 13, 1).await;
    app.drain().await;
    assert_eq!(app.ehr.control_ids_of(&bob.mrn).len(), 3);
    assert_eq!(app.ehr.control_ids_of(&bob.mrn)[2], b3[0].1);

    app.advance(60);
    app.drain().await;
    assert_eq!(
        app.delivery(&a[0].0).await.last_outcome.as_deref(),
        Some("no_ack")
    );
    assert_eq!(app.delivery(&a[1].0).await.state, DeliveryState::Queued);
    app.advance(60);
    app.drain().await;

    // Alice: m1 three times (AE, no ACK, AA), then m2.
    let first = a[0].1.clone();
    assert_eq!(
        app.ehr.control_ids_of(&alice.mrn),
        [first.clone(), first.clone(), first, a[1].1.clone()]
    );
    for (id, control_id) in a.iter().chain(&b).chain(&b3) {
        assert_eq!(app.delivery(id).await.state, DeliveryState::Delivered);
        assert_eq!(app.ehr.accepted(control_id), 1);
    }
}

#[tokio::test]
async fn a_parked_message_holds_its_patients_later_messages_until_a_redrive() {
    let app = spawn_outbound().await;
    let (alice, bob) = (patient("alice"), patient("bob"));
    let a = queue_changes(&app, &alice, 1, 2).await;
    let b = queue_changes(&app, &bob, 11, 1).await;
    app.ehr.script(&a[0].1, &[EhrReply::Ar]);

    app.drain().await;
    assert_eq!(app.delivery(&a[0].0).await.state, DeliveryState::Parked);
    let held = app.delivery(&a[1].0).await;
    assert_eq!(held.state, DeliveryState::Held);
    assert_eq!(
        held.held_behind.as_ref().map(|d| d.as_str()),
        Some(a[0].0.as_str())
    );
    assert_eq!(held.attempts, 0, "a held message is not sent");
    assert_eq!(app.delivery(&b[0].0).await.state, DeliveryState::Delivered);
    assert_eq!(app.ehr.control_ids_of(&alice.mrn), [a[0].1.clone()]);
    let audit = app.audit().await;
    let entry = listing::first_with_action(&audit, "delivery.held");
    assert_eq!(entry["detail"]["delivery_id"], a[1].0.as_str());
    assert_eq!(entry["detail"]["held_behind"], a[0].0.as_str());

    // Alice changes again while parked: held too. Bob is not held up.
    let a3 = queue_changes(&app, &alice, 3, 1).await;
    let b2 = queue_changes(&app, &bob, 12, 1).await;
    app.advance(30);
    app.drain().await;
    assert_eq!(app.delivery(&a3[0].0).await.state, DeliveryState::Held);
    assert_eq!(app.delivery(&b2[0].0).await.state, DeliveryState::Delivered);
    assert_eq!(app.ehr.control_ids_of(&alice.mrn).len(), 1);

    // What the admin sees: the parked one and the two held behind it (no message text).
    let (status, parked) = app
        .call_api(Method::GET, "/deliveries?state=parked", "admin")
        .await;
    assert_eq!(status, 200, "{parked:#}");
    assert_eq!(parked["deliveries"][0]["delivery_id"], a[0].0.as_str());
    assert_eq!(parked["deliveries"][0]["last_outcome"], "rejected_AR");
    assert!(!parked.to_string().contains("MRN-alice"), "{parked:#}");
    let (_, held) = app
        .call_api(Method::GET, "/deliveries?state=held", "admin")
        .await;
    assert_eq!(held["deliveries"].as_array().map(Vec::len), Some(2));
    // Only an admin redrives, only a parked delivery, only one that exists.
    let redrive = |id: &str| format!("/deliveries/{id}/redrive");
    let (status, _) = app.call_api(Method::POST, &redrive(&a[0].0), "staff").await;
    assert_eq!(status, 403);
    let (status, _) = app.call_api(Method::POST, &redrive(&a[1].0), "admin").await;
    assert_eq!(status, 409, "a held delivery goes with its parked one");
    let (status, _) = app
        .call_api(Method::POST, &redrive("no-such-delivery"), "admin")
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.delivery(&a[1].0).await.state, DeliveryState::Held);

    // The admin redrives the parked one: it and the held ones go, in order.
    let (status, body) = app.call_api(Method::POST, &redrive(&a[0].0), "admin").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(
        body["redriven"],
        serde_json::json!([a[0].0, a[1].0, a3[0].0])
    );
    let audit = app.audit().await;
    let redriven = listing::first_with_action(&audit, "delivery.redriven");
    assert_eq!(redriven["actor"]["user"], "dana.admin");
    assert_eq!(redriven["detail"]["delivery_id"], a[0].0.as_str());
    app.drain().await;
    let first = a[0].1.clone();
    assert_eq!(
        app.ehr.control_ids_of(&alice.mrn),
        [first.clone(), first, a[1].1.clone(), a3[0].1.clone()]
    );
    for (id, control_id) in a.iter().chain(&a3) {
        assert_eq!(app.delivery(id).await.state, DeliveryState::Delivered);
        assert_eq!(app.ehr.accepted(control_id), 1);
    }
}

#[tokio::test]
async fn a_duplicate_webhook_makes_one_delivery() {
    let app = spawn_outbound().await;
    let body = lead_payload(SAMPLE_LEAD, "MRN20001", &modified(1));
    let id = app.queue_one(&body).await;
    for _ in 0..2 {
        let again = app.lead_update(&body).await;
        assert!(again.delivery_ids().is_empty());
        assert_eq!(again.body["StatusReason"], "duplicate webhook; nothing new");
    }
    assert_eq!(app.drain().await, 1);
    // ...also once it was delivered.
    assert!(app.lead_update(&body).await.delivery_ids().is_empty());
    assert_eq!(app.drain().await, 0);
    assert_eq!(app.ehr.arrivals().len(), 1);
    assert_eq!(app.deliveries().await.len(), 1);
    assert_eq!(app.delivery(&id).await.state, DeliveryState::Delivered);
    // A later modification of the same lead is new.
    app.queue_one(&lead_payload(SAMPLE_LEAD, "MRN20001", &modified(2)))
        .await;
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.ehr.arrivals().len(), 2);
}

#[tokio::test]
async fn a_queue_failure_after_recording_answers_503_and_the_crms_retry_delivers_once() {
    let app = spawn_outbound().await;
    let body = lead_payload(SAMPLE_LEAD, "MRN20001", &modified(1));

    app.queue.fail_next(1);
    let reply = app.lead_update(&body).await;
    reply.assert_problem(503);
    // Recorded, but not on the queue.
    let recorded = app.deliveries().await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].state, DeliveryState::Queued);
    assert_eq!(app.drain().await, 0);

    // LeadSquared retries: the retry is a duplicate, which puts the recorded delivery on the
    // queue; a second failure on the way is answered 503 again.
    app.queue.fail_next(1);
    app.lead_update(&body).await.assert_problem(503);
    let retry = app.lead_update(&body).await;
    assert!(retry.delivery_ids().is_empty(), "{:#}", retry.body);
    assert_eq!(app.drain().await, 1);
    // The CRM's last retry comes after delivery: nothing more.
    assert!(app.lead_update(&body).await.delivery_ids().is_empty());
    assert_eq!(app.drain().await, 0);

    let arrivals = app.ehr.arrivals();
    assert_eq!(arrivals.len(), 1);
    assert_eq!(arrivals[0].control_id, recorded[0].control_id.as_str());
    assert_eq!(
        app.delivery(recorded[0].delivery_id.as_str()).await.state,
        DeliveryState::Delivered
    );
}

#[tokio::test]
async fn a_delivery_whose_enqueue_failed_and_is_never_retried_is_requeued_once() {
    let app = spawn_outbound().await;
    app.queue.fail_next(1);
    app.lead_update(&lead_payload(SAMPLE_LEAD, "MRN20001", &modified(1)))
        .await
        .assert_problem(503);
    // Too recent to be called stale.
    assert_eq!(
        delivery::requeue_stale(&app.ctx, chrono::Duration::minutes(2))
            .await
            .expect("requeue"),
        0
    );
    app.advance(3 * 60);
    assert_eq!(
        delivery::requeue_stale(&app.ctx, chrono::Duration::minutes(2))
            .await
            .expect("requeue"),
        1
    );
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.ehr.arrivals().len(), 1);
    // Delivered deliveries are not stale.
    app.advance(3 * 60);
    assert_eq!(
        delivery::requeue_stale(&app.ctx, chrono::Duration::minutes(2))
            .await
            .expect("requeue"),
        0
    );
}

/// A second worker process on the same database file: its own connection to the file, queue
/// handle and MLLP connection to the EHR; the same clock.
fn second_worker(app: &OutboundApp) -> Arc<Context> {
    let db = SqliteDb::open(app.app.db_path()).expect("open the database again");
    Arc::new(Context::from_embedded(
        &db,
        app.app.mailer.clone(),
        app.app.clock.clone(),
    ))
}

#[tokio::test]
async fn two_workers_deliver_each_message_once_in_each_patients_order() {
    let app = spawn_outbound().await;
    let patients: Vec<Patient> = (0..8).map(|i| patient(&format!("p{i}"))).collect();
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    for (i, p) in patients.iter().enumerate() {
        let queued = queue_changes(&app, p, u32::try_from(i).unwrap() * 10, 4).await;
        expected.insert(p.mrn.clone(), control_ids(&queued));
    }
    // Some patients' first messages fail once: the retries interleave with the other worker.
    app.ehr.script(&expected["MRN-p0"][0], &[EhrReply::Ae]);
    app.ehr
        .script(&expected["MRN-p3"][0], &[EhrReply::WrongControlId]);

    let workers = [Arc::clone(&app.ctx), second_worker(&app)];
    for round in 0..4u32 {
        let tasks: Vec<_> = workers
            .iter()
            .map(|ctx| {
                let ctx = Arc::clone(ctx);
                tokio::spawn(async move {
                    let mut handled = 0;
                    loop {
                        let n = delivery::drain_once(&ctx).await.expect("drain");
                        if n == 0 {
                            return handled;
                        }
                        handled += n;
                    }
                })
            })
            .collect();
        // Meanwhile the CRM repeats some webhooks.
        for (i, p) in patients.iter().enumerate().take(3) {
            let again = app
                .lead_update(&p.change(u32::try_from(i).unwrap() * 10 + round))
                .await;
            assert_eq!(again.status, 200);
        }
        for task in tasks {
            task.await.expect("worker");
        }
        app.advance(60);
    }

    let deliveries = app.deliveries().await;
    assert_eq!(deliveries.len(), 32);
    assert!(
        deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Delivered),
        "{:?}",
        deliveries
            .iter()
            .map(|d| (d.delivery_id.as_str(), d.state))
            .collect::<Vec<_>>()
    );
    for (mrn, control_ids) in &expected {
        let mut arrived = app.ehr.control_ids_of(mrn);
        for control_id in control_ids {
            assert_eq!(app.ehr.accepted(control_id), 1, "{mrn} {control_id}");
        }
        // Order: after removing the failed attempts' resends, each patient's messages arrive in
        // the order the webhooks came.
        arrived.dedup();
        assert_eq!(&arrived, control_ids, "{mrn}");
    }
    let total = app.ehr.arrivals().len();
    assert_eq!(total, 32 + 2, "32 messages, two of them sent twice");
}

#[tokio::test]
async fn the_serve_worker_sends_a_webhooks_message_at_once_not_at_its_next_poll() {
    let app = spawn_outbound().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Polling once an hour: only the wake-up on enqueue can deliver within the test's wait.
    let worker = tokio::spawn(connector_app::jobs::worker::run(
        Arc::clone(&app.ctx),
        delivery::EhrDelivery,
        std::time::Duration::from_secs(3600),
        stopped,
    ));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let id = app.queue_one(&patient("fay").change(1)).await;
    let began = std::time::Instant::now();
    while app.ehr.arrivals().is_empty() {
        assert!(
            began.elapsed() < std::time::Duration::from_secs(20),
            "the worker slept through the enqueue"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.send(true).expect("stop the worker");
    worker.await.expect("worker");
    assert_eq!(app.delivery(&id).await.state, DeliveryState::Delivered);
}
