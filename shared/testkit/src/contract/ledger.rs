//! `SendLedger` cases. Every instant is a fixed fixture time: leases lapse because a later `now`
//! is passed, never by sleeping.

use std::collections::BTreeMap;

use connector_domain::audit::{AuditEntry, AuditQuery, LogType};
use connector_domain::hie::{Claim, SendKey, SendRecord, SendState};

use super::{
    Case, StoreSet, assert_claim_races, assert_conflict, assert_newest_since, audit_matching,
    cases, lease,
};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<StoreSet>> {
    cases![
        ledger_first_claim_is_granted_attempt_1,
        ledger_claim_while_leased_is_busy_until_the_lease_ends,
        ledger_claim_after_the_lease_lapsed_is_granted_the_next_attempt,
        ledger_finish_sent_then_claims_are_already_sent,
        ledger_finish_failed_then_claims_are_closed,
        ledger_finish_retry_pending_then_a_claim_is_granted_at_once,
        ledger_finish_with_a_stale_attempt_conflicts_and_writes_nothing,
        ledger_finish_without_a_record_conflicts_and_writes_nothing,
        ledger_finish_writes_its_audit_entry_in_the_same_write,
        ledger_concurrent_claims_grant_one_attempt,
        ledger_get_and_get_many,
        ledger_keys_differing_only_in_resend_are_independent,
    ]
}

/// The default key: transition 1 of a-1, the collector's send.
fn key() -> SendKey {
    fixtures::send_key("a-1", 1, 0)
}

async fn claim(s: &StoreSet, key: &SendKey, at: i64) -> Claim {
    s.send_ledger
        .claim(key, fixtures::at(at), lease())
        .await
        .unwrap()
}

async fn record(s: &StoreSet, key: &SendKey) -> SendRecord {
    s.send_ledger
        .get(key)
        .await
        .unwrap()
        .expect("the delivery has a record")
}

/// The record of a delivery claimed (attempt `attempts`) at `at` and not finished.
fn sending(key: &SendKey, attempts: u32, at: i64) -> SendRecord {
    SendRecord {
        key: key.clone(),
        state: SendState::Sending,
        attempts,
        lease_until: Some(fixtures::at(at) + lease()),
        message_id: None,
        updated_at: fixtures::at(at),
    }
}

/// The record of a delivery whose attempt `attempts` ended as `state` at `at`.
fn ended(
    key: &SendKey,
    attempts: u32,
    state: SendState,
    message_id: Option<&str>,
    at: i64,
) -> SendRecord {
    SendRecord {
        key: key.clone(),
        state,
        attempts,
        lease_until: None,
        message_id: message_id.map(str::to_owned),
        updated_at: fixtures::at(at),
    }
}

/// Finishes attempt `attempt` of `key` as `state` at `at`, with its audit entry; returns the
/// entry and the outcome.
async fn finish(
    s: &StoreSet,
    key: &SendKey,
    attempt: u32,
    state: SendState,
    message_id: Option<&str>,
    at: i64,
) -> (AuditEntry, Result<(), connector_domain::StoreError>) {
    let entry = fixtures::send_audit(key, attempt, state, fixtures::at(at));
    let result = s
        .send_ledger
        .finish(key, attempt, state, message_id, fixtures::at(at), &entry)
        .await;
    (entry, result)
}

/// The "Sent Appointments" audit entries of `key`'s appointment, newest first.
async fn send_audits(s: &StoreSet, key: &SendKey) -> Vec<AuditEntry> {
    audit_matching(
        &*s.audit,
        AuditQuery {
            log_type: Some(LogType::HieSentAppointments),
            appointment_id: Some(key.appointment_id.clone()),
            ..AuditQuery::default()
        },
    )
    .await
}

async fn ledger_first_claim_is_granted_attempt_1(s: StoreSet) {
    let key = key();
    assert_eq!(s.send_ledger.get(&key).await.unwrap(), None);
    assert_eq!(claim(&s, &key, 0).await, Claim::Granted { attempt: 1 });
    assert_eq!(record(&s, &key).await, sending(&key, 1, 0));
}

