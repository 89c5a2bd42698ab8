//! `SecretStore` for the embedded deployment: `env:` references from the process environment,
//! `local:` references from the `local_secrets` table (set with
//! [`SqliteDb::set_local_secret`]); Secrets Manager is not available here.
//!
//! Local secrets are stored as given, unencrypted: protect the database file as you would the
//! secrets themselves. Nothing here logs a value or a reference's location.

use async_trait::async_trait;
use connector_domain::flow::secret::read_env;
use connector_domain::flow::{SecretRef, SecretValue};
use connector_domain::ports::{SecretError, SecretStore};
use rusqlite::OptionalExtension;

use crate::SqliteDb;

/// The secret store of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteSecrets {
    db: SqliteDb,
}

impl SqliteSecrets {
    /// The secret store of `db`.
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
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
