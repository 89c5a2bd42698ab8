//! `SecretStore` for the embedded deployment: `env:` references from the process environment,
//! `local:` references from the `local_secrets` table; Secrets Manager is not available here.
//! The same type is the `LocalSecretStore` that writes that table (`connector secret set`,
//! `PUT /secrets/{name}`) and lists its names (never values).
//!
//! Local secrets are stored as given, unencrypted: protect the database file as you would the
//! secrets themselves. Nothing here logs a value or a reference's location.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::flow::secret::{LocalSecret, read_env};
use connector_domain::flow::{SecretRef, SecretValue};
use connector_domain::ports::{LocalSecretStore, SecretError, SecretStore};
use rusqlite::{OptionalExtension, params};

use super::all_rows;
use super::audit::{self, AuditRow};
use crate::SqliteDb;
use crate::error::{db_err, invalid_call};

/// The secret store of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteSecrets {
    pub(crate) db: SqliteDb,
}

#[async_trait]
impl SecretStore for SqliteSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError> {
        let value = match reference {
            SecretRef::Env(_) => read_env(reference),
            SecretRef::SecretsManager(_) => {
                return Err(SecretError::Unsupported("secretsmanager"));
            }
            SecretRef::Local(id) => {
                let id = id.clone();
                self.db
                    .read(move |tx| {
                        tx.prepare_cached("SELECT value FROM local_secrets WHERE secret_id = ?1")
                            .and_then(|mut stmt| {
                                stmt.query_row([id], |row| row.get::<_, Vec<u8>>(0))
                                    .optional()
                            })
                            .map_err(|e| SecretError::Unavailable(Box::new(e)))
                    })
                    .await?
                    .map(SecretValue::new)
            }
        };
        match value {
            Some(value) => {
                tracing::debug!(kind = reference.kind(), "secret resolved");
                Ok(value)
            }
            None => {
                tracing::debug!(kind = reference.kind(), "no secret at the reference");
                Err(SecretError::NotFound)
            }
        }
    }
}

/// A local secret's name, checked as `local:` references are.
pub(crate) fn local_name(name: &str) -> Result<String, StoreError> {
    LocalSecret::parse_name(name).map_err(|_| {
        invalid_call("a local secret name is 1 to 64 letters, digits, '.', '_' or '-'")
    })
}

/// Stores (or replaces) a local secret. Call inside a write transaction.
pub(crate) fn upsert(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    value: &[u8],
    at: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO local_secrets (secret_id, value, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (secret_id) DO UPDATE SET value = excluded.value, \
         updated_at = excluded.updated_at",
    )
    .and_then(|mut stmt| stmt.execute(params![name, value, at]))
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl LocalSecretStore for SqliteSecrets {
    async fn set(
        &self,
        name: &str,
        value: &SecretValue,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let name = local_name(name)?;
        let value = value.expose().to_vec();
        let at = crate::time::nanos(at)?;
        let entry = AuditRow::new(audit)?;
        self.db
            .write(move |tx| {
                upsert(tx, &name, &value, at)?;
                audit::insert(tx, &entry)
            })
            .await?;
        tracing::info!("local secret stored");
        Ok(())
    }

    async fn list(&self) -> Result<Vec<LocalSecret>, StoreError> {
        self.db
            .read(move |tx| {
                let sql = "SELECT secret_id, updated_at FROM local_secrets ORDER BY secret_id";
                all_rows(tx, sql, [], |row| {
                    Ok(LocalSecret {
                        name: row.get(0)?,
                        updated_at: crate::time::from_nanos(row.get(1)?),
                    })
                })
            })
            .await
    }
}
