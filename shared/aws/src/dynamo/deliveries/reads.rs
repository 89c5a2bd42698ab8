//! Reads: single deliveries, a webhook's deliveries, group blocks and the state index.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use connector_domain::StoreError;
use connector_domain::delivery::{Delivery, DeliveryId, DeliveryState, WebhookKey};

use super::super::keys::{self, DSTATE, s};
use super::super::query::Query;
use super::super::{Expr, batch};
use super::items::{block_key, corrupt, decode, decode_block, delivery_key, webhook_key};
use super::{
    Block, DynamoDeliveryStore, MAX_PARTITION_KEY_BYTES, Stored, WEBHOOK_DELIVERIES, WEBHOOK_KIND,
};

impl DynamoDeliveryStore {
    /// The stored delivery (strongly consistent), or `None`.
    pub(super) async fn load(&self, id: &DeliveryId) -> Result<Option<Stored>, StoreError> {
        let found = self
            .db
            .consistent_get_item(self.table(), delivery_key(id))
            .await?;
        found.map(decode).transpose()
    }

    /// The stored deliveries among `ids` (strongly consistent), in no particular order.
    pub(super) async fn load_many(
        &self,
        ids: &BTreeSet<DeliveryId>,
    ) -> Result<Vec<Stored>, StoreError> {
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
    pub(super) async fn load_block(&self, group: &str) -> Result<Option<Block>, StoreError> {
        let found = self
            .db
            .consistent_get_item(self.table(), block_key(group))
            .await?;
        found.as_ref().map(decode_block).transpose()
    }

    /// Up to `limit` deliveries in `state`, newest first (the index is eventually consistent).
    pub(super) async fn newest_in(
        &self,
        state: DeliveryState,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut e = Expr::default();
        let key_condition = format!("{} = {}", e.name(DSTATE), e.value(s(state.as_str())));
        let q = Query::new(self.table(), key_condition, &e)
            .index(keys::INDEX_BY_DELIVERY_STATE)
            .newest_first(true)
            .limit(limit)
            .page_size(1000);
        let items = self.db.query_all(q).await?;
        items
            .into_iter()
            .map(|item| Ok(decode(item)?.delivery))
            .collect()
    }

    /// The deliveries of an accepted webhook, in creation order (none when unknown).
    pub(super) async fn load_webhook_deliveries(
        &self,
        key: &WebhookKey,
    ) -> Result<Vec<Delivery>, StoreError> {
        if keys::webhook_pk(key).len() > MAX_PARTITION_KEY_BYTES {
            return Ok(Vec::new());
        }
        let found = self
            .db
            .consistent_get_item(self.table(), webhook_key(key))
            .await?;
        let Some(item) = found else {
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
        deliveries.sort_by(Delivery::creation_order);
        Ok(deliveries)
    }

    /// Up to `limit` deliveries (in `state`, or in any), newest first.
    pub(super) async fn list_newest(
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
                let [a, b, c, d, e, f] = DeliveryState::ALL;
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
        all.sort_by(|a, b| Delivery::creation_order(b, a));
        all.truncate(limit);
        Ok(all)
    }
}
