//! The audit log on the `audit` table.
//!
//! Base table `pk = ENTRY#<entry_id>` (so an append is idempotent: a conditional put that finds the
//! entry counts as done). Three sparse GSIs share the sort key `okey = <occurred_at>#<entry_id>`:
//! `by_type` (`log_type`), `by_patient` (`patient_id`), `by_appointment` (`appointment_id`).
//! `expires_at` (epoch seconds, `occurred_at` + retention) is the TTL attribute.
//!
//! A query uses the most selective index its filters allow (appointment, then patient, then log
//! type) with the date range in the key condition and the other filters as a FilterExpression.
//! A query without any of the three filters reads the `by_type` index once per log type and
//! merges the results (there are five log types, a fixed set). The cursor is the `okey` of the
//! last entry returned; every index is ordered by it, so one cursor format serves every plan.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, AuditQuery, LogType, Page, entry_channel};
use connector_domain::cursor;
use connector_domain::dashboard::tallies;
use connector_domain::ports::AuditLog;

use super::client::put_item;
use super::keys::{self, CHANNEL_LOG, EXPIRES_AT, OKEY, PK, n, s};
use super::query::Query;
use super::{Dynamo, Expr, Item, codec};

const KIND: &str = "audit entry";
/// Largest page a caller may ask for (the port says 1..=500).
const MAX_LIMIT: usize = 500;
/// DynamoDB `Limit` for pages read through a FilterExpression: filters drop items after the
/// limit is applied, so a small limit would mean many short pages.
const FILTERED_PAGE: usize = 1000;

/// The audit log in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoAuditLog {
    db: Dynamo,
}

impl DynamoAuditLog {
    pub(crate) fn from_dynamo(db: Dynamo) -> Self {
        Self { db }
    }
}

/// The stored form of an entry: its fields plus key, index and TTL attributes.
pub(crate) fn entry_item(entry: &AuditEntry, retention: Duration) -> Result<Item, StoreError> {
    let mut item = codec::to_item(entry, KIND)?;
    item.insert(PK.to_owned(), s(keys::entry_pk(&entry.entry_id)));
    item.insert(
        OKEY.to_owned(),
        s(keys::occurred_key(entry.occurred_at, &entry.entry_id)),
    );
    if let Some(channel) = entry_channel(entry) {
        item.insert(
            CHANNEL_LOG.to_owned(),
            s(channel_partition(entry.log_type, channel)),
        );
    }
    let retention = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    item.insert(
        EXPIRES_AT.to_owned(),
        n(entry.occurred_at.timestamp().saturating_add(retention)),
    );
    Ok(item)
}

/// The `by_channel` partition of a log type's entries about a channel.
fn channel_partition(log_type: LogType, channel: &str) -> String {
    format!("{}#{channel}", log_type.as_str())
}

/// The transaction item that writes `entry` if it does not exist yet. Only for entries whose
/// dashboard tally is empty (consent, settings, configuration, delivery entries); an entry that
/// may count goes through [`super::dashboard::entry_writes`], which adds its counters.
pub(crate) fn put_entry(db: &Dynamo, entry: &AuditEntry) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let condition = format!("attribute_not_exists({})", e.name(PK));
    put_item(
        &db.tables.audit,
        entry_item(entry, db.audit_retention)?,
        &e,
        condition,
    )
}

/// The cursor: the `okey` of the last entry returned, as an opaque [`cursor`].
fn encode_cursor(okey: &str) -> String {
    cursor::encode(&[okey])
}

/// The `okey` in a cursor [`encode_cursor`] wrote; `InvalidCursor` for anything else.
fn decode_cursor(text: &str) -> Result<String, StoreError> {
    let before = cursor::decode(text.trim(), 1)?.remove(0);
    // Only what `encode_cursor` writes: `<fixed-width time>#<entry id>`.
    let valid = before.split_once('#').is_some_and(|(time, id)| {
        !id.is_empty()
            && chrono::DateTime::parse_from_rfc3339(time)
                .is_ok_and(|t| keys::sortable_time(t.to_utc()) == time)
    });
    if valid {
        Ok(before)
    } else {
        Err(StoreError::InvalidCursor)
    }
}

