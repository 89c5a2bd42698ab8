//! The inbound ledger on the `flows` table: one item per (channel, MSH-10),
//! `pk = INBOUND#<channel_id>#<control_id>`, `sk = RECORD`, holding the record's fields as
//! attributes (`steps` is a map by step name), `lease_key` (a sortable copy of `lease_until`
//! that conditions compare) and `expires_at` (epoch seconds: the TTL attribute, last claim +
//! retention, `INBOUND_RETENTION_DAYS`, default
//! [`crate::DEFAULT_INBOUND_RETENTION`]).
//!
//! - `claim` is one UpdateItem, conditional on no record, a `failed` record, or a `processing`
//!   record whose lease has lapsed; it creates or takes over the record and returns it. A
//!   failed condition returns the stored record in the same response
//!   (`ReturnValuesOnConditionCheckFailure`), which tells `AlreadyDone` from `Busy`.
//! - `save_step` is one UpdateItem of `steps.<step>`, conditional on `processing` at that
//!   attempt.
//! - `finish` is one TransactWriteItems: the state change, conditional on `processing` at that
//!   attempt, and the audit entry.
//!
//! - `lock_key` is one conditional PutItem of `pk = KEYLOCK#<lock id>`, `sk = LOCK` (holder,
//!   `lease_key`, TTL a day past the lease): no item, a lapsed lease, or the same holder;
//!   `unlock_key` one DeleteItem conditional on the holder.
//!
//! One partition per message: a busy channel spreads over many partitions, and no message's
//! writes contend with another's.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::inbound::{
    InboundClaim, InboundKey, InboundRecord, InboundState, KeyLock, StepProgress,
};
use connector_domain::lease::Lease;
use connector_domain::ports::{
    InboundClaimRequest, InboundFinish, InboundLedger, LeaseTerms, StepSave,
};

use super::client::Updated;
use super::keys::{self, EXPIRES_AT, PK, key2, n, s};
use super::{Dynamo, Expr, Item, codec};
use crate::error_map;

const KIND: &str = "inbound record";
/// The sortable copy of `lease_until` that conditions compare (the domain field's serialisation
/// is not fixed-width).
const LEASE_KEY: &str = "lease_key";

/// The inbound ledger in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoInboundLedger {
    db: Dynamo,
    retention: Duration,
}

impl DynamoInboundLedger {
    /// Records on the flows table that expire `retention` after their last claim.
    pub(crate) fn from_dynamo(db: Dynamo, retention: Duration) -> Self {
        Self { db, retention }
    }
}

fn record_key(key: &InboundKey) -> Item {
    key2(keys::inbound_pk(key), keys::SK_INBOUND)
}

/// `state = processing AND attempts = :attempt`, the condition of every write after a claim.
fn held_at(e: &mut Expr, attempt: u32) -> String {
    format!(
        "{} = {} AND {} = {}",
        e.name("state"),
        e.value(s(InboundState::Processing.as_str())),
        e.name("attempts"),
        e.value(n(attempt))
    )
}

/// What a refused claim means, from the record that refused it (the domain's claim rule, which
/// the condition repeats).
fn refusal(
    record: InboundRecord,
    now: DateTime<Utc>,
    lease: &Lease,
) -> Result<InboundClaim, StoreError> {
    match record.claim(now, lease)? {
        // A claimable record always satisfies the condition; seeing one here means it changed
        // between evaluation and reply, which DynamoDB does not do.
        InboundClaim::Granted(_) => Err(StoreError::Corrupt(KIND)),
        refused => Ok(refused),
    }
}

