//! `DeliveryStore` cases: accepting webhooks (once), claiming deliveries in every state,
//! finishing attempts, parking (which blocks the patient's group, so its later deliveries are
//! held), redriving, listing, and the `crm_outbound` audit entry each write carries (and a
//! refused write does not). Every instant is a fixed fixture time: leases lapse and retries
//! fall due because a later `now` is passed, never by sleeping.
//!
//! Message texts carry the fixture patient's PHI, so the no-PHI-in-logs tests that run this
//! suite catch an adapter that logs them.

use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, LogType};
use connector_domain::delivery::{AttemptEnd, Delivery, DeliveryClaim, DeliveryState, WebhookKey};
use connector_domain::ports::{DeliveryFinish, LeaseTerms};
use serde_json::json;

use super::flows::{channel_id, flow_id};
use super::{
    Case, DeliveryStoreSet, assert_claim_races, assert_conflict, assert_newest_since,
    assert_not_found, audit_entries, cases, lease,
};
use crate::fixtures;
use crate::fixtures::{delivery, delivery_id as id, webhook_key as key};

mod parking;

pub(super) fn cases() -> Vec<Case<DeliveryStoreSet>> {
    let mut all = cases![
        deliveries_accepted_webhook_round_trips_with_its_audit_entry,
        deliveries_webhook_without_deliveries_is_recorded_once,
        deliveries_repeated_webhook_conflicts_and_writes_nothing,
        deliveries_webhook_keys_differ_by_every_part,
        deliveries_claim_of_a_queued_delivery_is_granted_with_a_lease,
        deliveries_claim_while_leased_is_busy_until_the_lease_lapses,
        deliveries_claim_of_a_retry_is_busy_until_due_then_granted,
        deliveries_claim_of_a_settled_delivery_changes_nothing,
        deliveries_claim_of_an_unknown_delivery_is_not_found,
        deliveries_concurrent_claims_grant_one,
        deliveries_finish_records_the_end_and_its_audit_entry,
        deliveries_finish_with_a_stale_attempt_conflicts_and_writes_nothing,
    ];
    all.extend(parking::cases());
    all
}

/// A `crm_outbound` audit entry at `at` about `action`.
fn audit(action: &str, at: i64, detail: serde_json::Value) -> AuditEntry {
    fixtures::crm_outbound_audit(action, at).with_detail(detail)
}

/// Accepts a webhook for `lead` (version `v<at>`) at `at` with `deliveries`; returns its key
/// and audit entry.
pub(super) async fn accept(
    s: &DeliveryStoreSet,
    lead: &str,
    at: i64,
    deliveries: &[Delivery],
) -> (WebhookKey, AuditEntry) {
    let key = key(lead, &format!("v{at}"));
    let entry = audit(
        "webhook.accepted",
        at,
        json!({ "entity_id": lead, "deliveries": deliveries.len() }),
    );
    s.deliveries
        .accept_webhook(&key, deliveries, &entry)
        .await
        .expect("a new webhook is accepted");
    (key, entry)
}

/// A claim refused until `until`.
fn busy_until(until: i64) -> DeliveryClaim {
    DeliveryClaim::Busy {
        until: fixtures::at(until),
    }
}

async fn get(s: &DeliveryStoreSet, delivery: &str) -> Delivery {
    s.deliveries
        .get(&id(delivery))
        .await
        .unwrap()
        .expect("the delivery exists")
}

/// Accepts webhook `1` at 0 with [`new_deliveries`] of `items`.
async fn accept_new(s: &DeliveryStoreSet, items: &[(&str, &str)]) {
    accept(s, "1", 0, &new_deliveries(items)).await;
}

/// New deliveries accepted at 0, one for each (id, group) of `items`.
fn new_deliveries(items: &[(&str, &str)]) -> Vec<Delivery> {
    items
        .iter()
        .map(|(id, group)| delivery(id, group, 0))
        .collect()
}

pub(super) async fn claim(s: &DeliveryStoreSet, delivery: &str, at: i64) -> DeliveryClaim {
    s.deliveries
        .claim(&id(delivery), LeaseTerms::new(fixtures::at(at), lease()))
        .await
        .unwrap()
}

