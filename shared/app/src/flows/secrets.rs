//! The embedded deployment's `local:` secrets: setting one (validated, with its
//! `configuration_changes` audit entry, `secret.set`, naming the secret only) and listing them
//! (names, references and times, never values). The admin API's `/secrets` routes
//! ([`crate::http::flows_api`]) go through these functions.
//!
//! Nothing here logs or returns a value.

use chrono::{DateTime, Utc};
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::flow::secret::LocalSecret;
use connector_domain::flow::{SecretRef, SecretValue};
use connector_domain::ports::LocalSecretStore;
use connector_domain::{Actor, StoreError, ValidationError, ValidationErrors};
use serde::Serialize;

/// Why a secret was not set.
#[derive(Debug, thiserror::Error)]
pub enum SetSecretError {
    /// The name or the value is not acceptable; nothing was written.
    #[error("invalid secret")]
    Invalid(ValidationErrors),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One listed secret: never its value.
#[derive(Debug, Serialize)]
pub struct SecretItem {
    /// The local id.
    pub name: String,
    /// `local:{name}`.
    pub reference: SecretRef,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// Stores or replaces the secret behind `local:{name}` with `value` (required, not empty),
/// audited as `actor` at `now`. Answers the secret's name.
pub async fn set(
    store: &dyn LocalSecretStore,
    actor: &Actor,
    name: &str,
    value: Option<String>,
    now: DateTime<Utc>,
) -> Result<String, SetSecretError> {
    let mut errors = ValidationErrors::default();
    let name = errors.check(
        LocalSecret::parse_name(name).map_err(|e| ValidationError::new("name", e.to_string())),
    );
    let value = match value {
        Some(value) if !value.is_empty() => Some(SecretValue::new(value.into_bytes())),
        Some(_) => {
            errors.push(ValidationError::new("value", "must not be empty"));
            None
        }
        None => {
            errors.push(ValidationError::new("value", "is required"));
            None
        }
    };
    let (Some(name), Some(value)) = (name, value) else {
        return Err(SetSecretError::Invalid(errors));
    };
    let entry = AuditEntry::new(
        LogType::ConfigurationChanges,
        now,
        actor.clone(),
        "secret.set",
        AuditOutcome::Success,
    )
    .with_detail(serde_json::json!({ "name": name, "reference": format!("local:{name}") }));
    store.set(&name, &value, now, &entry).await?;
    Ok(name)
}

/// Every local secret's name, reference and time, by name.
pub async fn list(store: &dyn LocalSecretStore) -> Result<Vec<SecretItem>, StoreError> {
    Ok(store
        .list()
        .await?
        .into_iter()
        .map(|s| SecretItem {
            reference: s.reference(),
            name: s.name,
            updated_at: s.updated_at,
        })
        .collect())
}
