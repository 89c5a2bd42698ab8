//! The inbound ledger on the flows table: one request per call, a claim decided by one
//! conditional write (its refusal explained by the same response), attempts fenced, and records
//! expiring through the flows table's TTL.

use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use chrono::{DateTime, Duration, Utc};
use connector_aws::DEFAULT_INBOUND_RETENTION;
use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, LogType};
use connector_domain::crm::LeadId;
use connector_domain::inbound::{
    self, CrmAction, HIE_STEP, InboundClaim, InboundKey, InboundState, StepProgress,
};
use connector_domain::ports::{
    AuditLog, InboundClaimRequest, InboundFinish, InboundLedger, LeaseTerms, StepSave,
};
use connector_testkit::fixtures;
use connector_testkit::race::together;

use crate::common;

const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn key(control: &str) -> InboundKey {
    inbound::parse_key("north-ehr", control).unwrap()
}

fn done_entry() -> AuditEntry {
    fixtures::audit_entry(LogType::Hl7Inbound, fixtures::base_time())
}

fn lead(id: &str) -> StepProgress {
    StepProgress {
        done: true,
        lead_id: Some(LeadId(id.into())),
        lead_action: Some(CrmAction::Created),
        ..StepProgress::default()
    }
}

/// Saves the HIE step of attempt 1 of `k`, done with the lead `lead_id`, at `now`.
async fn save_hie_step(
    ledger: &dyn InboundLedger,
    k: &InboundKey,
    lead_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let progress = lead(lead_id);
    let save = StepSave {
        key: k,
        attempt: 1,
        step: HIE_STEP,
        progress: &progress,
        now,
    };
    ledger.save_step(save).await
}

#[tokio::test]
async fn the_ledger_lifecycle_costs_one_request_per_call() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let ledger = a.inbound_ledger();
    let k = key("MSG#0001");
    let t0 = fixtures::base_time();
    let lease = Duration::seconds(30);

    let InboundClaim::Granted(first) = ledger
        .claim(InboundClaimRequest {
            key: &k,
            body_sha256: SHA,
            event: "ADT^A04",
            lease: LeaseTerms::new(t0, lease),
        })
        .await
        .unwrap()
    else {
        panic!("a new message is granted")
    };
    assert_eq!(first.attempts, 1);
    assert_eq!(first.state, InboundState::Processing);
    assert_eq!(first.lease_until, Some(t0 + lease));
    assert!(first.steps.is_empty());
    assert_eq!(first.key, k);

    save_hie_step(&ledger, &k, "lead-1", t0).await.unwrap();
    ledger
        .save_step(StepSave {
            key: &k,
            attempt: 1,
            step: "flow:f.1",
            progress: &StepProgress::default(),
            now: t0,
        })
        .await
        .unwrap();
    ledger
        .finish(InboundFinish {
            key: &k,
            attempt: 1,
            state: InboundState::Failed,
            now: t0,
            audit: &done_entry(),
        })
        .await
        .unwrap();
    assert_eq!(counter.total("dynamodb"), 4, "{:?}", counter.by_operation());

    // A resend takes the failed record over, keeping what the first attempt stored.
    counter.reset();
    let later = t0 + Duration::minutes(5);
    let InboundClaim::Granted(second) = ledger
        .claim(InboundClaimRequest {
            key: &k,
            body_sha256: "other-sha",
            event: "ADT^A08",
            lease: LeaseTerms::new(later, lease),
        })
        .await
        .unwrap()
    else {
        panic!("a failed message is granted again")
    };
    assert_eq!(counter.total(""), 1);
    assert_eq!(second.attempts, 2);
    assert_eq!(second.body_sha256, SHA);
    assert_eq!(second.event, "ADT^A04");
    assert_eq!(second.received_at, t0);
    assert_eq!(second.updated_at, later);
    assert_eq!(second.steps.get(HIE_STEP), Some(&lead("lead-1")));
    assert_eq!(second.steps.len(), 2);

    // The first attempt lost its claim: it can no longer write.
    let stale = save_hie_step(&ledger, &k, "lead-x", later).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let stale = ledger
        .finish(InboundFinish {
            key: &k,
            attempt: 1,
            state: InboundState::Done,
            now: later,
            audit: &done_entry(),
        })
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");

    ledger
        .finish(InboundFinish {
            key: &k,
            attempt: 2,
            state: InboundState::Done,
            now: later,
            audit: &done_entry(),
        })
        .await
        .unwrap();
    counter.reset();
    let InboundClaim::AlreadyDone(done) = ledger
        .claim(InboundClaimRequest {
            key: &k,
            body_sha256: SHA,
            event: "ADT^A04",
            lease: LeaseTerms::new(later + Duration::hours(1), lease),
        })
        .await
        .unwrap()
    else {
        panic!("a done message is not processed again")
    };
    assert_eq!(counter.total(""), 1, "the refusal carries the record");
    assert_eq!(done.state, InboundState::Done);
    assert_eq!(done.attempts, 2);
    assert_eq!(done.lease_until, None);
    assert_eq!(ledger.get(&k).await.unwrap(), Some(done));
    assert!(ledger.get(&key("never")).await.unwrap().is_none());
}

