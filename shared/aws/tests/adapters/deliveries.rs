//! Outbound deliveries and the CRM write log on the flows table, beyond the shared contract:
//! requests per operation, the group block's atomicity under racing claims, parks and
//! redrives, redrives larger than one transaction, the adapter's limits, and TTL attributes.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use connector_aws::{
    AwsAdapters, DEFAULT_DELIVERY_RETENTION, MAX_WEBHOOK_DELIVERIES, RequestCounter,
};
use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, LogType};
use connector_domain::crm::CrmField;
use connector_domain::delivery::{
    AttemptEnd, CrmWrite, Delivery, DeliveryClaim, DeliveryState, ECHO_WINDOW, WebhookKey,
};
use connector_domain::phi::Phi;
use connector_domain::ports::{AuditLog, CrmWriteLog, DeliveryStore};
use connector_domain::ports::{DeliveryFinish, LeaseTerms};
use connector_testkit::fixtures;
use connector_testkit::fixtures::{delivery, delivery_id as id, webhook_key as key};
use connector_testkit::race::together;

use crate::common;

fn lease() -> Duration {
    Duration::seconds(60)
}

fn entry(at: i64) -> AuditEntry {
    fixtures::audit_entry(LogType::CrmOutbound, fixtures::at(at))
}

fn requests(counter: &RequestCounter) -> Vec<(String, u64)> {
    counter.by_operation().into_iter().collect()
}

/// Asserts that the requests counted so far are `list` (operation, count), for `why`.
#[track_caller]
fn assert_requests(counter: &RequestCounter, list: &[(&str, u64)], why: &str) {
    assert_eq!(requests(counter), ops(list), "{why}");
}

/// Resets `counter`, runs `step` and asserts that it cost exactly `list` (operation, count), for
/// `why`; what the step returned.
async fn costs<T>(
    counter: &RequestCounter,
    list: &[(&str, u64)],
    why: &str,
    step: impl std::future::Future<Output = T>,
) -> T {
    counter.reset();
    let out = step.await;
    assert_requests(counter, list, why);
    out
}

fn ops(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter()
        .map(|(op, count)| (format!("dynamodb.{op}"), *count))
        .collect()
}

async fn accept(a: &AwsAdapters, lead: &str, at: i64, deliveries: &[Delivery]) -> WebhookKey {
    let k = key(lead, &format!("v{at}"));
    a.deliveries()
        .accept_webhook(&k, deliveries, &entry(at))
        .await
        .unwrap();
    k
}

/// Accepts webhook `1` at instant 0 with one delivery for lead-1 per name, in order.
async fn accept_for_lead_1(a: &AwsAdapters, names: &[&str]) -> WebhookKey {
    accept(a, "1", 0, &fixtures::deliveries("lead-1", names)).await
}

async fn claim(store: &dyn DeliveryStore, name: &str, at: i64) -> DeliveryClaim {
    store
        .claim(&id(name), LeaseTerms::new(fixtures::at(at), lease()))
        .await
        .unwrap()
}

/// Ends attempt `attempt` of `name` at `at` with `end` (the outcome word `outcome`), audited.
async fn end_attempt(
    store: &dyn DeliveryStore,
    name: &str,
    attempt: u32,
    end: AttemptEnd,
    outcome: &str,
    at: i64,
) -> Result<Delivery, StoreError> {
    store
        .finish(DeliveryFinish {
            id: &id(name),
            attempt,
            end: &end,
            outcome,
            now: fixtures::at(at),
            audit: &entry(at),
        })
        .await
}

async fn park(store: &dyn DeliveryStore, name: &str, at: i64) -> Delivery {
    let DeliveryClaim::Granted(d) = claim(store, name, at).await else {
        panic!("{name} is granted");
    };
    end_attempt(store, name, d.attempts, AttemptEnd::Park, "rejected_AR", at)
        .await
        .unwrap()
}

/// The raw item at (`pk`, `sk`) of the flows table.
async fn raw(
    a: &AwsAdapters,
    pk: &str,
    sk: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    common::raw_item(a, &a.config().tables.flows, &[("pk", pk), ("sk", sk)]).await
}

