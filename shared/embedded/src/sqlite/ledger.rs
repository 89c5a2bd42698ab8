//! `SendLedger`: one row per delivery `(appointment, transition, resend)`, every field a column
//! (the record holds ids, states and instants only). Each claim and each finish is one
//! `BEGIN IMMEDIATE` transaction that reads the row and then writes it conditionally, so claims
//! from any number of tasks, or processes sharing the file, are serialised: two claims never both
//! get `Granted` for one attempt, and a finish either writes the record and its audit entry or
//! writes nothing.

use std::collections::BTreeSet;

use async_trait::async_trait;
use connector_domain::hie::{Claim, SendClaimStep, SendKey, SendRecord, SendState};
use connector_domain::ports::{LeaseTerms, SendFinish, SendLedger};
use connector_domain::{AppointmentId, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use super::audit::{self, AuditRow};
use crate::SqliteDb;
use crate::error::{UnsupportedValue, conflict_or, db_err};
use crate::time::{from_nanos, nanos};

/// The send ledger of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteSendLedger {
    pub(crate) db: SqliteDb,
}

/// A ledger key as stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct KeyRow {
    appointment_id: String,
    transition_seq: i64,
    resend: i64,
}

impl KeyRow {
    /// Encodes a key; a `resend` above `i64::MAX` cannot be stored.
    fn new(key: &SendKey) -> Result<Self, StoreError> {
        Ok(Self {
            appointment_id: key.appointment_id.as_str().to_owned(),
            transition_seq: i64::from(key.transition_seq),
            resend: i64::try_from(key.resend)
                .map_err(|_| StoreError::unavailable(UnsupportedValue("send resend number")))?,
        })
    }
}

/// A state's stored name (its serde name).
fn state_name(state: SendState) -> &'static str {
    match state {
        SendState::Sending => "sending",
        SendState::RetryPending => "retry_pending",
        SendState::Sent => "sent",
        SendState::Failed => "failed",
    }
}

fn parse_state(name: &str) -> Option<SendState> {
    [
        SendState::Sending,
        SendState::RetryPending,
        SendState::Sent,
        SendState::Failed,
    ]
    .into_iter()
    .find(|s| state_name(*s) == name)
}

const KIND: &str = "send record";

/// The columns of a record, in [`RawRecord::from_row`]'s order.
const COLUMNS: &str =
    "appointment_id, transition_seq, resend, state, attempts, lease_until, message_id, updated_at";

/// A row as read, before validation.
struct RawRecord {
    appointment_id: String,
    transition_seq: i64,
    resend: i64,
    state: String,
    attempts: i64,
    lease_until: Option<i64>,
    message_id: Option<String>,
    updated_at: i64,
}

impl RawRecord {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            appointment_id: row.get(0)?,
            transition_seq: row.get(1)?,
            resend: row.get(2)?,
            state: row.get(3)?,
            attempts: row.get(4)?,
            lease_until: row.get(5)?,
            message_id: row.get(6)?,
            updated_at: row.get(7)?,
        })
    }

    /// The domain record; anything out of range is `Corrupt` (naming the kind only).
    fn decode(self) -> Result<SendRecord, StoreError> {
        let corrupt = || super::corrupt(KIND);
        let state = parse_state(&self.state).ok_or_else(corrupt)?;
        if (state == SendState::Sending) != self.lease_until.is_some()
            || (state == SendState::Sent) != self.message_id.is_some()
        {
            return Err(corrupt());
        }
        Ok(SendRecord {
            key: SendKey {
                appointment_id: AppointmentId::parse(self.appointment_id).map_err(|_| corrupt())?,
                transition_seq: u32::try_from(self.transition_seq).map_err(|_| corrupt())?,
                resend: u64::try_from(self.resend).map_err(|_| corrupt())?,
            },
            state,
            attempts: u32::try_from(self.attempts).map_err(|_| corrupt())?,
            lease_until: self.lease_until.map(from_nanos),
            message_id: self.message_id,
            updated_at: from_nanos(self.updated_at),
        })
    }
}

