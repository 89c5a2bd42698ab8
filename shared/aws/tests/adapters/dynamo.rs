use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use chrono::{Duration, TimeZone, Utc};
use connector_aws::{AwsAdapters, DEFAULT_AUDIT_RETENTION, RequestCounter};
use connector_domain::StoreError;
use connector_domain::appointment::TransitionCursor;
use connector_domain::audit::{AuditOutcome, AuditQuery, LogType};
use connector_domain::ports::{AppointmentStore, AuditLog, ConsentStore};
use connector_testkit::contract::paginate_audit;
use connector_testkit::fixtures;

use crate::common;

fn dynamodb_requests(counter: &RequestCounter, operation: &str) -> u64 {
    counter
        .by_operation()
        .get(&format!("dynamodb.{operation}"))
        .copied()
        .unwrap_or(0)
}

/// Appends `n` records for `patient`; returns them.
async fn append_n(
    a: &AwsAdapters,
    patient: &str,
    n: u64,
) -> Vec<connector_domain::consent::Consent> {
    let store = a.consents();
    let mut out = Vec::new();
    for seq in 1..=n {
        let c = fixtures::consent(patient, seq);
        store
            .append(
                &c,
                (seq > 1).then_some(seq - 1),
                &fixtures::consent_audit(&c, "consent.created"),
            )
            .await
            .unwrap();
        out.push(c);
    }
    out
}

#[tokio::test]
async fn create_tables_is_idempotent_and_enables_ttl() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    a.create_tables()
        .await
        .expect("second call leaves the tables as they are");
    let ttl = common::ttl_of(&a, &a.config().tables.audit).await;
    assert_eq!(ttl.attribute_name.as_deref(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status, Some(TimeToLiveStatus::Enabled));
}

#[tokio::test]
async fn latest_many_reads_150_patients_in_two_batch_gets() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let mut expected = BTreeSet::new();
    for i in 0..150 {
        let latest = append_n(&a, &format!("bg-{i:03}"), 1 + i % 2)
            .await
            .pop()
            .unwrap();
        expected.insert(latest.consent_id.to_string());
    }
    let mut ids: Vec<_> = (0..150)
        .map(|i| fixtures::patient_id(&format!("bg-{i:03}")))
        .collect();
    ids.extend(ids.clone()); // repeats are read once
    ids.push(fixtures::patient_id("bg-unknown"));
    counter.reset();
    let found = a.consents().latest_many(&ids).await.unwrap();
    let got: BTreeSet<_> = found.iter().map(|c| c.consent_id.to_string()).collect();
    assert_eq!(got, expected);
    assert_eq!(found.len(), 150);
    assert_eq!(
        dynamodb_requests(&counter, "BatchGetItem"),
        2,
        "151 distinct keys: 100 + 51"
    );
    assert_eq!(counter.total("dynamodb"), 2);
}

#[tokio::test]
async fn a_consent_and_its_audit_entry_are_one_transaction() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let c = fixtures::consent("p-1", 1);
    let entry = fixtures::consent_audit(&c, "consent.created");
    // The audit entry exists already (a reused id): the whole transaction is cancelled.
    a.audit().append(&entry).await.unwrap();
    let result = a.consents().append(&c, None, &entry).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    let p = fixtures::patient_id("p-1");
    assert_eq!(a.consents().latest(&p).await.unwrap(), None, "no LATEST");
    assert!(
        a.consents().history(&p).await.unwrap().is_empty(),
        "no record"
    );
    // ...and no uniqueness marker: the same consent id can still be recorded.
    let fresh_entry = fixtures::consent_audit(&c, "consent.created");
    a.consents().append(&c, None, &fresh_entry).await.unwrap();
}