fn epoch(at: DateTime<Utc>, plus: std::time::Duration) -> AttributeValue {
    AttributeValue::N((at.timestamp() + plus.as_secs() as i64).to_string())
}

#[tokio::test]
async fn each_operation_costs_the_documented_requests() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let store = a.deliveries();
    let batch = [
        delivery("dlv-1", "lead-1", 0),
        delivery("dlv-2", "lead-1", 0),
        delivery("dlv-3", "lead-1", 0),
        delivery("dlv-4", "lead-2", 0),
    ];
    let k = key("1", "v0");
    let one_transaction = [("TransactWriteItems", 1)];
    let entry_0 = entry(0);
    let accepted = store.accept_webhook(&k, &batch, &entry_0);
    costs(&counter, &one_transaction, "accept", accepted)
        .await
        .unwrap();

    let got = costs(&counter, &[("GetItem", 1)], "get", store.get(&id("dlv-1"))).await;
    got.unwrap().unwrap();

    let listed = costs(
        &counter,
        &[("BatchGetItem", 1), ("GetItem", 1)],
        "webhook deliveries",
        store.webhook_deliveries(&k),
    )
    .await;
    assert_eq!(listed.unwrap().len(), 4);
    let unknown_key = key("9", "v0");
    let unknown = store.webhook_deliveries(&unknown_key);
    let unknown = costs(&counter, &[("GetItem", 1)], "unknown webhook", unknown).await;
    assert!(unknown.unwrap().is_empty());

    let read_then_write = [("GetItem", 1), ("TransactWriteItems", 1)];
    let granted = claim(&store, "dlv-1", 1);
    costs(&counter, &read_then_write, "granted claim", granted).await;
    let busy = costs(
        &counter,
        &[("GetItem", 1)],
        "busy claim",
        claim(&store, "dlv-1", 2),
    )
    .await;
    assert!(matches!(busy, DeliveryClaim::Busy { .. }));

    let parked = end_attempt(&store, "dlv-1", 1, AttemptEnd::Park, "rejected_AR", 3);
    let parked = costs(
        &counter,
        &read_then_write,
        "park (the group's first)",
        parked,
    )
    .await;
    parked.unwrap();

    let held = costs(
        &counter,
        &[("GetItem", 1), ("TransactWriteItems", 2)],
        "held claim: the refused check returns the block, no extra read",
        claim(&store, "dlv-2", 4),
    )
    .await;
    let DeliveryClaim::Settled(held) = held else {
        panic!("held");
    };
    assert_eq!(held.state, DeliveryState::Held);
    let settled = claim(&store, "dlv-2", 5);
    let settled = costs(&counter, &[("GetItem", 1)], "settled claim", settled).await;
    assert!(matches!(settled, DeliveryClaim::Settled(_)));

    // dlv-4 (another group) parks; then dlv-3 parks into the already blocked lead-1.
    park(&store, "dlv-4", 6).await;
    claim(&store, "dlv-3", 7).await;
    // dlv-3 was claimed while lead-1 is blocked: it is held, so finishing it conflicts.
    let refused = end_attempt(&store, "dlv-3", 1, AttemptEnd::Park, "rejected_AR", 8);
    let why = "a refused finish reads only";
    let refused = costs(&counter, &[("GetItem", 1)], why, refused).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );

    let one_query = [("Query", 1)];
    let held_ones = store.list(Some(DeliveryState::Held), 10);
    let held_ones = costs(&counter, &one_query, "list one state", held_ones).await;
    assert_eq!(held_ones.unwrap().len(), 2);
    let every = costs(
        &counter,
        &[("Query", 6)],
        "list every state",
        store.list(None, 10),
    )
    .await;
    assert_eq!(every.unwrap().len(), 4);

    let redriven = costs(
        &counter,
        &[
            ("BatchGetItem", 1),
            ("GetItem", 2),
            ("TransactWriteItems", 1),
        ],
        "redrive: the parked delivery, the block, the held ones; one transaction",
        store.redrive(&id("dlv-1"), fixtures::at(9), &entry(9)),
    )
    .await;
    assert_eq!(redriven.unwrap().len(), 3);
    let (dlv_4, entry_10) = (id("dlv-4"), entry(10));
    let nothing_held = store.redrive(&dlv_4, fixtures::at(9), &entry_10);
    let two_reads_then_write = [("GetItem", 2), ("TransactWriteItems", 1)];
    let why = "redrive with nothing held";
    costs(&counter, &two_reads_then_write, why, nothing_held)
        .await
        .unwrap();
}

