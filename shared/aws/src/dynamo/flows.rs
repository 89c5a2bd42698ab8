//! Channels and flows on the `flows` table, each kind in one item collection:
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | channel | `CHANNELS` | `CHANNEL#<channel_id>` | `doc` (the channel as JSON) |
//! | flow | `FLOWS` | `FLOW#<flow_id>` | `doc` (the flow as JSON), `channel_id` |
//!
//! Get is a GetItem; list is one strongly consistent Query of the collection (sorted by id, as
//! the sort key is the id behind a fixed prefix); a channel's flows are the flow collection
//! filtered by `channel_id`. A clinic has tens of channels and flows, so a list is one request,
//! reads its own writes, and needs no index (a GSI would be eventually consistent and would
//! cost a write on every change). Every write is one TransactWriteItems: the item, conditional
//! on `attribute_not_exists(pk)` (create: else `Conflict`) or `attribute_exists(pk)` (update,
//! delete: else `NotFound`), and its `configuration_changes` audit entry.
//!
//! The domain values are stored whole as JSON text (the same serde form the API speaks), so
//! value maps with any keys and nested options round-trip exactly; `channel_id` is copied out
//! only for the filter.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::flow::{Channel, ChannelId, Flow, FlowId};
use connector_domain::ports::FlowStore;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::{Conditional, TxError, put_item};
use super::keys::{self, CHANNEL_ID, DOC, PK, SK, key2, s};
use super::query::Query;
use super::{Dynamo, Expr, Item, audit, built};
use crate::error_map;

const CHANNEL: &str = "channel";
const FLOW: &str = "flow";

/// DynamoDB's item size limit is 400 KB; keys, the copied `channel_id` and attribute names take
/// well under 1 KB of it.
const MAX_DOC_BYTES: usize = 399 * 1024;

/// Channels and flows in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoFlowStore {
    db: Dynamo,
}

impl DynamoFlowStore {
    pub(crate) fn from_dynamo(db: Dynamo) -> Self {
        Self { db }
    }

    /// Writes `change` (a Put or Delete with its condition) and the audit entry in one
    /// transaction. A failed condition on the change is `on_condition`; anything else is
    /// translated as usual (a failed audit condition or a concurrent transaction is `Conflict`).
    async fn write(
        &self,
        change: TransactWriteItem,
        audit_entry: &AuditEntry,
        on_condition: StoreError,
    ) -> Result<(), StoreError> {
        let items = vec![change, audit::put_entry(&self.db, audit_entry)?];
        match self.db.transact(items, false).await {
            Ok(()) => Ok(()),
            Err(TxError::Cancelled(reasons, _))
                if reasons.first().is_some_and(error_map::is_condition_reason) =>
            {
                Err(on_condition)
            }
            Err(other) => Err(other.into_store_error()),
        }
    }

    /// A conditional Put of `item`: `attribute_not_exists(pk)` when `create`, else
    /// `attribute_exists(pk)`.
    fn put(&self, item: Item, create: bool) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let condition = if create {
            format!("attribute_not_exists({})", e.name(PK))
        } else {
            format!("attribute_exists({})", e.name(PK))
        };
        put_item(&self.db.tables.flows, item, &e, condition)
    }

    /// A Delete of `key` conditional on `attribute_exists(pk)`.
    fn delete(&self, key: Item) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let condition = format!("attribute_exists({})", e.name(PK));
        let delete = built(
            Delete::builder()
                .table_name(&self.db.tables.flows)
                .set_key(Some(key))
                .under(&e, condition)
                .build(),
        )?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    async fn get_doc<T: DeserializeOwned>(
        &self,
        key: Item,
        kind: &'static str,
    ) -> Result<Option<T>, StoreError> {
        let found = self
            .db
            .consistent_get_item(&self.db.tables.flows, key)
            .await?;
        found.map(|item| decode(&item, kind)).transpose()
    }

    /// Every document of the collection `pk` (sort key `prefix…`), in sort key order, optionally
    /// only the flows of one channel.
    async fn list_docs<T: DeserializeOwned>(
        &self,
        pk: &str,
        prefix: &str,
        channel: Option<&ChannelId>,
        kind: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        let mut e = Expr::default();
        let key_condition = e.partition_and_prefix((PK, s(pk)), (SK, s(prefix)));
        let filter =
            channel.map(|c| format!("{} = {}", e.name(CHANNEL_ID), e.value(s(c.as_str()))));
        let q = Query::new(&self.db.tables.flows, key_condition, &e)
            .filter(filter)
            .consistent();
        let items = self.db.query_all(q).await?;
        items.iter().map(|item| decode(item, kind)).collect()
    }
}

/// The JSON document attribute of `value`.
fn encode<T: Serialize>(value: &T, kind: &'static str) -> Result<AttributeValue, StoreError> {
    let text = serde_json::to_string(value).map_err(|_| StoreError::Corrupt(kind))?;
    if text.len() > MAX_DOC_BYTES {
        return Err(StoreError::Invalid(
            "too large to store (DynamoDB items hold at most 400 KB)",
        ));
    }
    Ok(s(text))
}

