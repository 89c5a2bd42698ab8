//! `ConsentStore` cases.

use std::collections::BTreeSet;

use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, AuditQuery};
use connector_domain::consent::Consent;

use super::{Case, StoreSet, assert_conflict, assert_not_found, audit_matching, cases};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<StoreSet>> {
    cases![
        consent_append_sequence_and_latest,
        consent_latest_of_unknown_patient_is_none,
        consent_append_with_stale_expected_seq_conflicts,
        consent_append_first_with_expected_seq_conflicts,
        consent_append_duplicate_id_conflicts,
        consent_concurrent_appends_exactly_one_wins,
        consent_revoke_latest,
        consent_revoke_non_latest_conflicts,
        consent_revoke_revoked_conflicts,
        consent_revoke_unknown_is_not_found,
        consent_history_is_per_patient_newest_first,
        consent_get_by_id,
        consent_latest_many_empty_and_one,
        consent_latest_many_150_patients,
    ]
}

/// Appends records 1..=n for `patient`; returns them in append order.
/// The latest consent of the patient `patient`, if any.
async fn latest(s: &StoreSet, patient: &str) -> Option<Consent> {
    let id = fixtures::patient_id(patient);
    s.consents.latest(&id).await.unwrap()
}

async fn append_n(s: &StoreSet, patient: &str, n: u64) -> Vec<Consent> {
    let mut out = Vec::new();
    for seq in 1..=n {
        let c = fixtures::consent(patient, seq);
        let entry = fixtures::consent_audit(&c, "consent.created");
        s.consents
            .append(&c, (seq > 1).then_some(seq - 1), &entry)
            .await
            .unwrap();
        out.push(c);
    }
    out
}

async fn audit_of(s: &StoreSet, patient: &str) -> Vec<AuditEntry> {
    audit_matching(
        &*s.audit,
        AuditQuery {
            patient_id: Some(fixtures::patient_id(patient)),
            ..AuditQuery::default()
        },
    )
    .await
}

async fn consent_append_sequence_and_latest(s: StoreSet) {
    let p = fixtures::patient_id("p-1");
    let mut entries = Vec::new();
    let mut records = Vec::new();
    for seq in 1..=3u64 {
        let c = fixtures::consent("p-1", seq);
        let entry = fixtures::consent_audit(&c, "consent.created");
        s.consents
            .append(&c, (seq > 1).then_some(seq - 1), &entry)
            .await
            .unwrap();
        assert_eq!(
            s.consents.latest(&p).await.unwrap(),
            Some(c.clone()),
            "record {seq} is the latest"
        );
        entries.push(entry);
        records.push(c);
    }
    records.reverse();
    assert_eq!(s.consents.history(&p).await.unwrap(), records);
    let logged: BTreeSet<String> = audit_of(&s, "p-1")
        .await
        .into_iter()
        .map(|e| e.entry_id)
        .collect();
    assert_eq!(
        logged,
        entries.into_iter().map(|e| e.entry_id).collect(),
        "each append wrote its audit entry"
    );
}