#[tokio::test]
async fn parking_into_a_blocked_group_checks_the_block_instead() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let store = a.deliveries();
    accept_for_lead_1(&a, &["dlv-1", "dlv-2"]).await;
    claim(&store, "dlv-2", 1).await;
    park(&store, "dlv-1", 2).await;
    let parked = costs(
        &counter,
        &[("GetItem", 1), ("TransactWriteItems", 2)],
        "the put-if-absent fails, the existence check passes",
        end_attempt(&store, "dlv-2", 1, AttemptEnd::Park, "rejected_CR", 3),
    )
    .await;
    assert_eq!(parked.unwrap().state, DeliveryState::Parked);
    let block = raw(&a, "DGROUP#lead-1", "BLOCK").await.unwrap();
    assert_eq!(
        block.get("parked"),
        Some(&AttributeValue::S("dlv-1".into()))
    );
}

/// A claim racing a redrive of its group's parked delivery: whichever commits first, the claim
/// never leaves the delivery held behind a block that no longer exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_racing_a_redrive_is_never_left_held() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let store: Arc<dyn DeliveryStore> = Arc::new(a.deliveries());
    let mut outcomes = std::collections::BTreeMap::<&str, u32>::new();
    for round in 0..12i64 {
        let (parked, later) = (format!("dlv-{round}-a"), format!("dlv-{round}-b"));
        let group = format!("lead-{round}");
        let at = round * 1000;
        accept(
            &a,
            &format!("r{round}"),
            at,
            &[delivery(&parked, &group, at), delivery(&later, &group, at)],
        )
        .await;
        park(store.as_ref(), &parked, at + 1).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let redrive = {
            let (store, barrier, parked) = (store.clone(), barrier.clone(), parked.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .redrive(&id(&parked), fixtures::at(at + 2), &entry(at + 2))
                    .await
                    .unwrap()
            })
        };
        let claimed = {
            let (store, barrier, later) = (store.clone(), barrier.clone(), later.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .claim(&id(&later), LeaseTerms::new(fixtures::at(at + 2), lease()))
                    .await
                    .unwrap()
            })
        };
        let redriven = redrive.await.unwrap();
        let claimed = claimed.await.unwrap();
        let stored = store.get(&id(&later)).await.unwrap().unwrap();
        match claimed {
            // Held first: the redrive requeued it.
            DeliveryClaim::Settled(d) => {
                assert_eq!(d.state, DeliveryState::Held);
                assert_eq!(stored.state, DeliveryState::Queued, "round {round}");
                assert!(redriven.iter().any(|d| d.delivery_id == id(&later)));
                *outcomes.entry("held, then requeued").or_default() += 1;
            }
            // Claimed after the redrive (or before the block was read): granted.
            DeliveryClaim::Granted(d) => {
                assert_eq!(stored, d, "round {round}");
                assert!(!redriven.iter().any(|d| d.delivery_id == id(&later)));
                *outcomes.entry("granted").or_default() += 1;
            }
            DeliveryClaim::Busy { .. } => panic!("round {round}: nothing else holds it"),
        }
        assert!(
            raw(&a, &format!("DGROUP#{group}"), "BLOCK").await.is_none(),
            "round {round}: the block is gone"
        );
    }
    eprintln!("claim vs redrive outcomes: {outcomes:?}");
}