#[tokio::test]
async fn consent_ids_are_unique_across_patients() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let first = append_n(&a, "p-1", 1).await.remove(0);
    let mut other = fixtures::consent("p-2", 1);
    other.consent_id = first.consent_id.clone();
    let result = a
        .consents()
        .append(
            &other,
            None,
            &fixtures::consent_audit(&other, "consent.created"),
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(
        a.consents()
            .latest(&fixtures::patient_id("p-2"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_wrong_seq_is_an_invalid_call() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let c = fixtures::consent("p-1", 3);
    let result = a
        .consents()
        .append(&c, Some(1), &fixtures::consent_audit(&c, "consent.created"))
        .await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
}

#[tokio::test]
async fn audit_entries_expire_after_the_retention() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let entry = fixtures::audit_entry(LogType::Hl7Inbound, fixtures::at(0));
    a.audit().append(&entry).await.unwrap();
    let pk = format!("ENTRY#{}", entry.entry_id);
    let item = common::raw_item(&a, &a.config().tables.audit, &[("pk", &pk)])
        .await
        .unwrap();
    let expected = fixtures::at(0).timestamp() + DEFAULT_AUDIT_RETENTION.as_secs() as i64;
    assert_eq!(
        item.get("expires_at"),
        Some(&AttributeValue::N(expected.to_string()))
    );
    // Six years and then some: 2192 days.
    assert_eq!(DEFAULT_AUDIT_RETENTION.as_secs(), 2192 * 86_400);
}

#[tokio::test]
async fn audit_filtered_pages_are_full_and_cheap() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let log = a.audit();
    let mut errors = Vec::new();
    for i in 0..120 {
        let mut e = fixtures::audit_entry(LogType::HieSentAppointments, fixtures::at(i));
        if i % 10 == 0 {
            e.outcome = AuditOutcome::Error;
            errors.push(e.entry_id.clone());
        }
        log.append(&e).await.unwrap();
    }
    errors.reverse();
    counter.reset();
    let query = AuditQuery {
        log_type: Some(LogType::HieSentAppointments),
        outcome: Some(AuditOutcome::Error),
        limit: 5,
        ..AuditQuery::default()
    };
    let (sizes, seen) = paginate_audit(&log, query).await;
    assert_eq!(sizes, [5, 5, 2], "a filter never makes short pages");
    assert_eq!(seen, errors);
    assert_eq!(
        dynamodb_requests(&counter, "Query"),
        3,
        "one query per page: 1000-item reads under the filter"
    );
}

#[tokio::test]
async fn audit_without_filters_merges_the_log_types() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let log = a.audit();
    let mut all = Vec::new();
    for i in 0..30 {
        let e = fixtures::audit_entry(LogType::ALL[i % 5], fixtures::at(i as i64 * 7 % 30));
        log.append(&e).await.unwrap();
        all.push(e);
    }
    all.sort_by(|x, y| (y.occurred_at, &y.entry_id).cmp(&(x.occurred_at, &x.entry_id)));
    counter.reset();
    let (mut seen, mut cursor) = (Vec::new(), None);
    for _ in 0..10 {
        let page = log
            .query(&AuditQuery {
                limit: 7,
                cursor: cursor.take(),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        seen.extend(page.items.into_iter().map(|e| e.entry_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        all.iter().map(|e| e.entry_id.clone()).collect::<Vec<_>>(),
        "newest first, each once"
    );
    assert_eq!(
        dynamodb_requests(&counter, "Query"),
        5 * 5,
        "five pages, one query per log type each"
    );
}

#[tokio::test]
async fn transitioned_reads_1000_appointments_in_two_requests() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let store = a.appointments();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            for i in (chunk..1000).step_by(8) {
                let appointment =
                    fixtures::appointment(&format!("ap-{i:04}"), &format!("p-{i:04}"));
                store.put(&appointment).await.unwrap();
                store
                    .record_transition(&appointment.appointment_id, 0, fixtures::at(i as i64))
                    .await
                    .unwrap();
            }
        });
    }
    tasks.join_all().await;

    counter.reset();
    let until = fixtures::at(10_000);
    let all = store.transitioned(None, until, 1000).await.unwrap();
    assert_eq!(all.len(), 1000);
    assert!(
        all.windows(2)
            .all(|w| w[0].transitioned_at < w[1].transitioned_at),
        "ascending"
    );
    let requests = counter.by_operation();
    assert_eq!(
        counter.total("dynamodb"),
        2,
        "the first-month lookup and one 1 MB query page: {requests:?}"
    );

    counter.reset();
    let start = TransitionCursor::starting_at(fixtures::at(0));
    let from_cursor = store.transitioned(Some(&start), until, 1000).await.unwrap();
    assert_eq!(from_cursor.len(), 1000);
    assert_eq!(
        counter.total("dynamodb"),
        1,
        "a cursor names the month: one query"
    );
}

#[tokio::test]
async fn transitioned_spans_months_and_years() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let store = a.appointments();
    let times = [
        Utc.with_ymd_and_hms(2025, 12, 31, 23, 59, 59).unwrap(),
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap(),
    ];
    // Recorded latest first, so the earliest month is learnt last.
    for (i, at) in times.iter().enumerate().rev() {
        let appointment = fixtures::appointment(&format!("m-{i}"), "p-1");
        store.put(&appointment).await.unwrap();
        store
            .record_transition(&appointment.appointment_id, 0, *at)
            .await
            .unwrap();
    }
    // A new store (as in a new process) knows nothing of the months in memory.
    let store = a.appointments();
    let ids = |v: Vec<connector_domain::appointment::Appointment>| {
        v.into_iter()
            .map(|a| a.appointment_id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.transitioned(None, times[2], 10).await.unwrap()),
        ["m-0", "m-1", "m-2"]
    );
    assert_eq!(
        ids(store
            .transitioned(None, times[2] - Duration::seconds(1), 10)
            .await
            .unwrap()),
        ["m-0", "m-1"]
    );
    let after_first = TransitionCursor::after(
        &store
            .get(&fixtures::appointment_id("m-0"))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        ids(store
            .transitioned(Some(&after_first), times[2], 10)
            .await
            .unwrap()),
        ["m-1", "m-2"]
    );
}

#[tokio::test]
async fn errors_never_carry_stored_values() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    // A corrupt appointment item (a manual edit): the error names the kind only.
    let item = [
        ("pk", "APPT#bad"),
        ("appointment_id", "bad"),
        ("reason", fixtures::VISIT_REASON),
    ];
    common::raw_put(&a, &a.config().tables.appointments, &item).await;
    let err = a
        .appointments()
        .get(&fixtures::appointment_id("bad"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt("appointment")));
    let text = format!("{err} {err:?}");
    assert!(fixtures::phi_found_in(&text).is_empty(), "{text}");
}
