//! `InboundLedger`: one row per `(channel, MSH-10)`, the steps' progress as a JSON object (step
//! name -> progress; ids and outcome words only, never PHI). Each claim, step and finish is one
//! `BEGIN IMMEDIATE` transaction that reads the row and writes it under a condition repeating
//! what it read, so two claims are never both granted (across tasks, or processes sharing the
//! file), and a lost claim's `save_step` or `finish` writes nothing.

use async_trait::async_trait;
use connector_domain::StoreError;
use connector_domain::flow::ChannelId;
use connector_domain::inbound::{
    ControlId, InboundClaim, InboundKey, InboundRecord, InboundState, KeyLock,
};
use connector_domain::ports::{
    InboundClaimRequest, InboundFinish, InboundLedger, LeaseTerms, StepSave,
};
use rusqlite::{Connection, OptionalExtension, params};

use super::audit::{self, AuditRow};
use super::{from_json, to_json};
use crate::SqliteDb;
use crate::error::{conflict_or, db_err};
use crate::time::{from_nanos, nanos};

/// The inbound ledger of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteInboundLedger {
    pub(crate) db: SqliteDb,
}

const KIND: &str = "inbound record";

/// The columns of a record, in [`RawRecord::from_row`]'s order.
const COLUMNS: &str = "channel_id, control_id, body_sha256, event, state, attempts, lease_until, \
     steps, received_at, updated_at";

/// A row as read, before validation.
struct RawRecord {
    channel_id: String,
    control_id: String,
    body_sha256: String,
    event: String,
    state: String,
    attempts: i64,
    lease_until: Option<i64>,
    steps: String,
    received_at: i64,
    updated_at: i64,
}

impl RawRecord {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            channel_id: row.get(0)?,
            control_id: row.get(1)?,
            body_sha256: row.get(2)?,
            event: row.get(3)?,
            state: row.get(4)?,
            attempts: row.get(5)?,
            lease_until: row.get(6)?,
            steps: row.get(7)?,
            received_at: row.get(8)?,
            updated_at: row.get(9)?,
        })
    }

    /// The domain record; anything out of range is `Corrupt` (naming the kind only).
    fn decode(self) -> Result<InboundRecord, StoreError> {
        let corrupt = || super::corrupt(KIND);
        let state = InboundState::parse(&self.state).ok_or_else(corrupt)?;
        if (state == InboundState::Processing) != self.lease_until.is_some() {
            return Err(corrupt());
        }
        Ok(InboundRecord {
            key: InboundKey::new(
                ChannelId::parse(self.channel_id).map_err(|_| corrupt())?,
                ControlId::parse(self.control_id).map_err(|_| corrupt())?,
            ),
            body_sha256: self.body_sha256,
            event: self.event,
            state,
            attempts: u32::try_from(self.attempts).map_err(|_| corrupt())?,
            lease_until: self.lease_until.map(from_nanos),
            steps: from_json(&self.steps, KIND)?,
            received_at: from_nanos(self.received_at),
            updated_at: from_nanos(self.updated_at),
        })
    }
}

/// The stored record, or `None`.
fn load(conn: &Connection, key: &InboundKey) -> Result<Option<InboundRecord>, StoreError> {
    let raw = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM inbound_ledger WHERE channel_id = ?1 AND control_id = ?2"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(
                params![key.channel_id.as_str(), key.control_id.as_str()],
                RawRecord::from_row,
            )
            .optional()
        })
        .map_err(db_err)?;
    raw.map(RawRecord::decode).transpose()
}

/// Writes `next` over the stored record if the stored one is still `(state, attempts)`; the
/// condition repeats what the caller read, so a changed record is never overwritten.
fn replace_if(
    conn: &Connection,
    next: &InboundRecord,
    state: InboundState,
    attempts: u32,
) -> Result<(), StoreError> {
    let lease_until = next.lease_until.map(nanos).transpose()?;
    let steps = to_json(&next.steps, "inbound steps")?;
    let updated_at = nanos(next.updated_at)?;
    let changed = conn
        .prepare_cached(
            "UPDATE inbound_ledger SET state = ?5, attempts = ?6, lease_until = ?7, steps = ?8, \
             updated_at = ?9 \
             WHERE channel_id = ?1 AND control_id = ?2 AND state = ?3 AND attempts = ?4",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                next.key.channel_id.as_str(),
                next.key.control_id.as_str(),
                state.as_str(),
                attempts,
                next.state.as_str(),
                next.attempts,
                lease_until,
                steps,
                updated_at,
            ])
        })
        .map_err(db_err)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict("inbound record changed"))
    }
}

/// The record held by attempt `attempt`, or `Conflict` when the claim was lost (no record, not
/// `Processing`, or another attempt).
fn current_attempt(
    conn: &Connection,
    key: &InboundKey,
    attempt: u32,
) -> Result<InboundRecord, StoreError> {
    let record = load(conn, key)?.ok_or(StoreError::Conflict(
        "inbound attempt is not the current one",
    ))?;
    record.check_current(attempt)?;
    Ok(record)
}

