//! `InboundLedger` cases. Every instant is a fixed fixture time: leases lapse because a later
//! `now` is passed, never by sleeping.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::crm::{ActivityId, LeadId};
use connector_domain::inbound::{
    CrmAction, HIE_STEP, InboundClaim, InboundKey, InboundRecord, InboundState, KeyLock,
    StepProgress, parse_key,
};
use serde_json::json;

use super::{
    Case, FlowStoreSet, assert_claim_races, assert_conflict, assert_newest_since, audit_entries,
    cases, lease, together,
};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<FlowStoreSet>> {
    cases![
        inbound_first_claim_creates_a_processing_record,
        inbound_claim_while_leased_is_busy_and_changes_nothing,
        inbound_claim_when_the_lease_lapsed_is_granted_the_next_attempt_with_the_steps,
        inbound_claim_after_a_failed_attempt_is_granted_at_once_with_the_steps,
        inbound_claim_after_done_is_already_done_and_changes_nothing,
        inbound_hash_and_event_are_stored_on_creation_only,
        inbound_save_step_replaces_only_that_step,
        inbound_save_step_with_a_lost_claim_conflicts_and_writes_nothing,
        inbound_finish_with_a_lost_claim_conflicts_and_writes_nothing,
        inbound_finish_writes_its_audit_entry_and_clears_the_lease,
        inbound_concurrent_claims_grant_one,
        inbound_keys_are_per_channel_and_control_id,
        key_lock_is_granted_to_one_holder_until_released_or_lapsed,
        key_lock_concurrent_takers_get_one,
        key_locks_are_per_channel_field_and_value,
    ]
}

const SHA: &str = "5d41402abc4b2a76b9719d911017c592a9b4f1d4c8e1f9e9e3c2b1a0f9e8d7c6";
const OTHER_SHA: &str = "0000000000000000000000000000000000000000000000000000000000000001";
const EVENT: &str = "ADT^A04";

fn key_of(channel: &str, control: &str) -> InboundKey {
    parse_key(channel, control).expect("a valid key")
}

/// The default key: MSG00001 on north-ehr.
fn key() -> InboundKey {
    key_of("north-ehr", "MSG00001")
}

async fn claim(s: &FlowStoreSet, key: &InboundKey, at: i64) -> InboundClaim {
    s.inbound_ledger
        .claim(key, SHA, EVENT, fixtures::at(at), lease())
        .await
        .unwrap()
}

async fn record(s: &FlowStoreSet, key: &InboundKey) -> InboundRecord {
    s.inbound_ledger
        .get(key)
        .await
        .unwrap()
        .expect("the message has a record")
}

/// Asserts that a claim of `key` at `at` is granted with `expected` (`why`), and that the ledger
/// then holds that record.
async fn assert_granted(
    s: &FlowStoreSet,
    key: &InboundKey,
    at: i64,
    expected: InboundRecord,
    why: &str,
) {
    let granted = InboundClaim::Granted(expected.clone());
    assert_eq!(claim(s, key, at).await, granted, "{why}");
    assert_eq!(record(s, key).await, expected, "{why}: as stored");
}

/// What an attempt's end changes in a record: its state, lease, time and attempt count.
fn ended(r: &InboundRecord) -> (InboundState, Option<DateTime<Utc>>, DateTime<Utc>, u32) {
    (r.state, r.lease_until, r.updated_at, r.attempts)
}

/// The record granted for attempt `attempts` at `at`, first received at `received`.
fn processing(
    key: &InboundKey,
    attempts: u32,
    received: i64,
    at: i64,
    steps: BTreeMap<String, StepProgress>,
) -> InboundRecord {
    InboundRecord {
        key: key.clone(),
        body_sha256: SHA.into(),
        event: EVENT.into(),
        state: InboundState::Processing,
        attempts,
        lease_until: Some(fixtures::at(at) + lease()),
        steps,
        received_at: fixtures::at(received),
        updated_at: fixtures::at(at),
    }
}

/// The progress of a step that created a lead (and, when `done`, finished).
fn lead_created(lead: &str, done: bool) -> StepProgress {
    StepProgress {
        done,
        lead_id: Some(LeadId(lead.into())),
        lead_action: Some(CrmAction::Created),
        activity_id: None,
        activity_action: None,
        truncated: Vec::new(),
    }
}

