//! `AuditLog`: one row per entry, with the filtered columns indexed for each access pattern
//! (by time; by log type, patient, appointment or outcome, then time).

use async_trait::async_trait;
use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, AuditQuery, Page, entry_channel};
use connector_domain::cursor;
use connector_domain::dashboard::{Tally, tallies};
use connector_domain::ports::AuditLog;
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use super::{from_json, sql_limit, to_json};
use crate::SqliteDb;
use crate::error::db_err;
use crate::time::{nanos, nanos_clamped};

/// Largest page.
const MAX_LIMIT: usize = 500;

/// The audit log of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteAuditLog {
    pub(crate) db: SqliteDb,
}

/// An audit entry as stored.
pub(crate) struct AuditRow {
    entry_id: String,
    occurred_at: i64,
    log_type: &'static str,
    outcome: &'static str,
    patient_id: Option<String>,
    appointment_id: Option<String>,
    consent_id: Option<String>,
    channel_id: Option<String>,
    body: String,
    tally: Tally,
}

impl AuditRow {
    /// Encodes an entry.
    pub(crate) fn new(entry: &AuditEntry) -> Result<Self, StoreError> {
        Ok(Self {
            entry_id: entry.entry_id.clone(),
            occurred_at: nanos(entry.occurred_at)?,
            log_type: entry.log_type.as_str(),
            outcome: entry.outcome.as_str(),
            patient_id: entry.patient_id.as_ref().map(|id| id.as_str().to_owned()),
            appointment_id: entry
                .appointment_id
                .as_ref()
                .map(|id| id.as_str().to_owned()),
            consent_id: entry.consent_id.as_ref().map(|id| id.as_str().to_owned()),
            channel_id: entry_channel(entry).map(str::to_owned),
            body: to_json(entry, "audit entry")?,
            tally: tallies(entry),
        })
    }
}

/// Inserts an entry unless one with its id exists, and applies its dashboard tally when it was
/// inserted (so a retried insert counts nothing twice). Call inside a write transaction.
pub(crate) fn insert(conn: &Connection, row: &AuditRow) -> Result<(), StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO audit_log \
             (entry_id, occurred_at, log_type, outcome, patient_id, appointment_id, consent_id, \
              channel_id, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (entry_id) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                row.entry_id,
                row.occurred_at,
                row.log_type,
                row.outcome,
                row.patient_id,
                row.appointment_id,
                row.consent_id,
                row.channel_id,
                row.body
            ])
        })
        .map_err(db_err)?;
    if inserted == 1 && !row.tally.is_empty() {
        super::dashboard::apply(conn, &row.entry_id, &row.tally)?;
    }
    Ok(())
}

/// Where a page ended: the `(occurred_at, entry_id)` of its last entry, as an opaque
/// [`connector_domain::cursor`] of the nanoseconds and the id: free of anything but ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    occurred_at: i64,
    entry_id: String,
}

impl Cursor {
    /// The opaque cursor text ([`connector_domain::cursor`]).
    pub(crate) fn encode(&self) -> String {
        cursor::encode(&[&self.occurred_at.to_string(), &self.entry_id])
    }

    /// Decodes a cursor; anything this adapter did not produce is `InvalidCursor`.
    pub(crate) fn decode(text: &str) -> Result<Self, StoreError> {
        let [at, entry_id]: [String; 2] = cursor::decode(text, 2)?
            .try_into()
            .map_err(|_| StoreError::InvalidCursor)?;
        Ok(Self {
            occurred_at: at.parse().map_err(|_| StoreError::InvalidCursor)?,
            entry_id,
        })
    }
}

