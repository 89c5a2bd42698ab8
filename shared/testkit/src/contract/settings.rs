//! `SettingsStore` cases.

use chrono::{DateTime, Utc};
use connector_domain::audit::{AuditEntry, AuditOutcome, AuditQuery, LogType};
use connector_domain::ports::MAX_CHECKPOINT_AUDIT_ENTRIES;
use connector_domain::settings::HieSettings;
use connector_domain::{Actor, StoreError};

use super::{Case, StoreSet, assert_conflict, audit_entries, audit_matching, cases};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<StoreSet>> {
    cases![
        settings_get_when_never_saved_is_none,
        settings_first_put_is_version_1_and_audited,
        settings_put_with_stale_version_conflicts,
        settings_watermark_compare_and_set,
        settings_put_after_watermark_moved_conflicts,
        settings_watermark_of_never_saved_settings_starts_at_none,
        settings_watermark_checkpoint_appends_its_audit_entries_atomically,
        settings_watermark_checkpoint_takes_at_most_99_audit_entries,
        settings_safety_lag_is_stored,
    ]
}

/// The saved settings' collector watermark.
async fn watermark(s: &StoreSet) -> Option<DateTime<Utc>> {
    let saved = s.settings.get().await.unwrap().expect("saved");
    saved.value.next_batch_start_time
}

async fn config_audit_count(s: &StoreSet) -> usize {
    audit_entries(&*s.audit, LogType::ConfigurationChanges)
        .await
        .len()
}

async fn settings_get_when_never_saved_is_none(s: StoreSet) {
    assert_eq!(s.settings.get().await.unwrap(), None);
}

async fn settings_first_put_is_version_1_and_audited(s: StoreSet) {
    let value = fixtures::settings();
    let entry = fixtures::settings_audit(fixtures::at(0));
    assert_eq!(s.settings.put(&value, 0, &entry).await.unwrap(), 1);
    let stored = s.settings.get().await.unwrap().expect("saved");
    assert_eq!((stored.value, stored.version), (value.clone(), 1));
    let logged = audit_matching(&*s.audit, AuditQuery::default()).await;
    assert_eq!(
        logged,
        vec![entry],
        "the change is audited in the same write"
    );

    let next = HieSettings {
        consent_expire_days: 30,
        ..value
    };
    assert_eq!(
        s.settings
            .put(&next, 1, &fixtures::settings_audit(fixtures::at(60)))
            .await
            .unwrap(),
        2
    );
    let stored = s.settings.get().await.unwrap().expect("saved");
    assert_eq!((stored.value, stored.version), (next, 2));
}

async fn settings_put_with_stale_version_conflicts(s: StoreSet) {
    let value = fixtures::settings();
    s.settings
        .put(&value, 0, &fixtures::settings_audit(fixtures::at(0)))
        .await
        .unwrap();
    let other = HieSettings {
        enabled: false,
        ..value.clone()
    };
    assert_conflict(
        s.settings
            .put(&other, 0, &fixtures::settings_audit(fixtures::at(1)))
            .await,
    );
    assert_conflict(
        s.settings
            .put(&other, 2, &fixtures::settings_audit(fixtures::at(2)))
            .await,
    );
    let stored = s.settings.get().await.unwrap().expect("saved");
    assert_eq!(
        (stored.value, stored.version),
        (value, 1),
        "nothing written"
    );
    assert_eq!(
        config_audit_count(&s).await,
        1,
        "no audit entry for a lost write"
    );
}

async fn settings_watermark_compare_and_set(s: StoreSet) {
    fixtures::save_settings(&*s.settings).await;
    let (t1, t2) = (fixtures::at(3_600), fixtures::at(7_200));

    s.settings.advance_watermark(None, t1, &[]).await.unwrap();
    let stored = s.settings.get().await.unwrap().expect("saved");
    assert_eq!(stored.value.next_batch_start_time, Some(t1));
    assert_eq!(
        stored.version, 2,
        "advancing the watermark bumps the version"
    );
    assert_eq!(
        stored.value.default_subject,
        fixtures::settings().default_subject,
        "other settings kept"
    );

    assert_conflict(s.settings.advance_watermark(None, t2, &[]).await);
    assert_conflict(s.settings.advance_watermark(Some(t2), t2, &[]).await);
    let stored = s.settings.get().await.unwrap().expect("saved");
    assert_eq!(
        (stored.value.next_batch_start_time, stored.version),
        (Some(t1), 2),
        "a mismatch writes nothing"
    );

    s.settings
        .advance_watermark(Some(t1), t2, &[])
        .await
        .unwrap();
    let stored = s.settings.get().await.unwrap().expect("saved");
    assert_eq!(
        (stored.value.next_batch_start_time, stored.version),
        (Some(t2), 3)
    );
}

