//! Outbound deliveries (CRM -> EHR) on the `flows` table, next to the channels, flows and
//! inbound ledger of the same EHR <-> CRM side:
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | delivery | `DELIVERY#<delivery_id>` | `DELIVERY` | the delivery's fields; `dstate`, `dkey` (index keys), `rev` (N); `expires_at` once delivered |
//! | accepted webhook | `WEBHOOK#<channel>\|<entity>\|<id>\|<version>` | `WEBHOOK` | `deliveries` (L of ids, creation order), `received_at`, `expires_at` |
//! | group block | `DGROUP#<group>` | `BLOCK` | `parked` (the delivery that blocks), `blocked_at`, `held` (SS of the ids held behind it), `requeued` (SS, only mid-redrive), `rev` (N) |
//!
//! GSI `by_delivery_state` (`dstate`, `dkey` = `<created_at>#<delivery_id>`) lists deliveries
//! by state, newest first.
//!
//! Every write of a delivery after its creation is conditional on the `rev` it was read at and
//! increments it, so a decision made on a read is written only if nothing changed since; a lost
//! race is re-read and decided again. Writes that carry an audit entry, or touch a group block,
//! are one TransactWriteItems (with a ClientRequestToken, so an SDK retry of a committed
//! transaction is not mistaken for a lost race):
//!
//! - `accept_webhook`: Put the webhook item and every delivery (`attribute_not_exists`), Put the
//!   audit entry. At most [`MAX_WEBHOOK_DELIVERIES`] deliveries (the 100-item limit).
//! - `claim`: GetItem; then either ConditionCheck that the group has no block (or is blocked
//!   by this very delivery) + the Update to `delivering`; or, when that check fails (the failed
//!   check returns the block), Update the block (`ADD held`, conditional on the same parked
//!   id) + the Update to `held`. Two concurrent claims cannot both be granted: both condition
//!   on the same `rev`.
//! - `finish`: GetItem; the Update (conditional on `rev`), the audit Put and, for a park, a Put
//!   of the block if absent (or, when one exists, a ConditionCheck that it still does).
//! - `redrive`: GetItem the parked delivery and its group's block, BatchGetItem the held
//!   deliveries the block lists; one transaction requeues them all, deletes the block
//!   (conditional on its `rev`) and Puts the audit entry. A group with more held deliveries
//!   than one transaction can take is requeued in chunks first, each recorded on the block
//!   (`held` -> `requeued`), so a redrive interrupted half-way returns them all when repeated.
//!
//! Only delivered deliveries and webhook items expire (`expires_at`: delivery or acceptance +
//! `DELIVERY_RETENTION_DAYS`); queued, retrying, parked and held ones wait for their outcome.
//! Message text is PHI: it is stored and returned, never logged; log lines carry ids, states
//! and attempt numbers only.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::delivery::{
    AttemptEnd, Delivery, DeliveryClaim, DeliveryId, DeliveryState, WebhookKey,
};
use connector_domain::ports::DeliveryStore;

use super::keys::{self, DKEY, DSTATE, EXPIRES_AT, PK, REV, key2, n, s};
use super::{Dynamo, Expr, Item, audit, batch, built, codec};
use crate::config::TableNames;
use crate::error_map;

const KIND: &str = "delivery";
const WEBHOOK_KIND: &str = "webhook";
const BLOCK_KIND: &str = "delivery group block";

/// TransactWriteItems' limit on the items of one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// The most deliveries one webhook may produce: its transaction also writes the webhook item
/// and the audit entry.
pub const MAX_WEBHOOK_DELIVERIES: usize = MAX_TRANSACTION_ITEMS - 2;
/// The held deliveries a redrive's last transaction requeues besides the parked one, the
/// block's delete and the audit entry.
const FINAL_REDRIVE_HELD: usize = MAX_TRANSACTION_ITEMS - 3;
/// The held deliveries one intermediate redrive transaction requeues besides the block update.
const REDRIVE_CHUNK: usize = MAX_TRANSACTION_ITEMS - 1;
/// DynamoDB's largest partition key value (bytes).
const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// DynamoDB's largest item (bytes).
const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB's largest transaction (bytes, the items together).
const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;
/// Decisions re-made after losing a race (a concurrent write to the same delivery or block)
/// before giving up with `Conflict`.
const RACE_ATTEMPTS: u32 = 8;
/// The first pause after a lost race; doubles per attempt, plus up to as much again at random.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);

/// The outcome word of a delivery held behind a parked one.
const HELD_OUTCOME: &str = "held";
/// The block attribute naming the parked delivery.
const PARKED: &str = "parked";
/// The block attribute listing the held deliveries.
const HELD: &str = "held";
/// The block attribute listing the deliveries a chunked redrive has requeued so far.
const REQUEUED: &str = "requeued";
/// The webhook attribute listing its deliveries.
const WEBHOOK_DELIVERIES: &str = "deliveries";