async fn ledger_claim_while_leased_is_busy_until_the_lease_ends(s: StoreSet) {
    let key = key();
    assert_eq!(claim(&s, &key, 0).await, Claim::Granted { attempt: 1 });
    let busy = Claim::Busy {
        until: fixtures::at(0) + lease(),
    };
    assert_eq!(claim(&s, &key, 0).await, busy, "a second claim at once");
    assert_eq!(claim(&s, &key, 59).await, busy, "a claim within the lease");
    assert_eq!(
        record(&s, &key).await,
        sending(&key, 1, 0),
        "a busy claim neither counts an attempt nor extends the lease"
    );
}

async fn ledger_claim_after_the_lease_lapsed_is_granted_the_next_attempt(s: StoreSet) {
    let key = key();
    assert_eq!(claim(&s, &key, 0).await, Claim::Granted { attempt: 1 });
    // The first sender crashed: its lease ended at 60.
    assert_eq!(claim(&s, &key, 61).await, Claim::Granted { attempt: 2 });
    assert_eq!(record(&s, &key).await, sending(&key, 2, 61));
    assert_eq!(
        claim(&s, &key, 62).await,
        Claim::Busy {
            until: fixtures::at(61) + lease()
        },
        "the new lease holds"
    );
    assert_eq!(claim(&s, &key, 200).await, Claim::Granted { attempt: 3 });
}

async fn ledger_finish_sent_then_claims_are_already_sent(s: StoreSet) {
    let key = key();
    assert_eq!(claim(&s, &key, 0).await, Claim::Granted { attempt: 1 });
    let (_, result) = finish(&s, &key, 1, SendState::Sent, Some("msg-1"), 5).await;
    result.unwrap();
    let sent = ended(&key, 1, SendState::Sent, Some("msg-1"), 5);
    assert_eq!(record(&s, &key).await, sent);
    let already = Claim::AlreadySent {
        message_id: "msg-1".into(),
    };
    assert_later_claims(&s, &key, &already, &sent).await;
}

/// Asserts that claims of an ended `key`, soon (at 6, within the old lease) and long after,
/// are `refused` and leave the record `ended` as it is.
async fn assert_later_claims(s: &StoreSet, key: &SendKey, refused: &Claim, ended: &SendRecord) {
    for (at, when) in [(6, "within the old lease"), (86_400, "long after")] {
        assert_eq!(&claim(s, key, at).await, refused, "{when}");
    }
    assert_eq!(&record(s, key).await, ended, "such claims change nothing");
}

async fn ledger_finish_failed_then_claims_are_closed(s: StoreSet) {
    let key = key();
    assert_eq!(claim(&s, &key, 0).await, Claim::Granted { attempt: 1 });
    let (_, result) = finish(&s, &key, 1, SendState::Failed, None, 5).await;
    result.unwrap();
    let failed = ended(&key, 1, SendState::Failed, None, 5);
    assert_eq!(record(&s, &key).await, failed);
    assert_later_claims(&s, &key, &Claim::Closed, &failed).await;
}

async fn ledger_finish_retry_pending_then_a_claim_is_granted_at_once(s: StoreSet) {
    let key = key();
    assert_eq!(claim(&s, &key, 0).await, Claim::Granted { attempt: 1 });
    let (_, result) = finish(&s, &key, 1, SendState::RetryPending, None, 5).await;
    result.unwrap();
    assert_eq!(
        record(&s, &key).await,
        ended(&key, 1, SendState::RetryPending, None, 5)
    );
    // Well within attempt 1's lease: a pending retry holds no lease.
    assert_eq!(claim(&s, &key, 6).await, Claim::Granted { attempt: 2 });
    assert_eq!(record(&s, &key).await, sending(&key, 2, 6));
    let (_, result) = finish(&s, &key, 2, SendState::Sent, Some("msg-2"), 7).await;
    result.unwrap();
    assert_eq!(
        claim(&s, &key, 8).await,
        Claim::AlreadySent {
            message_id: "msg-2".into()
        }
    );
}

