//! `DashboardStore` cases: the counts follow the audit entries that record dashboard events,
//! whichever write carries them (a plain append, the send ledger's and the inbound ledger's
//! finish), once per entry however often the write is retried, also under concurrent writers;
//! reads return only the hours asked for; the newest batch run and CRM errors; delivery counts
//! by state.

use chrono::{DateTime, Utc};
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::dashboard::{AckCount, Counter, HourCounts, hour_of};
use connector_domain::hie::SendState;
use connector_domain::inbound::{InboundClaim, InboundState, parse_key};
use connector_domain::ports::{InboundClaimRequest, InboundFinish, LeaseTerms, SendFinish};
use serde_json::{Value, json};

use super::{Case, DashboardSet, DeliveryStoreSet, assert_conflict, cases, deliveries};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<DashboardSet>> {
    cases![
        dashboard_empty_store_counts_nothing,
        dashboard_appended_entries_count_once_per_entry_in_their_hour,
        dashboard_hours_returns_only_the_window_asked_for,
        dashboard_concurrent_appends_in_one_hour_all_count,
        dashboard_send_ledger_finish_counts_with_its_entry_only,
        dashboard_inbound_finish_counts_the_ack_and_lists_crm_errors,
        dashboard_recent_crm_errors_newest_first_limited,
        dashboard_last_batch_run_is_the_latest_finished,
        dashboard_delivery_counts_by_state,
    ]
}

fn entry(
    log_type: LogType,
    action: &str,
    outcome: AuditOutcome,
    at: i64,
    detail: Value,
) -> AuditEntry {
    AuditEntry::new(
        log_type,
        fixtures::at(at),
        fixtures::system(),
        action,
        outcome,
    )
    .with_detail(detail)
}

fn sent(at: i64) -> AuditEntry {
    entry(
        LogType::HieSentAppointments,
        "appointment.sent",
        AuditOutcome::Success,
        at,
        json!({}),
    )
}

fn inbound(ack: &str, at: i64) -> AuditEntry {
    entry(
        LogType::Hl7Inbound,
        "hl7.processed",
        AuditOutcome::Success,
        at,
        json!({"channel_id": "north-ehr", "ack": ack, "flows": []}),
    )
}

fn crm_failure(at: i64, flow: &str) -> AuditEntry {
    entry(
        LogType::Hl7Inbound,
        "hl7.processed",
        AuditOutcome::Error,
        at,
        json!({"channel_id": "north-ehr", "ack": "AE",
               "flows": [{"flow_id": flow, "error": "crm_rejected"}]}),
    )
}

fn batch(at: i64, enqueued: u64) -> AuditEntry {
    entry(
        LogType::HieSentAppointments,
        "batch.collected",
        AuditOutcome::Success,
        at,
        json!({"enqueued": enqueued, "skipped": {"no_consent": 1},
               "started_at": fixtures::at(at - 5)}),
    )
}

/// The hour of fixture second `at`.
fn hour(at: i64) -> DateTime<Utc> {
    hour_of(fixtures::at(at))
}

/// Every hour of `series` within a day around the fixture time.
async fn hours(s: &DashboardSet, series: &str) -> Vec<HourCounts> {
    s.dashboard
        .hours(series, fixtures::at(-86_400), fixtures::at(86_400))
        .await
        .unwrap()
}

async fn dashboard_empty_store_counts_nothing(s: DashboardSet) {
    assert!(hours(&s, "hie").await.is_empty());
    assert!(hours(&s, "hl7").await.is_empty());
    assert_eq!(s.dashboard.last_batch_run().await.unwrap(), None);
    assert!(s.dashboard.recent_crm_errors(10).await.unwrap().is_empty());
    assert_eq!(
        s.dashboard.delivery_counts().await.unwrap(),
        Default::default()
    );
}

