//! `PatientStore` cases.

use connector_domain::audit::{AuditEntry, AuditQuery};
use connector_domain::consent::Consent;
use connector_domain::patient::{Patient, Phone, Sex};

use super::{Case, StoreSet, assert_conflict, assert_not_found, audit_matching, cases};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<StoreSet>> {
    cases![
        patient_insert_then_get,
        patient_get_unknown_is_none,
        patient_insert_existing_conflicts_and_keeps_the_original,
        patient_update_replaces_demographics,
        patient_update_unknown_is_not_found,
        patient_insert_with_initial_consent_writes_all,
        patient_insert_conflict_writes_no_consent_or_audit,
    ]
}

async fn patient_insert_then_get(s: StoreSet) {
    let p = fixtures::patient("p-1");
    s.patients.insert(&p, None).await.unwrap();
    assert_eq!(s.patients.get(&p.patient_id).await.unwrap(), Some(p));
    assert_eq!(
        s.consents
            .latest(&fixtures::patient_id("p-1"))
            .await
            .unwrap(),
        None,
        "no consent without initial"
    );
}

async fn patient_get_unknown_is_none(s: StoreSet) {
    s.patients
        .insert(&fixtures::patient("p-1"), None)
        .await
        .unwrap();
    assert_eq!(
        s.patients.get(&fixtures::patient_id("p-2")).await.unwrap(),
        None
    );
}

async fn patient_insert_existing_conflicts_and_keeps_the_original(s: StoreSet) {
    let original = fixtures::patient("p-1");
    s.patients.insert(&original, None).await.unwrap();
    let mut other = fixtures::patient("p-1");
    other.sex = Sex::Unknown;
    other.phone = None;
    assert_conflict(s.patients.insert(&other, None).await);
    assert_eq!(
        s.patients.get(&original.patient_id).await.unwrap(),
        Some(original)
    );
}

async fn patient_update_replaces_demographics(s: StoreSet) {
    let original = fixtures::patient("p-1");
    s.patients.insert(&original, None).await.unwrap();
    let mut changed = original.clone();
    changed.phone = Some(Phone::parse("+1 555 0199").unwrap());
    changed.address = None;
    changed.updated_at = fixtures::at(60);
    s.patients.update(&changed).await.unwrap();
    assert_eq!(
        s.patients.get(&original.patient_id).await.unwrap(),
        Some(changed)
    );
}

async fn patient_update_unknown_is_not_found(s: StoreSet) {
    assert_not_found(s.patients.update(&fixtures::patient("p-1")).await);
    assert_eq!(
        s.patients.get(&fixtures::patient_id("p-1")).await.unwrap(),
        None,
        "update must not create"
    );
}

/// Inserts `patient` with its opt-in-by-default consent (and that consent's audit entry),
/// which it returns.
pub(super) async fn insert_opted_in(s: &StoreSet, patient: &Patient) -> (Consent, AuditEntry) {
    let consent = fixtures::opt_in_consent(patient.patient_id.as_str());
    let entry = fixtures::consent_audit(&consent, "consent.created");
    s.patients
        .insert(patient, Some((&consent, &entry)))
        .await
        .unwrap();
    (consent, entry)
}

async fn patient_insert_with_initial_consent_writes_all(s: StoreSet) {
    let p = fixtures::patient("p-1");
    let (consent, entry) = insert_opted_in(&s, &p).await;

    assert_eq!(
        s.patients.get(&p.patient_id).await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        s.consents.latest(&p.patient_id).await.unwrap(),
        Some(consent.clone()),
        "initial consent is the latest"
    );
    assert_eq!(
        s.consents.history(&p.patient_id).await.unwrap(),
        vec![consent.clone()]
    );
    assert_eq!(
        s.consents
            .get(&p.patient_id, &consent.consent_id)
            .await
            .unwrap(),
        Some(consent)
    );
    let page = s
        .audit
        .query(&AuditQuery {
            patient_id: Some(p.patient_id.clone()),
            limit: 50,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.items,
        vec![entry],
        "the consent's audit entry is written with it"
    );
}

async fn patient_insert_conflict_writes_no_consent_or_audit(s: StoreSet) {
    let p = fixtures::patient("p-1");
    s.patients.insert(&p, None).await.unwrap();
    let consent = fixtures::opt_in_consent("p-1");
    let entry = fixtures::consent_audit(&consent, "consent.created");
    assert_conflict(s.patients.insert(&p, Some((&consent, &entry))).await);

    assert_eq!(s.consents.latest(&p.patient_id).await.unwrap(), None);
    assert_eq!(
        s.consents
            .get(&p.patient_id, &consent.consent_id)
            .await
            .unwrap(),
        None
    );
    let logged = audit_matching(&*s.audit, AuditQuery::default()).await;
    assert!(logged.is_empty(), "a failed insert writes no audit entry");
}