/// Every state, for listing them all.
const ALL_STATES: [DeliveryState; 6] = [
    DeliveryState::Queued,
    DeliveryState::Delivering,
    DeliveryState::Retrying,
    DeliveryState::Delivered,
    DeliveryState::Parked,
    DeliveryState::Held,
];

/// Outbound deliveries, accepted webhooks and group blocks in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoDeliveryStore {
    db: Dynamo,
    retention: Duration,
}

impl DynamoDeliveryStore {
    /// A store on `tables.flows` whose delivered deliveries and webhook items expire
    /// `retention` after delivery (acceptance); audit entries go to `tables.audit` and expire
    /// after `audit_retention`.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        tables: TableNames,
        audit_retention: Duration,
        retention: Duration,
    ) -> Self {
        Self::from_dynamo(
            Dynamo {
                client,
                tables,
                audit_retention,
            },
            retention,
        )
    }

    pub(crate) fn from_dynamo(db: Dynamo, retention: Duration) -> Self {
        Self { db, retention }
    }
}

/// A delivery as stored, with the revision its next write conditions on.
#[derive(Debug, Clone)]
struct Stored {
    delivery: Delivery,
    rev: u64,
}

/// A group block as stored.
#[derive(Debug, Clone)]
struct Block {
    parked: DeliveryId,
    rev: u64,
    held: BTreeSet<DeliveryId>,
    requeued: BTreeSet<DeliveryId>,
}

/// How a transaction failed.
enum TxError {
    /// Cancelled: one reason per item, in request order, and the usual translation.
    Cancelled(Vec<CancellationReason>, StoreError),
    /// Failed before any item was decided.
    Failed(StoreError),
}

impl TxError {
    fn into_store_error(self) -> StoreError {
        match self {
            TxError::Cancelled(_, e) | TxError::Failed(e) => e,
        }
    }
}

/// True when the reason says the item's condition was false.
fn condition_failed(reason: Option<&CancellationReason>) -> bool {
    reason.is_some_and(error_map::is_condition_reason)
}

/// True when the reason says the item changed under the transaction (its condition was false,
/// or another transaction was writing it).
fn raced(reason: &CancellationReason) -> bool {
    matches!(
        reason.code(),
        Some("ConditionalCheckFailed" | "TransactionConflict")
    )
}

fn delivery_key(id: &DeliveryId) -> Item {
    key2(keys::delivery_pk(id), keys::SK_DELIVERY)
}

fn block_key(group: &str) -> Item {
    key2(keys::group_pk(group), keys::SK_GROUP_BLOCK)
}

fn webhook_key(key: &WebhookKey) -> Item {
    key2(keys::webhook_pk(key), keys::SK_WEBHOOK)
}

/// Creation order: the time the webhook was accepted, then the (time-ordered) id.
fn creation_order(a: &Delivery, b: &Delivery) -> Ordering {
    (a.created_at, &a.delivery_id).cmp(&(b.created_at, &b.delivery_id))
}

/// Whether the state-dependent fields agree with the state.
fn consistent(d: &Delivery) -> bool {
    (d.state == DeliveryState::Delivering) == d.lease_until.is_some()
        && (d.state == DeliveryState::Retrying) == d.next_attempt_at.is_some()
        && (d.state == DeliveryState::Held) == d.held_behind.is_some()
}

/// Whether `delivery` is what `accept_webhook` takes: new and queued.
fn is_new(delivery: &Delivery) -> bool {
    delivery.state == DeliveryState::Queued
        && delivery.attempts == 0
        && delivery.lease_until.is_none()
        && delivery.next_attempt_at.is_none()
        && delivery.held_behind.is_none()
}

fn corrupt(kind: &'static str) -> StoreError {
    tracing::warn!(kind, "stored record failed to decode");
    StoreError::Corrupt(kind)
}

fn decode(item: Item) -> Result<Stored, StoreError> {
    let rev = codec::number(&item, REV, KIND).map_err(|_| corrupt(KIND))?;
    let delivery: Delivery = codec::from_item(item, KIND).map_err(|_| corrupt(KIND))?;
    if !consistent(&delivery) {
        return Err(corrupt(KIND));
    }
    Ok(Stored { delivery, rev })
}

/// The ids of a string set attribute (absent: none).
fn id_set(item: &Item, name: &str) -> Result<BTreeSet<DeliveryId>, StoreError> {
    match item.get(name) {
        None => Ok(BTreeSet::new()),
        Some(AttributeValue::Ss(ids)) => ids
            .iter()
            .map(|id| DeliveryId::parse(id.as_str()).map_err(|_| corrupt(BLOCK_KIND)))
            .collect(),
        Some(_) => Err(corrupt(BLOCK_KIND)),
    }
}