/// The domain value in an item's `doc`. Errors name the kind only (serde's messages may quote
/// stored values).
fn decode<T: DeserializeOwned>(item: &Item, kind: &'static str) -> Result<T, StoreError> {
    match item.get(DOC) {
        Some(AttributeValue::S(text)) => {
            serde_json::from_str(text).map_err(|_| StoreError::Corrupt(kind))
        }
        _ => Err(StoreError::Corrupt(kind)),
    }
}

fn channel_key(id: &ChannelId) -> Item {
    key2(keys::PK_CHANNELS.to_owned(), keys::channel_sk(id))
}

fn flow_key(id: &FlowId) -> Item {
    key2(keys::PK_FLOWS.to_owned(), keys::flow_sk(id))
}

fn channel_item(channel: &Channel) -> Result<Item, StoreError> {
    let mut item = channel_key(&channel.channel_id);
    item.insert(DOC.to_owned(), encode(channel, CHANNEL)?);
    Ok(item)
}

fn flow_item(flow: &Flow) -> Result<Item, StoreError> {
    let mut item = flow_key(&flow.flow_id);
    item.insert(DOC.to_owned(), encode(flow, FLOW)?);
    item.insert(CHANNEL_ID.to_owned(), s(flow.channel_id.as_str()));
    Ok(item)
}

#[async_trait]
impl FlowStore for DynamoFlowStore {
    async fn create_channel(
        &self,
        channel: &Channel,
        audit_entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let put = self.put(channel_item(channel)?, true)?;
        self.write(put, audit_entry, StoreError::Conflict("channel exists"))
            .await
    }

    async fn update_channel(
        &self,
        channel: &Channel,
        audit_entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let put = self.put(channel_item(channel)?, false)?;
        self.write(put, audit_entry, StoreError::NotFound).await
    }

    async fn delete_channel(
        &self,
        id: &ChannelId,
        audit_entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let delete = self.delete(channel_key(id))?;
        self.write(delete, audit_entry, StoreError::NotFound).await
    }

    async fn get_channel(&self, id: &ChannelId) -> Result<Option<Channel>, StoreError> {
        self.get_doc(channel_key(id), CHANNEL).await
    }

    async fn list_channels(&self) -> Result<Vec<Channel>, StoreError> {
        let mut channels: Vec<Channel> = self
            .list_docs(keys::PK_CHANNELS, keys::SK_CHANNEL_PREFIX, None, CHANNEL)
            .await?;
        // The sort key already orders them; this keeps the promise if a document was edited by
        // hand under another key.
        channels.sort_by(|a, b| a.channel_id.cmp(&b.channel_id));
        Ok(channels)
    }

    async fn create_flow(&self, flow: &Flow, audit_entry: &AuditEntry) -> Result<(), StoreError> {
        let put = self.put(flow_item(flow)?, true)?;
        self.write(put, audit_entry, StoreError::Conflict("flow exists"))
            .await
    }

    async fn update_flow(&self, flow: &Flow, audit_entry: &AuditEntry) -> Result<(), StoreError> {
        let put = self.put(flow_item(flow)?, false)?;
        self.write(put, audit_entry, StoreError::NotFound).await
    }

    async fn delete_flow(&self, id: &FlowId, audit_entry: &AuditEntry) -> Result<(), StoreError> {
        let delete = self.delete(flow_key(id))?;
        self.write(delete, audit_entry, StoreError::NotFound).await
    }

    async fn get_flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        self.get_doc(flow_key(id), FLOW).await
    }

    async fn list_flows(&self, channel: Option<&ChannelId>) -> Result<Vec<Flow>, StoreError> {
        let mut flows: Vec<Flow> = self
            .list_docs(keys::PK_FLOWS, keys::SK_FLOW_PREFIX, channel, FLOW)
            .await?;
        flows.sort_by(|a, b| a.flow_id.cmp(&b.flow_id));
        Ok(flows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_decode_or_name_the_kind_only() {
        let mut item = Item::new();
        item.insert(DOC.to_owned(), s(r#"{"channel_id": "secret-value"}"#));
        let err = decode::<Channel>(&item, CHANNEL).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(CHANNEL)));
        assert!(!format!("{err:?} {err}").contains("secret-value"));
        assert!(matches!(
            decode::<Channel>(&Item::new(), CHANNEL),
            Err(StoreError::Corrupt(CHANNEL))
        ));
    }

    #[test]
    fn oversized_documents_are_refused_before_the_request() {
        let big = "x".repeat(MAX_DOC_BYTES + 1);
        assert!(matches!(encode(&big, FLOW), Err(StoreError::Invalid(_))));
        assert!(encode(&"small", FLOW).is_ok());
    }
}
