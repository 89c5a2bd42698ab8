//! Redrive: a parked delivery and the deliveries held behind it are queued again.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::delivery::{Delivery, DeliveryId, DeliveryState};

use super::super::keys::{PK, REV, n};
use super::super::{Expr, audit, built};
use super::items::{block_key, ss};
use super::transitions::{creation_order, requeued};
use super::{
    Block, DynamoDeliveryStore, FINAL_REDRIVE_HELD, HELD, RACE_ATTEMPTS, REDRIVE_CHUNK, REQUEUED,
    Stored, TxError, back_off, condition_failed, raced,
};

impl DynamoDeliveryStore {
    /// Requeues the parked `id` and every delivery held behind it, and unblocks the group.
    pub(super) async fn redrive_group(
        &self,
        id: &DeliveryId,
        now: DateTime<Utc>,
        audit_entry: &AuditEntry,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut races = 0;
        loop {
            let parked = self.load(id).await?.ok_or(StoreError::NotFound)?;
            if parked.delivery.state != DeliveryState::Parked {
                return Err(StoreError::Conflict("delivery is not parked"));
            }
            let group = parked.delivery.group.clone();
            let block = self.load_block(&group).await?;
            let mut members = BTreeSet::new();
            if let Some(block) = &block {
                members.extend(block.held.iter().cloned());
                members.extend(block.requeued.iter().cloned());
            }
            members.remove(id);
            let mut to_queue = Vec::new();
            let mut already = Vec::new();
            for stored in self.load_many(&members).await? {
                let d = &stored.delivery;
                let was_requeued = block
                    .as_ref()
                    .is_some_and(|b| b.requeued.contains(&d.delivery_id));
                match d.state {
                    DeliveryState::Held => to_queue.push(stored),
                    DeliveryState::Queued if was_requeued => already.push(stored.delivery),
                    _ => {
                        tracing::warn!(delivery_id = %d.delivery_id, state = d.state.as_str(), "a group block lists a delivery that is not held: left as it is");
                    }
                }
            }
            to_queue.sort_by(|a, b| creation_order(&a.delivery, &b.delivery));

            if let Some(block) = &block
                && to_queue.len() > FINAL_REDRIVE_HELD
            {
                let chunk = &to_queue[..REDRIVE_CHUNK.min(to_queue.len())];
                if self.requeue_chunk(&group, block, chunk, now).await? {
                    tracing::debug!(delivery_id = %id, requeued = chunk.len(), "held deliveries requeued ahead of the redrive");
                } else {
                    races += 1;
                    if races >= RACE_ATTEMPTS {
                        return Err(StoreError::Conflict(
                            "group kept changing during the redrive",
                        ));
                    }
                    back_off(races).await;
                }
                continue;
            }

            let mut queued = vec![requeued(&parked.delivery, now)];
            let mut items = vec![self.change(&queued[0], parked.rev)?];
            for stored in &to_queue {
                let next = requeued(&stored.delivery, now);
                items.push(self.change(&next, stored.rev)?);
                queued.push(next);
            }
            let mut e = Expr::default();
            let condition = match &block {
                Some(block) => format!("{} = {}", e.name(REV), e.value(n(block.rev))),
                None => format!("attribute_not_exists({})", e.name(PK)),
            };
            let delete = built(
                Delete::builder()
                    .table_name(self.table())
                    .set_key(Some(block_key(&group)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().delete(delete).build());
            items.push(audit::put_entry(&self.db, audit_entry)?);
            let audit_index = items.len() - 1;
            match self.transact(items).await {
                Ok(()) => {
                    queued.extend(already);
                    queued.sort_by(creation_order);
                    tracing::debug!(delivery_id = %id, requeued = queued.len(), "parked delivery redriven");
                    return Ok(queued);
                }
                Err(TxError::Cancelled(reasons, translated)) => {
                    if condition_failed(reasons.get(audit_index)) || !reasons.iter().any(raced) {
                        return Err(translated);
                    }
                    races += 1;
                    if races >= RACE_ATTEMPTS {
                        return Err(StoreError::Conflict(
                            "group kept changing during the redrive",
                        ));
                    }
                    back_off(races).await;
                }
                Err(TxError::Failed(err)) => return Err(err),
            }
        }
    }

    /// Requeues `chunk` (held deliveries) ahead of the redrive's last transaction, moving them
    /// from the block's `held` set to its `requeued` set. `false` when something changed
    /// meanwhile.
    pub(super) async fn requeue_chunk(
        &self,
        group: &str,
        block: &Block,
        chunk: &[Stored],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let ids = || chunk.iter().map(|c| c.delivery.delivery_id.clone());
        let mut e = Expr::default();
        let rev = e.name(REV);
        let expression = format!(
            "SET {rev} = {rev} + {} DELETE {} {} ADD {} {}",
            e.value(n(1)),
            e.name(HELD),
            e.value(ss(ids())),
            e.name(REQUEUED),
            e.value(ss(ids()))
        );
        let condition = format!("{rev} = {}", e.value(n(block.rev)));
        let update = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(block_key(group)))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        for stored in chunk {
            items.push(self.change(&requeued(&stored.delivery, now), stored.rev)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(TxError::Cancelled(reasons, _)) if reasons.iter().any(raced) => Ok(false),
            Err(err) => Err(err.into_store_error()),
        }
    }
}