async fn dashboard_appended_entries_count_once_per_entry_in_their_hour(s: DashboardSet) {
    let entries = [
        sent(0),
        sent(10),
        sent(3_600),
        entry(
            LogType::HieSentAppointments,
            "appointment.failed",
            AuditOutcome::Error,
            20,
            json!({}),
        ),
        // Not counted: a retry, a skip, a consent change.
        entry(
            LogType::HieSentAppointments,
            "appointment.retry",
            AuditOutcome::Error,
            30,
            json!({}),
        ),
        entry(
            LogType::HieSentAppointments,
            "appointment.skipped",
            AuditOutcome::Skipped,
            30,
            json!({}),
        ),
        fixtures::audit_entry(LogType::HieConsentChanges, fixtures::at(40)),
        inbound("AA", 0),
        inbound("AA", 1),
        inbound("AE", 2),
        inbound("AR", 3_601),
    ];
    for e in &entries {
        s.audit.append(e).await.unwrap();
        // A retried append of the same entry counts nothing.
        s.audit.append(e).await.unwrap();
    }
    let hie = hours(&s, "hie").await;
    assert_eq!(hie.len(), 2, "{hie:?}");
    assert_eq!(hie[0].hour, hour(0));
    assert_eq!(
        (hie[0].get(Counter::HieSent), hie[0].get(Counter::HieError)),
        (2, 1)
    );
    assert_eq!(hie[1].hour, hour(3_600));
    assert_eq!(
        (hie[1].get(Counter::HieSent), hie[1].get(Counter::HieError)),
        (1, 0)
    );
    let hl7 = hours(&s, "hl7").await;
    assert_eq!(hl7.len(), 2, "{hl7:?}");
    let code = |h: &HourCounts, c| h.get(Counter::Hl7(c));
    assert_eq!(
        (
            code(&hl7[0], AckCount::Aa),
            code(&hl7[0], AckCount::Ae),
            code(&hl7[0], AckCount::Ar)
        ),
        (2, 1, 0)
    );
    assert_eq!(code(&hl7[1], AckCount::Ar), 1);
}

async fn dashboard_hours_returns_only_the_window_asked_for(s: DashboardSet) {
    for at in [-7_200, 0, 7_200] {
        s.audit.append(&sent(at)).await.unwrap();
    }
    let only_now = s
        .dashboard
        .hours("hie", hour(0), hour(3_600))
        .await
        .unwrap();
    assert_eq!(only_now.len(), 1);
    assert_eq!(only_now[0].hour, hour(0));
    // The other series is separate.
    assert!(hours(&s, "hl7").await.is_empty());
}

async fn dashboard_concurrent_appends_in_one_hour_all_count(s: DashboardSet) {
    let writers = (0..16).map(|i| {
        let audit = s.audit.clone();
        tokio::spawn(async move { audit.append(&inbound("AA", i)).await })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.unwrap().unwrap();
    }
    let hl7 = hours(&s, "hl7").await;
    assert_eq!(hl7.len(), 1);
    assert_eq!(hl7[0].get(Counter::Hl7(AckCount::Aa)), 16);
}

async fn dashboard_send_ledger_finish_counts_with_its_entry_only(s: DashboardSet) {
    let key = fixtures::send_key("appt-1", 1, 0);
    let lease = chrono::Duration::seconds(60);
    s.send_ledger
        .claim(&key, LeaseTerms::new(fixtures::at(0), lease))
        .await
        .unwrap();
    let entry = sent(1).with_appointment(&key.appointment_id);
    let finish_sent = |entry: AuditEntry| {
        let (ledger, key) = (s.send_ledger.clone(), key.clone());
        async move {
            let at = fixtures::at(1);
            ledger
                .finish(SendFinish {
                    key: &key,
                    attempt: 1,
                    state: SendState::Sent,
                    message_id: Some("m-1"),
                    now: at,
                    audit: &entry,
                })
                .await
        }
    };
    finish_sent(entry).await.unwrap();
    // A repeated finish is refused and counts nothing.
    assert_conflict(finish_sent(sent(1)).await);
    let hie = hours(&s, "hie").await;
    assert_eq!(hie.len(), 1);
    assert_eq!(hie[0].get(Counter::HieSent), 1);
}

async fn dashboard_inbound_finish_counts_the_ack_and_lists_crm_errors(s: DashboardSet) {
    let key = parse_key("north-ehr", "MSG1").unwrap();
    let lease = chrono::Duration::seconds(60);
    let claim = s
        .inbound_ledger
        .claim(InboundClaimRequest {
            key: &key,
            body_sha256: &"0".repeat(64),
            event: "ADT^A04",
            lease: LeaseTerms::new(fixtures::at(0), lease),
        })
        .await
        .unwrap();
    assert!(matches!(claim, InboundClaim::Granted(_)));
    let failure = crm_failure(1, "flow-1");
    let finish_failed = || {
        s.inbound_ledger.finish(InboundFinish {
            key: &key,
            attempt: 1,
            state: InboundState::Failed,
            now: fixtures::at(1),
            audit: &failure,
        })
    };
    finish_failed().await.unwrap();
    // A repeated finish is refused and counts nothing.
    assert_conflict(finish_failed().await);
    let hl7 = hours(&s, "hl7").await;
    assert_eq!(hl7.len(), 1);
    assert_eq!(hl7[0].get(Counter::Hl7(AckCount::Ae)), 1);
    let errors = s.dashboard.recent_crm_errors(10).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].at, fixtures::at(1));
    assert_eq!(errors[0].channel_id, "north-ehr");
    assert_eq!(errors[0].flow_id.as_deref(), Some("flow-1"));
    assert_eq!(errors[0].summary, "crm_rejected");
}