fn activity_updated(lead: &str, activity: &str) -> StepProgress {
    StepProgress {
        done: true,
        lead_id: Some(LeadId(lead.into())),
        lead_action: Some(CrmAction::Unchanged),
        activity_id: Some(ActivityId(activity.into())),
        activity_action: Some(CrmAction::Updated),
        truncated: vec!["mx_Race".into()],
    }
}

fn steps(items: &[(&str, StepProgress)]) -> BTreeMap<String, StepProgress> {
    items
        .iter()
        .map(|(name, p)| ((*name).to_owned(), p.clone()))
        .collect()
}

/// The audit entry of an attempt's end.
fn inbound_audit(key: &InboundKey, state: InboundState, at: i64) -> AuditEntry {
    let outcome = if state == InboundState::Done {
        AuditOutcome::Success
    } else {
        AuditOutcome::Error
    };
    AuditEntry::new(
        LogType::Hl7Inbound,
        fixtures::at(at),
        fixtures::system(),
        "hl7.received",
        outcome,
    )
    .with_detail(json!({
        "channel_id": key.channel_id.as_str(),
        "control_id": key.control_id.as_str(),
        "state": state.as_str(),
    }))
}

/// Finishes attempt `attempt` as `state` at `at`; returns the entry and the outcome.
async fn finish(
    s: &FlowStoreSet,
    key: &InboundKey,
    attempt: u32,
    state: InboundState,
    at: i64,
) -> (AuditEntry, Result<(), connector_domain::StoreError>) {
    let entry = inbound_audit(key, state, at);
    let result = s
        .inbound_ledger
        .finish(key, attempt, state, fixtures::at(at), &entry)
        .await;
    (entry, result)
}

async fn save(
    s: &FlowStoreSet,
    key: &InboundKey,
    attempt: u32,
    step: &str,
    progress: &StepProgress,
    at: i64,
) -> Result<(), connector_domain::StoreError> {
    s.inbound_ledger
        .save_step(key, attempt, step, progress, fixtures::at(at))
        .await
}

/// Every `hl7_inbound` audit entry, newest first.
async fn inbound_audits(s: &FlowStoreSet) -> Vec<AuditEntry> {
    audit_entries(&*s.audit, LogType::Hl7Inbound).await
}

async fn inbound_first_claim_creates_a_processing_record(s: FlowStoreSet) {
    let key = key();
    assert_eq!(s.inbound_ledger.get(&key).await.unwrap(), None);
    let granted = processing(&key, 1, 0, 0, BTreeMap::new());
    assert_granted(&s, &key, 0, granted, "the first claim").await;
}

async fn inbound_claim_while_leased_is_busy_and_changes_nothing(s: FlowStoreSet) {
    let key = key();
    claim(&s, &key, 0).await;
    let held = processing(&key, 1, 0, 0, BTreeMap::new());
    assert_eq!(
        claim(&s, &key, 0).await,
        InboundClaim::Busy(held.clone()),
        "a second claim at once"
    );
    assert_eq!(
        claim(&s, &key, 59).await,
        InboundClaim::Busy(held.clone()),
        "a claim within the lease"
    );
    assert_eq!(
        record(&s, &key).await,
        held,
        "a busy claim neither counts an attempt nor extends the lease"
    );
}

async fn inbound_claim_when_the_lease_lapsed_is_granted_the_next_attempt_with_the_steps(
    s: FlowStoreSet,
) {
    let key = key();
    claim(&s, &key, 0).await;
    let hie = lead_created("lead-1", true);
    save(&s, &key, 1, HIE_STEP, &hie, 5).await.unwrap();
    // The first handler crashed: its lease ends at 60, and `lease_until <= now` has lapsed.
    let taken = processing(&key, 2, 0, 60, steps(&[(HIE_STEP, hie.clone())]));
    let why = "granted at the lease's end, with the stored steps";
    assert_granted(&s, &key, 60, taken.clone(), why).await;
    assert_eq!(
        claim(&s, &key, 61).await,
        InboundClaim::Busy(taken),
        "the new lease holds"
    );
    assert!(matches!(
        claim(&s, &key, 500).await,
        InboundClaim::Granted(r) if r.attempts == 3
    ));
}

