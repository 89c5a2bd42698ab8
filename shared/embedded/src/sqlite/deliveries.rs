//! `DeliveryStore`: accepted webhooks (`webhooks`, one row per key), their deliveries
//! (`deliveries`, one row per HL7 message, the message text in its own column) and the patient
//! groups a parked delivery blocks (`delivery_group_blocks`).
//!
//! Every call that writes is one `BEGIN IMMEDIATE` transaction that reads the rows it decides on
//! and writes them under a condition repeating what it read (state and attempts), so two claims
//! are never both granted (across tasks, or processes sharing the file), a lost attempt's
//! `finish` writes nothing, and a claim sees the group's block as of its own write.
//!
//! A webhook's `received_at` is its audit entry's time. A claim that finds the group blocked
//! makes the delivery `Held` with `last_outcome` `held` (the outcome word the domain lists for
//! it). Redrive keeps `last_outcome` (the reason it was parked or held).
//!
//! Message text is PHI: it is stored and returned, never logged; log lines carry delivery ids,
//! states and attempt numbers only.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::delivery::{
    AttemptEnd, Delivery, DeliveryClaim, DeliveryId, DeliveryState, NOT_CURRENT, WebhookKey,
};
use connector_domain::flow::{ChannelId, FlowId};
use connector_domain::inbound::ControlId;
use connector_domain::phi::Phi;
use connector_domain::ports::{DeliveryFinish, DeliveryStore, LeaseTerms};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::audit::{self, AuditRow};
use super::sql_limit;
use crate::SqliteDb;
use crate::error::{conflict_or, db_err, invalid_call};
use crate::time::{from_nanos, nanos};

/// The delivery store of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteDeliveryStore {
    pub(crate) db: SqliteDb,
}

const KIND: &str = "delivery";

/// The columns of a delivery, in [`RawDelivery::from_row`]'s order.
const COLUMNS: &str = "delivery_id, channel_id, flow_id, group_id, control_id, event, message, \
     state, attempts, last_outcome, lease_until, next_attempt_at, held_behind, created_at, \
     updated_at";

/// Creation order: the time the webhook was accepted, then the (time-ordered) id.
const CREATION_ORDER: &str = "ORDER BY created_at, delivery_id";

/// A row as read, before validation.
struct RawDelivery {
    delivery_id: String,
    channel_id: String,
    flow_id: String,
    group_id: String,
    control_id: String,
    event: String,
    message: String,
    state: String,
    attempts: i64,
    last_outcome: Option<String>,
    lease_until: Option<i64>,
    next_attempt_at: Option<i64>,
    held_behind: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl RawDelivery {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            delivery_id: row.get(0)?,
            channel_id: row.get(1)?,
            flow_id: row.get(2)?,
            group_id: row.get(3)?,
            control_id: row.get(4)?,
            event: row.get(5)?,
            message: row.get(6)?,
            state: row.get(7)?,
            attempts: row.get(8)?,
            last_outcome: row.get(9)?,
            lease_until: row.get(10)?,
            next_attempt_at: row.get(11)?,
            held_behind: row.get(12)?,
            created_at: row.get(13)?,
            updated_at: row.get(14)?,
        })
    }

    /// The domain record; anything out of range is `Corrupt` (naming the kind only).
    fn decode(self) -> Result<Delivery, StoreError> {
        let corrupt = || super::corrupt(KIND);
        let state = DeliveryState::parse(&self.state).ok_or_else(corrupt)?;
        if (state == DeliveryState::Delivering) != self.lease_until.is_some()
            || (state == DeliveryState::Retrying) != self.next_attempt_at.is_some()
            || (state == DeliveryState::Held) != self.held_behind.is_some()
        {
            return Err(corrupt());
        }
        Ok(Delivery {
            delivery_id: DeliveryId::parse(self.delivery_id).map_err(|_| corrupt())?,
            channel_id: ChannelId::parse(self.channel_id).map_err(|_| corrupt())?,
            flow_id: FlowId::parse(self.flow_id).map_err(|_| corrupt())?,
            group: self.group_id,
            control_id: ControlId::parse(self.control_id).map_err(|_| corrupt())?,
            event: self.event,
            message: Phi::new(self.message),
            state,
            attempts: u32::try_from(self.attempts).map_err(|_| corrupt())?,
            last_outcome: self.last_outcome,
            lease_until: self.lease_until.map(from_nanos),
            next_attempt_at: self.next_attempt_at.map(from_nanos),
            held_behind: self
                .held_behind
                .map(DeliveryId::parse)
                .transpose()
                .map_err(|_| corrupt())?,
            created_at: from_nanos(self.created_at),
            updated_at: from_nanos(self.updated_at),
        })
    }
}

