//! `AuditLog` cases.

use std::collections::BTreeSet;

use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, AuditOutcome, AuditQuery, LogType};

use super::{Case, StoreSet, cases, paginate_audit};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<StoreSet>> {
    cases![
        audit_empty_log_has_an_empty_last_page,
        audit_append_is_idempotent_by_entry_id,
        audit_each_filter_and_their_combination,
        audit_date_range_from_inclusive_to_exclusive,
        audit_newest_first,
        audit_pagination_visits_each_entry_once,
        audit_pagination_with_a_filter,
        audit_limit_is_clamped,
        audit_invalid_cursor_is_rejected,
        audit_channel_filter_selects_one_channels_entries,
    ]
}

fn query() -> AuditQuery {
    AuditQuery {
        limit: 500,
        ..AuditQuery::default()
    }
}

async fn ids(s: &StoreSet, q: AuditQuery) -> Vec<String> {
    s.audit
        .query(&q)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.entry_id)
        .collect()
}

fn entry_ids(entries: &[&AuditEntry]) -> Vec<String> {
    entries.iter().map(|e| e.entry_id.clone()).collect()
}

async fn append_all(s: &StoreSet, entries: &[AuditEntry]) {
    for e in entries {
        s.audit.append(e).await.unwrap();
    }
}

async fn audit_empty_log_has_an_empty_last_page(s: StoreSet) {
    let page = s.audit.query(&query()).await.unwrap();
    assert!(page.items.is_empty());
    assert_eq!(page.next_cursor, None);
}

async fn audit_append_is_idempotent_by_entry_id(s: StoreSet) {
    let entry = fixtures::audit_entry(LogType::Hl7Inbound, fixtures::at(0));
    s.audit.append(&entry).await.unwrap();
    s.audit.append(&entry).await.unwrap();
    // A retry carrying different content does not overwrite the first write either.
    let changed = AuditEntry {
        outcome: AuditOutcome::Error,
        action: "changed".into(),
        ..entry.clone()
    };
    s.audit.append(&changed).await.unwrap();
    assert_eq!(s.audit.query(&query()).await.unwrap().items, vec![entry]);
}

async fn audit_each_filter_and_their_combination(s: StoreSet) {
    let (p1, p2) = (fixtures::patient_id("p-1"), fixtures::patient_id("p-2"));
    let (a1, a2) = (
        fixtures::appointment_id("a-1"),
        fixtures::appointment_id("a-2"),
    );
    let sent = LogType::HieSentAppointments;
    let e1 = fixtures::audit_entry(LogType::HieConsentChanges, fixtures::at(0)).with_patient(&p1);
    let e2 = fixtures::audit_entry(sent, fixtures::at(10))
        .with_patient(&p1)
        .with_appointment(&a1);
    let mut e3 = fixtures::audit_entry(sent, fixtures::at(20))
        .with_patient(&p2)
        .with_appointment(&a2);
    e3.outcome = AuditOutcome::Error;
    let mut e4 = fixtures::audit_entry(sent, fixtures::at(30))
        .with_patient(&p1)
        .with_appointment(&a1);
    e4.outcome = AuditOutcome::Skipped;
    let e5 = fixtures::audit_entry(LogType::ConfigurationChanges, fixtures::at(40));
    append_all(
        &s,
        &[e1.clone(), e2.clone(), e3.clone(), e4.clone(), e5.clone()],
    )
    .await;

    let single_filters = [
        (
            AuditQuery {
                log_type: Some(sent),
                ..query()
            },
            entry_ids(&[&e4, &e3, &e2]),
            "log_type",
        ),
        (
            AuditQuery {
                patient_id: Some(p1.clone()),
                ..query()
            },
            entry_ids(&[&e4, &e2, &e1]),
            "patient_id",
        ),
        (
            AuditQuery {
                appointment_id: Some(a1.clone()),
                ..query()
            },
            entry_ids(&[&e4, &e2]),
            "appointment_id",
        ),
        (
            AuditQuery {
                outcome: Some(AuditOutcome::Success),
                ..query()
            },
            entry_ids(&[&e5, &e2, &e1]),
            "outcome",
        ),
    ];
    for (filter, expected, name) in single_filters {
        assert_eq!(ids(&s, filter).await, expected, "{name}");
    }
    let combined = AuditQuery {
        log_type: Some(sent),
        patient_id: Some(p1.clone()),
        appointment_id: Some(a1.clone()),
        outcome: Some(AuditOutcome::Success),
        from: Some(fixtures::at(0)),
        to: Some(fixtures::at(40)),
        ..query()
    };
    assert_eq!(
        ids(&s, combined).await,
        entry_ids(&[&e2]),
        "all filters combine"
    );
    let none = AuditQuery {
        log_type: Some(LogType::CrmOutbound),
        ..query()
    };
    assert!(ids(&s, none).await.is_empty());
    let none = AuditQuery {
        patient_id: Some(p2),
        outcome: Some(AuditOutcome::Success),
        ..query()
    };
    assert!(ids(&s, none).await.is_empty());
}

