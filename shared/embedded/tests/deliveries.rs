//! Behaviour of the embedded delivery store and CRM write log beyond the port contracts:
//! deliveries and group blocks surviving a reopen, claims from two connections on one file
//! (two processes), the refusal of deliveries that are not new, the CRM write log forgetting
//! writes older than the echo window, and the version 3 -> 4 migration.

mod common;

use std::path::Path;

use common::{open, open_with_patient, raw};
use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, AuditQuery};
use connector_domain::crm::CrmField;
use connector_domain::delivery::{
    AttemptEnd, CrmWrite, Delivery, DeliveryClaim, DeliveryState, ECHO_WINDOW, WebhookKey,
};
use connector_embedded::SqliteDb;
use connector_testkit::fixtures;
use connector_testkit::fixtures::{delivery, delivery_id as id};
use connector_testkit::race::together;

fn lease() -> chrono::Duration {
    chrono::Duration::seconds(60)
}

fn key(version: &str) -> WebhookKey {
    fixtures::webhook_key("1", version)
}

fn audit(action: &str, at: i64) -> AuditEntry {
    fixtures::crm_outbound_audit(action, at)
}

fn count(dir: &Path, table: &str) -> i64 {
    raw(dir)
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Accepts webhook `v1` with its one delivery `dlv-0001` (lead-1) at `at`, audited.
async fn accept_first(db: &SqliteDb, at: i64) {
    db.deliveries()
        .accept_webhook(
            &key("v1"),
            &[delivery("dlv-0001", "lead-1", 0)],
            &audit("webhook.accepted", at),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn deliveries_and_group_blocks_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (parked, later) = (
        delivery("dlv-0001", "lead-1", 0),
        delivery("dlv-0002", "lead-1", 0),
    );
    {
        let store = open(dir.path()).deliveries();
        store
            .accept_webhook(
                &key("v1"),
                &[parked.clone(), later.clone()],
                &audit("webhook.accepted", 0),
            )
            .await
            .unwrap();
        store
            .claim(&id("dlv-0001"), fixtures::at(1), lease())
            .await
            .unwrap();
        store
            .finish(
                &id("dlv-0001"),
                1,
                &AttemptEnd::Park,
                "rejected_AR",
                fixtures::at(2),
                &audit("delivery.parked", 2),
            )
            .await
            .unwrap();
    }
    let store = open(dir.path()).deliveries();
    let stored = store.get(&id("dlv-0001")).await.unwrap().unwrap();
    assert_eq!(
        stored.message, parked.message,
        "the message text is kept exactly"
    );
    assert_eq!(stored.state, DeliveryState::Parked);
    match store
        .claim(&id("dlv-0002"), fixtures::at(3), lease())
        .await
        .unwrap()
    {
        DeliveryClaim::Settled(d) => assert_eq!(d.held_behind, Some(id("dlv-0001"))),
        other => panic!("the group is still blocked: {other:?}"),
    }
    assert_eq!(
        store
            .accept_webhook(&key("v1"), &[], &audit("webhook.accepted", 4))
            .await
            .unwrap_err()
            .to_string(),
        "conflict: webhook already accepted",
        "the webhook is still known"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_through_two_connections_on_one_file_grant_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (open(dir.path()), open(dir.path()));
    accept_first(&a, 0).await;
    // Twenty claims released at once, alternating between the two connections.
    let claims = together(20, |n| {
        let store = if n % 2 == 0 {
            a.deliveries()
        } else {
            b.deliveries()
        };
        async move {
            let claimed = id("dlv-0001");
            store
                .claim(&claimed, fixtures::at(1), lease())
                .await
                .unwrap()
        }
    })
    .await;
    let granted = claims
        .iter()
        .filter(|c| matches!(c, DeliveryClaim::Granted(_)))
        .count();
    assert_eq!(granted, 1, "{claims:?}");
}

#[tokio::test]
async fn deliveries_that_are_not_new_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).deliveries();
    let queued = delivery("dlv-0001", "lead-1", 0);
    let not_new = [
        Delivery {
            attempts: 1,
            ..delivery("dlv-0002", "lead-1", 0)
        },
        Delivery {
            state: DeliveryState::Parked,
            ..delivery("dlv-0002", "lead-1", 0)
        },
        Delivery {
            state: DeliveryState::Delivering,
            lease_until: Some(fixtures::at(60)),
            ..delivery("dlv-0002", "lead-1", 0)
        },
    ];
    for bad in not_new {
        let result = store
            .accept_webhook(
                &key("v1"),
                &[queued.clone(), bad],
                &audit("webhook.accepted", 0),
            )
            .await;
        assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    }
    for table in ["webhooks", "deliveries", "audit_log"] {
        assert_eq!(count(dir.path(), table), 0, "{table}");
    }
    // A delivery id used twice (in one webhook, or by an earlier one) is a conflict.
    let twice = store
        .accept_webhook(
            &key("v1"),
            &[queued.clone(), queued.clone()],
            &audit("webhook.accepted", 0),
        )
        .await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    assert_eq!(count(dir.path(), "webhooks"), 0);
}

#[tokio::test]
async fn crm_writes_older_than_the_echo_window_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path()).crm_writes();
    let write = |entity: &str, at| {
        CrmWrite::new(
            entity.into(),
            &[CrmField::new("FirstName", fixtures::FIRST_NAME)],
            at,
        )
    };
    let start = fixtures::at(0);
    log.record(&write("lead-1", start)).await.unwrap();
    log.record(&write("lead-1", start + chrono::Duration::seconds(1)))
        .await
        .unwrap();
    assert_eq!(count(dir.path(), "crm_writes"), 2);
    log.record(&write(
        "lead-2",
        start + ECHO_WINDOW + chrono::Duration::seconds(1),
    ))
    .await
    .unwrap();
    assert_eq!(
        log.recent("lead-1", start - chrono::Duration::days(1))
            .await
            .unwrap(),
        vec![write("lead-1", start + chrono::Duration::seconds(1))],
        "the write older than the window before the newest was forgotten"
    );
    assert_eq!(count(dir.path(), "crm_writes"), 2);
    let digests: String = raw(dir.path())
        .query_row(
            "SELECT group_concat(field_digests) FROM crm_writes",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        fixtures::phi_found_in(&digests).is_empty(),
        "only digests are stored"
    );
}

#[tokio::test]
async fn a_version_3_file_migrates_keeping_its_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open_with_patient(dir.path()).await;
        db.audit()
            .append(&audit("webhook.accepted", 0))
            .await
            .unwrap();
    }
    // Take the file back to version 3 as the previous build left it.
    common::downgrade(
        dir.path(),
        "DROP TABLE delivery_group_blocks; DROP TABLE deliveries; DROP TABLE webhooks; \
         DROP TABLE crm_writes; DROP TABLE inbound_key_locks;",
        3,
    );
    let db = common::open_migrated(dir.path()).await;
    let audits = common::audit_of(&db, AuditQuery::default()).await;
    assert_eq!(audits.len(), 1);
    assert_eq!(db.deliveries().list(None, 10).await.unwrap(), Vec::new());
    accept_first(&db, 1).await;
    assert_eq!(db.deliveries().list(None, 10).await.unwrap().len(), 1);
}