/// Claims racing across a group while one of its deliveries parks: every delivery ends either
/// granted (before the block) or held, and the block lists exactly the held ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_racing_a_park_are_held_exactly_when_the_block_lists_them() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let store: Arc<dyn DeliveryStore> = Arc::new(a.deliveries());
    let names: Vec<String> = (0..8).map(|i| format!("dlv-{i}")).collect();
    let batch: Vec<Delivery> = names.iter().map(|n| delivery(n, "lead-1", 0)).collect();
    accept(&a, "1", 0, &batch).await;
    let DeliveryClaim::Granted(first) = claim(store.as_ref(), "dlv-0", 1).await else {
        panic!("granted");
    };
    // dlv-0 parks while every other delivery of the group is claimed.
    let attempts = first.attempts;
    together(names.len(), |i| {
        let (store, name) = (store.clone(), names[i].clone());
        async move {
            if i == 0 {
                let end = AttemptEnd::Park;
                end_attempt(&*store, &name, attempts, end, "rejected_AR", 2)
                    .await
                    .unwrap();
            } else {
                let at = fixtures::at(2);
                store
                    .claim(&id(&name), LeaseTerms::new(at, lease()))
                    .await
                    .unwrap();
            }
        }
    })
    .await;
    let block = raw(&a, "DGROUP#lead-1", "BLOCK").await.unwrap();
    let listed: std::collections::BTreeSet<String> = match block.get("held") {
        Some(AttributeValue::Ss(ids)) => ids.iter().cloned().collect(),
        None => Default::default(),
        other => panic!("{other:?}"),
    };
    let mut held = std::collections::BTreeSet::new();
    for name in &names[1..] {
        let d = store.get(&id(name)).await.unwrap().unwrap();
        match d.state {
            DeliveryState::Held => {
                assert_eq!(d.held_behind, Some(id("dlv-0")));
                held.insert(name.clone());
            }
            DeliveryState::Delivering => {}
            other => panic!("{name} is {other:?}"),
        }
    }
    assert_eq!(listed, held, "the block lists exactly the held deliveries");
}

#[tokio::test]
async fn a_redrive_larger_than_one_transaction_is_chunked_and_returns_every_delivery() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let store = a.deliveries();
    let names: Vec<String> = (0..121).map(|i| format!("dlv-{i:03}")).collect();
    for (n, chunk) in names.chunks(MAX_WEBHOOK_DELIVERIES).enumerate() {
        let batch: Vec<Delivery> = chunk
            .iter()
            .map(|name| delivery(name, "lead-1", n as i64))
            .collect();
        accept(&a, "1", n as i64, &batch).await;
    }
    park(&store, "dlv-000", 10).await;
    for name in &names[1..] {
        assert!(
            matches!(claim(&store, name, 11).await, DeliveryClaim::Settled(d) if d.state == DeliveryState::Held)
        );
    }
    counter.reset();
    let redriven = store
        .redrive(&id("dlv-000"), fixtures::at(12), &entry(12))
        .await
        .unwrap();
    let got: Vec<String> = redriven
        .iter()
        .map(|d| d.delivery_id.as_str().to_owned())
        .collect();
    assert_eq!(got, names, "all 121, in creation order");
    assert!(redriven.iter().all(|d| d.state == DeliveryState::Queued));
    assert_eq!(
        counter.by_operation().get("dynamodb.TransactWriteItems"),
        Some(&2),
        "120 held: 99 ahead, then 21 with the parked one, the block and the audit entry"
    );
    for name in &names {
        assert_eq!(
            store.get(&id(name)).await.unwrap().unwrap().state,
            DeliveryState::Queued
        );
    }
    assert!(raw(&a, "DGROUP#lead-1", "BLOCK").await.is_none());
}

