//! The HIE settings on the `flows` table, as one item: `pk = SETTINGS#hie, sk = CURRENT`, the
//! settings' fields plus a `version` number for optimistic concurrency.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::ports::{MAX_CHECKPOINT_AUDIT_ENTRIES, SettingsStore};
use connector_domain::settings::{HieSettings, Versioned};

use super::client::{put_item, update_item};
use super::keys::{self, PK, VERSION, key2, n};
use super::{Dynamo, Expr, Item, codec};
use crate::error_map;

const KIND: &str = "settings";
/// The settings field that holds the collector's watermark.
const WATERMARK: &str = "next_batch_start_time";

/// The HIE settings in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoSettingsStore {
    db: Dynamo,
}

impl DynamoSettingsStore {
    pub(crate) fn from_dynamo(db: Dynamo) -> Self {
        Self { db }
    }
}

fn settings_key() -> Item {
    key2(keys::PK_SETTINGS_HIE.to_owned(), keys::SK_SETTINGS)
}

#[async_trait]
impl SettingsStore for DynamoSettingsStore {
    async fn get(&self) -> Result<Option<Versioned<HieSettings>>, StoreError> {
        let found = self
            .db
            .consistent_get_item(&self.db.tables.flows, settings_key())
            .await?;
        let Some(item) = found else {
            return Ok(None);
        };
        let version = codec::number(&item, VERSION, KIND)?;
        Ok(Some(Versioned {
            value: codec::from_item(item, KIND)?,
            version,
        }))
    }

    async fn put(
        &self,
        settings: &HieSettings,
        expected_version: u64,
        audit_entry: &AuditEntry,
    ) -> Result<u64, StoreError> {
        let version = expected_version
            .checked_add(1)
            .ok_or(StoreError::Invalid("settings version overflow"))?;
        let mut item = codec::to_item(settings, KIND)?;
        item.extend(settings_key());
        item.insert(VERSION.to_owned(), n(version));
        let mut e = Expr::default();
        let condition = if expected_version == 0 {
            format!("attribute_not_exists({})", e.name(PK))
        } else {
            format!("{} = {}", e.name(VERSION), e.value(n(expected_version)))
        };
        let item = put_item(&self.db.tables.flows, item, &e, condition)?;
        self.db
            .transact_with_audit(vec![item], [audit_entry])
            .await?;
        Ok(version)
    }

    async fn advance_watermark(
        &self,
        expected: Option<DateTime<Utc>>,
        next: DateTime<Utc>,
        audit_entries: &[AuditEntry],
    ) -> Result<(), StoreError> {
        if audit_entries.len() > MAX_CHECKPOINT_AUDIT_ENTRIES {
            return Err(StoreError::Invalid(
                "too many audit entries for one checkpoint",
            ));
        }
        let mut e = Expr::default();
        let version = e.name(VERSION);
        let mut sets = vec![
            format!(
                "{} = {}",
                e.name(WATERMARK),
                e.value(codec::to_value(&next, KIND)?)
            ),
            format!(
                "{version} = if_not_exists({version}, {}) + {}",
                e.value(n(0)),
                e.value(n(1))
            ),
        ];
        // Settings never saved: the item is created with the defaults (what `get` callers assume
        // at version 0), so it always decodes. Saved settings keep their values.
        for (field, value) in codec::to_item(&HieSettings::default(), KIND)? {
            if field != WATERMARK {
                let name = e.name(&field);
                sets.push(format!(
                    "{name} = if_not_exists({name}, {})",
                    e.value(value)
                ));
            }
        }
        let condition = match expected {
            None => format!("attribute_not_exists({})", e.name(WATERMARK)),
            Some(at) => format!(
                "{} = {}",
                e.name(WATERMARK),
                e.value(codec::to_value(&at, KIND)?)
            ),
        };
        if audit_entries.is_empty() {
            let update = format!("SET {}", sets.join(", "));
            let written = self
                .db
                .update_if(
                    &self.db.tables.flows,
                    settings_key(),
                    &e,
                    update,
                    Some(condition),
                )
                .await?;
            return if written {
                Ok(())
            } else {
                Err(error_map::condition_failed())
            };
        }
        // With audit entries: one transaction, the watermark's conditional update and the
        // entries' puts (at most 100 items).
        let update = update_item(
            &self.db.tables.flows,
            settings_key(),
            &e,
            format!("SET {}", sets.join(", ")),
            condition,
        )?;
        self.db
            .transact_with_audit(vec![update], audit_entries)
            .await
    }
}