/// The SQL and parameters for one page of `query` (one more row than the page, to tell whether
/// another page follows).
fn select(query: &AuditQuery, cursor: Option<&Cursor>, limit: usize) -> (String, Vec<Value>) {
    let mut sql = String::from("SELECT body, occurred_at, entry_id FROM audit_log WHERE 1 = 1");
    let mut values = Vec::new();
    let mut text = |sql: &mut String, column: &str, value: &str| {
        sql.push_str(&format!(" AND {column} = ?"));
        values.push(Value::Text(value.to_owned()));
    };
    if let Some(log_type) = query.log_type {
        text(&mut sql, "log_type", log_type.as_str());
    }
    if let Some(patient) = &query.patient_id {
        text(&mut sql, "patient_id", patient.as_str());
    }
    if let Some(appointment) = &query.appointment_id {
        text(&mut sql, "appointment_id", appointment.as_str());
    }
    if let Some(outcome) = query.outcome {
        text(&mut sql, "outcome", outcome.as_str());
    }
    if let Some(channel) = &query.channel_id {
        text(&mut sql, "channel_id", channel.as_str());
    }
    if let Some(from) = query.from {
        sql.push_str(" AND occurred_at >= ?");
        values.push(Value::Integer(nanos_clamped(from)));
    }
    if let Some(to) = query.to {
        sql.push_str(" AND occurred_at < ?");
        values.push(Value::Integer(nanos_clamped(to)));
    }
    if let Some(cursor) = cursor {
        // `(occurred_at, entry_id) < (c.occurred_at, c.entry_id)`, written so the index range
        // on occurred_at applies.
        sql.push_str(" AND occurred_at <= ? AND (occurred_at < ? OR entry_id < ?)");
        values.push(Value::Integer(cursor.occurred_at));
        values.push(Value::Integer(cursor.occurred_at));
        values.push(Value::Text(cursor.entry_id.clone()));
    }
    sql.push_str(" ORDER BY occurred_at DESC, entry_id DESC LIMIT ?");
    values.push(Value::Integer(sql_limit(limit).saturating_add(1)));
    (sql, values)
}

#[async_trait]
impl AuditLog for SqliteAuditLog {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let row = AuditRow::new(entry)?;
        self.db.write(move |tx| insert(tx, &row)).await?;
        tracing::debug!(entry_id = %entry.entry_id, log_type = entry.log_type.as_str(), "audit entry appended");
        Ok(())
    }

    async fn query(&self, query: &AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let cursor = query.cursor.as_deref().map(Cursor::decode).transpose()?;
        let (sql, values) = select(query, cursor.as_ref(), limit);
        let mut rows: Vec<(String, i64, String)> = self
            .db
            .read(move |tx| {
                let mut stmt = tx.prepare_cached(&sql).map_err(db_err)?;
                let rows = stmt
                    .query_map(params_from_iter(values), |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .map_err(db_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
            })
            .await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = match rows.last() {
            Some((_, occurred_at, entry_id)) if more => Some(
                Cursor {
                    occurred_at: *occurred_at,
                    entry_id: entry_id.clone(),
                }
                .encode(),
            ),
            _ => None,
        };
        let items = rows
            .iter()
            .map(|(body, _, _)| from_json(body, "audit entry"))
            .collect::<Result<Vec<AuditEntry>, _>>()?;
        tracing::debug!(count = items.len(), more, "audit log queried");
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use connector_domain::audit::{AuditOutcome, LogType};
    use connector_domain::{AppointmentId, PatientId};

    use super::*;

    /// The query plan's detail lines for `query`.
    fn plan(query: &AuditQuery, cursor: Option<&Cursor>) -> String {
        let (sql, values) = select(query, cursor, 10);
        crate::sqlite::test_support::query_plan(&sql, params_from_iter(values))
    }

    #[test]
    fn every_access_pattern_reads_an_index_in_order() {
        let base = AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        };
        let cursor = Cursor {
            occurred_at: 1,
            entry_id: "e".into(),
        };
        let cases = [
            (base.clone(), "audit_by_time"),
            (
                AuditQuery {
                    log_type: Some(LogType::Hl7Inbound),
                    ..base.clone()
                },
                "audit_by_type",
            ),
            (
                AuditQuery {
                    patient_id: Some(PatientId::parse("p").unwrap()),
                    ..base.clone()
                },
                "audit_by_patient",
            ),
            (
                AuditQuery {
                    appointment_id: Some(AppointmentId::parse("a").unwrap()),
                    ..base.clone()
                },
                "audit_by_appointment",
            ),
            (
                AuditQuery {
                    outcome: Some(AuditOutcome::Error),
                    ..base.clone()
                },
                "audit_by_outcome",
            ),
            (
                AuditQuery {
                    log_type: Some(LogType::Hl7Inbound),
                    channel_id: Some(connector_domain::flow::ChannelId::parse("c").unwrap()),
                    ..base.clone()
                },
                "audit_by_channel",
            ),
        ];
        for (query, index) in cases {
            for c in [None, Some(&cursor)] {
                let plan = plan(&query, c);
                assert!(plan.contains(index), "{query:?}: {plan}");
                assert!(!plan.contains("TEMP B-TREE"), "{query:?} sorts: {plan}");
            }
        }
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            occurred_at: -5,
            entry_id: "0194-abc:def".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in [
            "",
            "zz",
            "abc",
            "763a",
            &"v2:1:x"
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            &cursor::encode(&["x", "e-1"]),
            &cursor::encode(&["1"]),
        ] {
            assert!(
                matches!(Cursor::decode(bad), Err(StoreError::InvalidCursor)),
                "{bad}"
            );
        }
    }
}
