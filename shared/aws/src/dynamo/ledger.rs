//! The send ledger on the `appointments` table: one item per delivery,
//! `pk = SEND#<appointment_id>#<transition_seq>#<resend>`, beside the appointment it delivers.
//! Ledger items carry no `tmonth`, so they never appear in the `by_transition` index.
//!
//! `claim` is one conditional UpdateItem (granted when there is no record, a pending retry, or a
//! lapsed lease; otherwise the failed condition returns the record, which says why); `finish` is
//! one TransactWriteItems: the record's update, conditional on `Sending` at that attempt, and the
//! audit entry.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::hie::{Claim, SendKey, SendRecord, SendState};
use connector_domain::ports::SendLedger;

use super::keys::{self, PK, key1, n, s};
use super::{Dynamo, Expr, Item, batch, built, codec};
use crate::config::TableNames;
use crate::error_map;

const KIND: &str = "send record";
/// The sortable copy of `lease_until` that conditions compare (the domain field's serialisation
/// is not fixed-width).
const LEASE_KEY: &str = "lease_key";

/// The send ledger in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoSendLedger {
    db: Dynamo,
}

impl DynamoSendLedger {
    /// A ledger on `tables.appointments`; finish audit entries go to `tables.audit` and expire
    /// after `audit_retention`.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        tables: TableNames,
        audit_retention: std::time::Duration,
    ) -> Self {
        Self {
            db: Dynamo {
                client,
                tables,
                audit_retention,
            },
        }
    }

    pub(crate) fn from_dynamo(db: Dynamo) -> Self {
        Self { db }
    }
}

fn state_name(state: SendState) -> Result<String, StoreError> {
    match codec::to_value(&state, KIND)? {
        aws_sdk_dynamodb::types::AttributeValue::S(name) => Ok(name),
        _ => Err(StoreError::Corrupt(KIND)),
    }
}

fn ledger_key(key: &SendKey) -> Item {
    key1(format!(
        "SEND#{}#{}#{}",
        key.appointment_id, key.transition_seq, key.resend
    ))
}

/// What a refused claim means, from the record that refused it.
fn refusal(record: SendRecord) -> Result<Claim, StoreError> {
    match record.state {
        SendState::Sent => Ok(Claim::AlreadySent {
            message_id: record.message_id.unwrap_or_default(),
        }),
        SendState::Failed => Ok(Claim::Closed),
        SendState::Sending => record
            .lease_until
            .map(|until| Claim::Busy { until })
            .ok_or(StoreError::Corrupt(KIND)),
        // A pending retry always satisfies the condition; seeing one here means it changed
        // between evaluation and reply, which DynamoDB does not do.
        SendState::RetryPending => Err(StoreError::Corrupt(KIND)),
    }
}

#[async_trait]
impl SendLedger for DynamoSendLedger {
    async fn claim(
        &self,
        key: &SendKey,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Claim, StoreError> {
        let until = now + lease;
        let mut e = Expr::default();
        let state = e.name("state");
        let attempts = e.name("attempts");
        let lease_key = e.name(LEASE_KEY);
        let sending = e.value(s(state_name(SendState::Sending)?));
        let update = format!(
            "SET {} = {}, {state} = {sending}, {attempts} = if_not_exists({attempts}, {}) + {}, {} = {}, \
             {lease_key} = {}, {} = {} REMOVE {}",
            e.name("key"),
            e.value(codec::to_value(key, KIND)?),
            e.value(n(0)),
            e.value(n(1)),
            e.name("lease_until"),
            e.value(codec::to_value(&until, KIND)?),
            e.value(s(keys::sortable_time(until))),
            e.name("updated_at"),
            e.value(codec::to_value(&now, KIND)?),
            e.name("message_id"),
        );
        let condition = format!(
            "attribute_not_exists({}) OR {state} = {} OR ({state} = {sending} AND {lease_key} <= {})",
            e.name(PK),
            e.value(s(state_name(SendState::RetryPending)?)),
            e.value(s(keys::sortable_time(now))),
        );
        let result = self
            .db
            .client
            .update_item()
            .table_name(&self.db.tables.appointments)
            .set_key(Some(ledger_key(key)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let record: SendRecord =
                    codec::from_item(out.attributes.unwrap_or_default(), KIND)?;
                Ok(Claim::Granted {
                    attempt: record.attempts,
                })
            }
            Err(err) if error_map::is_condition_failure(&err) => {
                let current = match err.into_service_error() {
                    UpdateItemError::ConditionalCheckFailedException(c) => c.item,
                    _ => None,
                };
                refusal(codec::from_item(
                    current.ok_or(StoreError::Corrupt(KIND))?,
                    KIND,
                )?)
            }
            Err(err) => Err(error_map::dynamo(err)),
        }
    }

    async fn finish(
        &self,
        key: &SendKey,
        attempt: u32,
        state: SendState,
        message_id: Option<&str>,
        now: DateTime<Utc>,
        audit_entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        if state == SendState::Sending {
            return Err(StoreError::Invalid("a finished delivery cannot be Sending"));
        }
        let mut e = Expr::default();
        let st = e.name("state");
        let mut sets = vec![
            format!("{st} = {}", e.value(s(state_name(state)?))),
            format!(
                "{} = {}",
                e.name("updated_at"),
                e.value(codec::to_value(&now, KIND)?)
            ),
        ];
        let mut removes = vec![e.name("lease_until"), e.name(LEASE_KEY)];
        match message_id {
            Some(id) => sets.push(format!("{} = {}", e.name("message_id"), e.value(s(id)))),
            None => removes.push(e.name("message_id")),
        }
        let condition = format!(
            "{st} = {} AND {} = {}",
            e.value(s(state_name(SendState::Sending)?)),
            e.name("attempts"),
            e.value(n(attempt))
        );
        let update = built(
            Update::builder()
                .table_name(&self.db.tables.appointments)
                .set_key(Some(ledger_key(key)))
                .update_expression(format!(
                    "SET {} REMOVE {}",
                    sets.join(", "),
                    removes.join(", ")
                ))
                .condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        items.extend(super::dashboard::entry_writes(&self.db, audit_entry)?);
        super::dashboard::transact(&self.db, items).await
    }

    async fn get(&self, key: &SendKey) -> Result<Option<SendRecord>, StoreError> {
        let out = self
            .db
            .client
            .get_item()
            .table_name(&self.db.tables.appointments)
            .set_key(Some(ledger_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(error_map::dynamo)?;
        out.item
            .map(|item| codec::from_item(item, KIND))
            .transpose()
    }

    async fn get_many(&self, keys: &[SendKey]) -> Result<Vec<SendRecord>, StoreError> {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<Item> = keys
            .iter()
            .filter(|k| seen.insert(*k))
            .map(ledger_key)
            .collect();
        let items = batch::get_all(&self.db.client, &self.db.tables.appointments, unique).await?;
        items
            .into_iter()
            .map(|item| codec::from_item(item, KIND))
            .collect()
    }
}