async fn inbound_claim_after_a_failed_attempt_is_granted_at_once_with_the_steps(s: FlowStoreSet) {
    let key = key();
    claim(&s, &key, 0).await;
    let hie = lead_created("lead-1", true);
    let half = lead_created("lead-2", false);
    save(&s, &key, 1, HIE_STEP, &hie, 1).await.unwrap();
    save(&s, &key, 1, "flow:flow-1", &half, 2).await.unwrap();
    let (_, result) = finish(&s, &key, 1, InboundState::Failed, 3).await;
    result.unwrap();
    let stored = steps(&[(HIE_STEP, hie), ("flow:flow-1", half)]);
    assert_eq!(
        record(&s, &key).await,
        InboundRecord {
            state: InboundState::Failed,
            lease_until: None,
            updated_at: fixtures::at(3),
            ..processing(&key, 1, 0, 0, stored.clone())
        }
    );
    // Well within attempt 1's lease: a failed record holds none.
    let retried = processing(&key, 2, 0, 4, stored);
    assert_granted(&s, &key, 4, retried, "the retry, at once").await;
}

async fn inbound_claim_after_done_is_already_done_and_changes_nothing(s: FlowStoreSet) {
    let key = key();
    claim(&s, &key, 0).await;
    let hie = lead_created("lead-1", true);
    save(&s, &key, 1, HIE_STEP, &hie, 1).await.unwrap();
    let (_, result) = finish(&s, &key, 1, InboundState::Done, 2).await;
    result.unwrap();
    let done = InboundRecord {
        state: InboundState::Done,
        lease_until: None,
        updated_at: fixtures::at(2),
        ..processing(&key, 1, 0, 0, steps(&[(HIE_STEP, hie)]))
    };
    assert_eq!(record(&s, &key).await, done);
    for at in [3, 86_400] {
        assert_eq!(
            claim(&s, &key, at).await,
            InboundClaim::AlreadyDone(done.clone())
        );
    }
    assert_eq!(record(&s, &key).await, done, "such claims change nothing");
}

async fn inbound_hash_and_event_are_stored_on_creation_only(s: FlowStoreSet) {
    let key = key();
    claim(&s, &key, 0).await;
    // The same control id with another body (and event): the stored ones come back, so the
    // caller can tell it apart from a resend; while leased (busy) and once the lease lapsed
    // (granted again).
    for (at, granted) in [(1, false), (100, true)] {
        let claim = s
            .inbound_ledger
            .claim(&key, OTHER_SHA, "SIU^S12", fixtures::at(at), lease())
            .await
            .unwrap();
        let stored = match (claim, granted) {
            (InboundClaim::Busy(stored), false) | (InboundClaim::Granted(stored), true) => stored,
            (other, _) => panic!("at {at}: expected granted = {granted}, got {other:?}"),
        };
        assert_eq!(
            (stored.body_sha256.as_str(), stored.event.as_str()),
            (SHA, EVENT)
        );
        if granted {
            assert_eq!(record(&s, &key).await, stored);
        }
    }
}

async fn inbound_save_step_replaces_only_that_step(s: FlowStoreSet) {
    let key = key();
    claim(&s, &key, 0).await;
    let hie = lead_created("lead-1", true);
    let started = lead_created("lead-2", false);
    let finished = activity_updated("lead-2", "act-9");
    save(&s, &key, 1, HIE_STEP, &hie, 1).await.unwrap();
    save(&s, &key, 1, "flow:flow-1", &started, 2).await.unwrap();
    save(&s, &key, 1, "flow:flow-1", &finished, 3)
        .await
        .unwrap();
    assert_eq!(
        record(&s, &key).await,
        InboundRecord {
            updated_at: fixtures::at(3),
            ..processing(
                &key,
                1,
                0,
                0,
                steps(&[(HIE_STEP, hie), ("flow:flow-1", finished)])
            )
        },
        "the flow's step replaced, the HIE step kept, the lease unchanged"
    );
}

async fn inbound_save_step_with_a_lost_claim_conflicts_and_writes_nothing(s: FlowStoreSet) {
    let key = key();
    let progress = lead_created("lead-1", true);
    assert_conflict(save(&s, &key, 1, HIE_STEP, &progress, 0).await);
    assert_eq!(
        s.inbound_ledger.get(&key).await.unwrap(),
        None,
        "no record is created"
    );

    claim(&s, &key, 0).await;
    // Handler A stalls past its lease; handler B takes the message over.
    claim(&s, &key, 61).await;
    let b = processing(&key, 2, 0, 61, BTreeMap::new());
    assert_conflict(save(&s, &key, 1, HIE_STEP, &progress, 62).await);
    assert_conflict(save(&s, &key, 3, HIE_STEP, &progress, 62).await);
    assert_eq!(record(&s, &key).await, b, "the newer attempt is untouched");

    let (_, result) = finish(&s, &key, 2, InboundState::Failed, 63).await;
    result.unwrap();
    let failed = record(&s, &key).await;
    assert_conflict(save(&s, &key, 2, HIE_STEP, &progress, 64).await);
    assert_eq!(
        record(&s, &key).await,
        failed,
        "a finished attempt takes no more steps"
    );
}