async fn ledger_finish_with_a_stale_attempt_conflicts_and_writes_nothing(s: StoreSet) {
    let key = key();
    assert_eq!(claim(&s, &key, 0).await, Claim::Granted { attempt: 1 });
    // Sender A stalls past its lease; sender B takes the delivery over.
    assert_eq!(claim(&s, &key, 61).await, Claim::Granted { attempt: 2 });

    let (_, stale) = finish(&s, &key, 1, SendState::Sent, Some("msg-a"), 62).await;
    assert_conflict(stale);
    let (_, future) = finish(&s, &key, 3, SendState::Failed, None, 62).await;
    assert_conflict(future);
    assert_eq!(
        record(&s, &key).await,
        sending(&key, 2, 61),
        "the newer attempt is untouched"
    );
    assert_eq!(
        send_audits(&s, &key).await,
        Vec::<AuditEntry>::new(),
        "a lost finish writes no audit entry"
    );

    let (b_entry, current) = finish(&s, &key, 2, SendState::Sent, Some("msg-b"), 63).await;
    current.unwrap();
    let sent = ended(&key, 2, SendState::Sent, Some("msg-b"), 63);
    assert_eq!(record(&s, &key).await, sent);

    // Finishing an attempt that already ended (a retried call, or A again) conflicts too.
    let (_, again) = finish(&s, &key, 2, SendState::Failed, None, 64).await;
    assert_conflict(again);
    let (_, stale) = finish(&s, &key, 1, SendState::RetryPending, None, 64).await;
    assert_conflict(stale);
    assert_eq!(record(&s, &key).await, sent);
    assert_eq!(send_audits(&s, &key).await, vec![b_entry]);
}

async fn ledger_finish_without_a_record_conflicts_and_writes_nothing(s: StoreSet) {
    let key = key();
    let (_, result) = finish(&s, &key, 1, SendState::Sent, Some("msg-1"), 0).await;
    assert_conflict(result);
    assert_eq!(s.send_ledger.get(&key).await.unwrap(), None);
    assert_eq!(send_audits(&s, &key).await, Vec::<AuditEntry>::new());
    assert_eq!(
        claim(&s, &key, 1).await,
        Claim::Granted { attempt: 1 },
        "the failed finish created nothing"
    );
}

async fn ledger_finish_writes_its_audit_entry_in_the_same_write(s: StoreSet) {
    let key = key();
    assert_eq!(claim(&s, &key, 0).await, Claim::Granted { attempt: 1 });
    let (retry, result) = finish(&s, &key, 1, SendState::RetryPending, None, 5).await;
    result.unwrap();
    assert_eq!(send_audits(&s, &key).await, vec![retry.clone()]);
    assert_eq!(claim(&s, &key, 10).await, Claim::Granted { attempt: 2 });
    let (sent, result) = finish(&s, &key, 2, SendState::Sent, Some("msg-2"), 15).await;
    result.unwrap();
    assert_eq!(
        send_audits(&s, &key).await,
        vec![sent.clone(), retry],
        "each finish is audited, newest first"
    );
    assert_newest_since(&*s.audit, fixtures::at(15), sent).await;
}

async fn ledger_concurrent_claims_grant_one_attempt(s: StoreSet) {
    let key = key();
    let claim = |at| {
        let (ledger, key) = (s.send_ledger.clone(), key.clone());
        async move { ledger.claim(&key, fixtures::at(at), lease()).await.unwrap() }
    };
    let granted_or_busy = |attempt, at| {
        let until = fixtures::at(at) + lease();
        (Claim::Granted { attempt }, Claim::Busy { until })
    };
    let (s, key) = (&s, &key);
    let stored = move |round, at| async move {
        assert_eq!(record(s, key).await, sending(key, round, at));
    };
    assert_claim_races([0, 61], claim, granted_or_busy, stored).await;
}