async fn audit_date_range_from_inclusive_to_exclusive(s: StoreSet) {
    let entries: Vec<_> = (0..5)
        .map(|i| fixtures::audit_entry(LogType::Hl7Inbound, fixtures::at(i * 60)))
        .collect();
    append_all(&s, &entries).await;
    // (from, to in seconds, the entries the range selects, newest first)
    let ranges: [(Option<i64>, Option<i64>, &[usize]); 5] = [
        (Some(60), Some(180), &[2, 1]),
        (Some(240), None, &[4]),
        (None, Some(0), &[]),
        (None, Some(1), &[0]),
        (Some(61), Some(119), &[]),
    ];
    for (from, to, selected) in ranges {
        let range = AuditQuery {
            from: from.map(fixtures::at),
            to: to.map(fixtures::at),
            ..query()
        };
        let expected: Vec<_> = selected.iter().map(|&i| &entries[i]).collect();
        let why = format!("from {from:?} to {to:?}");
        assert_eq!(ids(&s, range).await, entry_ids(&expected), "{why}");
    }
}

async fn audit_newest_first(s: StoreSet) {
    let offsets = [300, 0, 120, 60, 240, 180];
    let entries: Vec<_> = offsets
        .iter()
        .map(|o| fixtures::audit_entry(LogType::HieConsentChanges, fixtures::at(*o)))
        .collect();
    append_all(&s, &entries).await;
    let items = s.audit.query(&query()).await.unwrap().items;
    let times: Vec<_> = items.iter().map(|e| e.occurred_at).collect();
    let expected: Vec<_> = [300, 240, 180, 120, 60, 0]
        .iter()
        .map(|o| fixtures::at(*o))
        .collect();
    assert_eq!(times, expected);
}

/// 25 entries, three of them at each instant (ties), of alternating log types.
fn tied_entries() -> Vec<AuditEntry> {
    (0..25)
        .map(|i| {
            let log_type = if i % 2 == 0 {
                LogType::Hl7Inbound
            } else {
                LogType::CrmOutbound
            };
            fixtures::audit_entry(log_type, fixtures::at(i / 3 * 60))
        })
        .collect()
}

async fn paginate(s: &StoreSet, q: AuditQuery) -> (Vec<usize>, Vec<String>) {
    paginate_audit(&*s.audit, q).await
}

/// Reads every page of [`query`] in pages of `limit`.
async fn paginate_by(s: &StoreSet, limit: usize) -> (Vec<usize>, Vec<String>) {
    paginate(s, AuditQuery { limit, ..query() }).await
}

async fn audit_pagination_visits_each_entry_once(s: StoreSet) {
    let entries = tied_entries();
    append_all(&s, &entries).await;
    let one_page = ids(&s, query()).await;
    assert_eq!(one_page.len(), 25);
    let (sizes, seen) = paginate_by(&s, 10).await;
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(
        seen, one_page,
        "pages continue exactly where the previous one ended"
    );
    let distinct: BTreeSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), 25, "each entry once");
    let all: BTreeSet<_> = entries.iter().map(|e| &e.entry_id).collect();
    assert_eq!(distinct, all);
    let (sizes, seen) = paginate_by(&s, 5).await;
    assert_eq!(
        sizes,
        [5, 5, 5, 5, 5],
        "an exact multiple ends without an empty page"
    );
    assert_eq!(seen, one_page);
}