/// Claims `delivery` at `at`, expecting a grant; returns the granted record.
/// Asserts that a claim of `delivery` at `at` answers `expected` (`why`), and that the store then
/// holds the delivery that answer carries.
async fn assert_claimed(
    s: &DeliveryStoreSet,
    delivery: &str,
    at: i64,
    expected: DeliveryClaim,
    why: &str,
) {
    assert_eq!(claim(s, delivery, at).await, expected, "{why}");
    let (DeliveryClaim::Granted(stored) | DeliveryClaim::Settled(stored)) = expected else {
        panic!("{expected:?} carries no delivery");
    };
    assert_eq!(get(s, delivery).await, stored, "{why}: as stored");
}

/// Asserts that claims of `delivery` at each of `ats` are busy until `until` (`why`) and change
/// nothing: the store still holds `unchanged`.
async fn assert_busy(
    s: &DeliveryStoreSet,
    delivery: &str,
    ats: &[i64],
    until: i64,
    unchanged: &Delivery,
    why: &str,
) {
    for at in ats {
        assert_eq!(
            claim(s, delivery, *at).await,
            busy_until(until),
            "a claim at {at}, {why}"
        );
    }
    assert_eq!(
        &get(s, delivery).await,
        unchanged,
        "a busy claim neither counts an attempt nor extends the lease"
    );
}

async fn granted(s: &DeliveryStoreSet, delivery: &str, at: i64) -> Delivery {
    match claim(s, delivery, at).await {
        DeliveryClaim::Granted(d) => d,
        other => panic!("expected Granted for {delivery} at {at}, got {other:?}"),
    }
}

/// Ends attempt `attempt` of `delivery` at `at`; returns the audit entry and the outcome.
async fn finish(
    s: &DeliveryStoreSet,
    delivery: &str,
    attempt: u32,
    end: &AttemptEnd,
    outcome: &str,
    at: i64,
) -> (AuditEntry, Result<Delivery, StoreError>) {
    let entry = audit(
        "delivery.finished",
        at,
        json!({ "delivery_id": delivery, "attempt": attempt, "outcome": outcome }),
    );
    let result = s
        .deliveries
        .finish(DeliveryFinish {
            id: &id(delivery),
            attempt,
            end,
            outcome,
            now: fixtures::at(at),
            audit: &entry,
        })
        .await;
    (entry, result)
}

/// Claims `delivery` at `at` and parks that attempt as `rejected_AR`; returns the parked record.
pub(super) async fn park(s: &DeliveryStoreSet, delivery: &str, at: i64) -> Delivery {
    let attempt = granted(s, delivery, at).await.attempts;
    let (_, result) = finish(s, delivery, attempt, &AttemptEnd::Park, "rejected_AR", at).await;
    result.expect("the current attempt parks")
}

async fn redrive(
    s: &DeliveryStoreSet,
    delivery: &str,
    at: i64,
) -> (AuditEntry, Result<Vec<Delivery>, StoreError>) {
    let entry = audit("delivery.redriven", at, json!({ "delivery_id": delivery }));
    let result = s
        .deliveries
        .redrive(&id(delivery), fixtures::at(at), &entry)
        .await;
    (entry, result)
}

/// Every `crm_outbound` audit entry, newest first.
async fn outbound_audits(s: &DeliveryStoreSet) -> Vec<AuditEntry> {
    audit_entries(&*s.audit, LogType::CrmOutbound).await
}

/// `delivery` as a claim granted attempt `attempts` at `at` leaves it.
fn delivering(delivery: &Delivery, attempts: u32, at: i64) -> Delivery {
    Delivery {
        state: DeliveryState::Delivering,
        attempts,
        lease_until: Some(fixtures::at(at) + lease()),
        next_attempt_at: None,
        held_behind: None,
        updated_at: fixtures::at(at),
        ..delivery.clone()
    }
}

async fn deliveries_accepted_webhook_round_trips_with_its_audit_entry(s: DeliveryStoreSet) {
    let first = delivery("dlv-0001", "lead-1", 0);
    let second = Delivery {
        flow_id: flow_id("lead-to-siu"),
        event: "SIU^S12".into(),
        ..delivery("dlv-0002", "lead-1", 0)
    };
    assert_eq!(s.deliveries.get(&first.delivery_id).await.unwrap(), None);
    let (key, entry) = accept(&s, "1", 0, &[first.clone(), second.clone()]).await;
    assert_eq!(get(&s, "dlv-0001").await, first, "stored in full");
    assert_eq!(get(&s, "dlv-0002").await, second, "stored in full");
    assert_eq!(
        s.deliveries.webhook_deliveries(&key).await.unwrap(),
        vec![first, second],
        "the webhook's deliveries, in creation order"
    );
    assert_eq!(
        s.deliveries
            .webhook_deliveries(&self::key("1", "v999"))
            .await
            .unwrap(),
        Vec::<Delivery>::new(),
        "an unknown webhook has none"
    );
    assert_eq!(
        outbound_audits(&s).await,
        vec![entry],
        "audited in the same write"
    );
}

