//! Finishing an attempt: delivered, retrying or parked (which blocks the group).

use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::delivery::{AttemptEnd, Delivery, DeliveryId, DeliveryState, NOT_CURRENT};

use super::super::client::{Conditional, put_item};
use super::super::keys::{PK, REV, n, s};
use super::super::{Expr, audit, built, codec};
use super::items::block_key;
use super::{
    BLOCK_KIND, DynamoDeliveryStore, PARKED, RACE_ATTEMPTS, Stored, TxError, back_off,
    condition_failed, raced,
};

impl DynamoDeliveryStore {
    /// Ends the current attempt of `id`; a park also blocks the delivery's group.
    pub(super) async fn finish_attempt(
        &self,
        id: &DeliveryId,
        attempt: u32,
        end: &AttemptEnd,
        outcome: &str,
        now: DateTime<Utc>,
        audit_entry: &AuditEntry,
    ) -> Result<Delivery, StoreError> {
        // A park first tries to block the group; if it is blocked already, it checks that.
        let mut group_blocked = false;
        let mut cached: Option<Stored> = None;
        for round in 0..RACE_ATTEMPTS {
            let stored = match cached.take() {
                Some(stored) => stored,
                None => self.load(id).await?.ok_or(NOT_CURRENT)?,
            };
            let next = stored.delivery.finish(attempt, end, outcome, now)?;
            let state = next.state;
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

    /// The Put of a new block of `parked`'s group, if the group has none.
    pub(super) fn put_block(
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
        put_item(self.table(), item, &e, condition)
    }

    /// A check that `group` is blocked (by whichever delivery).
    pub(super) fn block_exists(&self, group: &str) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let condition = format!("attribute_exists({})", e.name(PK));
        let check = built(
            ConditionCheck::builder()
                .table_name(self.table())
                .set_key(Some(block_key(group)))
                .under(&e, condition)
                .build(),
        )?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}
