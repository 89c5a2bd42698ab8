//! Redrive: a parked delivery and the deliveries held behind it are queued again.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::delivery::{Delivery, DeliveryId, DeliveryState};

use super::super::client::{Conditional, update_item};
use super::super::keys::{PK, REV, n};
use super::super::{Expr, audit, built};
use super::items::{block_key, ss};
use super::{
    Block, DynamoDeliveryStore, FINAL_REDRIVE_HELD, HELD, RACE_ATTEMPTS, REDRIVE_CHUNK, REQUEUED,
    Stored, TxError, back_off, condition_failed, raced,
};

/// A parked delivery's group as a redrive reads it.
struct Group {
    /// The parked delivery.
    parked: Stored,
    /// The group's name.
    name: String,
    /// The group's block, if it has one.
    block: Option<Block>,
    /// The held deliveries to requeue, in creation order.
    to_queue: Vec<Stored>,
    /// The deliveries an interrupted chunked redrive requeued already.
    already: Vec<Delivery>,
}

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
            let group = self.read_group(id).await?;
            let raced = if group.block.is_some() && group.to_queue.len() > FINAL_REDRIVE_HELD {
                !self.requeue_next_chunk(id, &group, now).await?
            } else {
                match self.final_redrive(&group, now, audit_entry).await? {
                    Some(mut queued) => {
                        queued.extend(group.already);
                        queued.sort_by(Delivery::creation_order);
                        tracing::debug!(delivery_id = %id, requeued = queued.len(), "parked delivery redriven");
                        return Ok(queued);
                    }
                    None => true,
                }
            };
            if raced {
                races += 1;
                if races >= RACE_ATTEMPTS {
                    return Err(StoreError::Conflict(
                        "group kept changing during the redrive",
                    ));
                }
                back_off(races).await;
            }
        }
    }

    /// The parked delivery `id`, its group's block and the deliveries the block lists: those
    /// still held (in creation order) and those a chunked redrive requeued already.
    async fn read_group(&self, id: &DeliveryId) -> Result<Group, StoreError> {
        let parked = self.load(id).await?.ok_or(StoreError::NotFound)?;
        parked.delivery.check_redrivable()?;
        let name = parked.delivery.group.clone();
        let block = self.load_block(&name).await?;
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
        to_queue.sort_by(|a, b| Delivery::creation_order(&a.delivery, &b.delivery));
        Ok(Group {
            parked,
            name,
            block,
            to_queue,
            already,
        })
    }

    /// Requeues the next chunk of a group too large for one transaction; `false` when
    /// something changed meanwhile.
    async fn requeue_next_chunk(
        &self,
        id: &DeliveryId,
        group: &Group,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(block) = &group.block else {
            return Ok(false);
        };
        let chunk = &group.to_queue[..REDRIVE_CHUNK.min(group.to_queue.len())];
        let done = self.requeue_chunk(&group.name, block, chunk, now).await?;
        if done {
            tracing::debug!(delivery_id = %id, requeued = chunk.len(), "held deliveries requeued ahead of the redrive");
        }
        Ok(done)
    }

    /// The last transaction: the parked and the held deliveries requeued, the block deleted
    /// (conditional on its revision, or on its absence) and the audit entry. The deliveries
    /// requeued, or `None` after a lost race.
    async fn final_redrive(
        &self,
        group: &Group,
        now: DateTime<Utc>,
        audit_entry: &AuditEntry,
    ) -> Result<Option<Vec<Delivery>>, StoreError> {
        let mut queued = vec![group.parked.delivery.requeue(now)];
        let mut items = vec![self.change(&queued[0], group.parked.rev)?];
        for stored in &group.to_queue {
            let next = stored.delivery.requeue(now);
            items.push(self.change(&next, stored.rev)?);
            queued.push(next);
        }
        items.push(self.delete_block(group)?);
        items.push(audit::put_entry(&self.db, audit_entry)?);
        let audit_index = items.len() - 1;
        match self.transact(items).await {
            Ok(()) => Ok(Some(queued)),
            Err(TxError::Cancelled(reasons, translated)) => {
                if condition_failed(reasons.get(audit_index)) || !reasons.iter().any(raced) {
                    return Err(translated);
                }
                Ok(None)
            }
            Err(TxError::Failed(err)) => Err(err),
        }
    }

    /// The Delete of the group's block, conditional on the revision read (or on there being
    /// none).
    fn delete_block(&self, group: &Group) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let condition = match &group.block {
            Some(block) => format!("{} = {}", e.name(REV), e.value(n(block.rev))),
            None => format!("attribute_not_exists({})", e.name(PK)),
        };
        let delete = built(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(block_key(&group.name)))
                .under(&e, condition)
                .build(),
        )?;
        Ok(TransactWriteItem::builder().delete(delete).build())
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
        let update = update_item(self.table(), block_key(group), &e, expression, condition)?;
        let mut items = vec![update];
        for stored in chunk {
            items.push(self.change(&stored.delivery.requeue(now), stored.rev)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(TxError::Cancelled(reasons, _)) if reasons.iter().any(raced) => Ok(false),
            Err(err) => Err(err.into_store_error()),
        }
    }
}