async fn dashboard_recent_crm_errors_newest_first_limited(s: DashboardSet) {
    for i in 0..12 {
        let e = crm_failure(i * 60, &format!("flow-{i}"));
        s.audit.append(&e).await.unwrap();
        s.audit.append(&e).await.unwrap();
    }
    let errors = s.dashboard.recent_crm_errors(10).await.unwrap();
    let flows: Vec<_> = errors.iter().filter_map(|e| e.flow_id.clone()).collect();
    let expected: Vec<_> = (2..12).rev().map(|i| format!("flow-{i}")).collect();
    assert_eq!(flows, expected);
}

async fn dashboard_last_batch_run_is_the_latest_finished(s: DashboardSet) {
    s.audit.append(&batch(100, 3)).await.unwrap();
    s.audit.append(&batch(50, 7)).await.unwrap();
    let last = s.dashboard.last_batch_run().await.unwrap().unwrap();
    assert_eq!(last.finished_at, fixtures::at(100));
    assert_eq!(last.started_at, fixtures::at(95));
    assert_eq!((last.queued, last.skipped, last.errors), (3, 1, 0));
    let failed = entry(
        LogType::HieSentAppointments,
        "batch.failed",
        AuditOutcome::Error,
        200,
        json!({"started_at": fixtures::at(190)}),
    );
    s.audit.append(&failed).await.unwrap();
    let last = s.dashboard.last_batch_run().await.unwrap().unwrap();
    assert_eq!((last.finished_at, last.errors), (fixtures::at(200), 1));
    // A run without an audit entry, recorded directly (twice: once).
    let empty = connector_domain::dashboard::BatchRunSummary {
        started_at: fixtures::at(299),
        finished_at: fixtures::at(300),
        queued: 0,
        skipped: 0,
        errors: 0,
    };
    s.dashboard.record_batch_run("run-1", &empty).await.unwrap();
    s.dashboard.record_batch_run("run-1", &empty).await.unwrap();
    assert_eq!(s.dashboard.last_batch_run().await.unwrap(), Some(empty));
}

async fn dashboard_delivery_counts_by_state(s: DashboardSet) {
    let set = DeliveryStoreSet {
        deliveries: s.deliveries.clone(),
        audit: s.audit.clone(),
    };
    let batch = [
        fixtures::delivery("dlv-0001", "lead-1", 0),
        fixtures::delivery("dlv-0002", "lead-1", 0),
        fixtures::delivery("dlv-0003", "lead-2", 0),
    ];
    deliveries::accept(&set, "lead-1", 0, &batch).await;
    assert_eq!(s.dashboard.delivery_counts().await.unwrap().pending, 3);
    deliveries::park(&set, "dlv-0001", 1).await;
    // Claiming the group's next delivery holds it behind the parked one.
    deliveries::claim(&set, "dlv-0002", 2).await;
    let counts = s.dashboard.delivery_counts().await.unwrap();
    assert_eq!(
        (counts.parked, counts.held, counts.pending),
        (1, 1, 1),
        "{counts:?}"
    );
}