#[tokio::test]
async fn a_redrive_interrupted_after_a_chunk_returns_the_chunk_when_repeated() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let store = a.deliveries();
    accept_for_lead_1(&a, &["dlv-1", "dlv-2", "dlv-3"]).await;
    park(&store, "dlv-1", 1).await;
    claim(&store, "dlv-2", 2).await;
    claim(&store, "dlv-3", 3).await;
    // What a chunk transaction leaves when the redrive stops after it: dlv-2 queued and moved
    // from the block's `held` to its `requeued` set.
    let flows = &a.config().tables.flows;
    let one = (":one", AttributeValue::N("1".into()));
    common::raw_update(
        &a,
        flows,
        &[("pk", "DGROUP#lead-1"), ("sk", "BLOCK")],
        "SET #rev = #rev + :one DELETE #held :ids ADD #requeued :ids",
        &[
            ("#rev", "rev"),
            ("#held", "held"),
            ("#requeued", "requeued"),
        ],
        &[
            one.clone(),
            (":ids", AttributeValue::Ss(vec!["dlv-2".into()])),
        ],
    )
    .await;
    common::raw_update(
        &a,
        flows,
        &[("pk", "DELIVERY#dlv-2"), ("sk", "DELIVERY")],
        "SET #s = :q, #d = :q, #a = :zero, #rev = #rev + :one REMOVE #h",
        &[
            ("#s", "state"),
            ("#d", "dstate"),
            ("#a", "attempts"),
            ("#rev", "rev"),
            ("#h", "held_behind"),
        ],
        &[
            (":q", AttributeValue::S("queued".into())),
            (":zero", AttributeValue::N("0".into())),
            one,
        ],
    )
    .await;
    let redriven = store
        .redrive(&id("dlv-1"), fixtures::at(4), &entry(4))
        .await
        .unwrap();
    let got: Vec<&str> = redriven.iter().map(|d| d.delivery_id.as_str()).collect();
    assert_eq!(got, ["dlv-1", "dlv-2", "dlv-3"]);
    assert!(redriven.iter().all(|d| d.state == DeliveryState::Queued));
}

#[tokio::test]
async fn refused_webhooks_write_nothing() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let store = a.deliveries();
    let too_many: Vec<Delivery> = (0..=MAX_WEBHOOK_DELIVERIES)
        .map(|i| delivery(&format!("dlv-{i}"), "lead-1", 0))
        .collect();
    let result = store
        .accept_webhook(&key("1", "v0"), &too_many, &entry(0))
        .await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");

    let mut huge = delivery("dlv-huge", "lead-1", 0);
    huge.message = Phi::new("x".repeat(401 * 1024));
    let result = store
        .accept_webhook(&key("1", "v0"), &[huge], &entry(0))
        .await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");

    let mut claimed = delivery("dlv-x", "lead-1", 0);
    claimed.state = DeliveryState::Delivering;
    claimed.attempts = 1;
    claimed.lease_until = Some(fixtures::at(60));
    let result = store
        .accept_webhook(&key("1", "v0"), &[claimed], &entry(0))
        .await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");

    let twice = [
        delivery("dlv-1", "lead-1", 0),
        delivery("dlv-1", "lead-1", 0),
    ];
    let result = store
        .accept_webhook(&key("1", "v0"), &twice, &entry(0))
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(counter.total(""), 0, "refused before any request");

    // A replayed audit entry id cancels the whole transaction.
    let replayed = entry(0);
    a.audit().append(&replayed).await.unwrap();
    let result = store
        .accept_webhook(
            &key("1", "v0"),
            &[delivery("dlv-1", "lead-1", 0)],
            &replayed,
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.get(&id("dlv-1")).await.unwrap(), None);
    assert!(
        raw(&a, "WEBHOOK#north-ehr|lead|1|v0", "WEBHOOK")
            .await
            .is_none()
    );
}

