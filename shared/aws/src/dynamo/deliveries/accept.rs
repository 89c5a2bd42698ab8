//! Accepting a webhook: its deliveries, the webhook item and the audit entry in one
//! transaction.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::delivery::{Delivery, DeliveryId, WebhookKey};

use super::super::client::put_item;
use super::super::keys::{self, EXPIRES_AT, PK, n, s};
use super::super::{Expr, Item, audit, codec};
use super::items::{expiry, item_size, webhook_key};
use super::{
    DynamoDeliveryStore, MAX_ITEM_BYTES, MAX_PARTITION_KEY_BYTES, MAX_TRANSACTION_BYTES,
    MAX_WEBHOOK_DELIVERIES, TxError, WEBHOOK_DELIVERIES, WEBHOOK_KIND, condition_failed,
};

impl DynamoDeliveryStore {
    /// Stores a webhook's new deliveries, the webhook item and the audit entry at once.
    pub(super) async fn accept(
        &self,
        key: &WebhookKey,
        deliveries: &[Delivery],
        audit_entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        check_acceptable(key, deliveries)?;
        let puts = self.sized_items(key, deliveries, audit_entry)?;
        let mut items = Vec::with_capacity(puts.len() + 1);
        for item in puts {
            items.push(self.put_new(item)?);
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

    /// The webhook item and every delivery's item, within DynamoDB's item and transaction
    /// sizes.
    fn sized_items(
        &self,
        key: &WebhookKey,
        deliveries: &[Delivery],
        audit_entry: &AuditEntry,
    ) -> Result<Vec<Item>, StoreError> {
        let webhook = self.webhook_item(key, deliveries, audit_entry)?;
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
        Ok(puts)
    }

    /// The webhook item: its deliveries' ids in creation order, when it was received and when
    /// it expires.
    fn webhook_item(
        &self,
        key: &WebhookKey,
        deliveries: &[Delivery],
        audit_entry: &AuditEntry,
    ) -> Result<Item, StoreError> {
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
        Ok(webhook)
    }

    /// The Put of an item that must not exist yet.
    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let condition = format!("attribute_not_exists({})", e.name(PK));
        put_item(self.table(), item, &e, condition)
    }
}

/// What the store refuses before writing: deliveries that are not new, too many of them, a
/// key too long for DynamoDB, or the same id twice.
fn check_acceptable(key: &WebhookKey, deliveries: &[Delivery]) -> Result<(), StoreError> {
    if !deliveries.iter().all(Delivery::is_new) {
        return Err(StoreError::Invalid(
            "accepted deliveries are new: queued, no attempts, lease, retry time or hold",
        ));
    }
    if deliveries.len() > MAX_WEBHOOK_DELIVERIES {
        return Err(StoreError::Invalid(
            "a webhook may produce at most 98 deliveries (one DynamoDB transaction)",
        ));
    }
    if keys::webhook_pk(key).len() > MAX_PARTITION_KEY_BYTES {
        return Err(StoreError::Invalid(
            "a webhook key is longer than DynamoDB's 2048-byte partition key",
        ));
    }
    let ids: BTreeSet<&DeliveryId> = deliveries.iter().map(|d| &d.delivery_id).collect();
    if ids.len() < deliveries.len() {
        return Err(StoreError::Conflict("delivery exists"));
    }
    Ok(())
}