#[async_trait]
impl InboundLedger for DynamoInboundLedger {
    async fn claim(&self, request: InboundClaimRequest<'_>) -> Result<InboundClaim, StoreError> {
        let (key, body_sha256, event) = (request.key, request.body_sha256, request.event);
        let (now, lease) = (request.lease.now, request.lease.lease()?);
        let until = lease.until;
        let retention = i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX);
        let expires_at = now.timestamp().saturating_add(retention);
        let mut e = Expr::default();
        let state = e.name("state");
        let attempts = e.name("attempts");
        let lease_key = e.name(LEASE_KEY);
        let processing = e.value(s(InboundState::Processing.as_str()));
        let mut sets = vec![
            format!("{state} = {processing}"),
            format!(
                "{attempts} = if_not_exists({attempts}, {}) + {}",
                e.value(n(0)),
                e.value(n(1))
            ),
            format!(
                "{} = {}",
                e.name("lease_until"),
                e.value(codec::to_value(&until, KIND)?)
            ),
            format!("{lease_key} = {}", e.value(s(keys::sortable_time(until)))),
            format!(
                "{} = {}",
                e.name("updated_at"),
                e.value(codec::to_value(&now, KIND)?)
            ),
            format!("{} = {}", e.name(EXPIRES_AT), e.value(n(expires_at))),
        ];
        // Stored on creation only: a takeover keeps what the first claim recorded.
        let empty_steps = BTreeMap::<String, StepProgress>::new();
        for (field, value) in [
            ("key", codec::to_value(key, KIND)?),
            ("body_sha256", s(body_sha256)),
            ("event", s(event)),
            ("received_at", codec::to_value(&now, KIND)?),
            ("steps", codec::to_value(&empty_steps, KIND)?),
        ] {
            let name = e.name(field);
            sets.push(format!(
                "{name} = if_not_exists({name}, {})",
                e.value(value)
            ));
        }
        let condition = format!(
            "attribute_not_exists({}) OR {state} = {} OR ({state} = {processing} AND {lease_key} <= {})",
            e.name(PK),
            e.value(s(InboundState::Failed.as_str())),
            e.value(s(keys::sortable_time(now))),
        );
        let updated = self
            .db
            .conditional_update(
                &self.db.tables.flows,
                record_key(key),
                &e,
                format!("SET {}", sets.join(", ")),
                condition,
            )
            .await?;
        match updated {
            Updated::Written(item) => Ok(InboundClaim::Granted(codec::from_item(item, KIND)?)),
            Updated::Refused(current) => refusal(
                codec::from_item(current.ok_or(StoreError::Corrupt(KIND))?, KIND)?,
                now,
                &lease,
            ),
        }
    }

    async fn save_step(&self, save: StepSave<'_>) -> Result<(), StoreError> {
        let (key, attempt, step, progress) = (save.key, save.attempt, save.step, save.progress);
        let now = save.now;
        if step.is_empty() {
            return Err(StoreError::Invalid("a step needs a name"));
        }
        let mut e = Expr::default();
        let update = format!(
            "SET {}.{} = {}, {} = {}",
            e.name("steps"),
            e.name(step),
            e.value(codec::to_value(progress, KIND)?),
            e.name("updated_at"),
            e.value(codec::to_value(&now, KIND)?)
        );
        let condition = Some(held_at(&mut e, attempt));
        let (table, key) = (&self.db.tables.flows, record_key(key));
        let written = self.db.update_if(table, key, &e, update, condition).await?;
        if written {
            Ok(())
        } else {
            Err(error_map::condition_failed())
        }
    }

    async fn finish(&self, finish: InboundFinish<'_>) -> Result<(), StoreError> {
        let (key, attempt, state, now) = (finish.key, finish.attempt, finish.state, finish.now);
        let audit_entry = finish.audit;
        if state == InboundState::Processing {
            return Err(StoreError::Invalid(
                "a finished inbound message cannot be Processing",
            ));
        }
        let mut e = Expr::default();
        let update_expression = format!(
            "SET {} = {}, {} = {} REMOVE {}, {}",
            e.name("state"),
            e.value(s(state.as_str())),
            e.name("updated_at"),
            e.value(codec::to_value(&now, KIND)?),
            e.name("lease_until"),
            e.name(LEASE_KEY)
        );
        let condition = held_at(&mut e, attempt);
        self.db
            .update_with_audit(
                &self.db.tables.flows,
                record_key(key),
                &e,
                update_expression,
                condition,
                audit_entry,
            )
            .await
    }

    async fn get(&self, key: &InboundKey) -> Result<Option<InboundRecord>, StoreError> {
        self.db
            .consistent_get(&self.db.tables.flows, record_key(key), KIND)
            .await
    }

    async fn lock_key(&self, lock: &KeyLock, terms: LeaseTerms<&str>) -> Result<bool, StoreError> {
        let (holder, now) = (terms.holder, terms.now);
        // The condition below is `Lease::is_free_for`.
        let until = terms.lease()?.until;
        let mut item = key2(keys::key_lock_pk(lock), keys::SK_KEY_LOCK);
        item.insert(HOLDER.to_owned(), s(holder));
        item.insert(LEASE_KEY.to_owned(), s(keys::sortable_time(until)));
        // Kept a day past the lease, so a dead holder's lock does not stay forever.
        item.insert(
            EXPIRES_AT.to_owned(),
            n((until + chrono::Duration::days(1)).timestamp()),
        );
        let mut e = Expr::default();
        let condition = format!(
            "attribute_not_exists({pk}) OR {lease} <= {now} OR {holder} = {me}",
            pk = e.name(PK),
            lease = e.name(LEASE_KEY),
            now = e.value(s(keys::sortable_time(now))),
            holder = e.name(HOLDER),
            me = e.value(s(holder)),
        );
        self.db
            .put_if(&self.db.tables.flows, item, &e, Some(condition))
            .await
    }

    async fn unlock_key(&self, lock: &KeyLock, holder: &str) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let condition = format!("{} = {}", e.name(HOLDER), e.value(s(holder)));
        let key = key2(keys::key_lock_pk(lock), keys::SK_KEY_LOCK);
        // Not deleted: not ours (any more), or gone; nothing to release either way.
        self.db
            .delete_if(&self.db.tables.flows, key, &e, condition)
            .await?;
        Ok(())
    }
}