#[tokio::test]
async fn delivered_deliveries_webhooks_and_crm_writes_carry_their_expiry() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let table = a
        .dynamodb_client()
        .describe_table()
        .table_name(&a.config().tables.flows)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let indexes: Vec<_> = table
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name.as_deref())
        .collect();
    assert_eq!(indexes, ["by_delivery_state"]);
    let store = a.deliveries();
    accept_for_lead_1(&a, &["dlv-1", "dlv-2"]).await;
    let webhook = raw(&a, "WEBHOOK#north-ehr|lead|1|v0", "WEBHOOK")
        .await
        .unwrap();
    assert_eq!(
        webhook.get("expires_at"),
        Some(&epoch(fixtures::at(0), DEFAULT_DELIVERY_RETENTION))
    );
    assert_eq!(DEFAULT_DELIVERY_RETENTION.as_secs(), 30 * 86_400);
    assert!(
        !webhook
            .values()
            .any(|v| matches!(v, AttributeValue::S(t) if t.contains(fixtures::LAST_NAME))),
        "the webhook item holds ids, not message text"
    );

    let DeliveryClaim::Granted(d) = claim(&store, "dlv-1", 5).await else {
        panic!("granted");
    };
    let queued = raw(&a, "DELIVERY#dlv-2", "DELIVERY").await.unwrap();
    assert!(!queued.contains_key("expires_at"), "undelivered: kept");
    assert!(
        !raw(&a, "DELIVERY#dlv-1", "DELIVERY")
            .await
            .unwrap()
            .contains_key("expires_at")
    );
    end_attempt(
        &store,
        "dlv-1",
        d.attempts,
        AttemptEnd::Delivered,
        "delivered",
        7,
    )
    .await
    .unwrap();
    let delivered = raw(&a, "DELIVERY#dlv-1", "DELIVERY").await.unwrap();
    assert_eq!(
        delivered.get("expires_at"),
        Some(&epoch(fixtures::at(7), DEFAULT_DELIVERY_RETENTION))
    );
    assert_eq!(
        delivered.get("dstate"),
        Some(&AttributeValue::S("delivered".into()))
    );
    park(&store, "dlv-2", 8).await;
    assert!(
        !raw(&a, "DELIVERY#dlv-2", "DELIVERY")
            .await
            .unwrap()
            .contains_key("expires_at"),
        "parked: kept until redriven"
    );

    let write = CrmWrite::new(
        "lead-1".into(),
        &[CrmField::new("FirstName", fixtures::FIRST_NAME)],
        fixtures::at(0),
    );
    a.crm_writes().record(&write).await.unwrap();
    let item = a
        .dynamodb_client()
        .query()
        .table_name(&a.config().tables.flows)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("CRMWRITE#lead-1".into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap()
        .remove(0);
    let window = (ECHO_WINDOW + Duration::hours(1)).to_std().unwrap();
    assert_eq!(
        item.get("expires_at"),
        Some(&epoch(fixtures::at(0), window))
    );
    assert!(
        !item
            .values()
            .any(|v| matches!(v, AttributeValue::S(t) if t.contains(fixtures::FIRST_NAME))),
        "digests only"
    );
}

#[tokio::test]
async fn crm_writes_cost_one_request_each_way() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let log = a.crm_writes();
    // Two writes at the same instant stay apart.
    let write = CrmWrite::new(
        "lead-1".into(),
        &[CrmField::new("mx_MRN", "MRN-FX-0001")],
        fixtures::at(0),
    );
    log.record(&write).await.unwrap();
    log.record(&write).await.unwrap();
    assert_eq!(requests(&counter), ops(&[("PutItem", 2)]));
    counter.reset();
    assert_eq!(
        log.recent("lead-1", fixtures::at(0)).await.unwrap(),
        [write.clone(), write]
    );
    assert_eq!(requests(&counter), ops(&[("Query", 1)]));
}

/// Claims from separate processes (one client each, as concurrent Lambda invocations would
/// be) on one delivery: exactly one is granted, the others see its lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_from_separate_clients_grant_one() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    accept(&a, "1", 0, &[delivery("dlv-1", "lead-1", 0)]).await;
    let (sdk, config) = (common::sdk(aws).await, a.config().clone());
    let claims = together(10, |_| {
        let store = AwsAdapters::new(&sdk, config.clone()).deliveries();
        async move {
            let at = fixtures::at(1);
            store
                .claim(&id("dlv-1"), LeaseTerms::new(at, lease()))
                .await
                .unwrap()
        }
    })
    .await;
    let granted: Vec<_> = claims
        .iter()
        .filter_map(|c| match c {
            DeliveryClaim::Granted(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(granted.len(), 1, "{claims:?}");
    let busy = DeliveryClaim::Busy {
        until: fixtures::at(1) + lease(),
    };
    assert_eq!(claims.iter().filter(|c| **c == busy).count(), 9);
    assert_eq!(
        a.deliveries().get(&id("dlv-1")).await.unwrap(),
        Some(granted[0].clone())
    );
}