async fn deliveries_webhook_without_deliveries_is_recorded_once(s: DeliveryStoreSet) {
    // An echo, or an event no flow takes: recorded so that its repeats are recognised.
    let (key, entry) = accept(&s, "1", 0, &[]).await;
    assert_eq!(
        s.deliveries.webhook_deliveries(&key).await.unwrap(),
        Vec::<Delivery>::new()
    );
    let again = audit("webhook.accepted", 5, json!({}));
    assert_conflict(s.deliveries.accept_webhook(&key, &[], &again).await);
    assert_eq!(outbound_audits(&s).await, vec![entry]);
}

async fn deliveries_repeated_webhook_conflicts_and_writes_nothing(s: DeliveryStoreSet) {
    let first = delivery("dlv-0001", "lead-1", 0);
    let (key, entry) = accept(&s, "1", 0, std::slice::from_ref(&first)).await;
    // The CRM sends the same webhook again; the intake built a new delivery for it.
    let repeat = delivery("dlv-0002", "lead-1", 30);
    let repeat_entry = audit("webhook.accepted", 30, json!({}));
    assert_conflict(
        s.deliveries
            .accept_webhook(&key, std::slice::from_ref(&repeat), &repeat_entry)
            .await,
    );
    assert_eq!(
        s.deliveries.get(&repeat.delivery_id).await.unwrap(),
        None,
        "no delivery written"
    );
    assert_eq!(
        s.deliveries.webhook_deliveries(&key).await.unwrap(),
        vec![first.clone()],
        "the first acceptance's deliveries are kept"
    );
    assert_eq!(get(&s, "dlv-0001").await, first);
    assert_eq!(
        outbound_audits(&s).await,
        vec![entry],
        "no audit entry written"
    );
}

async fn deliveries_webhook_keys_differ_by_every_part(s: DeliveryStoreSet) {
    let base = key("1", "2026-11-21 10:00:00");
    let others = [
        WebhookKey {
            channel_id: channel_id("south-ehr"),
            ..base.clone()
        },
        WebhookKey {
            entity: "activity".into(),
            ..base.clone()
        },
        WebhookKey {
            entity_id: "2".into(),
            ..base.clone()
        },
        WebhookKey {
            version: "2026-11-21 10:00:01".into(),
            ..base.clone()
        },
    ];
    let entry = audit("webhook.accepted", 0, json!({}));
    s.deliveries
        .accept_webhook(&base, &[delivery("dlv-0000", "lead-1", 0)], &entry)
        .await
        .unwrap();
    for (n, other) in others.iter().enumerate() {
        let d = delivery(&format!("dlv-000{}", n + 1), "lead-1", 0);
        let entry = audit("webhook.accepted", 0, json!({}));
        s.deliveries
            .accept_webhook(other, std::slice::from_ref(&d), &entry)
            .await
            .unwrap_or_else(|e| panic!("{other:?} is a webhook of its own: {e:?}"));
        assert_eq!(
            s.deliveries.webhook_deliveries(other).await.unwrap(),
            vec![d]
        );
    }
    assert_eq!(outbound_audits(&s).await.len(), 5);
}

async fn deliveries_claim_of_a_queued_delivery_is_granted_with_a_lease(s: DeliveryStoreSet) {
    let queued = delivery("dlv-0001", "lead-1", 0);
    accept(&s, "1", 0, std::slice::from_ref(&queued)).await;
    let expected = DeliveryClaim::Granted(delivering(&queued, 1, 10));
    let why = "attempt 1, leased until now + lease";
    assert_claimed(&s, "dlv-0001", 10, expected, why).await;
}

async fn deliveries_claim_while_leased_is_busy_until_the_lease_lapses(s: DeliveryStoreSet) {
    let queued = delivery("dlv-0001", "lead-1", 0);
    accept(&s, "1", 0, std::slice::from_ref(&queued)).await;
    let first = granted(&s, "dlv-0001", 0).await;
    let why = "while the lease lives";
    assert_busy(&s, "dlv-0001", &[0, 30, 59], 60, &first, why).await;
    // The worker crashed: its lease ends at 60, and `lease_until <= now` has lapsed.
    let second = DeliveryClaim::Granted(delivering(&queued, 2, 60));
    assert_claimed(&s, "dlv-0001", 60, second, "the lease lapsed").await;
    assert_eq!(
        claim(&s, "dlv-0001", 61).await,
        busy_until(120),
        "the new lease holds"
    );
}