/// A key lock's holder attribute.
const HOLDER: &str = "holder";

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn record(state: InboundState) -> InboundRecord {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 15, 0, 0).unwrap();
        InboundRecord {
            key: connector_domain::inbound::parse_key("ehr", "MSG1").unwrap(),
            body_sha256: "ab".repeat(32),
            event: "ADT^A04".into(),
            state,
            attempts: 2,
            lease_until: (state == InboundState::Processing).then_some(at),
            steps: BTreeMap::from([(
                "hie".to_owned(),
                StepProgress {
                    done: true,
                    ..StepProgress::default()
                },
            )]),
            received_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn refusals_say_why() {
        let lease_end = record(InboundState::Processing).lease_until.unwrap();
        let now = lease_end - chrono::Duration::seconds(1);
        let lease = Lease::claim(now, chrono::Duration::seconds(60)).unwrap();
        assert!(matches!(
            refusal(record(InboundState::Done), now, &lease),
            Ok(InboundClaim::AlreadyDone(_))
        ));
        assert!(matches!(
            refusal(record(InboundState::Processing), now, &lease),
            Ok(InboundClaim::Busy(_))
        ));
        assert!(refusal(record(InboundState::Failed), now, &lease).is_err());
    }

    #[test]
    fn records_round_trip_with_the_store_attributes() {
        let r = record(InboundState::Processing);
        let mut item = codec::to_item(&r, KIND).unwrap();
        item.extend(record_key(&r.key));
        item.insert(LEASE_KEY.to_owned(), s("x"));
        item.insert(EXPIRES_AT.to_owned(), n(1));
        assert_eq!(codec::from_item::<InboundRecord>(item, KIND).unwrap(), r);
    }
}