async fn settings_put_after_watermark_moved_conflicts(s: StoreSet) {
    fixtures::save_settings(&*s.settings).await;
    let read = s.settings.get().await.unwrap().expect("saved");
    // The collector moves the watermark between an administrator's read and write.
    s.settings
        .advance_watermark(None, fixtures::at(3_600), &[])
        .await
        .unwrap();
    let edited = HieSettings {
        default_subject: "Edited".into(),
        ..read.value
    };
    assert_conflict(
        s.settings
            .put(
                &edited,
                read.version,
                &fixtures::settings_audit(fixtures::at(60)),
            )
            .await,
    );
    let stored = s.settings.get().await.unwrap().expect("saved");
    assert_eq!(
        stored.value.next_batch_start_time,
        Some(fixtures::at(3_600)),
        "the watermark survives"
    );
    assert_ne!(stored.value.default_subject, "Edited");
}

async fn settings_watermark_of_never_saved_settings_starts_at_none(s: StoreSet) {
    assert_conflict(
        s.settings
            .advance_watermark(Some(fixtures::at(0)), fixtures::at(60), &[])
            .await,
    );
    assert_eq!(
        s.settings.get().await.unwrap(),
        None,
        "a mismatch saves nothing"
    );
    s.settings
        .advance_watermark(None, fixtures::at(60), &[])
        .await
        .unwrap();
    let stored = s
        .settings
        .get()
        .await
        .unwrap()
        .expect("saved by the watermark");
    assert_eq!(stored.version, 1);
    assert_eq!(
        stored.value,
        HieSettings {
            next_batch_start_time: Some(fixtures::at(60)),
            ..HieSettings::default()
        }
    );
}

/// `n` `appointment.skipped` entries at `at`.
fn skip_entries(n: usize, at: chrono::DateTime<chrono::Utc>) -> Vec<AuditEntry> {
    (0..n)
        .map(|i| {
            AuditEntry::new(
                LogType::HieSentAppointments,
                at,
                Actor::system("batch-collector"),
                "appointment.skipped",
                AuditOutcome::Skipped,
            )
            .with_appointment(&format!("a-{i}").parse().expect("valid id"))
            .with_detail(serde_json::json!({"reason": "no_consent"}))
        })
        .collect()
}

async fn skipped_entries(s: &StoreSet) -> Vec<AuditEntry> {
    audit_entries(&*s.audit, LogType::HieSentAppointments).await
}

async fn settings_watermark_checkpoint_appends_its_audit_entries_atomically(s: StoreSet) {
    let (t1, t2) = (fixtures::at(3_600), fixtures::at(7_200));
    let first = skip_entries(MAX_CHECKPOINT_AUDIT_ENTRIES, t1);
    s.settings
        .advance_watermark(None, t1, &first)
        .await
        .unwrap();
    let mut logged = skipped_entries(&s).await;
    logged.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
    let mut expected = first.clone();
    expected.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
    assert_eq!(logged, expected, "every entry, as given, with the move");
    assert_eq!(watermark(&s).await, Some(t1));

    // A move from the wrong watermark writes neither the watermark nor the entries.
    assert_conflict(
        s.settings
            .advance_watermark(Some(t2), t2, &skip_entries(3, t2))
            .await,
    );
    assert_conflict(
        s.settings
            .advance_watermark(None, t2, &skip_entries(3, t2))
            .await,
    );
    assert_eq!(
        skipped_entries(&s).await.len(),
        MAX_CHECKPOINT_AUDIT_ENTRIES
    );
    assert_eq!(watermark(&s).await, Some(t1), "a mismatch writes nothing");

    s.settings
        .advance_watermark(Some(t1), t2, &skip_entries(1, t2))
        .await
        .unwrap();
    assert_eq!(
        skipped_entries(&s).await.len(),
        MAX_CHECKPOINT_AUDIT_ENTRIES + 1
    );
}

async fn settings_watermark_checkpoint_takes_at_most_99_audit_entries(s: StoreSet) {
    let t1 = fixtures::at(3_600);
    let result = s
        .settings
        .advance_watermark(
            None,
            t1,
            &skip_entries(MAX_CHECKPOINT_AUDIT_ENTRIES + 1, t1),
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::Invalid(_))),
        "expected Invalid, got {result:?}"
    );
    assert_eq!(s.settings.get().await.unwrap(), None, "nothing saved");
    assert!(skipped_entries(&s).await.is_empty(), "nothing audited");
}

async fn settings_safety_lag_is_stored(s: StoreSet) {
    let value = HieSettings {
        safety_lag_seconds: 0,
        ..fixtures::settings()
    };
    s.settings
        .put(&value, 0, &fixtures::settings_audit(fixtures::at(0)))
        .await
        .unwrap();
    assert_eq!(
        s.settings
            .get()
            .await
            .unwrap()
            .expect("saved")
            .value
            .safety_lag_seconds,
        0
    );
    // The collector's watermark moves keep it.
    s.settings
        .advance_watermark(None, fixtures::at(60), &[])
        .await
        .unwrap();
    assert_eq!(
        s.settings.get().await.unwrap().expect("saved").value,
        HieSettings {
            next_batch_start_time: Some(fixtures::at(60)),
            ..value
        }
    );
}