async fn audit_pagination_with_a_filter(s: StoreSet) {
    let entries = tied_entries();
    append_all(&s, &entries).await;
    let filter = AuditQuery {
        log_type: Some(LogType::Hl7Inbound),
        from: Some(fixtures::at(60)),
        ..query()
    };
    let one_page = ids(&s, filter.clone()).await;
    let expected: BTreeSet<_> = entries
        .iter()
        .filter(|e| e.log_type == LogType::Hl7Inbound && e.occurred_at >= fixtures::at(60))
        .map(|e| e.entry_id.clone())
        .collect();
    assert_eq!(one_page.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let (_, seen) = paginate(&s, AuditQuery { limit: 4, ..filter }).await;
    assert_eq!(seen, one_page);
}

async fn audit_limit_is_clamped(s: StoreSet) {
    let entries: Vec<_> = (0..3)
        .map(|i| fixtures::audit_entry(LogType::Hl7Inbound, fixtures::at(i)))
        .collect();
    append_all(&s, &entries).await;
    let page = s
        .audit
        .query(&AuditQuery {
            limit: 0,
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "limit 0 reads as 1");
    assert!(page.next_cursor.is_some());
    let page = s
        .audit
        .query(&AuditQuery {
            limit: 100_000,
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.next_cursor, None);
}

async fn audit_invalid_cursor_is_rejected(s: StoreSet) {
    append_all(
        &s,
        &[fixtures::audit_entry(LogType::Hl7Inbound, fixtures::at(0))],
    )
    .await;
    for bad in ["not a cursor", "zz", "{}"] {
        let result = s
            .audit
            .query(&AuditQuery {
                cursor: Some(bad.into()),
                ..query()
            })
            .await;
        assert!(
            matches!(result, Err(StoreError::InvalidCursor)),
            "cursor {bad:?}: expected InvalidCursor, got {result:?}"
        );
    }
}

async fn audit_channel_filter_selects_one_channels_entries(s: StoreSet) {
    let on = |log_type, channel: &str, at| {
        fixtures::audit_entry(log_type, fixtures::at(at))
            .with_detail(serde_json::json!({ "channel_id": channel }))
    };
    let a1 = on(LogType::Hl7Inbound, "north-ehr", 0);
    let a2 = on(LogType::Hl7Inbound, "north-ehr", 1);
    let b = on(LogType::Hl7Inbound, "south-ehr", 2);
    let out = on(LogType::CrmOutbound, "north-ehr", 3);
    // A channel id in another log's detail is not indexed as a channel.
    let config = on(LogType::ConfigurationChanges, "north-ehr", 4);
    append_all(
        &s,
        &[a1.clone(), a2.clone(), b.clone(), out.clone(), config],
    )
    .await;
    let north = Some(connector_domain::flow::ChannelId::parse("north-ehr").unwrap());
    let by = |log_type| AuditQuery {
        log_type: Some(log_type),
        channel_id: north.clone(),
        ..query()
    };
    assert_eq!(
        ids(&s, by(LogType::Hl7Inbound)).await,
        entry_ids(&[&a2, &a1])
    );
    assert_eq!(ids(&s, by(LogType::CrmOutbound)).await, entry_ids(&[&out]));
    // Pages of a channel's entries.
    let first = s
        .audit
        .query(&AuditQuery {
            limit: 1,
            ..by(LogType::Hl7Inbound)
        })
        .await
        .unwrap();
    assert_eq!(first.items, vec![a2]);
    let second = s
        .audit
        .query(&AuditQuery {
            limit: 1,
            cursor: first.next_cursor,
            ..by(LogType::Hl7Inbound)
        })
        .await
        .unwrap();
    assert_eq!(second.items, vec![a1]);
}