async fn inbound_finish_with_a_lost_claim_conflicts_and_writes_nothing(s: FlowStoreSet) {
    let key = key();
    let (_, result) = finish(&s, &key, 1, InboundState::Done, 0).await;
    assert_conflict(result);
    assert_eq!(s.inbound_ledger.get(&key).await.unwrap(), None);

    claim(&s, &key, 0).await;
    claim(&s, &key, 61).await;
    let b = processing(&key, 2, 0, 61, BTreeMap::new());
    let (_, stale) = finish(&s, &key, 1, InboundState::Done, 62).await;
    assert_conflict(stale);
    let (_, future) = finish(&s, &key, 3, InboundState::Failed, 62).await;
    assert_conflict(future);
    assert_eq!(record(&s, &key).await, b, "the newer attempt is untouched");
    assert_eq!(
        inbound_audits(&s).await,
        Vec::<AuditEntry>::new(),
        "a lost finish writes no audit entry"
    );

    let (entry, current) = finish(&s, &key, 2, InboundState::Done, 63).await;
    current.unwrap();
    let done = record(&s, &key).await;
    // Finishing again (a retried call, or A once more) conflicts too.
    let (_, again) = finish(&s, &key, 2, InboundState::Failed, 64).await;
    assert_conflict(again);
    let (_, stale) = finish(&s, &key, 1, InboundState::Failed, 64).await;
    assert_conflict(stale);
    assert_eq!(record(&s, &key).await, done);
    assert_eq!(inbound_audits(&s).await, vec![entry]);
}

async fn inbound_finish_writes_its_audit_entry_and_clears_the_lease(s: FlowStoreSet) {
    let key = key();
    // Attempt 1 claimed at 0 fails at 5; attempt 2 claimed at 10 is done at 15.
    let attempts = [
        (0, 1, InboundState::Failed, 5),
        (10, 2, InboundState::Done, 15),
    ];
    let mut audited = Vec::new();
    for (claimed_at, attempt, state, at) in attempts {
        claim(&s, &key, claimed_at).await;
        let (entry, result) = finish(&s, &key, attempt, state, at).await;
        result.unwrap();
        let record = record(&s, &key).await;
        assert_eq!(ended(&record), (state, None, fixtures::at(at), attempt));
        audited.insert(0, entry);
        let why = "each finish is audited, newest first";
        assert_eq!(inbound_audits(&s).await, audited, "{why}");
    }
    assert_newest_since(&*s.audit, fixtures::at(15), audited.remove(0)).await;
}

async fn inbound_concurrent_claims_grant_one(s: FlowStoreSet) {
    let key = key();
    let claim = |at| {
        let (ledger, key) = (s.inbound_ledger.clone(), key.clone());
        async move {
            let claim = ledger.claim(&key, SHA, EVENT, fixtures::at(at), lease());
            claim.await.unwrap()
        }
    };
    // The winner's record, granted to it and shown to every other claimer.
    let winner = |round, at| processing(&key, round, 0, at, BTreeMap::new());
    let granted_or_busy = |round, at| {
        let winner = winner(round, at);
        (
            InboundClaim::Granted(winner.clone()),
            InboundClaim::Busy(winner),
        )
    };
    let (s, key, winner) = (&s, &key, &winner);
    let stored = move |round, at| async move {
        assert_eq!(record(s, key).await, winner(round, at));
    };
    assert_claim_races([0, 61], claim, granted_or_busy, stored).await;
}

async fn inbound_keys_are_per_channel_and_control_id(s: FlowStoreSet) {
    let north = key_of("north-ehr", "MSG00001");
    let south = key_of("south-ehr", "MSG00001");
    let next = key_of("north-ehr", "MSG00002");
    claim(&s, &north, 0).await;
    let (_, result) = finish(&s, &north, 1, InboundState::Done, 1).await;
    result.unwrap();
    for other in [&south, &next] {
        assert_eq!(
            claim(&s, other, 2).await,
            InboundClaim::Granted(processing(other, 1, 2, 2, BTreeMap::new())),
            "{other:?} is a message of its own"
        );
    }
    assert_eq!(record(&s, &north).await.state, InboundState::Done);
}