fn load(conn: &Connection, key: &KeyRow) -> Result<Option<SendRecord>, StoreError> {
    let raw = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM send_ledger \
             WHERE appointment_id = ?1 AND transition_seq = ?2 AND resend = ?3"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(
                params![key.appointment_id, key.transition_seq, key.resend],
                RawRecord::from_row,
            )
            .optional()
        })
        .map_err(db_err)?;
    raw.map(RawRecord::decode).transpose()
}

/// Creates the record of a first claim: `Sending`, attempt 1.
fn insert_first(
    conn: &Connection,
    key: &KeyRow,
    lease_until: i64,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO send_ledger \
         (appointment_id, transition_seq, resend, state, attempts, lease_until, message_id, updated_at) \
         VALUES (?1, ?2, ?3, 'sending', 1, ?4, NULL, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key.appointment_id,
            key.transition_seq,
            key.resend,
            lease_until,
            now
        ])
    })
    .map_err(conflict_or("send record exists"))?;
    Ok(())
}

/// Moves the record from `(from, attempts)` to `Sending` at `attempts + 1`. The condition repeats
/// what the caller read, so the write cannot apply to a record that changed meanwhile.
fn take_over(
    conn: &Connection,
    key: &KeyRow,
    from: SendState,
    attempts: u32,
    lease_until: i64,
    now: i64,
) -> Result<(), StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE send_ledger SET state = 'sending', attempts = attempts + 1, lease_until = ?6, \
             message_id = NULL, updated_at = ?7 \
             WHERE appointment_id = ?1 AND transition_seq = ?2 AND resend = ?3 \
             AND state = ?4 AND attempts = ?5",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                key.appointment_id,
                key.transition_seq,
                key.resend,
                state_name(from),
                attempts,
                lease_until,
                now
            ])
        })
        .map_err(db_err)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict("send record changed"))
    }
}

#[async_trait]
impl SendLedger for SqliteSendLedger {
    async fn claim(&self, key: &SendKey, lease: LeaseTerms) -> Result<Claim, StoreError> {
        let (now, lease) = (lease.now, lease.lease()?);
        let row = KeyRow::new(key)?;
        let (now_ns, lease_end_ns) = (nanos(now)?, nanos(lease.until)?);
        let key_owned = key.clone();
        let claim = self
            .db
            .write(move |tx| {
                let stored = load(tx, &row)?;
                let next = match SendRecord::claim(stored.as_ref(), &key_owned, now, &lease)? {
                    SendClaimStep::Refused(claim) => return Ok(claim),
                    SendClaimStep::Take(next) => next,
                };
                match stored {
                    None => insert_first(tx, &row, lease_end_ns, now_ns)?,
                    Some(record) => take_over(
                        tx,
                        &row,
                        record.state,
                        record.attempts,
                        lease_end_ns,
                        now_ns,
                    )?,
                }
                Ok(Claim::Granted {
                    attempt: next.attempts,
                })
            })
            .await?;
        match &claim {
            Claim::Granted { attempt } => {
                tracing::debug!(send_key = %key, attempt, "send claim granted");
            }
            Claim::Busy { .. } => tracing::debug!(send_key = %key, "send claim busy"),
            Claim::AlreadySent { .. } => tracing::debug!(send_key = %key, "send already sent"),
            Claim::Closed => tracing::debug!(send_key = %key, "send closed"),
        }
        Ok(claim)
    }

    async fn finish(&self, finish: SendFinish<'_>) -> Result<(), StoreError> {
        let (key, attempt, state, now) = (finish.key, finish.attempt, finish.state, finish.now);
        let message_id = finish.message_id;
        SendRecord::check_finish(state, message_id)?;
        let row = KeyRow::new(key)?;
        let message_id = message_id.map(str::to_owned);
        let now_ns = nanos(now)?;
        let entry = AuditRow::new(finish.audit)?;
        self.db
            .write(move |tx| {
                let changed = tx
                    .prepare_cached(
                        "UPDATE send_ledger SET state = ?4, lease_until = NULL, message_id = ?5, \
                         updated_at = ?6 \
                         WHERE appointment_id = ?1 AND transition_seq = ?2 AND resend = ?3 \
                         AND state = 'sending' AND attempts = ?7",
                    )
                    .and_then(|mut stmt| {
                        stmt.execute(params![
                            row.appointment_id,
                            row.transition_seq,
                            row.resend,
                            state_name(state),
                            message_id,
                            now_ns,
                            attempt
                        ])
                    })
                    .map_err(db_err)?;
                if changed != 1 {
                    // No record, already ended, or taken over by a later attempt.
                    return Err(StoreError::Conflict("send attempt is not the current one"));
                }
                audit::insert(tx, &entry)
            })
            .await?;
        tracing::debug!(send_key = %key, attempt, state = state_name(state), "send attempt finished");
        Ok(())
    }

