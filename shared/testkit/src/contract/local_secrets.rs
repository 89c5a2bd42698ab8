//! `LocalSecretStore` cases: a stored secret resolves through the same store's `SecretStore`
//! at `local:NAME`, a second set replaces it (and its time), the list names every secret with
//! its time and never a value, bad names are refused writing nothing, and each set appends its
//! audit entry with it. Only the embedded adapter has this port: AWS deployments keep secrets
//! in Secrets Manager.

use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::flow::secret::LocalSecret;
use connector_domain::flow::{SecretRef, SecretValue};
use connector_domain::ports::{SecretError, SecretStatus};
use connector_domain::{Actor, StoreError};

use super::{Case, LocalSecretSet, audit_entries, cases};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<LocalSecretSet>> {
    cases![
        local_secrets_resolve_after_set_and_are_replaced,
        local_secrets_list_names_and_times_in_name_order,
        local_secrets_refuse_bad_names_writing_nothing,
    ]
}

fn entry(name: &str, at: i64) -> AuditEntry {
    AuditEntry::new(
        LogType::ConfigurationChanges,
        fixtures::at(at),
        Actor::system("contract"),
        "secret.set",
        AuditOutcome::Success,
    )
    .with_detail(serde_json::json!({ "name": name }))
}

/// Sets the local secret `name` to `value` at `at`, audited.
async fn set_secret(set: &LocalSecretSet, name: &str, value: &SecretValue, at: i64) {
    let entry = entry(name, at);
    set.local
        .set(name, value, fixtures::at(at), &entry)
        .await
        .unwrap();
}

fn local(name: &str) -> SecretRef {
    SecretRef::parse(&format!("local:{name}")).unwrap()
}

async fn audit_actions(set: &LocalSecretSet) -> Vec<String> {
    audit_entries(&*set.audit, LogType::ConfigurationChanges)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn local_secrets_resolve_after_set_and_are_replaced(set: LocalSecretSet) {
    assert!(matches!(
        set.secrets.resolve(&local("ehr-hmac")).await,
        Err(SecretError::NotFound)
    ));
    assert_eq!(
        set.secrets.status(&local("ehr-hmac")).await,
        SecretStatus::Unresolvable
    );
    // Set, then replaced: each time the reference resolves to the value just set.
    for (value, at) in [(&b"first-value"[..], 0), (&b"second-value"[..], 60)] {
        let value = SecretValue::new(value.to_vec());
        set_secret(&set, "ehr-hmac", &value, at).await;
        assert_eq!(
            set.secrets.resolve(&local("ehr-hmac")).await.unwrap(),
            value
        );
        assert_eq!(
            set.secrets.status(&local("ehr-hmac")).await,
            SecretStatus::Resolved
        );
    }
    assert_eq!(
        set.local.list().await.unwrap(),
        vec![LocalSecret {
            name: "ehr-hmac".into(),
            updated_at: fixtures::at(60)
        }]
    );
    assert_eq!(audit_actions(&set).await, ["secret.set", "secret.set"]);
}

async fn local_secrets_list_names_and_times_in_name_order(set: LocalSecretSet) {
    assert_eq!(set.local.list().await.unwrap(), Vec::<LocalSecret>::new());
    for (name, at) in [("north.v2", 10), ("ca-bundle", 20), ("North_hmac", 30)] {
        let value = SecretValue::new(format!("value-of-{name}").into_bytes());
        set_secret(&set, name, &value, at).await;
    }
    let listed = set.local.list().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "by name");
    assert_eq!(names.len(), 3);
    let north = listed.iter().find(|s| s.name == "north.v2").unwrap();
    assert_eq!(north.updated_at, fixtures::at(10));
    assert_eq!(north.reference(), local("north.v2"));
    let shown = format!("{listed:?}");
    assert!(!shown.contains("value-of-"), "a value was listed: {shown}");
}

async fn local_secrets_refuse_bad_names_writing_nothing(set: LocalSecretSet) {
    let value = SecretValue::new(b"v".to_vec());
    let long = "x".repeat(65);
    for name in ["", "a b", "local:x", "a/b", long.as_str()] {
        let result = set
            .local
            .set(name, &value, fixtures::at(0), &entry("bad", 0))
            .await;
        assert!(
            matches!(result, Err(StoreError::Invalid(_))),
            "{name:?}: {result:?}"
        );
    }
    assert_eq!(set.local.list().await.unwrap(), Vec::<LocalSecret>::new());
    assert_eq!(audit_actions(&set).await, Vec::<String>::new());
}
