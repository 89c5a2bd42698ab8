//! Claims: grant an attempt, or hold the delivery behind its group's parked one.

use aws_sdk_dynamodb::types::{
    ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::delivery::{Delivery, DeliveryClaim, DeliveryId};
use connector_domain::lease::Lease;

use super::super::client::{Conditional, update_item};
use super::super::keys::{PK, REV, n, s};
use super::super::{Expr, built};
use super::items::{block_key, decode_block, ss};
use super::{
    Block, DynamoDeliveryStore, HELD, PARKED, RACE_ATTEMPTS, Stored, TxError, back_off,
    condition_failed, raced,
};

/// What one attempt at granting a claim came to.
enum Grant {
    /// Written.
    Granted(Delivery),
    /// The group is blocked (by this block, when the refusal carried it).
    Blocked(Option<Block>),
    /// The delivery changed since it was read.
    Raced,
}

impl DynamoDeliveryStore {
    /// Claims `id` for an attempt: settled, busy, granted, or held behind a parked delivery.
    pub(super) async fn claim_delivery(
        &self,
        id: &DeliveryId,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<DeliveryClaim, StoreError> {
        let lease = Lease::claim(now, lease)?;
        for round in 0..RACE_ATTEMPTS {
            let stored = self.load(id).await?.ok_or(StoreError::NotFound)?;
            if let Some(claim) = stored.delivery.settled_or_busy(now) {
                match &claim {
                    DeliveryClaim::Settled(d) => {
                        tracing::debug!(delivery_id = %id, state = d.state.as_str(), "delivery claim settled");
                    }
                    _ => tracing::debug!(delivery_id = %id, "delivery claim busy"),
                }
                return Ok(claim);
            }
            let block = match self.try_grant(&stored, now, &lease).await? {
                Grant::Granted(delivery) => {
                    tracing::debug!(delivery_id = %id, attempt = delivery.attempts, "delivery claim granted");
                    return Ok(DeliveryClaim::Granted(delivery));
                }
                Grant::Raced => None,
                Grant::Blocked(Some(block)) => Some(block),
                // The refusal did not carry the block: read it (gone meanwhile: decide again).
                Grant::Blocked(None) => self.load_block(&stored.delivery.group).await?,
            };
            if let Some(block) = block
                && let Some(delivery) = self.try_hold(&stored, &block, now).await?
            {
                tracing::debug!(delivery_id = %id, parked = %block.parked, "delivery claim settled: held");
                return Ok(DeliveryClaim::Settled(delivery));
            }
            back_off(round).await;
        }
        Err(StoreError::Conflict(
            "delivery kept changing during the claim",
        ))
    }

    /// One attempt at granting a claim on `stored`: the group-block check and the state change
    /// in one transaction.
    async fn try_grant(
        &self,
        stored: &Stored,
        now: DateTime<Utc>,
        lease: &Lease,
    ) -> Result<Grant, StoreError> {
        let next = stored.delivery.grant(now, lease)?;
        let mut e = Expr::default();
        let condition = format!(
            "attribute_not_exists({}) OR {} = {}",
            e.name(PK),
            e.name(PARKED),
            e.value(s(next.delivery_id.as_str()))
        );
        let check = built(
            ConditionCheck::builder()
                .table_name(self.table())
                .set_key(Some(block_key(&next.group)))
                .under(&e, condition)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            self.change(&next, stored.rev)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(Grant::Granted(next)),
            Err(TxError::Cancelled(reasons, _)) if condition_failed(reasons.first()) => {
                let block = reasons
                    .first()
                    .and_then(|r| r.item.as_ref())
                    .map(decode_block)
                    .transpose()?;
                Ok(Grant::Blocked(block))
            }
            Err(TxError::Cancelled(reasons, _)) if reasons.iter().any(raced) => Ok(Grant::Raced),
            Err(err) => Err(err.into_store_error()),
        }
    }

    /// One attempt at holding `stored` behind `block`'s parked delivery: the delivery joins
    /// the block's `held` set (conditional on the same parked delivery) and becomes `Held`, in
    /// one transaction. `None` when either changed meanwhile.
    async fn try_hold(
        &self,
        stored: &Stored,
        block: &Block,
        now: DateTime<Utc>,
    ) -> Result<Option<Delivery>, StoreError> {
        let next = stored.delivery.hold_behind(block.parked.clone(), now);
        let mut e = Expr::default();
        let rev = e.name(REV);
        let expression = format!(
            "SET {rev} = if_not_exists({rev}, {}) + {} ADD {} {}",
            e.value(n(0)),
            e.value(n(1)),
            e.name(HELD),
            e.value(ss([next.delivery_id.clone()]))
        );
        let condition = format!("{} = {}", e.name(PARKED), e.value(s(block.parked.as_str())));
        let update = update_item(
            self.table(),
            block_key(&next.group),
            &e,
            expression,
            condition,
        )?;
        let items = vec![update, self.change(&next, stored.rev)?];
        match self.transact(items).await {
            Ok(()) => Ok(Some(next)),
            Err(TxError::Cancelled(reasons, _)) if reasons.iter().any(raced) => Ok(None),
            Err(err) => Err(err.into_store_error()),
        }
    }
}
