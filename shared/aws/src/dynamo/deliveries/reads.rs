//! Reads: single deliveries, a webhook's deliveries, group blocks and the state index.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use connector_domain::StoreError;
use connector_domain::delivery::{Delivery, DeliveryId, DeliveryState, WebhookKey};

use super::super::keys::{self, DSTATE, s};
use super::super::{Expr, Item, batch};
use super::items::{block_key, corrupt, decode, decode_block, delivery_key, webhook_key};
use super::{
    ALL_STATES, Block, DynamoDeliveryStore, MAX_PARTITION_KEY_BYTES, Stored, WEBHOOK_DELIVERIES,
    WEBHOOK_KIND,
};
use crate::error_map;

impl DynamoDeliveryStore {
    /// The stored delivery (strongly consistent), or `None`.
    pub(super) async fn load(&self, id: &DeliveryId) -> Result<Option<Stored>, StoreError> {
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

    /// Up to `limit` deliveries in `state`, newest first (the index is eventually consistent).
    pub(super) async fn newest_in(
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

    /// The deliveries of an accepted webhook, in creation order (none when unknown).
    pub(super) async fn load_webhook_deliveries(
        &self,
        key: &WebhookKey,
    ) -> Result<Vec<Delivery>, StoreError> {
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
        all.sort_by(|a, b| Delivery::creation_order(b, a));
        all.truncate(limit);
        Ok(all)
    }
}
