//! `SettingsStore`: a single row holding the HIE settings as JSON and their version.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::ports::{MAX_CHECKPOINT_AUDIT_ENTRIES, SettingsStore};
use connector_domain::settings::{HieSettings, Versioned};
use rusqlite::{Connection, OptionalExtension, params};

use super::audit::{self, AuditRow};
use super::{from_json, to_json};
use crate::SqliteDb;
use crate::error::{UnsupportedValue, db_err};

/// The settings store of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteSettingsStore {
    pub(crate) db: SqliteDb,
}

/// The stored settings and version; the defaults at version 0 when never saved.
fn current(conn: &Connection) -> Result<Versioned<HieSettings>, StoreError> {
    let row: Option<(i64, String)> = conn
        .prepare_cached("SELECT version, body FROM settings WHERE id = 1")
        .and_then(|mut stmt| {
            stmt.query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(db_err)?;
    match row {
        None => Ok(Versioned {
            value: HieSettings::default(),
            version: 0,
        }),
        Some((version, body)) => Ok(Versioned {
            value: from_json(&body, "settings")?,
            version: u64::try_from(version).map_err(|_| StoreError::Corrupt("settings"))?,
        }),
    }
}

/// Writes `settings` as version `version`.
fn save(conn: &Connection, settings: &HieSettings, version: u64) -> Result<(), StoreError> {
    let body = to_json(settings, "settings")?;
    let version = i64::try_from(version)
        .map_err(|_| StoreError::unavailable(UnsupportedValue("settings version")))?;
    conn.prepare_cached(
        "INSERT INTO settings (id, version, body) VALUES (1, ?1, ?2) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, body = excluded.body",
    )
    .and_then(|mut stmt| stmt.execute(params![version, body]))
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl SettingsStore for SqliteSettingsStore {
    async fn get(&self) -> Result<Option<Versioned<HieSettings>>, StoreError> {
        let stored = self.db.read(|tx| current(tx)).await?;
        Ok((stored.version > 0).then_some(stored))
    }

    async fn put(
        &self,
        settings: &HieSettings,
        expected_version: u64,
        audit: &AuditEntry,
    ) -> Result<u64, StoreError> {
        let settings = settings.clone();
        let entry = AuditRow::new(audit)?;
        let version = self
            .db
            .write(move |tx| {
                if current(tx)?.version != expected_version {
                    return Err(StoreError::Conflict("settings version changed"));
                }
                let next = expected_version + 1;
                save(tx, &settings, next)?;
                audit::insert(tx, &entry)?;
                Ok(next)
            })
            .await?;
        tracing::debug!(version, "settings saved");
        Ok(version)
    }

    async fn advance_watermark(
        &self,
        expected: Option<DateTime<Utc>>,
        next: DateTime<Utc>,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        if audit.len() > MAX_CHECKPOINT_AUDIT_ENTRIES {
            return Err(StoreError::Invalid(
                "too many audit entries for one checkpoint",
            ));
        }
        let entries = audit
            .iter()
            .map(AuditRow::new)
            .collect::<Result<Vec<_>, _>>()?;
        let version = self
            .db
            .write(move |tx| {
                // Never-saved settings have no watermark: advancing from `None` saves the
                // defaults with the new watermark as version 1.
                let Versioned { mut value, version } = current(tx)?;
                if value.next_batch_start_time != expected {
                    return Err(StoreError::Conflict("watermark moved"));
                }
                value.next_batch_start_time = Some(next);
                save(tx, &value, version + 1)?;
                for entry in &entries {
                    audit::insert(tx, entry)?;
                }
                Ok(version + 1)
            })
            .await?;
        tracing::debug!(version, "watermark advanced");
        Ok(())
    }
}