#[tokio::test]
async fn a_live_lease_is_busy_and_a_lapsed_one_is_taken_over() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let ledger = a.inbound_ledger();
    let k = key("MSG2");
    let t0 = fixtures::base_time();
    let lease = Duration::seconds(30);
    ledger
        .claim(InboundClaimRequest {
            key: &k,
            body_sha256: SHA,
            event: "SIU^S12",
            lease: LeaseTerms::new(t0, lease),
        })
        .await
        .unwrap();

    let busy = ledger
        .claim(InboundClaimRequest {
            key: &k,
            body_sha256: SHA,
            event: "SIU^S12",
            lease: LeaseTerms::new(t0 + Duration::seconds(29), lease),
        })
        .await
        .unwrap();
    let InboundClaim::Busy(record) = busy else {
        panic!("a live lease is busy: {busy:?}")
    };
    assert_eq!(record.lease_until, Some(t0 + lease));
    assert_eq!(record.attempts, 1);

    // At the lease's end it has lapsed (`lease_until <= now`).
    let taken = ledger
        .claim(InboundClaimRequest {
            key: &k,
            body_sha256: SHA,
            event: "SIU^S12",
            lease: LeaseTerms::new(t0 + lease, lease),
        })
        .await
        .unwrap();
    let InboundClaim::Granted(record) = taken else {
        panic!("a lapsed lease is taken over: {taken:?}")
    };
    assert_eq!(record.attempts, 2);
    assert_eq!(record.lease_until, Some(t0 + lease + lease));
}

#[tokio::test]
async fn concurrent_claims_grant_one() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let ledger = Arc::new(a.inbound_ledger());
    let t0 = fixtures::base_time();
    let claims = together(8, |_| {
        let ledger = Arc::clone(&ledger);
        async move {
            let lease = Duration::seconds(30);
            ledger
                .claim(InboundClaimRequest {
                    key: &key("RACE"),
                    body_sha256: SHA,
                    event: "ADT^A04",
                    lease: LeaseTerms::new(t0, lease),
                })
                .await
                .unwrap()
        }
    })
    .await;
    let mut granted = 0;
    for claim in claims {
        match claim {
            InboundClaim::Granted(_) => granted += 1,
            InboundClaim::Busy(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(granted, 1);
}

#[tokio::test]
async fn finishing_needs_an_end_state_and_a_held_claim() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let ledger = a.inbound_ledger();
    let k = key("MSG3");
    let t0 = fixtures::base_time();
    let missing = save_hie_step(&ledger, &k, "l", t0).await;
    assert!(
        matches!(missing, Err(StoreError::Conflict(_))),
        "{missing:?}"
    );
    let missing = ledger
        .finish(InboundFinish {
            key: &k,
            attempt: 1,
            state: InboundState::Done,
            now: t0,
            audit: &done_entry(),
        })
        .await;
    assert!(
        matches!(missing, Err(StoreError::Conflict(_))),
        "{missing:?}"
    );
    assert!(
        ledger.get(&k).await.unwrap().is_none(),
        "nothing was created"
    );

    ledger
        .claim(InboundClaimRequest {
            key: &k,
            body_sha256: SHA,
            event: "ADT^A04",
            lease: LeaseTerms::new(t0, Duration::seconds(30)),
        })
        .await
        .unwrap();
    let invalid = ledger
        .finish(InboundFinish {
            key: &k,
            attempt: 1,
            state: InboundState::Processing,
            now: t0,
            audit: &done_entry(),
        })
        .await;
    assert!(
        matches!(invalid, Err(StoreError::Invalid(_))),
        "{invalid:?}"
    );
    let wrong = ledger
        .finish(InboundFinish {
            key: &k,
            attempt: 2,
            state: InboundState::Done,
            now: t0,
            audit: &done_entry(),
        })
        .await;
    assert!(matches!(wrong, Err(StoreError::Conflict(_))), "{wrong:?}");

    // The record and its audit entry are one transaction: a replayed audit id changes nothing.
    let entry = done_entry();
    a.audit().append(&entry).await.unwrap();
    let replay = ledger
        .finish(InboundFinish {
            key: &k,
            attempt: 1,
            state: InboundState::Done,
            now: t0,
            audit: &entry,
        })
        .await;
    assert!(matches!(replay, Err(StoreError::Conflict(_))), "{replay:?}");
    assert_eq!(
        ledger.get(&k).await.unwrap().unwrap().state,
        InboundState::Processing
    );
}

#[tokio::test]
async fn records_expire_through_the_flows_table_ttl() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let ttl = common::ttl_of(&a, &a.config().tables.flows).await;
    assert_eq!(ttl.attribute_name.as_deref(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status, Some(TimeToLiveStatus::Enabled));

    let k = key("MSG4");
    let t0 = fixtures::base_time();
    a.inbound_ledger()
        .claim(InboundClaimRequest {
            key: &k,
            body_sha256: SHA,
            event: "ADT^A04",
            lease: LeaseTerms::new(t0, Duration::seconds(30)),
        })
        .await
        .unwrap();
    let key = [("pk", "INBOUND#north-ehr#MSG4"), ("sk", "RECORD")];
    let item = common::raw_item(&a, &a.config().tables.flows, &key)
        .await
        .unwrap();
    let expected = t0.timestamp() + DEFAULT_INBOUND_RETENTION.as_secs() as i64;
    assert_eq!(
        item.get("expires_at"),
        Some(&AttributeValue::N(expected.to_string()))
    );
    assert_eq!(DEFAULT_INBOUND_RETENTION.as_secs(), 90 * 86_400);
}