async fn deliveries_claim_of_a_retry_is_busy_until_due_then_granted(s: DeliveryStoreSet) {
    let queued = delivery("dlv-0001", "lead-1", 0);
    accept(&s, "1", 0, std::slice::from_ref(&queued)).await;
    granted(&s, "dlv-0001", 0).await;
    let retry = AttemptEnd::Retry {
        next_attempt_at: fixtures::at(100),
    };
    let (_, result) = finish(&s, "dlv-0001", 1, &retry, "no_ack", 5).await;
    let retrying = Delivery {
        state: DeliveryState::Retrying,
        attempts: 1,
        last_outcome: Some("no_ack".into()),
        lease_until: None,
        next_attempt_at: Some(fixtures::at(100)),
        held_behind: None,
        updated_at: fixtures::at(5),
        ..queued.clone()
    };
    assert_eq!(result.unwrap(), retrying);
    let why = "before the retry is due";
    assert_busy(&s, "dlv-0001", &[5, 99], 100, &retrying, why).await;
    let second = Delivery {
        last_outcome: Some("no_ack".into()),
        ..delivering(&queued, 2, 100)
    };
    let why = "due: attempt 2, the due time cleared, the last outcome kept";
    assert_claimed(&s, "dlv-0001", 100, DeliveryClaim::Granted(second), why).await;
}

async fn deliveries_claim_of_a_settled_delivery_changes_nothing(s: DeliveryStoreSet) {
    accept_new(
        &s,
        &[
            ("dlv-0001", "lead-1"),
            ("dlv-0002", "lead-2"),
            ("dlv-0003", "lead-2"),
        ],
    )
    .await;
    granted(&s, "dlv-0001", 1).await;
    let (_, result) = finish(&s, "dlv-0001", 1, &AttemptEnd::Delivered, "delivered", 2).await;
    let delivered = result.unwrap();
    let parked = park(&s, "dlv-0002", 3).await;
    let DeliveryClaim::Settled(held) = claim(&s, "dlv-0003", 4).await else {
        panic!("a claim behind a parked delivery is settled");
    };
    for (name, settled) in [
        ("dlv-0001", delivered),
        ("dlv-0002", parked),
        ("dlv-0003", held),
    ] {
        for at in [10, 86_400] {
            assert_eq!(
                claim(&s, name, at).await,
                DeliveryClaim::Settled(settled.clone()),
                "{name} ({:?}) at {at}",
                settled.state
            );
        }
        assert_eq!(
            get(&s, name).await,
            settled,
            "{name}: such claims change nothing"
        );
    }
}

async fn deliveries_claim_of_an_unknown_delivery_is_not_found(s: DeliveryStoreSet) {
    assert_not_found(
        s.deliveries
            .claim(&id("dlv-0404"), LeaseTerms::new(fixtures::at(0), lease()))
            .await,
    );
    accept(&s, "1", 0, &[delivery("dlv-0001", "lead-1", 0)]).await;
    assert_not_found(
        s.deliveries
            .claim(&id("dlv-0404"), LeaseTerms::new(fixtures::at(0), lease()))
            .await,
    );
}

async fn deliveries_concurrent_claims_grant_one(s: DeliveryStoreSet) {
    let queued = delivery("dlv-0001", "lead-1", 0);
    accept(&s, "1", 0, std::slice::from_ref(&queued)).await;
    let claim = |at| {
        let store = s.deliveries.clone();
        async move {
            let claimed = id("dlv-0001");
            let claim = store.claim(&claimed, LeaseTerms::new(fixtures::at(at), lease()));
            claim.await.unwrap()
        }
    };
    let granted_or_busy = |round, at| {
        let until = fixtures::at(at) + lease();
        let winner = delivering(&queued, round, at);
        (
            DeliveryClaim::Granted(winner),
            DeliveryClaim::Busy { until },
        )
    };
    let (s, queued) = (&s, &queued);
    let stored = move |round, at| async move {
        assert_eq!(get(s, "dlv-0001").await, delivering(queued, round, at));
    };
    assert_claim_races([0, 60], claim, granted_or_busy, stored).await;
}