async fn consent_latest_of_unknown_patient_is_none(s: StoreSet) {
    append_n(&s, "p-1", 1).await;
    assert_eq!(latest(&s, "p-2").await, None);
    assert!(
        s.consents
            .history(&fixtures::patient_id("p-2"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn consent_append_with_stale_expected_seq_conflicts(s: StoreSet) {
    let first = append_n(&s, "p-1", 2).await;
    // Expected 1 while the latest is 2.
    let stale = fixtures::consent("p-1", 2);
    let stale_entry = fixtures::consent_audit(&stale, "consent.created");
    assert_conflict(s.consents.append(&stale, Some(1), &stale_entry).await);
    // Expected "none" while records exist.
    let fresh = fixtures::consent("p-1", 1);
    let fresh_entry = fixtures::consent_audit(&fresh, "consent.created");
    assert_conflict(s.consents.append(&fresh, None, &fresh_entry).await);
    // Expected a seq beyond the latest.
    let ahead = fixtures::consent("p-1", 6);
    let ahead_entry = fixtures::consent_audit(&ahead, "consent.created");
    assert_conflict(s.consents.append(&ahead, Some(5), &ahead_entry).await);

    let p = fixtures::patient_id("p-1");
    assert_eq!(
        s.consents.history(&p).await.unwrap(),
        first.into_iter().rev().collect::<Vec<_>>(),
        "nothing written"
    );
    for c in [&stale, &fresh, &ahead] {
        assert_eq!(s.consents.get(&p, &c.consent_id).await.unwrap(), None);
    }
    let logged = audit_of(&s, "p-1").await;
    assert_eq!(logged.len(), 2, "no audit entry for a lost append");
}

async fn consent_append_first_with_expected_seq_conflicts(s: StoreSet) {
    let c = fixtures::consent("p-1", 2);
    let entry = fixtures::consent_audit(&c, "consent.created");
    assert_conflict(s.consents.append(&c, Some(1), &entry).await);
    assert_eq!(latest(&s, "p-1").await, None);
    assert!(audit_of(&s, "p-1").await.is_empty());
}

async fn consent_append_duplicate_id_conflicts(s: StoreSet) {
    let first = append_n(&s, "p-1", 1).await.remove(0);
    let mut dup = fixtures::consent("p-1", 2);
    dup.consent_id = first.consent_id.clone();
    let entry = fixtures::consent_audit(&dup, "consent.created");
    assert_conflict(s.consents.append(&dup, Some(1), &entry).await);
    let p = fixtures::patient_id("p-1");
    assert_eq!(s.consents.history(&p).await.unwrap(), vec![first.clone()]);
    assert_eq!(
        s.consents.get(&p, &first.consent_id).await.unwrap(),
        Some(first)
    );
    assert_eq!(audit_of(&s, "p-1").await.len(), 1);
}

async fn consent_concurrent_appends_exactly_one_wins(s: StoreSet) {
    append_n(&s, "p-1", 1).await;
    let a = fixtures::consent("p-1", 2);
    let b = fixtures::consent("p-1", 2);
    let (entry_a, entry_b) = (
        fixtures::consent_audit(&a, "consent.created"),
        fixtures::consent_audit(&b, "consent.created"),
    );
    let (ra, rb) = tokio::join!(
        s.consents.append(&a, Some(1), &entry_a),
        s.consents.append(&b, Some(1), &entry_b)
    );
    let a_won = match (&ra, &rb) {
        (Ok(()), Err(StoreError::Conflict(_))) => true,
        (Err(StoreError::Conflict(_)), Ok(())) => false,
        _ => panic!("expected exactly one Ok and one Conflict, got {ra:?} and {rb:?}"),
    };
    let (winner, winner_entry) = if a_won {
        (&a, &entry_a)
    } else {
        (&b, &entry_b)
    };
    let p = fixtures::patient_id("p-1");
    assert_eq!(s.consents.latest(&p).await.unwrap().as_ref(), Some(winner));
    assert_eq!(s.consents.history(&p).await.unwrap().len(), 2);
    let logged: Vec<String> = audit_of(&s, "p-1")
        .await
        .into_iter()
        .map(|e| e.entry_id)
        .collect();
    assert_eq!(logged.len(), 2, "only the winner's audit entry is written");
    assert!(logged.contains(&winner_entry.entry_id));
}

async fn consent_revoke_latest(s: StoreSet) {
    let records = append_n(&s, "p-1", 2).await;
    let revoked = fixtures::revoked(&records[1], fixtures::at(120));
    let entry = fixtures::consent_audit(&revoked, "consent.revoked");
    s.consents.revoke(&revoked, &entry).await.unwrap();

    let p = fixtures::patient_id("p-1");
    assert_eq!(
        s.consents.latest(&p).await.unwrap(),
        Some(revoked.clone()),
        "the latest is now revoked"
    );
    assert_eq!(
        s.consents.get(&p, &revoked.consent_id).await.unwrap(),
        Some(revoked.clone())
    );
    assert_eq!(
        s.consents.history(&p).await.unwrap(),
        vec![revoked, records[0].clone()]
    );
    let logged = audit_of(&s, "p-1").await;
    assert!(
        logged.iter().any(|e| e.entry_id == entry.entry_id),
        "the revocation is audited"
    );
    assert_eq!(logged.len(), 3);
}

async fn consent_revoke_non_latest_conflicts(s: StoreSet) {
    let records = append_n(&s, "p-1", 2).await;
    let revoked = fixtures::revoked(&records[0], fixtures::at(120));
    let entry = fixtures::consent_audit(&revoked, "consent.revoked");
    assert_conflict(s.consents.revoke(&revoked, &entry).await);
    let p = fixtures::patient_id("p-1");
    assert_eq!(
        s.consents.get(&p, &records[0].consent_id).await.unwrap(),
        Some(records[0].clone()),
        "unchanged"
    );
    assert_eq!(
        audit_of(&s, "p-1").await.len(),
        2,
        "no audit entry for a refused revocation"
    );
}

async fn consent_revoke_revoked_conflicts(s: StoreSet) {
    let record = append_n(&s, "p-1", 1).await.remove(0);
    let first = fixtures::revoked(&record, fixtures::at(60));
    s.consents
        .revoke(&first, &fixtures::consent_audit(&first, "consent.revoked"))
        .await
        .unwrap();
    let second = fixtures::revoked(&record, fixtures::at(120));
    let entry = fixtures::consent_audit(&second, "consent.revoked");
    assert_conflict(s.consents.revoke(&second, &entry).await);
    let p = fixtures::patient_id("p-1");
    assert_eq!(
        s.consents.get(&p, &record.consent_id).await.unwrap(),
        Some(first),
        "the first revocation stays"
    );
    assert_eq!(audit_of(&s, "p-1").await.len(), 2);
}

async fn consent_revoke_unknown_is_not_found(s: StoreSet) {
    append_n(&s, "p-1", 1).await;
    let ghost = fixtures::revoked(&fixtures::consent("p-1", 1), fixtures::at(60));
    assert_not_found(
        s.consents
            .revoke(&ghost, &fixtures::consent_audit(&ghost, "consent.revoked"))
            .await,
    );
    // A record of another patient is not found under this patient either.
    let other = append_n(&s, "p-2", 1).await.remove(0);
    let mut misfiled = fixtures::revoked(&other, fixtures::at(60));
    misfiled.patient_id = fixtures::patient_id("p-1");
    assert_not_found(
        s.consents
            .revoke(
                &misfiled,
                &fixtures::consent_audit(&misfiled, "consent.revoked"),
            )
            .await,
    );
    assert_eq!(latest(&s, "p-2").await, Some(other));
}

async fn consent_history_is_per_patient_newest_first(s: StoreSet) {
    let mine = append_n(&s, "p-1", 3).await;
    let theirs = append_n(&s, "p-2", 2).await;
    let history = s
        .consents
        .history(&fixtures::patient_id("p-1"))
        .await
        .unwrap();
    assert_eq!(history.iter().map(|c| c.seq).collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!(history, mine.into_iter().rev().collect::<Vec<_>>());
    assert_eq!(
        s.consents
            .history(&fixtures::patient_id("p-2"))
            .await
            .unwrap(),
        theirs.into_iter().rev().collect::<Vec<_>>()
    );
}

async fn consent_get_by_id(s: StoreSet) {
    let records = append_n(&s, "p-1", 2).await;
    let p = fixtures::patient_id("p-1");
    for c in &records {
        assert_eq!(
            s.consents.get(&p, &c.consent_id).await.unwrap().as_ref(),
            Some(c)
        );
    }
    assert_eq!(
        s.consents
            .get(&fixtures::patient_id("p-2"), &records[0].consent_id)
            .await
            .unwrap(),
        None,
        "other patient"
    );
    assert_eq!(
        s.consents
            .get(&p, &fixtures::consent_id("no-such-consent"))
            .await
            .unwrap(),
        None
    );
}

async fn consent_latest_many_empty_and_one(s: StoreSet) {
    let records = append_n(&s, "p-1", 2).await;
    assert!(s.consents.latest_many(&[]).await.unwrap().is_empty());
    assert_eq!(
        s.consents
            .latest_many(&[fixtures::patient_id("p-1")])
            .await
            .unwrap(),
        vec![records[1].clone()]
    );
    assert!(
        s.consents
            .latest_many(&[fixtures::patient_id("p-2")])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn consent_latest_many_150_patients(s: StoreSet) {
    // Patient i has i % 3 records: a third have none, a third one, a third two.
    let ids: Vec<String> = (0..150).map(|i| format!("lm-{i:03}")).collect();
    let mut expected = BTreeSet::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(latest) = append_n(&s, id, (i % 3) as u64).await.pop() {
            expected.insert((
                latest.patient_id.to_string(),
                latest.consent_id.to_string(),
                latest.seq,
            ));
        }
    }
    let mut query: Vec<_> = ids.iter().map(|id| fixtures::patient_id(id)).collect();
    query.push(fixtures::patient_id("lm-unknown"));
    let found = s.consents.latest_many(&query).await.unwrap();
    assert_eq!(
        found.len(),
        100,
        "one latest record per patient that has any"
    );
    let got: BTreeSet<_> = found
        .iter()
        .map(|c| (c.patient_id.to_string(), c.consent_id.to_string(), c.seq))
        .collect();
    assert_eq!(got, expected);
}
