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

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::delivery::{Delivery, DeliveryClaim, DeliveryId, DeliveryState, WebhookKey};
use connector_domain::ports::{DeliveryFinish, DeliveryStore, LeaseTerms};

use super::Dynamo;
use super::client::TxError;
use crate::error_map;

mod accept;
mod claim;
mod finish;
mod items;
mod reads;
mod redrive;

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

/// The block attribute naming the parked delivery.
const PARKED: &str = "parked";
/// The block attribute listing the held deliveries.
const HELD: &str = "held";
/// The block attribute listing the deliveries a chunked redrive has requeued so far.
const REQUEUED: &str = "requeued";
/// The webhook attribute listing its deliveries.
const WEBHOOK_DELIVERIES: &str = "deliveries";

/// Outbound deliveries, accepted webhooks and group blocks in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoDeliveryStore {
    db: Dynamo,
    retention: Duration,
}

impl DynamoDeliveryStore {
    /// Deliveries on the flows table; delivered ones and webhook items expire `retention`
    /// after delivery (acceptance).
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

/// A pause after the `round`th lost race: doubling, with jitter so racers spread out.
async fn back_off(round: u32) {
    let base = FIRST_BACKOFF.saturating_mul(1 << round.min(6));
    let jitter_ms = uuid::Uuid::new_v4().as_u128() % (base.as_millis().max(1) + 1);
    let jitter = Duration::from_millis(u64::try_from(jitter_ms).unwrap_or(0));
    tokio::time::sleep(base + jitter).await;
}

impl DynamoDeliveryStore {
    fn table(&self) -> &str {
        &self.db.tables.flows
    }

    /// Sends one transaction, idempotent under the SDK's own retries.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TxError> {
        self.db.transact(items, true).await
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
        self.accept(key, deliveries, audit_entry).await
    }

    async fn get(&self, id: &DeliveryId) -> Result<Option<Delivery>, StoreError> {
        Ok(self.load(id).await?.map(|stored| stored.delivery))
    }

    async fn webhook_deliveries(&self, key: &WebhookKey) -> Result<Vec<Delivery>, StoreError> {
        self.load_webhook_deliveries(key).await
    }

    async fn claim(&self, id: &DeliveryId, terms: LeaseTerms) -> Result<DeliveryClaim, StoreError> {
        self.claim_delivery(id, terms).await
    }

    async fn finish(&self, finish: DeliveryFinish<'_>) -> Result<Delivery, StoreError> {
        self.finish_attempt(finish).await
    }

    async fn redrive(
        &self,
        id: &DeliveryId,
        now: DateTime<Utc>,
        audit_entry: &AuditEntry,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.redrive_group(id, now, audit_entry).await
    }

    async fn list(
        &self,
        state: Option<DeliveryState>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.list_newest(state, limit).await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;
    use chrono::TimeZone;
    use connector_domain::flow::{ChannelId, FlowId};
    use connector_domain::inbound::ControlId;
    use connector_domain::phi::Phi;

    use super::super::Item;
    use super::super::keys::{DKEY, DSTATE, EXPIRES_AT, n, s};
    use super::items::{decode, item_size};
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
        let db = Dynamo::new(
            aws_sdk_dynamodb::Client::from_conf(sdk),
            crate::config::TableNames::with_prefix("t-"),
            Duration::from_secs(60),
        );
        DynamoDeliveryStore::from_dynamo(db, Duration::from_secs(30 * 86_400))
    }

    #[test]
    fn items_round_trip_with_the_store_attributes() {
        for state in DeliveryState::ALL {
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
                delivery(state).settled_or_busy(at),
                Some(DeliveryClaim::Settled(_))
            ));
        }
        let earlier = at - chrono::Duration::seconds(1);
        for state in [DeliveryState::Delivering, DeliveryState::Retrying] {
            assert_eq!(
                delivery(state).settled_or_busy(earlier),
                Some(DeliveryClaim::Busy { until: at })
            );
            assert_eq!(delivery(state).settled_or_busy(at), None, "lapsed or due");
        }
        assert_eq!(delivery(DeliveryState::Queued).settled_or_busy(at), None);
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