/// Which index a query reads, and with which partition key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    index: &'static str,
    attribute: &'static str,
    value: String,
}

/// The most selective index for the query's filters; `None` when it has none of them (merge the
/// log types).
fn plan(query: &AuditQuery) -> Option<Plan> {
    if let (Some(log_type), Some(channel)) = (query.log_type, &query.channel_id) {
        Some(Plan {
            index: keys::INDEX_BY_CHANNEL,
            attribute: CHANNEL_LOG,
            value: channel_partition(log_type, channel.as_str()),
        })
    } else if let Some(id) = &query.appointment_id {
        Some(Plan {
            index: keys::INDEX_BY_APPOINTMENT,
            attribute: "appointment_id",
            value: id.to_string(),
        })
    } else if let Some(id) = &query.patient_id {
        Some(Plan {
            index: keys::INDEX_BY_PATIENT,
            attribute: "patient_id",
            value: id.to_string(),
        })
    } else {
        query.log_type.map(by_type)
    }
}

fn by_type(log_type: LogType) -> Plan {
    Plan {
        index: keys::INDEX_BY_TYPE,
        attribute: "log_type",
        value: log_type.as_str().to_owned(),
    }
}

impl DynamoAuditLog {
    /// Up to `want` matching entries from one index partition, newest first, with their `okey`.
    async fn collect(
        &self,
        plan: &Plan,
        query: &AuditQuery,
        before: Option<&str>,
        want: usize,
    ) -> Result<Vec<(String, AuditEntry)>, StoreError> {
        let mut e = Expr::default();
        let mut key = format!(
            "{} = {}",
            e.name(plan.attribute),
            e.value(s(plan.value.clone()))
        );
        // Upper bound (exclusive): the cursor or `to`, whichever is earlier. `<time>` sorts before
        // every `<time>#<id>`, so `okey < <to>` excludes entries at exactly `to`.
        let to = query.to.map(keys::sortable_time);
        let upper = match (before, to.as_deref()) {
            (Some(b), Some(t)) => Some(b.min(t).to_owned()),
            (Some(b), None) => Some(b.to_owned()),
            (None, Some(t)) => Some(t.to_owned()),
            (None, None) => None,
        };
        let lower = query.from.map(keys::sortable_time);
        match (lower, upper) {
            (Some(lo), Some(hi)) => {
                if lo >= hi {
                    return Ok(Vec::new());
                }
                // BETWEEN is inclusive; `hi` itself is either a cursor (already returned) or a
                // bare time that no key equals, so drop an exact match below.
                let okey = e.name(OKEY);
                key += &format!(
                    " AND {okey} BETWEEN {} AND {}",
                    e.value(s(lo)),
                    e.value(s(hi))
                );
            }
            (Some(lo), None) => key += &format!(" AND {} >= {}", e.name(OKEY), e.value(s(lo))),
            (None, Some(hi)) => key += &format!(" AND {} < {}", e.name(OKEY), e.value(s(hi))),
            (None, None) => {}
        }

        // The filters the index key does not already apply.
        let mut filters = Vec::new();
        let log_type = query
            .log_type
            .filter(|_| plan.attribute != "log_type" && plan.attribute != CHANNEL_LOG);
        let patient = query
            .patient_id
            .as_ref()
            .filter(|_| plan.attribute == "appointment_id");
        for (attribute, value) in [
            ("log_type", log_type.map(LogType::as_str)),
            ("patient_id", patient.map(|p| p.as_str())),
            ("outcome", query.outcome.map(|o| o.as_str())),
        ] {
            if let Some(value) = value {
                filters.push(format!("{} = {}", e.name(attribute), e.value(s(value))));
            }
        }
        if let Some(channel) = query
            .channel_id
            .as_ref()
            .filter(|_| plan.attribute != CHANNEL_LOG)
        {
            filters.push(format!(
                "{}.{} = {}",
                e.name("detail"),
                e.name("channel_id"),
                e.value(s(channel.as_str()))
            ));
        }
        let filter = (!filters.is_empty()).then(|| filters.join(" AND "));

        // One more than wanted: the cursor's own entry may come first.
        let mut q = Query::new(&self.db.tables.audit, key, &e)
            .index(plan.index)
            .filter(filter.clone())
            .newest_first(true)
            .limit(want + 1);
        if filter.is_some() {
            q = q.page_size(FILTERED_PAGE);
        }
        let mut found = Vec::new();
        for item in self.db.query_all(q).await? {
            let okey = codec::string(&item, OKEY, KIND)?.to_owned();
            if before != Some(okey.as_str()) && found.len() < want {
                found.push((okey, codec::from_item(item, KIND)?));
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl AuditLog for DynamoAuditLog {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        if !tallies(entry).is_empty() {
            // With its dashboard counters, in one transaction; an entry that exists already
            // fails the put's condition: a retried append, which is success.
            let items = super::dashboard::entry_writes(&self.db, entry)?;
            return match super::dashboard::transact(&self.db, items).await {
                Ok(()) | Err(StoreError::Conflict("condition failed")) => Ok(()),
                Err(err) => Err(err),
            };
        }
        let mut e = Expr::default();
        let condition = format!("attribute_not_exists({})", e.name(PK));
        let item = entry_item(entry, self.db.audit_retention)?;
        // Not written: the entry exists, a retried append. Entries are immutable, so this is
        // success.
        self.db
            .put_if(&self.db.tables.audit, item, &e, Some(condition))
            .await?;
        Ok(())
    }

    async fn query(&self, query: &AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let before = query.cursor.as_deref().map(decode_cursor).transpose()?;
        // One more than the page, to know whether another page exists.
        let want = limit + 1;
        let mut found = match plan(query) {
            Some(plan) => self.collect(&plan, query, before.as_deref(), want).await?,
            None => {
                let mut all = Vec::new();
                for log_type in LogType::ALL {
                    all.extend(
                        self.collect(&by_type(log_type), query, before.as_deref(), want)
                            .await?,
                    );
                }
                all.sort_by(|a, b| b.0.cmp(&a.0));
                all.truncate(want);
                all
            }
        };
        let next_cursor = if found.len() > limit {
            found.truncate(limit);
            found.last().map(|(okey, _)| encode_cursor(okey))
        } else {
            None
        };
        Ok(Page {
            items: found.into_iter().map(|(_, entry)| entry).collect(),
            next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use connector_domain::{AppointmentId, PatientId};

    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let okey = "2026-11-21T05:00:00.000000000Z#0192";
        assert_eq!(decode_cursor(&encode_cursor(okey)).unwrap(), okey);
        // The earlier cursor format, and well-formed cursors of something else.
        let json_without_cursor = URL_SAFE_NO_PAD.encode(b"{}");
        let json_not_a_key = URL_SAFE_NO_PAD.encode(br#"{"before":"x#y"}"#);
        let two_parts = cursor::encode(&[okey, "more"]);
        let not_a_key = cursor::encode(&["x#y"]);
        for bad in [
            "%%%",
            "zz",
            "{}",
            json_without_cursor.as_str(),
            json_not_a_key.as_str(),
            two_parts.as_str(),
            not_a_key.as_str(),
        ] {
            assert!(
                matches!(decode_cursor(bad), Err(StoreError::InvalidCursor)),
                "{bad}"
            );
        }
    }

    #[test]
    fn plan_picks_the_most_selective_index() {
        let mut q = AuditQuery {
            log_type: Some(LogType::Hl7Inbound),
            ..AuditQuery::default()
        };
        assert_eq!(plan(&q).unwrap().index, keys::INDEX_BY_TYPE);
        q.patient_id = Some(PatientId::parse("p").unwrap());
        assert_eq!(plan(&q).unwrap().index, keys::INDEX_BY_PATIENT);
        q.appointment_id = Some(AppointmentId::parse("a").unwrap());
        assert_eq!(plan(&q).unwrap().index, keys::INDEX_BY_APPOINTMENT);
        assert_eq!(plan(&AuditQuery::default()), None);
    }
}