fn decode_block(item: &Item) -> Result<Block, StoreError> {
    let parked = codec::string(item, PARKED, BLOCK_KIND).map_err(|_| corrupt(BLOCK_KIND))?;
    Ok(Block {
        parked: DeliveryId::parse(parked).map_err(|_| corrupt(BLOCK_KIND))?,
        rev: codec::number(item, REV, BLOCK_KIND).map_err(|_| corrupt(BLOCK_KIND))?,
        held: id_set(item, HELD)?,
        requeued: id_set(item, REQUEUED)?,
    })
}

/// A string set of ids (never empty: callers pass at least one).
fn ss(ids: impl IntoIterator<Item = DeliveryId>) -> AttributeValue {
    AttributeValue::Ss(ids.into_iter().map(String::from).collect())
}

/// Epoch seconds `retention` after `at`.
fn expiry(at: DateTime<Utc>, retention: Duration) -> i64 {
    let retention = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    at.timestamp().saturating_add(retention)
}

/// About how many bytes DynamoDB counts for `item` (names plus values), to refuse what it
/// would refuse before sending anything.
fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number.len(),
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(String::len).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// `stored` as a new attempt leaves it.
fn granted(
    stored: &Delivery,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Delivery, StoreError> {
    let attempts = stored
        .attempts
        .checked_add(1)
        .ok_or(StoreError::Conflict("delivery attempts exhausted"))?;
    Ok(Delivery {
        state: DeliveryState::Delivering,
        attempts,
        lease_until: Some(lease_until),
        next_attempt_at: None,
        held_behind: None,
        updated_at: now,
        ..stored.clone()
    })
}

/// `stored` held behind `parked`.
fn held(stored: &Delivery, parked: DeliveryId, now: DateTime<Utc>) -> Delivery {
    Delivery {
        state: DeliveryState::Held,
        last_outcome: Some(HELD_OUTCOME.into()),
        lease_until: None,
        next_attempt_at: None,
        held_behind: Some(parked),
        updated_at: now,
        ..stored.clone()
    }
}

/// `stored` queued again by a redrive (its last outcome kept).
fn requeued(stored: &Delivery, now: DateTime<Utc>) -> Delivery {
    Delivery {
        state: DeliveryState::Queued,
        attempts: 0,
        lease_until: None,
        next_attempt_at: None,
        held_behind: None,
        updated_at: now,
        ..stored.clone()
    }
}

/// What a claim of `stored` at `now` is without writing anything, if that is all it is.
fn settled_or_busy(stored: &Delivery, now: DateTime<Utc>) -> Option<DeliveryClaim> {
    match (stored.state, stored.lease_until, stored.next_attempt_at) {
        (DeliveryState::Delivered | DeliveryState::Parked | DeliveryState::Held, ..) => {
            Some(DeliveryClaim::Settled(stored.clone()))
        }
        (DeliveryState::Delivering, Some(until), _) | (DeliveryState::Retrying, _, Some(until))
            if until > now =>
        {
            Some(DeliveryClaim::Busy { until })
        }
        // Queued, a due retry, or a lapsed lease (its worker crashed or stalled).
        _ => None,
    }
}

/// A pause after the `round`th lost race: doubling, with jitter so racers spread out.
async fn back_off(round: u32) {
    let base = FIRST_BACKOFF.saturating_mul(1 << round.min(6));
    let jitter_ms = uuid::Uuid::new_v4().as_u128() % (base.as_millis().max(1) + 1);
    let jitter = Duration::from_millis(u64::try_from(jitter_ms).unwrap_or(0));
    tokio::time::sleep(base + jitter).await;
}

/// What one attempt at granting a claim came to.
enum Grant {
    /// Written.
    Granted(Delivery),
    /// The group is blocked (by this block, when the refusal carried it).
    Blocked(Option<Block>),
    /// The delivery changed since it was read.
    Raced,
}

impl DynamoDeliveryStore {
    fn table(&self) -> &str {
        &self.db.tables.flows
    }

    /// Sends one transaction, idempotent under the SDK's own retries.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TxError> {
        let result = self
            .db
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match error_map::cancellation_reasons(err) {
                Ok((reasons, translated)) => Err(TxError::Cancelled(reasons, translated)),
                Err(other) => Err(TxError::Failed(other)),
            },
        }
    }

    /// The full item of a new delivery (revision 0).
    fn new_item(&self, delivery: &Delivery) -> Result<Item, StoreError> {
        let mut item = codec::to_item(delivery, KIND)?;
        item.extend(delivery_key(&delivery.delivery_id));
        item.insert(DSTATE.to_owned(), s(delivery.state.as_str()));
        item.insert(
            DKEY.to_owned(),
            s(keys::creation_key(
                delivery.created_at,
                &delivery.delivery_id,
            )),
        );
        item.insert(REV.to_owned(), n(0));
        Ok(item)
    }

    /// The Update writing `next`'s mutable fields over the delivery read at `rev`, conditional
    /// on that revision (the message and the other fields fixed at creation are not sent
    /// again). A delivered delivery gets its expiry.
    fn change(&self, next: &Delivery, rev: u64) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        for (name, value) in [
            ("state", s(next.state.as_str())),
            (DSTATE, s(next.state.as_str())),
            ("attempts", n(next.attempts)),
            ("updated_at", codec::to_value(&next.updated_at, KIND)?),
            (REV, n(rev.saturating_add(1))),
        ] {
            sets.push(format!("{} = {}", e.name(name), e.value(value)));
        }
        let expires_at = (next.state == DeliveryState::Delivered)
            .then(|| n(expiry(next.updated_at, self.retention)));
        for (name, value) in [
            (
                "last_outcome",
                next.last_outcome.as_ref().map(|o| s(o.as_str())),
            ),
            (
                "lease_until",
                next.lease_until
                    .map(|t| codec::to_value(&t, KIND))
                    .transpose()?,
            ),
            (
                "next_attempt_at",
                next.next_attempt_at
                    .map(|t| codec::to_value(&t, KIND))
                    .transpose()?,
            ),
            (
                "held_behind",
                next.held_behind.as_ref().map(|id| s(id.as_str())),
            ),
            (EXPIRES_AT, expires_at),
        ] {
            match value {
                Some(value) => sets.push(format!("{} = {}", e.name(name), e.value(value))),
                None => removes.push(e.name(name)),
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression += &format!(" REMOVE {}", removes.join(", "));
        }
        let condition = format!("{} = {}", e.name(REV), e.value(n(rev)));
        let update = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(delivery_key(&next.delivery_id)))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The stored delivery (strongly consistent), or `None`.
    async fn load(&self, id: &DeliveryId) -> Result<Option<Stored>, StoreError> {
        let out = self
            .db
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(delivery_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(error_map::dynamo)?;
        out.item.map(decode).transpose()
    }

    /// The stored deliveries among `ids` (strongly consistent), in no particular order.
    async fn load_many(&self, ids: &BTreeSet<DeliveryId>) -> Result<Vec<Stored>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = ids.iter().map(delivery_key).collect();
        batch::get_all(&self.db.client, self.table(), keys)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// The group's block (strongly consistent), or `None`.
    async fn load_block(&self, group: &str) -> Result<Option<Block>, StoreError> {
        let out = self
            .db
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(block_key(group)))
            .consistent_read(true)
            .send()
            .await
            .map_err(error_map::dynamo)?;
        out.item.as_ref().map(decode_block).transpose()
    }

    /// One attempt at granting a claim on `stored`: the group-block check and the state change
    /// in one transaction.
    async fn try_grant(
        &self,
        stored: &Stored,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Grant, StoreError> {
        let next = granted(&stored.delivery, now, lease_until)?;
        let mut e = Expr::default();
        let condition = format!(
            "attribute_not_exists({}) OR {} = {}",
            e.name(PK),
            e.name(PARKED),
            e.value(s(next.delivery_id.as_str()))
        );
        let check = built(
            ConditionCheck::builder()
                .table_name(self.table())
                .set_key(Some(block_key(&next.group)))
                .condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            self.change(&next, stored.rev)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(Grant::Granted(next)),
            Err(TxError::Cancelled(reasons, _)) if condition_failed(reasons.first()) => {
                let block = reasons
                    .first()
                    .and_then(|r| r.item.as_ref())
                    .map(decode_block)
                    .transpose()?;
                Ok(Grant::Blocked(block))
            }
            Err(TxError::Cancelled(reasons, _)) if reasons.iter().any(raced) => Ok(Grant::Raced),
            Err(err) => Err(err.into_store_error()),
        }
    }

    /// One attempt at holding `stored` behind `block`'s parked delivery: the delivery joins
    /// the block's `held` set (conditional on the same parked delivery) and becomes `Held`, in
    /// one transaction. `None` when either changed meanwhile.
    async fn try_hold(
        &self,
        stored: &Stored,
        block: &Block,
        now: DateTime<Utc>,
    ) -> Result<Option<Delivery>, StoreError> {
        let next = held(&stored.delivery, block.parked.clone(), now);
        let mut e = Expr::default();
        let rev = e.name(REV);
        let expression = format!(
            "SET {rev} = if_not_exists({rev}, {}) + {} ADD {} {}",
            e.value(n(0)),
            e.value(n(1)),
            e.name(HELD),
            e.value(ss([next.delivery_id.clone()]))
        );
        let condition = format!("{} = {}", e.name(PARKED), e.value(s(block.parked.as_str())));
        let update = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(block_key(&next.group)))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.change(&next, stored.rev)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(Some(next)),
            Err(TxError::Cancelled(reasons, _)) if reasons.iter().any(raced) => Ok(None),
            Err(err) => Err(err.into_store_error()),
        }
    }

    /// The Put of a new block of `parked`'s group, if the group has none.
    fn put_block(
        &self,
        parked: &Delivery,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = block_key(&parked.group);
        item.insert(PARKED.to_owned(), s(parked.delivery_id.as_str()));
        item.insert("blocked_at".to_owned(), codec::to_value(&now, BLOCK_KIND)?);
        item.insert(REV.to_owned(), n(0));
        let mut e = Expr::default();
        let condition = format!("attribute_not_exists({})", e.name(PK));
        let put = built(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(item))
                .condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A check that `group` is blocked (by whichever delivery).
    fn block_exists(&self, group: &str) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let condition = format!("attribute_exists({})", e.name(PK));
        let check = built(
            ConditionCheck::builder()
                .table_name(self.table())
                .set_key(Some(block_key(group)))
                .condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .build(),
        )?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Requeues `chunk` (held deliveries) ahead of the redrive's last transaction, moving them
    /// from the block's `held` set to its `requeued` set. `false` when something changed
    /// meanwhile.
    async fn requeue_chunk(
        &self,
        group: &str,
        block: &Block,
        chunk: &[Stored],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let ids = || chunk.iter().map(|c| c.delivery.delivery_id.clone());
        let mut e = Expr::default();
        let rev = e.name(REV);
        let expression = format!(
            "SET {rev} = {rev} + {} DELETE {} {} ADD {} {}",
            e.value(n(1)),
            e.name(HELD),
            e.value(ss(ids())),
            e.name(REQUEUED),
            e.value(ss(ids()))
        );
        let condition = format!("{rev} = {}", e.value(n(block.rev)));
        let update = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(block_key(group)))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        for stored in chunk {
            items.push(self.change(&requeued(&stored.delivery, now), stored.rev)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(TxError::Cancelled(reasons, _)) if reasons.iter().any(raced) => Ok(false),
            Err(err) => Err(err.into_store_error()),
        }
    }

    /// Up to `limit` deliveries in `state`, newest first (the index is eventually consistent).
    async fn newest_in(
        &self,
        state: DeliveryState,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut e = Expr::default();
        let key_condition = format!("{} = {}", e.name(DSTATE), e.value(s(state.as_str())));
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = i32::try_from((limit - found.len()).min(1000)).unwrap_or(1000);
            let out = self
                .db
                .client
                .query()
                .table_name(self.table())
                .index_name(keys::INDEX_BY_DELIVERY_STATE)
                .key_condition_expression(&key_condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .scan_index_forward(false)
                .limit(page)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(error_map::dynamo)?;
            for item in out.items.unwrap_or_default() {
                found.push(decode(item)?.delivery);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() && found.len() < limit => start = Some(key),
                _ => return Ok(found),
            }
        }
    }
}