#[async_trait]
impl InboundLedger for SqliteInboundLedger {
    async fn claim(&self, request: InboundClaimRequest<'_>) -> Result<InboundClaim, StoreError> {
        let (key, now, lease) = (request.key, request.lease.now, request.lease.lease()?);
        // Both instants must be storable before anything is written.
        let (now_ns, lease_ns) = (nanos(now)?, nanos(lease.until)?);
        let key_owned = key.clone();
        let (body_sha256, event) = (request.body_sha256.to_owned(), request.event.to_owned());
        let claim = self
            .db
            .write(move |tx| {
                let Some(stored) = load(tx, &key_owned)? else {
                    let record = InboundRecord::first(key_owned, body_sha256, event, now, &lease);
                    tx.prepare_cached(&format!(
                        "INSERT INTO inbound_ledger ({COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, 'processing', 1, ?5, '{{}}', ?6, ?6)"
                    ))
                    .and_then(|mut stmt| {
                        stmt.execute(params![
                            record.key.channel_id.as_str(),
                            record.key.control_id.as_str(),
                            record.body_sha256,
                            record.event,
                            lease_ns,
                            now_ns,
                        ])
                    })
                    .map_err(conflict_or("inbound record exists"))?;
                    return Ok(InboundClaim::Granted(record));
                };
                let claim = stored.claim(now, &lease)?;
                if let InboundClaim::Granted(next) = &claim {
                    replace_if(tx, next, stored.state, stored.attempts)?;
                }
                Ok(claim)
            })
            .await?;
        let outcome = match &claim {
            InboundClaim::Granted(r) => {
                tracing::debug!(channel_id = %key.channel_id, control_id = %key.control_id, attempt = r.attempts, "inbound claim granted");
                "granted"
            }
            InboundClaim::AlreadyDone(_) => "already_done",
            InboundClaim::Busy(_) => "busy",
        };
        if outcome != "granted" {
            tracing::debug!(channel_id = %key.channel_id, control_id = %key.control_id, outcome, "inbound claim not granted");
        }
        Ok(claim)
    }

    async fn save_step(&self, save: StepSave<'_>) -> Result<(), StoreError> {
        let (key, attempt, step, now) = (save.key, save.attempt, save.step, save.now);
        nanos(now)?;
        let key_owned = key.clone();
        let (step_name, progress) = (step.to_owned(), save.progress.clone());
        self.db
            .write(move |tx| {
                let record = current_attempt(tx, &key_owned, attempt)?;
                let next = record.with_step(step_name, progress, now);
                replace_if(tx, &next, record.state, record.attempts)
            })
            .await?;
        tracing::debug!(channel_id = %key.channel_id, control_id = %key.control_id, attempt, step, "inbound step saved");
        Ok(())
    }

    async fn finish(&self, finish: InboundFinish<'_>) -> Result<(), StoreError> {
        let (key, attempt, state, now) = (finish.key, finish.attempt, finish.state, finish.now);
        InboundRecord::check_end(state)?;
        nanos(now)?;
        let entry = AuditRow::new(finish.audit)?;
        let key_owned = key.clone();
        self.db
            .write(move |tx| {
                let record = current_attempt(tx, &key_owned, attempt)?;
                let next = record.finish(state, now);
                replace_if(tx, &next, record.state, record.attempts)?;
                audit::insert(tx, &entry)
            })
            .await?;
        tracing::debug!(channel_id = %key.channel_id, control_id = %key.control_id, attempt, state = state.as_str(), "inbound attempt finished");
        Ok(())
    }

    async fn get(&self, key: &InboundKey) -> Result<Option<InboundRecord>, StoreError> {
        let key = key.clone();
        self.db.read(move |tx| load(tx, &key)).await
    }

    async fn lock_key(&self, lock: &KeyLock, lease: LeaseTerms<&str>) -> Result<bool, StoreError> {
        let now = lease.now;
        let lease = lease.held_by(lease.holder.to_owned()).lease()?;
        let (id, holder, now, until) = (
            lock.as_str().to_owned(),
            lease.holder,
            nanos(now)?,
            nanos(lease.until)?,
        );
        self.db
            .write(move |tx| {
                // One statement: inserts a free lock, or takes over a lapsed (or our own) one;
                // a live lease of another holder leaves the row as it is (0 rows changed): the
                // condition is `Lease::is_free_for`.
                tx.prepare_cached(
                    "INSERT INTO inbound_key_locks (lock_id, holder, lease_until) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (lock_id) DO UPDATE SET holder = excluded.holder, \
                     lease_until = excluded.lease_until \
                     WHERE inbound_key_locks.lease_until <= ?4 OR inbound_key_locks.holder = excluded.holder",
                )
                .and_then(|mut stmt| stmt.execute(params![id, holder, until, now]))
                .map(|changed| changed == 1)
                .map_err(db_err)
            })
            .await
    }

    async fn unlock_key(&self, lock: &KeyLock, holder: &str) -> Result<(), StoreError> {
        let (id, holder) = (lock.as_str().to_owned(), holder.to_owned());
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "DELETE FROM inbound_key_locks WHERE lock_id = ?1 AND holder = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![id, holder]))
                .map(drop)
                .map_err(db_err)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_refuses_records_that_break_a_state_invariant() {
        let conn = crate::sqlite::test_support::migrated();
        for (state, lease) in [
            ("processing", None),
            ("failed", Some(1)),
            ("done", Some(1)),
            ("busy", None),
        ] {
            let err = conn
                .execute(
                    "INSERT INTO inbound_ledger VALUES ('c', 'm', 'h', 'ADT^A04', ?1, 1, ?2, '{}', 0, 0)",
                    params![state, lease],
                )
                .unwrap_err();
            assert_eq!(
                err.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ConstraintViolation),
                "{state}"
            );
        }
    }

    #[test]
    fn state_names_match_the_domain_serde_names() {
        for state in [
            InboundState::Processing,
            InboundState::Failed,
            InboundState::Done,
        ] {
            let serde = serde_json::to_string(&state).unwrap();
            assert_eq!(serde, format!("\"{}\"", state.as_str()));
        }
    }
}