/// A delivery's instants as stored; built before a transaction starts, so a value the store
/// cannot represent is refused before anything is written.
struct Instants {
    lease_until: Option<i64>,
    next_attempt_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl Instants {
    fn of(delivery: &Delivery) -> Result<Self, StoreError> {
        Ok(Self {
            lease_until: delivery.lease_until.map(nanos).transpose()?,
            next_attempt_at: delivery.next_attempt_at.map(nanos).transpose()?,
            created_at: nanos(delivery.created_at)?,
            updated_at: nanos(delivery.updated_at)?,
        })
    }
}

/// Deliveries matching `condition` (SQL after `WHERE`, with `?n` parameters), then `tail`
/// (ordering and limit).
fn select(
    conn: &Connection,
    condition: &str,
    values: Vec<Value>,
    tail: &str,
) -> Result<Vec<Delivery>, StoreError> {
    let raws = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM deliveries WHERE {condition} {tail}"
        ))
        .and_then(|mut stmt| {
            stmt.query_map(params_from_iter(values), RawDelivery::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db_err)?;
    raws.into_iter().map(RawDelivery::decode).collect()
}

/// The stored delivery, or `None`.
fn load(conn: &Connection, id: &DeliveryId) -> Result<Option<Delivery>, StoreError> {
    let raw = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM deliveries WHERE delivery_id = ?1"
        ))
        .and_then(|mut stmt| {
            stmt.query_row([id.as_str()], RawDelivery::from_row)
                .optional()
        })
        .map_err(db_err)?;
    raw.map(RawDelivery::decode).transpose()
}

/// The parked delivery blocking `group`, if any.
fn block_of(conn: &Connection, group: &str) -> Result<Option<DeliveryId>, StoreError> {
    let parked: Option<String> = conn
        .prepare_cached("SELECT delivery_id FROM delivery_group_blocks WHERE group_id = ?1")
        .and_then(|mut stmt| stmt.query_row([group], |row| row.get(0)).optional())
        .map_err(db_err)?;
    parked
        .map(|id| {
            DeliveryId::parse(id).map_err(|_| {
                tracing::warn!(
                    kind = "delivery group block",
                    "stored record failed to decode"
                );
                StoreError::Corrupt("delivery group block")
            })
        })
        .transpose()
}

/// Inserts a new delivery of the webhook `webhook_key`.
fn insert(conn: &Connection, webhook_key: &str, delivery: &Delivery) -> Result<(), StoreError> {
    let at = Instants::of(delivery)?;
    conn.prepare_cached(&format!(
        "INSERT INTO deliveries (webhook_key, {COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(params![
            webhook_key,
            delivery.delivery_id.as_str(),
            delivery.channel_id.as_str(),
            delivery.flow_id.as_str(),
            delivery.group,
            delivery.control_id.as_str(),
            delivery.event,
            delivery.message.expose(),
            delivery.state.as_str(),
            delivery.attempts,
            delivery.last_outcome,
            at.lease_until,
            at.next_attempt_at,
            delivery.held_behind.as_ref().map(DeliveryId::as_str),
            at.created_at,
            at.updated_at,
        ])
    })
    .map_err(conflict_or("delivery exists"))?;
    Ok(())
}