#[async_trait]
impl DeliveryStore for DynamoDeliveryStore {
    async fn accept_webhook(
        &self,
        key: &WebhookKey,
        deliveries: &[Delivery],
        audit_entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        if !deliveries.iter().all(is_new) {
            return Err(StoreError::Invalid(
                "accepted deliveries are new: queued, no attempts, lease, retry time or hold",
            ));
        }
        if deliveries.len() > MAX_WEBHOOK_DELIVERIES {
            return Err(StoreError::Invalid(
                "a webhook may produce at most 98 deliveries (one DynamoDB transaction)",
            ));
        }
        let webhook_pk = keys::webhook_pk(key);
        if webhook_pk.len() > MAX_PARTITION_KEY_BYTES {
            return Err(StoreError::Invalid(
                "a webhook key is longer than DynamoDB's 2048-byte partition key",
            ));
        }
        let ids: BTreeSet<&DeliveryId> = deliveries.iter().map(|d| &d.delivery_id).collect();
        if ids.len() < deliveries.len() {
            return Err(StoreError::Conflict("delivery exists"));
        }

        let received_at = audit_entry.occurred_at;
        let mut webhook = webhook_key(key);
        webhook.insert(
            WEBHOOK_DELIVERIES.to_owned(),
            AttributeValue::L(
                deliveries
                    .iter()
                    .map(|d| s(d.delivery_id.as_str()))
                    .collect(),
            ),
        );
        webhook.insert(
            "received_at".to_owned(),
            codec::to_value(&received_at, WEBHOOK_KIND)?,
        );
        webhook.insert(
            EXPIRES_AT.to_owned(),
            n(expiry(received_at, self.retention)),
        );
        let mut total = item_size(&webhook);
        let mut puts = vec![webhook];
        for delivery in deliveries {
            let item = self.new_item(delivery)?;
            let size = item_size(&item);
            if size > MAX_ITEM_BYTES {
                return Err(StoreError::Invalid(
                    "a delivery is larger than a DynamoDB item holds (400 KB)",
                ));
            }
            total += size;
            puts.push(item);
        }
        if total > MAX_TRANSACTION_BYTES {
            return Err(StoreError::Invalid(
                "a webhook's deliveries are larger than one DynamoDB transaction holds (4 MB)",
            ));
        }

        let mut items = Vec::with_capacity(puts.len() + 1);
        for item in puts {
            let mut e = Expr::default();
            let condition = format!("attribute_not_exists({})", e.name(PK));
            let put = built(
                Put::builder()
                    .table_name(self.table())
                    .set_item(Some(item))
                    .condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        items.push(audit::put_entry(&self.db, audit_entry)?);
        match self.transact(items).await {
            Ok(()) => {}
            Err(TxError::Cancelled(reasons, _)) if condition_failed(reasons.first()) => {
                return Err(StoreError::Conflict("webhook already accepted"));
            }
            Err(err) => return Err(err.into_store_error()),
        }
        tracing::debug!(channel_id = %key.channel_id, entity = %key.entity, deliveries = deliveries.len(), "webhook accepted");
        Ok(())
    }

    async fn get(&self, id: &DeliveryId) -> Result<Option<Delivery>, StoreError> {
        Ok(self.load(id).await?.map(|stored| stored.delivery))
    }

    async fn webhook_deliveries(&self, key: &WebhookKey) -> Result<Vec<Delivery>, StoreError> {
        if keys::webhook_pk(key).len() > MAX_PARTITION_KEY_BYTES {
            return Ok(Vec::new());
        }
        let out = self
            .db
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(webhook_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(error_map::dynamo)?;
        let Some(item) = out.item else {
            return Ok(Vec::new());
        };
        let ids = match item.get(WEBHOOK_DELIVERIES) {
            Some(AttributeValue::L(list)) => list
                .iter()
                .map(|v| match v {
                    AttributeValue::S(id) => {
                        DeliveryId::parse(id.as_str()).map_err(|_| corrupt(WEBHOOK_KIND))
                    }
                    _ => Err(corrupt(WEBHOOK_KIND)),
                })
                .collect::<Result<BTreeSet<_>, _>>()?,
            _ => return Err(corrupt(WEBHOOK_KIND)),
        };
        // Delivered deliveries may have expired already (TTL): the rest are returned.
        let mut deliveries: Vec<Delivery> = self
            .load_many(&ids)
            .await?
            .into_iter()
            .map(|stored| stored.delivery)
            .collect();
        deliveries.sort_by(creation_order);
        Ok(deliveries)
    }

    async fn claim(
        &self,
        id: &DeliveryId,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<DeliveryClaim, StoreError> {
        if lease <= chrono::Duration::zero() {
            return Err(StoreError::Invalid("a delivery lease must be positive"));
        }
        let lease_until = now
            .checked_add_signed(lease)
            .ok_or(StoreError::Invalid("the lease ends out of range"))?;
        for round in 0..RACE_ATTEMPTS {
            let stored = self.load(id).await?.ok_or(StoreError::NotFound)?;
            if let Some(claim) = settled_or_busy(&stored.delivery, now) {
                match &claim {
                    DeliveryClaim::Settled(d) => {
                        tracing::debug!(delivery_id = %id, state = d.state.as_str(), "delivery claim settled");
                    }
                    _ => tracing::debug!(delivery_id = %id, "delivery claim busy"),
                }
                return Ok(claim);
            }
            let block = match self.try_grant(&stored, now, lease_until).await? {
                Grant::Granted(delivery) => {
                    tracing::debug!(delivery_id = %id, attempt = delivery.attempts, "delivery claim granted");
                    return Ok(DeliveryClaim::Granted(delivery));
                }
                Grant::Raced => None,
                Grant::Blocked(Some(block)) => Some(block),
                // The refusal did not carry the block: read it (gone meanwhile: decide again).
                Grant::Blocked(None) => self.load_block(&stored.delivery.group).await?,
            };
            if let Some(block) = block
                && let Some(delivery) = self.try_hold(&stored, &block, now).await?
            {
                tracing::debug!(delivery_id = %id, parked = %block.parked, "delivery claim settled: held");
                return Ok(DeliveryClaim::Settled(delivery));
            }
            back_off(round).await;
        }
        Err(StoreError::Conflict(
            "delivery kept changing during the claim",
        ))
    }

    async fn finish(
        &self,
        id: &DeliveryId,
        attempt: u32,
        end: &AttemptEnd,
        outcome: &str,
        now: DateTime<Utc>,
        audit_entry: &AuditEntry,
    ) -> Result<Delivery, StoreError> {
        const NOT_CURRENT: StoreError =
            StoreError::Conflict("delivery attempt is not the current one");
        let (state, next_attempt_at) = match end {
            AttemptEnd::Delivered => (DeliveryState::Delivered, None),
            AttemptEnd::Retry { next_attempt_at } => {
                (DeliveryState::Retrying, Some(*next_attempt_at))
            }
            AttemptEnd::Park => (DeliveryState::Parked, None),
        };
        // A park first tries to block the group; if it is blocked already, it checks that.
        let mut group_blocked = false;
        let mut cached: Option<Stored> = None;
        for round in 0..RACE_ATTEMPTS {
            let stored = match cached.take() {
                Some(stored) => stored,
                None => self.load(id).await?.ok_or(NOT_CURRENT)?,
            };
            let current = &stored.delivery;
            if current.state != DeliveryState::Delivering || current.attempts != attempt {
                return Err(NOT_CURRENT);
            }
            let next = Delivery {
                state,
                last_outcome: Some(outcome.to_owned()),
                lease_until: None,
                next_attempt_at,
                held_behind: None,
                updated_at: now,
                ..current.clone()
            };
            let mut items = vec![
                self.change(&next, stored.rev)?,
                audit::put_entry(&self.db, audit_entry)?,
            ];
            if state == DeliveryState::Parked {
                items.push(if group_blocked {
                    self.block_exists(&next.group)?
                } else {
                    self.put_block(&next, now)?
                });
            }
            match self.transact(items).await {
                Ok(()) => {
                    tracing::debug!(delivery_id = %id, attempt, state = state.as_str(), "delivery attempt finished");
                    return Ok(next);
                }
                Err(TxError::Cancelled(reasons, translated)) => {
                    if condition_failed(reasons.get(1)) {
                        // The audit entry exists: a replay of a finished call.
                        return Err(translated);
                    }
                    if !reasons.iter().any(raced) {
                        return Err(translated);
                    }
                    if condition_failed(reasons.get(2)) {
                        group_blocked = !group_blocked;
                    }
                    if !reasons.first().is_some_and(raced) {
                        cached = Some(stored);
                    }
                }
                Err(TxError::Failed(err)) => return Err(err),
            }
            back_off(round).await;
        }
        Err(StoreError::Conflict(
            "delivery kept changing during the finish",
        ))
    }

    async fn redrive(
        &self,
        id: &DeliveryId,
        now: DateTime<Utc>,
        audit_entry: &AuditEntry,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut races = 0;
        loop {
            let parked = self.load(id).await?.ok_or(StoreError::NotFound)?;
            if parked.delivery.state != DeliveryState::Parked {
                return Err(StoreError::Conflict("delivery is not parked"));
            }
            let group = parked.delivery.group.clone();
            let block = self.load_block(&group).await?;
            let mut members = BTreeSet::new();
            if let Some(block) = &block {
                members.extend(block.held.iter().cloned());
                members.extend(block.requeued.iter().cloned());
            }
            members.remove(id);
            let mut to_queue = Vec::new();
            let mut already = Vec::new();
            for stored in self.load_many(&members).await? {
                let d = &stored.delivery;
                let was_requeued = block
                    .as_ref()
                    .is_some_and(|b| b.requeued.contains(&d.delivery_id));
                match d.state {
                    DeliveryState::Held => to_queue.push(stored),
                    DeliveryState::Queued if was_requeued => already.push(stored.delivery),
                    _ => {
                        tracing::warn!(delivery_id = %d.delivery_id, state = d.state.as_str(), "a group block lists a delivery that is not held: left as it is");
                    }
                }
            }
            to_queue.sort_by(|a, b| creation_order(&a.delivery, &b.delivery));

            if let Some(block) = &block
                && to_queue.len() > FINAL_REDRIVE_HELD
            {
                let chunk = &to_queue[..REDRIVE_CHUNK.min(to_queue.len())];
                if self.requeue_chunk(&group, block, chunk, now).await? {
                    tracing::debug!(delivery_id = %id, requeued = chunk.len(), "held deliveries requeued ahead of the redrive");
                } else {
                    races += 1;
                    if races >= RACE_ATTEMPTS {
                        return Err(StoreError::Conflict(
                            "group kept changing during the redrive",
                        ));
                    }
                    back_off(races).await;
                }
                continue;
            }

            let mut queued = vec![requeued(&parked.delivery, now)];
            let mut items = vec![self.change(&queued[0], parked.rev)?];
            for stored in &to_queue {
                let next = requeued(&stored.delivery, now);
                items.push(self.change(&next, stored.rev)?);
                queued.push(next);
            }
            let mut e = Expr::default();
            let condition = match &block {
                Some(block) => format!("{} = {}", e.name(REV), e.value(n(block.rev))),
                None => format!("attribute_not_exists({})", e.name(PK)),
            };
            let delete = built(
                Delete::builder()
                    .table_name(self.table())
                    .set_key(Some(block_key(&group)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().delete(delete).build());
            items.push(audit::put_entry(&self.db, audit_entry)?);
            let audit_index = items.len() - 1;
            match self.transact(items).await {
                Ok(()) => {
                    queued.extend(already);
                    queued.sort_by(creation_order);
                    tracing::debug!(delivery_id = %id, requeued = queued.len(), "parked delivery redriven");
                    return Ok(queued);
                }
                Err(TxError::Cancelled(reasons, translated)) => {
                    if condition_failed(reasons.get(audit_index)) || !reasons.iter().any(raced) {
                        return Err(translated);
                    }
                    races += 1;
                    if races >= RACE_ATTEMPTS {
                        return Err(StoreError::Conflict(
                            "group kept changing during the redrive",
                        ));
                    }
                    back_off(races).await;
                }
                Err(TxError::Failed(err)) => return Err(err),
            }
        }
    }

    async fn list(
        &self,
        state: Option<DeliveryState>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut all = match state {
            Some(state) => return self.newest_in(state, limit).await,
            None => {
                let [a, b, c, d, e, f] = ALL_STATES;
                let (a, b, c, d, e, f) = tokio::try_join!(
                    self.newest_in(a, limit),
                    self.newest_in(b, limit),
                    self.newest_in(c, limit),
                    self.newest_in(d, limit),
                    self.newest_in(e, limit),
                    self.newest_in(f, limit),
                )?;
                [a, b, c, d, e, f].concat()
            }
        };
        all.sort_by(|a, b| creation_order(b, a));
        all.truncate(limit);
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use connector_domain::flow::{ChannelId, FlowId};
    use connector_domain::inbound::ControlId;
    use connector_domain::phi::Phi;

    use super::*;

    fn delivery(state: DeliveryState) -> Delivery {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        Delivery {
            delivery_id: DeliveryId::parse("dlv-1").unwrap(),
            channel_id: ChannelId::parse("ehr").unwrap(),
            flow_id: FlowId::parse("lead-to-adt").unwrap(),
            group: "lead-1".into(),
            control_id: ControlId::parse("CC1").unwrap(),
            event: "ADT^A08".into(),
            message: Phi::new("MSH|^~\\&|secret-name".into()),
            state,
            attempts: 1,
            last_outcome: Some("no_ack".into()),
            lease_until: (state == DeliveryState::Delivering).then_some(at),
            next_attempt_at: (state == DeliveryState::Retrying).then_some(at),
            held_behind: (state == DeliveryState::Held)
                .then(|| DeliveryId::parse("dlv-0").unwrap()),
            created_at: at,
            updated_at: at,
        }
    }

    fn store() -> DynamoDeliveryStore {
        let sdk = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        DynamoDeliveryStore::new(
            aws_sdk_dynamodb::Client::from_conf(sdk),
            TableNames::with_prefix("t-"),
            Duration::from_secs(60),
            Duration::from_secs(30 * 86_400),
        )
    }

    #[test]
    fn items_round_trip_with_the_store_attributes() {
        for state in ALL_STATES {
            let d = delivery(state);
            let item = store().new_item(&d).unwrap();
            assert_eq!(item.get(DSTATE), Some(&s(state.as_str())));
            assert_eq!(
                item.get(DKEY),
                Some(&s("2026-11-21T10:00:00.000000000Z#dlv-1"))
            );
            let stored = decode(item).unwrap();
            assert_eq!((stored.delivery, stored.rev), (d, 0));
        }
    }

    #[test]
    fn inconsistent_items_are_corrupt_without_their_values() {
        let mut item = store().new_item(&delivery(DeliveryState::Queued)).unwrap();
        item.insert("state".into(), s("held"));
        let err = decode(item).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(KIND)));
        assert!(!format!("{err:?} {err}").contains("secret-name"));
    }

    #[test]
    fn settled_and_busy_claims_need_no_write() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        for state in [
            DeliveryState::Delivered,
            DeliveryState::Parked,
            DeliveryState::Held,
        ] {
            assert!(matches!(
                settled_or_busy(&delivery(state), at),
                Some(DeliveryClaim::Settled(_))
            ));
        }
        let earlier = at - chrono::Duration::seconds(1);
        for state in [DeliveryState::Delivering, DeliveryState::Retrying] {
            assert_eq!(
                settled_or_busy(&delivery(state), earlier),
                Some(DeliveryClaim::Busy { until: at })
            );
            assert_eq!(settled_or_busy(&delivery(state), at), None, "lapsed or due");
        }
        assert_eq!(settled_or_busy(&delivery(DeliveryState::Queued), at), None);
    }

    #[test]
    fn the_state_change_sends_no_message_text_and_conditions_on_the_revision() {
        let next = delivery(DeliveryState::Delivered);
        let item = store().change(&next, 4).unwrap();
        let update = item.update.unwrap();
        let values = update.expression_attribute_values.unwrap();
        assert!(
            !values
                .values()
                .any(|v| matches!(v, AttributeValue::S(t) if t.contains("secret-name")))
        );
        assert!(values.values().any(|v| v == &n(5)), "rev + 1");
        assert!(values.values().any(|v| v == &n(4)), "the condition's rev");
        let names = update.expression_attribute_names.unwrap();
        assert!(
            names.values().any(|name| name == EXPIRES_AT),
            "delivered: expires"
        );
        assert!(update.update_expression.contains("REMOVE"), "lease cleared");
    }

    #[test]
    fn item_sizes_count_names_and_values() {
        let item = Item::from([
            ("a".to_owned(), s("xyz")),
            ("bb".to_owned(), AttributeValue::L(vec![s("1234")])),
        ]);
        assert_eq!(item_size(&item), 1 + 3 + 2 + 3 + 1 + 4);
    }
}
