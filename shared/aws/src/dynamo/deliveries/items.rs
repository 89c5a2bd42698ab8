//! The delivery, webhook and block items: keys, encoding, decoding and sizes.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::delivery::{Delivery, DeliveryId, DeliveryState, WebhookKey};

use super::super::client::update_item;
use super::super::keys::{self, DKEY, DSTATE, EXPIRES_AT, REV, key2, n, s};
use super::super::{Expr, Item, codec};
use super::{BLOCK_KIND, Block, DynamoDeliveryStore, HELD, KIND, PARKED, REQUEUED, Stored};

pub(super) fn delivery_key(id: &DeliveryId) -> Item {
    key2(keys::delivery_pk(id), keys::SK_DELIVERY)
}

pub(super) fn block_key(group: &str) -> Item {
    key2(keys::group_pk(group), keys::SK_GROUP_BLOCK)
}

pub(super) fn webhook_key(key: &WebhookKey) -> Item {
    key2(keys::webhook_pk(key), keys::SK_WEBHOOK)
}

/// Whether the state-dependent fields agree with the state.
pub(super) fn consistent(d: &Delivery) -> bool {
    (d.state == DeliveryState::Delivering) == d.lease_until.is_some()
        && (d.state == DeliveryState::Retrying) == d.next_attempt_at.is_some()
        && (d.state == DeliveryState::Held) == d.held_behind.is_some()
}

pub(super) fn corrupt(kind: &'static str) -> StoreError {
    tracing::warn!(kind, "stored record failed to decode");
    StoreError::Corrupt(kind)
}

pub(super) fn decode(item: Item) -> Result<Stored, StoreError> {
    let rev = codec::number(&item, REV, KIND).map_err(|_| corrupt(KIND))?;
    let delivery: Delivery = codec::from_item(item, KIND).map_err(|_| corrupt(KIND))?;
    if !consistent(&delivery) {
        return Err(corrupt(KIND));
    }
    Ok(Stored { delivery, rev })
}

/// The ids of a string set attribute (absent: none).
pub(super) fn id_set(item: &Item, name: &str) -> Result<BTreeSet<DeliveryId>, StoreError> {
    match item.get(name) {
        None => Ok(BTreeSet::new()),
        Some(AttributeValue::Ss(ids)) => ids
            .iter()
            .map(|id| DeliveryId::parse(id.as_str()).map_err(|_| corrupt(BLOCK_KIND)))
            .collect(),
        Some(_) => Err(corrupt(BLOCK_KIND)),
    }
}

pub(super) fn decode_block(item: &Item) -> Result<Block, StoreError> {
    let parked = codec::string(item, PARKED, BLOCK_KIND).map_err(|_| corrupt(BLOCK_KIND))?;
    Ok(Block {
        parked: DeliveryId::parse(parked).map_err(|_| corrupt(BLOCK_KIND))?,
        rev: codec::number(item, REV, BLOCK_KIND).map_err(|_| corrupt(BLOCK_KIND))?,
        held: id_set(item, HELD)?,
        requeued: id_set(item, REQUEUED)?,
    })
}

/// A string set of ids (never empty: callers pass at least one).
pub(super) fn ss(ids: impl IntoIterator<Item = DeliveryId>) -> AttributeValue {
    AttributeValue::Ss(ids.into_iter().map(String::from).collect())
}

/// Epoch seconds `retention` after `at`.
pub(super) fn expiry(at: DateTime<Utc>, retention: Duration) -> i64 {
    let retention = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    at.timestamp().saturating_add(retention)
}

/// About how many bytes DynamoDB counts for `item` (names plus values), to refuse what it
/// would refuse before sending anything.
pub(super) fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

pub(super) fn value_size(value: &AttributeValue) -> usize {
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

impl DynamoDeliveryStore {
    /// The full item of a new delivery (revision 0).
    pub(super) fn new_item(&self, delivery: &Delivery) -> Result<Item, StoreError> {
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
    pub(super) fn change(
        &self,
        next: &Delivery,
        rev: u64,
    ) -> Result<TransactWriteItem, StoreError> {
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
        update_item(
            self.table(),
            delivery_key(&next.delivery_id),
            &e,
            expression,
            condition,
        )
    }
}