fn mrn_lock(channel: &str, value: &str) -> KeyLock {
    KeyLock::new(
        &connector_domain::flow::ChannelId::parse(channel).expect("a channel id"),
        "mx_MRN",
        value,
    )
}

async fn lock(s: &FlowStoreSet, lock: &KeyLock, holder: &str, at: i64) -> bool {
    s.inbound_ledger
        .lock_key(lock, holder, fixtures::at(at), lease())
        .await
        .unwrap()
}

async fn key_lock_is_granted_to_one_holder_until_released_or_lapsed(s: FlowStoreSet) {
    let mrn = mrn_lock("north-ehr", "MRN20001");
    assert!(lock(&s, &mrn, "msg-a", 0).await, "a free lock is granted");
    assert!(!lock(&s, &mrn, "msg-b", 1).await, "held by msg-a");
    assert!(lock(&s, &mrn, "msg-a", 2).await, "the holder renews it");
    // The renewal moved the lease to 62: still held at 61.
    assert!(
        !lock(&s, &mrn, "msg-b", 61).await,
        "renewed lease still live"
    );
    // Releasing as somebody else changes nothing.
    s.inbound_ledger.unlock_key(&mrn, "msg-b").await.unwrap();
    assert!(
        !lock(&s, &mrn, "msg-b", 3).await,
        "a stranger cannot release it"
    );
    s.inbound_ledger.unlock_key(&mrn, "msg-a").await.unwrap();
    assert!(
        lock(&s, &mrn, "msg-b", 4).await,
        "released: the next taker gets it"
    );
    // A holder that dies: its lease lapses (at 4 + 60) and the lock goes to the next taker.
    assert!(!lock(&s, &mrn, "msg-c", 63).await);
    assert!(lock(&s, &mrn, "msg-c", 64).await, "lapsed lease taken over");
    // The old holder's late release does not free the new holder's lock.
    s.inbound_ledger.unlock_key(&mrn, "msg-b").await.unwrap();
    assert!(!lock(&s, &mrn, "msg-d", 65).await, "msg-c still holds it");
    // Releasing a lock nobody holds is fine.
    s.inbound_ledger
        .unlock_key(&mrn_lock("north-ehr", "MRN-NONE"), "msg-a")
        .await
        .unwrap();
}

async fn key_lock_concurrent_takers_get_one(s: FlowStoreSet) {
    const TAKERS: usize = 16;
    let mrn = mrn_lock("north-ehr", "MRN20002");
    let results = together(TAKERS, |n| {
        let (ledger, mrn) = (s.inbound_ledger.clone(), mrn.clone());
        async move {
            let holder = format!("msg-{n}");
            let granted = ledger.lock_key(&mrn, &holder, fixtures::at(0), lease());
            (n, granted.await.unwrap())
        }
    })
    .await;
    let winners: Vec<usize> = results.iter().filter(|r| r.1).map(|r| r.0).collect();
    assert_eq!(winners.len(), 1, "exactly one taker holds it: {results:?}");
    // Only the winner's release frees it.
    let winner = format!("msg-{}", winners[0]);
    assert!(lock(&s, &mrn, &winner, 1).await);
    s.inbound_ledger.unlock_key(&mrn, &winner).await.unwrap();
    assert!(lock(&s, &mrn, "late", 2).await);
}

async fn key_locks_are_per_channel_field_and_value(s: FlowStoreSet) {
    let north = mrn_lock("north-ehr", "MRN20003");
    assert!(lock(&s, &north, "msg-a", 0).await);
    // Values are compared as the CRM compares them: trimmed, case-insensitively.
    assert!(!lock(&s, &mrn_lock("north-ehr", " mrn20003 "), "msg-b", 0).await);
    assert!(lock(&s, &mrn_lock("south-ehr", "MRN20003"), "msg-b", 0).await);
    assert!(lock(&s, &mrn_lock("north-ehr", "MRN20004"), "msg-b", 0).await);
    let channel = connector_domain::flow::ChannelId::parse("north-ehr").unwrap();
    let phone = KeyLock::new(&channel, "Phone", "MRN20003");
    assert!(lock(&s, &phone, "msg-b", 0).await);
    assert!(
        !north.as_str().contains("MRN20003") && !north.as_str().to_lowercase().contains("mrn20003"),
        "the lock id never holds the value"
    );
}
