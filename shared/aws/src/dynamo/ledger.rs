//! The send ledger on the `appointments` table: one item per delivery,
//! `pk = SEND#<appointment_id>#<transition_seq>#<resend>`, beside the appointment it delivers.
//! Ledger items carry no `tmonth`, so they never appear in the `by_transition` index.
//!
//! `claim` is one conditional UpdateItem (granted when there is no record, a pending retry, or a
//! lapsed lease; otherwise the failed condition returns the record, which says why); `finish` is
//! one TransactWriteItems: the record's update, conditional on `Sending` at that attempt, and the
//! audit entry.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::hie::{Claim, SendClaimStep, SendKey, SendRecord, SendState};
use connector_domain::lease::Lease;
use connector_domain::ports::{LeaseTerms, SendFinish, SendLedger};

use super::client::Updated;
use super::keys::{self, PK, key1, n, s};
use super::{Dynamo, Expr, Item, codec};

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

/// What a refused claim means, from the record that refused it (the domain's claim rule, which
/// the condition repeats).
fn refusal(record: &SendRecord, now: DateTime<Utc>, lease: &Lease) -> Result<Claim, StoreError> {
    match SendRecord::claim(Some(record), &record.key, now, lease)? {
        SendClaimStep::Refused(claim) => Ok(claim),
        // A claimable record always satisfies the condition; seeing one here means it changed
        // between evaluation and reply, which DynamoDB does not do.
        SendClaimStep::Take(_) => Err(StoreError::Corrupt(KIND)),
    }
}

#[async_trait]
impl SendLedger for DynamoSendLedger {
    async fn claim(&self, key: &SendKey, terms: LeaseTerms) -> Result<Claim, StoreError> {
        let (now, lease) = (terms.now, terms.lease()?);
        let until = lease.until;
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
        let updated = self
            .db
            .conditional_update(
                &self.db.tables.appointments,
                ledger_key(key),
                &e,
                update,
                condition,
            )
            .await?;
        match updated {
            Updated::Written(item) => {
                let record: SendRecord = codec::from_item(item, KIND)?;
                Ok(Claim::Granted {
                    attempt: record.attempts,
                })
            }
            Updated::Refused(current) => {
                let record = codec::from_item(current.ok_or(StoreError::Corrupt(KIND))?, KIND)?;
                refusal(&record, now, &lease)
            }
        }
    }

    async fn finish(&self, finish: SendFinish<'_>) -> Result<(), StoreError> {
        let (key, attempt, state, now) = (finish.key, finish.attempt, finish.state, finish.now);
        let (message_id, audit_entry) = (finish.message_id, finish.audit);
        SendRecord::check_finish(state, message_id)?;
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
        let update = format!("SET {} REMOVE {}", sets.join(", "), removes.join(", "));
        self.db
            .update_with_audit(
                &self.db.tables.appointments,
                ledger_key(key),
                &e,
                update,
                condition,
                audit_entry,
            )
            .await
    }

    async fn get(&self, key: &SendKey) -> Result<Option<SendRecord>, StoreError> {
        self.db
            .consistent_get(&self.db.tables.appointments, ledger_key(key), KIND)
            .await
    }

    async fn get_many(&self, keys: &[SendKey]) -> Result<Vec<SendRecord>, StoreError> {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<Item> = keys
            .iter()
            .filter(|k| seen.insert(*k))
            .map(ledger_key)
            .collect();
        self.db
            .batch_get(&self.db.tables.appointments, unique, KIND)
            .await
    }
}
