//! The state changes a delivery goes through, decided on the stored delivery before the
//! conditional write.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::delivery::{Delivery, DeliveryClaim, DeliveryId, DeliveryState};

use super::HELD_OUTCOME;

/// Creation order: the time the webhook was accepted, then the (time-ordered) id.
pub(super) fn creation_order(a: &Delivery, b: &Delivery) -> Ordering {
    (a.created_at, &a.delivery_id).cmp(&(b.created_at, &b.delivery_id))
}

/// `stored` as a new attempt leaves it.
pub(super) fn granted(
    stored: &Delivery,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Delivery, StoreError> {
    let attempts = stored
        .attempts
        .checked_add(1)
        .ok_or(StoreError::Conflict("delivery attempts exhausted"))?;
    Ok(Delivery {
        state: DeliveryState::Delivering,
        attempts,
        lease_until: Some(lease_until),
        next_attempt_at: None,
        held_behind: None,
        updated_at: now,
        ..stored.clone()
    })
}

/// `stored` held behind `parked`.
pub(super) fn held(stored: &Delivery, parked: DeliveryId, now: DateTime<Utc>) -> Delivery {
    Delivery {
        state: DeliveryState::Held,
        last_outcome: Some(HELD_OUTCOME.into()),
        lease_until: None,
        next_attempt_at: None,
        held_behind: Some(parked),
        updated_at: now,
        ..stored.clone()
    }
}

/// `stored` queued again by a redrive (its last outcome kept).
pub(super) fn requeued(stored: &Delivery, now: DateTime<Utc>) -> Delivery {
    Delivery {
        state: DeliveryState::Queued,
        attempts: 0,
        lease_until: None,
        next_attempt_at: None,
        held_behind: None,
        updated_at: now,
        ..stored.clone()
    }
}

/// What a claim of `stored` at `now` is without writing anything, if that is all it is.
pub(super) fn settled_or_busy(stored: &Delivery, now: DateTime<Utc>) -> Option<DeliveryClaim> {
    match (stored.state, stored.lease_until, stored.next_attempt_at) {
        (DeliveryState::Delivered | DeliveryState::Parked | DeliveryState::Held, ..) => {
            Some(DeliveryClaim::Settled(stored.clone()))
        }
        (DeliveryState::Delivering, Some(until), _) | (DeliveryState::Retrying, _, Some(until))
            if until > now =>
        {
            Some(DeliveryClaim::Busy { until })
        }
        // Queued, a due retry, or a lapsed lease (its worker crashed or stalled).
        _ => None,
    }
}