/// Writes `next`'s mutable fields over the stored delivery if the stored one is still
/// `(state, attempts)`; the condition repeats what the caller read, so a changed delivery is
/// never overwritten.
fn replace_if(
    conn: &Connection,
    next: &Delivery,
    state: DeliveryState,
    attempts: u32,
) -> Result<(), StoreError> {
    let at = Instants::of(next)?;
    let changed = conn
        .prepare_cached(
            "UPDATE deliveries SET state = ?4, attempts = ?5, last_outcome = ?6, \
             lease_until = ?7, next_attempt_at = ?8, held_behind = ?9, updated_at = ?10 \
             WHERE delivery_id = ?1 AND state = ?2 AND attempts = ?3",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                next.delivery_id.as_str(),
                state.as_str(),
                attempts,
                next.state.as_str(),
                next.attempts,
                next.last_outcome,
                at.lease_until,
                at.next_attempt_at,
                next.held_behind.as_ref().map(DeliveryId::as_str),
                at.updated_at,
            ])
        })
        .map_err(db_err)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict("delivery changed"))
    }
}

#[async_trait]
impl DeliveryStore for SqliteDeliveryStore {
    async fn accept_webhook(
        &self,
        key: &WebhookKey,
        deliveries: &[Delivery],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        if !deliveries.iter().all(Delivery::is_new) {
            return Err(invalid_call(
                "accepted deliveries are new: queued, no attempts, lease, retry time or hold",
            ));
        }
        // Every instant must be storable before anything is written.
        for delivery in deliveries {
            Instants::of(delivery)?;
        }
        let received_at = nanos(audit.occurred_at)?;
        let entry = AuditRow::new(audit)?;
        let key_text = key.as_text();
        let rows = deliveries.to_vec();
        let count = rows.len();
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO webhooks (webhook_key, received_at) VALUES (?1, ?2)",
                )
                .and_then(|mut stmt| stmt.execute(params![key_text, received_at]))
                .map_err(conflict_or("webhook already accepted"))?;
                for delivery in &rows {
                    insert(tx, &key_text, delivery)?;
                }
                audit::insert(tx, &entry)
            })
            .await?;
        tracing::debug!(channel_id = %key.channel_id, entity = %key.entity, deliveries = count, "webhook accepted");
        Ok(())
    }

    async fn get(&self, id: &DeliveryId) -> Result<Option<Delivery>, StoreError> {
        let id = id.clone();
        self.db.read(move |tx| load(tx, &id)).await
    }

    async fn webhook_deliveries(&self, key: &WebhookKey) -> Result<Vec<Delivery>, StoreError> {
        let key_text = key.as_text();
        self.db
            .read(move |tx| {
                select(
                    tx,
                    "webhook_key = ?1",
                    vec![Value::Text(key_text)],
                    CREATION_ORDER,
                )
            })
            .await
    }

    async fn claim(&self, id: &DeliveryId, lease: LeaseTerms) -> Result<DeliveryClaim, StoreError> {
        let (now, lease) = (lease.now, lease.lease()?);
        // Both instants must be storable before anything is written.
        nanos(now)?;
        nanos(lease.until)?;
        let id_owned = id.clone();
        let claim = self
            .db
            .write(move |tx| {
                let stored = load(tx, &id_owned)?.ok_or(StoreError::NotFound)?;
                if let Some(claim) = stored.settled_or_busy(now) {
                    return Ok(claim);
                }
                let blocked_by = block_of(tx, &stored.group)?.filter(|p| stored.is_blocked_by(p));
                let next = match blocked_by {
                    Some(parked) => stored.hold_behind(parked, now),
                    None => stored.grant(now, &lease)?,
                };
                replace_if(tx, &next, stored.state, stored.attempts)?;
                Ok(match next.state {
                    DeliveryState::Held => DeliveryClaim::Settled(next),
                    _ => DeliveryClaim::Granted(next),
                })
            })
            .await?;
        match &claim {
            DeliveryClaim::Granted(d) => {
                tracing::debug!(delivery_id = %id, attempt = d.attempts, "delivery claim granted");
            }
            DeliveryClaim::Settled(d) => {
                tracing::debug!(delivery_id = %id, state = d.state.as_str(), "delivery claim settled");
            }
            DeliveryClaim::Busy { .. } => {
                tracing::debug!(delivery_id = %id, "delivery claim busy");
            }
        }
        Ok(claim)
    }

    async fn finish(&self, finish: DeliveryFinish<'_>) -> Result<Delivery, StoreError> {
        let (id, attempt, now) = (finish.id, finish.attempt, finish.now);
        let now_ns = nanos(now)?;
        if let AttemptEnd::Retry { next_attempt_at } = finish.end {
            nanos(*next_attempt_at)?;
        }
        let entry = AuditRow::new(finish.audit)?;
        let (id_owned, end, outcome) = (id.clone(), finish.end.clone(), finish.outcome.to_owned());
        let finished = self
            .db
            .write(move |tx| {
                let stored = load(tx, &id_owned)?.ok_or(NOT_CURRENT)?;
                let next = stored.finish(attempt, &end, &outcome, now)?;
                replace_if(tx, &next, stored.state, stored.attempts)?;
                if next.state == DeliveryState::Parked {
                    tx.prepare_cached(
                        "INSERT INTO delivery_group_blocks (group_id, delivery_id, blocked_at) \
                         VALUES (?1, ?2, ?3) ON CONFLICT (group_id) DO NOTHING",
                    )
                    .and_then(|mut stmt| {
                        stmt.execute(params![next.group, next.delivery_id.as_str(), now_ns])
                    })
                    .map_err(db_err)?;
                }
                audit::insert(tx, &entry)?;
                Ok(next)
            })
            .await?;
        let state = finished.state;
        tracing::debug!(delivery_id = %id, attempt, state = state.as_str(), "delivery attempt finished");
        Ok(finished)
    }

    async fn redrive(
        &self,
        id: &DeliveryId,
        now: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<Vec<Delivery>, StoreError> {
        nanos(now)?;
        let entry = AuditRow::new(audit)?;
        let id_owned = id.clone();
        let redriven = self
            .db
            .write(move |tx| {
                let parked = load(tx, &id_owned)?.ok_or(StoreError::NotFound)?;
                parked.check_redrivable()?;
                let mut all = select(
                    tx,
                    "group_id = ?1 AND state = 'held'",
                    vec![Value::Text(parked.group.clone())],
                    CREATION_ORDER,
                )?;
                all.push(parked.clone());
                all.sort_by(Delivery::creation_order);
                let mut queued = Vec::with_capacity(all.len());
                for stored in all {
                    let next = stored.requeue(now);
                    replace_if(tx, &next, stored.state, stored.attempts)?;
                    queued.push(next);
                }
                tx.prepare_cached("DELETE FROM delivery_group_blocks WHERE group_id = ?1")
                    .and_then(|mut stmt| stmt.execute([parked.group.as_str()]))
                    .map_err(db_err)?;
                audit::insert(tx, &entry)?;
                Ok(queued)
            })
            .await?;
        tracing::debug!(delivery_id = %id, requeued = redriven.len(), "parked delivery redriven");
        Ok(redriven)
    }

    async fn list(
        &self,
        state: Option<DeliveryState>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (condition, values) = match state {
            Some(state) => ("state = ?1", vec![Value::Text(state.as_str().to_owned())]),
            None => ("1 = 1", Vec::new()),
        };
        let tail = format!(
            "ORDER BY created_at DESC, delivery_id DESC LIMIT {}",
            sql_limit(limit)
        );
        self.db
            .read(move |tx| select(tx, condition, values, &tail))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_refuses_deliveries_that_break_a_state_invariant() {
        let conn = crate::sqlite::test_support::migrated();
        conn.execute("INSERT INTO webhooks VALUES ('k', 0)", [])
            .unwrap();
        for (state, lease, next, held) in [
            ("delivering", None, None, None),
            ("queued", Some(1), None, None),
            ("retrying", None, None, None),
            ("queued", None, Some(1), None),
            ("held", None, None, None),
            ("parked", None, None, Some("d-0")),
            ("lost", None, None, None),
        ] {
            let err = conn
                .execute(
                    "INSERT INTO deliveries VALUES \
                     ('d-1', 'k', 'c', 'f', 'g', 'm', 'ADT^A08', 'x', ?1, 0, NULL, ?2, ?3, ?4, 0, 0)",
                    params![state, lease, next, held],
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
        for state in DeliveryState::ALL {
            let serde = serde_json::to_string(&state).unwrap();
            assert_eq!(serde, format!("\"{}\"", state.as_str()));
        }
    }
}
