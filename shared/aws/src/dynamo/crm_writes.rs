//! The CRM write log on the `flows` table: one item per write,
//! `pk = CRMWRITE#<entity>`, `sk = <at>#<UUIDv7>` (fixed-width time, so sort key order is time
//! order; the suffix keeps two writes at the same instant apart), holding `entity`, `at`,
//! `field_digests` (the SHA-256 digests of the record's fields as read back after the write, by
//! field name, as JSON text: field names are data, and JSON round-trips any of them),
//! `modified_by` (the CRM user the record named then; absent when unknown) and `expires_at` = `at` + [`ECHO_WINDOW`] + a margin (the TTL
//! attribute).
//!
//! `record` is one PutItem; `recent` is one strongly consistent Query
//! `pk = CRMWRITE#<entity> AND sk >= <since>` (per 1 MB page), oldest first. A write is only
//! needed for the echo window: DynamoDB's TTL deletes it afterwards (within days, which
//! `recent`'s `since` makes harmless). One partition per entity: a lead's writes are read
//! together, and no two leads contend.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::delivery::{CrmWrite, ECHO_WINDOW};
use connector_domain::ports::CrmWriteLog;

use super::keys::{self, EXPIRES_AT, PK, SK, key2, n, s};
use super::query::Query;
use super::{Dynamo, Expr, Item, codec};

const KIND: &str = "crm write";
/// The attribute holding the digests as JSON text.
const DIGESTS: &str = "field_digests";
/// The attribute holding the CRM user the record named right after the write (absent when
/// unknown).
const MODIFIED_BY: &str = "modified_by";
/// How long past the echo window a write is kept: covers clock differences between the
/// function that records a write and the one that reads it.
pub const CRM_WRITE_TTL_MARGIN: chrono::Duration = chrono::Duration::hours(1);

/// The CRM write log in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoCrmWriteLog {
    db: Dynamo,
}

impl DynamoCrmWriteLog {
    pub(crate) fn from_dynamo(db: Dynamo) -> Self {
        Self { db }
    }
}

/// The stored form of `write`, under the unique sort key suffix `unique`.
fn write_item(write: &CrmWrite, unique: &str) -> Result<Item, StoreError> {
    let digests =
        serde_json::to_string(&write.field_digests).map_err(|_| StoreError::Corrupt(KIND))?;
    let mut item = key2(
        keys::crm_write_pk(&write.entity),
        keys::crm_write_sk(write.at, unique),
    );
    item.insert("entity".to_owned(), s(write.entity.as_str()));
    item.insert("at".to_owned(), codec::to_value(&write.at, KIND)?);
    item.insert(DIGESTS.to_owned(), s(digests));
    if let Some(by) = &write.modified_by {
        item.insert(MODIFIED_BY.to_owned(), s(by.as_str()));
    }
    let expires_at = write
        .at
        .checked_add_signed(ECHO_WINDOW + CRM_WRITE_TTL_MARGIN)
        .map_or(i64::MAX, |t| t.timestamp());
    item.insert(EXPIRES_AT.to_owned(), n(expires_at));
    Ok(item)
}

fn decode(item: &Item) -> Result<CrmWrite, StoreError> {
    let corrupt = || {
        tracing::warn!(kind = KIND, "stored record failed to decode");
        StoreError::Corrupt(KIND)
    };
    let entity = codec::string(item, "entity", KIND).map_err(|_| corrupt())?;
    let at = item.get("at").cloned().ok_or_else(corrupt).and_then(|v| {
        serde_dynamo::aws_sdk_dynamodb_1::from_attribute_value::<DateTime<Utc>>(v)
            .map_err(|_| corrupt())
    })?;
    let digests = codec::string(item, DIGESTS, KIND).map_err(|_| corrupt())?;
    let modified_by = match item.get(MODIFIED_BY) {
        None => None,
        Some(v) => Some(v.as_s().map_err(|_| corrupt())?.clone()),
    };
    Ok(CrmWrite {
        modified_by,
        entity: entity.to_owned(),
        field_digests: serde_json::from_str::<BTreeMap<String, String>>(digests)
            .map_err(|_| corrupt())?,
        at,
    })
}

#[async_trait]
impl CrmWriteLog for DynamoCrmWriteLog {
    async fn record(&self, write: &CrmWrite) -> Result<(), StoreError> {
        if write.entity.is_empty() {
            return Err(StoreError::Invalid("a CRM write names its entity"));
        }
        let unique = uuid::Uuid::now_v7().to_string();
        let item = write_item(write, &unique)?;
        let mut e = Expr::default();
        // A fresh UUID never repeats; the condition only keeps an SDK retry from writing twice.
        let condition = format!("attribute_not_exists({})", e.name(PK));
        // Not written: the first of the SDK's attempts wrote it.
        self.db
            .put_if(&self.db.tables.flows, item, &e, Some(condition))
            .await?;
        tracing::debug!(fields = write.field_digests.len(), "crm write recorded");
        Ok(())
    }

    async fn recent(
        &self,
        entity: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<CrmWrite>, StoreError> {
        if entity.is_empty() {
            return Ok(Vec::new());
        }
        let mut e = Expr::default();
        // `<since>` sorts before every `<since>#<suffix>`: writes at exactly `since` are in.
        let key_condition = format!(
            "{} = {} AND {} >= {}",
            e.name(PK),
            e.value(s(keys::crm_write_pk(entity))),
            e.name(SK),
            e.value(s(keys::sortable_time(since)))
        );
        let q = Query::new(&self.db.tables.flows, key_condition, &e).consistent();
        let items = self.db.query_all(q).await?;
        items.iter().map(decode).collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn writes_round_trip_and_expire_after_the_window() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let write = CrmWrite {
            entity: "lead-1".into(),
            field_digests: BTreeMap::from([
                ("FirstName".to_owned(), "ab".repeat(32)),
                ("odd name.with#chars".to_owned(), "cd".repeat(32)),
            ]),
            modified_by: Some("api-user-1".into()),
            at,
        };
        let item = write_item(&write, "u-1").unwrap();
        assert_eq!(item.get(PK), Some(&s("CRMWRITE#lead-1")));
        assert_eq!(item.get(SK), Some(&s("2026-11-21T10:00:00.000000000Z#u-1")));
        assert_eq!(
            item.get(EXPIRES_AT),
            Some(&n((at + ECHO_WINDOW + CRM_WRITE_TTL_MARGIN).timestamp()))
        );
        assert_eq!(decode(&item).unwrap(), write);
    }
}