async fn deliveries_finish_records_the_end_and_its_audit_entry(s: DeliveryStoreSet) {
    let queued = delivery("dlv-0001", "lead-1", 0);
    accept(&s, "1", 0, std::slice::from_ref(&queued)).await;
    let accepted = outbound_audits(&s).await;

    granted(&s, "dlv-0001", 10).await;
    let retry = AttemptEnd::Retry {
        next_attempt_at: fixtures::at(40),
    };
    let (retry_entry, result) = finish(&s, "dlv-0001", 1, &retry, "rejected_AE", 12).await;
    let retrying = result.unwrap();
    assert_eq!(
        retrying,
        Delivery {
            state: DeliveryState::Retrying,
            attempts: 1,
            last_outcome: Some("rejected_AE".into()),
            lease_until: None,
            next_attempt_at: Some(fixtures::at(40)),
            updated_at: fixtures::at(12),
            ..queued.clone()
        }
    );
    assert_eq!(get(&s, "dlv-0001").await, retrying);

    granted(&s, "dlv-0001", 40).await;
    let (done_entry, result) =
        finish(&s, "dlv-0001", 2, &AttemptEnd::Delivered, "delivered", 41).await;
    let delivered = result.unwrap();
    assert_eq!(
        delivered,
        Delivery {
            state: DeliveryState::Delivered,
            attempts: 2,
            last_outcome: Some("delivered".into()),
            lease_until: None,
            next_attempt_at: None,
            updated_at: fixtures::at(41),
            ..queued
        },
        "the lease and the due time cleared, the attempts kept"
    );
    assert_eq!(get(&s, "dlv-0001").await, delivered);
    let mut expected = vec![done_entry.clone(), retry_entry];
    expected.extend(accepted);
    assert_eq!(
        outbound_audits(&s).await,
        expected,
        "each finish is audited, newest first"
    );
    assert_newest_since(&*s.audit, fixtures::at(41), done_entry).await;
}

async fn deliveries_finish_with_a_stale_attempt_conflicts_and_writes_nothing(s: DeliveryStoreSet) {
    let (_, unknown) = finish(&s, "dlv-0404", 1, &AttemptEnd::Delivered, "delivered", 0).await;
    assert_conflict(unknown);

    accept_new(&s, &[("dlv-0001", "lead-1"), ("dlv-0002", "lead-1")]).await;
    let accepted = outbound_audits(&s).await;
    let (_, never_claimed) = finish(&s, "dlv-0001", 0, &AttemptEnd::Park, "rejected_AR", 1).await;
    assert_conflict(never_claimed);
    let (_, never_claimed) = finish(&s, "dlv-0001", 1, &AttemptEnd::Park, "rejected_AR", 1).await;
    assert_conflict(never_claimed);
    assert_eq!(get(&s, "dlv-0001").await, delivery("dlv-0001", "lead-1", 0));

    // Worker A stalls past its lease; worker B takes the delivery over (attempt 2).
    granted(&s, "dlv-0001", 0).await;
    let b = granted(&s, "dlv-0001", 60).await;
    for (attempt, end) in [
        (1, AttemptEnd::Park),
        (1, AttemptEnd::Delivered),
        (
            1,
            AttemptEnd::Retry {
                next_attempt_at: fixtures::at(200),
            },
        ),
        (3, AttemptEnd::Park),
    ] {
        let (_, stale) = finish(&s, "dlv-0001", attempt, &end, "rejected_AR", 61).await;
        assert_conflict(stale);
    }
    assert_eq!(
        get(&s, "dlv-0001").await,
        b,
        "the current attempt is untouched"
    );
    assert_eq!(
        outbound_audits(&s).await,
        accepted,
        "a refused finish writes no audit entry"
    );
    assert!(
        matches!(claim(&s, "dlv-0002", 62).await, DeliveryClaim::Granted(_)),
        "a refused park blocks no group"
    );

    let (entry, current) = finish(&s, "dlv-0001", 2, &AttemptEnd::Delivered, "delivered", 63).await;
    let delivered = current.unwrap();
    let (_, again) = finish(&s, "dlv-0001", 2, &AttemptEnd::Park, "rejected_AR", 64).await;
    assert_conflict(again);
    assert_eq!(
        get(&s, "dlv-0001").await,
        delivered,
        "a finished attempt cannot be finished again"
    );
    assert_eq!(outbound_audits(&s).await.first(), Some(&entry));
}
