//! `CrmWriteLog`: one row per write the connector made to the CRM (the entity, when, the CRM
//! user the record named right after it, and the SHA-256 digest of each field of the record as
//! read back, as a JSON object; never the values). Recording a write
//! forgets the writes older than [`ECHO_WINDOW`] before it, in the same transaction, so the
//! table holds about one window of writes.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::delivery::{CrmWrite, ECHO_WINDOW};
use connector_domain::ports::CrmWriteLog;
use rusqlite::params;

use super::{from_json, to_json};
use crate::SqliteDb;
use crate::error::db_err;
use crate::time::{from_nanos, nanos, nanos_clamped};

/// The CRM write log of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteCrmWriteLog {
    pub(crate) db: SqliteDb,
}

#[async_trait]
impl CrmWriteLog for SqliteCrmWriteLog {
    async fn record(&self, write: &CrmWrite) -> Result<(), StoreError> {
        let at = nanos(write.at)?;
        let forget_before = write
            .at
            .checked_sub_signed(ECHO_WINDOW)
            .map_or(i64::MIN, nanos_clamped);
        let digests = to_json(&write.field_digests, "crm write")?;
        let entity = write.entity.clone();
        let modified_by = write.modified_by.clone();
        let forgotten = self
            .db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO crm_writes (entity, at, field_digests, modified_by) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut stmt| stmt.execute(params![entity, at, digests, modified_by]))
                .map_err(db_err)?;
                tx.prepare_cached("DELETE FROM crm_writes WHERE at < ?1")
                    .and_then(|mut stmt| stmt.execute([forget_before]))
                    .map_err(db_err)
            })
            .await?;
        tracing::debug!(
            fields = write.field_digests.len(),
            forgotten,
            "crm write recorded"
        );
        Ok(())
    }

    async fn recent(
        &self,
        entity: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<CrmWrite>, StoreError> {
        let (entity, since) = (entity.to_owned(), nanos_clamped(since));
        let rows: Vec<(String, i64, String, Option<String>)> = self
            .db
            .read(move |tx| {
                tx.prepare_cached(
                    "SELECT entity, at, field_digests, modified_by FROM crm_writes \
                     WHERE entity = ?1 AND at >= ?2 ORDER BY at, id",
                )
                .and_then(|mut stmt| {
                    stmt.query_map(params![entity, since], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_err)
            })
            .await?;
        rows.into_iter()
            .map(|(entity, at, digests, modified_by)| {
                Ok(CrmWrite {
                    entity,
                    field_digests: from_json::<BTreeMap<String, String>>(&digests, "crm write")?,
                    modified_by,
                    at: from_nanos(at),
                })
            })
            .collect()
    }
}