async fn ledger_get_and_get_many(s: StoreSet) {
    let ledger = &s.send_ledger;
    assert_eq!(ledger.get(&key()).await.unwrap(), None);
    assert_eq!(
        ledger.get_many(&[]).await.unwrap(),
        Vec::<SendRecord>::new()
    );
    assert_eq!(
        ledger.get_many(&[key()]).await.unwrap(),
        Vec::<SendRecord>::new()
    );

    // 150 keys, more than one DynamoDB batch: every third is missing, every tenth was sent.
    let keys: Vec<SendKey> = (0..150)
        .map(|i| fixtures::send_key(&format!("a-{i:03}"), 1, 0))
        .collect();
    let mut expected = BTreeMap::new();
    for (i, key) in keys.iter().enumerate() {
        if i % 3 == 0 {
            continue;
        }
        assert_eq!(claim(&s, key, 0).await, Claim::Granted { attempt: 1 });
        let stored = if i % 10 == 1 {
            let id = format!("msg-{i}");
            let (_, result) = finish(&s, key, 1, SendState::Sent, Some(&id), 5).await;
            result.unwrap();
            ended(key, 1, SendState::Sent, Some(&id), 5)
        } else {
            sending(key, 1, 0)
        };
        expected.insert(key.clone(), stored);
    }
    assert_eq!(expected.len(), 100);

    assert_eq!(
        ledger.get(&keys[1]).await.unwrap().as_ref(),
        expected.get(&keys[1])
    );
    assert_eq!(ledger.get(&keys[3]).await.unwrap(), None);
    assert_eq!(
        ledger.get_many(&keys[1..2]).await.unwrap(),
        vec![expected[&keys[1]].clone()],
        "one key"
    );
    assert_eq!(
        ledger.get_many(&keys[3..4]).await.unwrap(),
        Vec::<SendRecord>::new(),
        "one missing key"
    );

    let mut found = ledger.get_many(&keys).await.unwrap();
    found.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        found,
        expected.values().cloned().collect::<Vec<_>>(),
        "150 keys: exactly the 100 records, in full"
    );

    let repeated = [keys[1].clone(), keys[3].clone(), keys[1].clone()];
    assert_eq!(
        ledger.get_many(&repeated).await.unwrap(),
        vec![expected[&keys[1]].clone()],
        "a key asked for twice gives its record once"
    );
}

async fn ledger_keys_differing_only_in_resend_are_independent(s: StoreSet) {
    let collector = fixtures::send_key("a-1", 1, 0);
    let resend = fixtures::send_key("a-1", 1, 1_795_000_000_000);
    let other_resend = fixtures::send_key("a-1", 1, 1_795_000_000_001);
    let next_transition = fixtures::send_key("a-1", 2, 0);

    assert_eq!(
        claim(&s, &collector, 0).await,
        Claim::Granted { attempt: 1 }
    );
    let (_, result) = finish(&s, &collector, 1, SendState::Sent, Some("msg-1"), 5).await;
    result.unwrap();

    // An administrator's resend is a delivery of its own, as is the next transition.
    assert_eq!(claim(&s, &resend, 10).await, Claim::Granted { attempt: 1 });
    assert_eq!(
        claim(&s, &other_resend, 10).await,
        Claim::Granted { attempt: 1 }
    );
    assert_eq!(
        claim(&s, &next_transition, 10).await,
        Claim::Granted { attempt: 1 }
    );
    let (_, result) = finish(&s, &resend, 1, SendState::Failed, None, 15).await;
    result.unwrap();

    assert_eq!(
        claim(&s, &collector, 20).await,
        Claim::AlreadySent {
            message_id: "msg-1".into()
        }
    );
    assert_eq!(claim(&s, &resend, 20).await, Claim::Closed);
    assert_eq!(
        claim(&s, &other_resend, 20).await,
        Claim::Busy {
            until: fixtures::at(10) + lease()
        }
    );

    let mut found = s
        .send_ledger
        .get_many(&[
            collector.clone(),
            resend.clone(),
            other_resend.clone(),
            next_transition.clone(),
        ])
        .await
        .unwrap();
    found.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        found,
        vec![
            ended(&collector, 1, SendState::Sent, Some("msg-1"), 5),
            ended(&resend, 1, SendState::Failed, None, 15),
            sending(&other_resend, 1, 10),
            sending(&next_transition, 1, 10),
        ]
    );
}