    async fn get(&self, key: &SendKey) -> Result<Option<SendRecord>, StoreError> {
        // A key that cannot be stored has no record.
        let Ok(row) = KeyRow::new(key) else {
            return Ok(None);
        };
        self.db.read(move |tx| load(tx, &row)).await
    }

    async fn get_many(&self, keys: &[SendKey]) -> Result<Vec<SendRecord>, StoreError> {
        // Each record once, however often its key is asked for; unstorable keys have none.
        let rows: BTreeSet<KeyRow> = keys.iter().filter_map(|k| KeyRow::new(k).ok()).collect();
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for any number of keys: they travel as one JSON array parameter.
        let triples: Vec<(&str, i64, i64)> = rows
            .iter()
            .map(|r| (r.appointment_id.as_str(), r.transition_seq, r.resend))
            .collect();
        let triples =
            serde_json::to_string(&triples).map_err(|_| StoreError::Corrupt("send keys"))?;
        let raws: Vec<RawRecord> = self
            .db
            .read(move |tx| {
                let mut stmt = tx.prepare_cached(GET_MANY).map_err(db_err)?;
                let rows = stmt
                    .query_map([triples], RawRecord::from_row)
                    .map_err(db_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
            })
            .await?;
        let records = raws
            .into_iter()
            .map(RawRecord::decode)
            .collect::<Result<Vec<_>, _>>()?;
        tracing::debug!(
            asked = keys.len(),
            found = records.len(),
            "send records read"
        );
        Ok(records)
    }
}

/// Reads the records of a JSON array of `[appointment_id, transition_seq, resend]` keys, one
/// primary-key seek per key.
const GET_MANY: &str = "SELECT l.appointment_id, l.transition_seq, l.resend, l.state, l.attempts, \
     l.lease_until, l.message_id, l.updated_at \
     FROM json_each(?1) AS k CROSS JOIN send_ledger AS l \
     ON l.appointment_id = json_extract(k.value, '$[0]') \
     AND l.transition_seq = json_extract(k.value, '$[1]') \
     AND l.resend = json_extract(k.value, '$[2]')";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_match_the_domain_serde_names() {
        for state in [
            SendState::Sending,
            SendState::RetryPending,
            SendState::Sent,
            SendState::Failed,
        ] {
            let serde = serde_json::to_string(&state).unwrap();
            assert_eq!(serde, format!("\"{}\"", state_name(state)));
            assert_eq!(parse_state(state_name(state)), Some(state));
        }
        assert_eq!(parse_state("Sent"), None);
    }

    #[test]
    fn get_many_seeks_the_primary_key_per_key() {
        let plan = crate::sqlite::test_support::query_plan(GET_MANY, [r#"[["a-1",1,0]]"#]);
        assert!(plan.contains("SEARCH l USING PRIMARY KEY"), "{plan}");
    }

    #[test]
    fn the_schema_refuses_records_that_break_a_state_invariant() {
        let conn = crate::sqlite::test_support::migrated();
        for (state, lease, message) in [
            ("sending", None, None),
            ("sent", None, None),
            ("retry_pending", Some(1), None),
            ("failed", None, Some("m")),
            ("done", None, None),
        ] {
            let err = conn
                .execute(
                    "INSERT INTO send_ledger VALUES ('a-1', 1, 0, ?1, 1, ?2, ?3, 0)",
                    params![state, lease, message],
                )
                .unwrap_err();
            assert_eq!(
                err.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ConstraintViolation),
                "{state}"
            );
        }
    }
}
