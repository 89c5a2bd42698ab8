//! The delivery state machine (the diagram in [`super`]): each transition is a pure function
//! from the stored delivery (and the event) to the next record. The stores load a delivery,
//! call one of these and write the result only if the stored one is still what they read
//! (compare-and-set), so both stores decide alike.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::{AttemptEnd, Delivery, DeliveryClaim, DeliveryId, DeliveryState};
use crate::StoreError;
use crate::lease::Lease;

/// The outcome word of a delivery held behind a parked one.
pub const HELD_OUTCOME: &str = "held";

/// `finish` of an attempt that is not the delivery's current one.
pub const NOT_CURRENT: StoreError = StoreError::Conflict("delivery attempt is not the current one");

impl Delivery {
    /// Creation order: the time the webhook was accepted, then the (time-ordered) id.
    pub fn creation_order(a: &Delivery, b: &Delivery) -> Ordering {
        (a.created_at, &a.delivery_id).cmp(&(b.created_at, &b.delivery_id))
    }

    /// Whether this is what `accept_webhook` takes: new and queued, with no attempts, lease,
    /// retry time or hold.
    pub fn is_new(&self) -> bool {
        self.state == DeliveryState::Queued
            && self.attempts == 0
            && self.lease_until.is_none()
            && self.next_attempt_at.is_none()
            && self.held_behind.is_none()
    }

    /// What a claim at `now` is without writing anything, if that is all it is: `Settled`
    /// (delivered, parked, held) or `Busy` (a live lease, a retry not yet due). `None`: the
    /// delivery is claimable (queued, a due retry, or a lapsed lease).
    pub fn settled_or_busy(&self, now: DateTime<Utc>) -> Option<DeliveryClaim> {
        let wait = match self.state {
            DeliveryState::Delivered | DeliveryState::Parked | DeliveryState::Held => {
                return Some(DeliveryClaim::Settled(self.clone()));
            }
            DeliveryState::Delivering => self.lease_until,
            DeliveryState::Retrying => self.next_attempt_at,
            DeliveryState::Queued => None,
        };
        Lease::live_until(wait, now).map(|until| DeliveryClaim::Busy { until })
    }

    /// Whether a block of the group by `parked` holds this delivery back (a parked delivery
    /// does not block itself).
    pub fn is_blocked_by(&self, parked: &DeliveryId) -> bool {
        *parked != self.delivery_id
    }

    /// Claim granted: a new attempt under `lease`.
    pub fn grant(&self, now: DateTime<Utc>, lease: &Lease) -> Result<Delivery, StoreError> {
        let attempts = self
            .attempts
            .checked_add(1)
            .ok_or(StoreError::Conflict("delivery attempts exhausted"))?;
        Ok(Delivery {
            state: DeliveryState::Delivering,
            attempts,
            lease_until: Some(lease.until),
            next_attempt_at: None,
            held_behind: None,
            updated_at: now,
            ..self.clone()
        })
    }

    /// Claim refused because the group is blocked: held behind `parked`.
    pub fn hold_behind(&self, parked: DeliveryId, now: DateTime<Utc>) -> Delivery {
        Delivery {
            state: DeliveryState::Held,
            last_outcome: Some(HELD_OUTCOME.into()),
            lease_until: None,
            next_attempt_at: None,
            held_behind: Some(parked),
            updated_at: now,
            ..self.clone()
        }
    }

    /// Attempt `attempt` ended with `end` and `outcome`: delivered, retrying or parked.
    /// [`NOT_CURRENT`] unless this is `Delivering` at exactly that attempt.
    pub fn finish(
        &self,
        attempt: u32,
        end: &AttemptEnd,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<Delivery, StoreError> {
        if self.state != DeliveryState::Delivering || self.attempts != attempt {
            return Err(NOT_CURRENT);
        }
        let (state, next_attempt_at) = match end {
            AttemptEnd::Delivered => (DeliveryState::Delivered, None),
            AttemptEnd::Retry { next_attempt_at } => {
                (DeliveryState::Retrying, Some(*next_attempt_at))
            }
            AttemptEnd::Park => (DeliveryState::Parked, None),
        };
        Ok(Delivery {
            state,
            last_outcome: Some(outcome.to_owned()),
            lease_until: None,
            next_attempt_at,
            held_behind: None,
            updated_at: now,
            ..self.clone()
        })
    }

    /// `Conflict` unless this delivery is parked (only a parked delivery is redriven).
    pub fn check_redrivable(&self) -> Result<(), StoreError> {
        if self.state == DeliveryState::Parked {
            Ok(())
        } else {
            Err(StoreError::Conflict("delivery is not parked"))
        }
    }

    /// Redriven (the parked delivery, or one held behind it): queued again with no attempts,
    /// its last outcome kept.
    pub fn requeue(&self, now: DateTime<Utc>) -> Delivery {
        Delivery {
            state: DeliveryState::Queued,
            attempts: 0,
            lease_until: None,
            next_attempt_at: None,
            held_behind: None,
            updated_at: now,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::DeliveryRoute;
    use crate::flow::{ChannelId, FlowId};
    use crate::inbound::ControlId;
    use crate::lease::test_support::{at, lease};
    use crate::phi::Phi;

    fn queued(id: &str) -> Delivery {
        let route = DeliveryRoute {
            channel_id: ChannelId::parse("ch-1").unwrap(),
            flow_id: FlowId::parse("fl-1").unwrap(),
            group: "g-1".into(),
        };
        Delivery::queued(
            DeliveryId::parse(id).unwrap(),
            route,
            ControlId::parse("CTL1").unwrap(),
            "ADT^A08".into(),
            Phi::new("MSH|...".into()),
            at(0),
        )
    }

    #[test]
    fn a_grant_starts_an_attempt_under_a_lease_and_busies_the_delivery_until_it_lapses() {
        let d = queued("d-1");
        assert!(d.is_new());
        assert_eq!(d.settled_or_busy(at(0)), None);
        let granted = d.grant(at(1), &lease(at(1))).unwrap();
        assert_eq!(granted.state, DeliveryState::Delivering);
        assert_eq!(granted.attempts, 1);
        assert_eq!(granted.lease_until, Some(at(61)));
        assert!(!granted.is_new());
        assert_eq!(
            granted.settled_or_busy(at(60)),
            Some(DeliveryClaim::Busy { until: at(61) })
        );
        assert_eq!(granted.settled_or_busy(at(61)), None, "the lease lapsed");
        let again = granted.grant(at(61), &lease(at(61))).unwrap();
        assert_eq!(again.attempts, 2);
    }

    #[test]
    fn finish_ends_only_the_current_attempt() {
        let d = queued("d-1").grant(at(1), &lease(at(1))).unwrap();
        let not_current = |r: Result<Delivery, StoreError>| matches!(r, Err(StoreError::Conflict(m)) if m == "delivery attempt is not the current one");
        assert!(not_current(d.finish(
            2,
            &AttemptEnd::Delivered,
            "AA",
            at(2)
        )));
        assert!(not_current(queued("d-1").finish(
            0,
            &AttemptEnd::Delivered,
            "AA",
            at(2)
        )));
        let retry = AttemptEnd::Retry {
            next_attempt_at: at(30),
        };
        let retrying = d.finish(1, &retry, "no_ack", at(2)).unwrap();
        assert_eq!(retrying.state, DeliveryState::Retrying);
        assert_eq!(retrying.lease_until, None);
        assert_eq!(retrying.last_outcome.as_deref(), Some("no_ack"));
        assert_eq!(
            retrying.settled_or_busy(at(29)),
            Some(DeliveryClaim::Busy { until: at(30) })
        );
        assert_eq!(retrying.settled_or_busy(at(30)), None, "the retry is due");
        let delivered = d.finish(1, &AttemptEnd::Delivered, "AA", at(2)).unwrap();
        assert_eq!(
            delivered.settled_or_busy(at(3)),
            Some(DeliveryClaim::Settled(delivered.clone()))
        );
        assert!(delivered.check_redrivable().is_err());
    }

    #[test]
    fn a_park_holds_the_group_and_a_redrive_requeues_in_creation_order() {
        let parked = queued("d-1")
            .grant(at(1), &lease(at(1)))
            .unwrap()
            .finish(1, &AttemptEnd::Park, "AR", at(2))
            .unwrap();
        assert_eq!(parked.state, DeliveryState::Parked);
        assert!(parked.check_redrivable().is_ok());
        assert!(!parked.is_blocked_by(&parked.delivery_id));
        let later = Delivery {
            created_at: at(5),
            ..queued("d-2")
        };
        assert!(later.is_blocked_by(&parked.delivery_id));
        let held = later.hold_behind(parked.delivery_id.clone(), at(6));
        assert_eq!(held.state, DeliveryState::Held);
        assert_eq!(held.last_outcome.as_deref(), Some(HELD_OUTCOME));
        assert_eq!(held.held_behind.as_ref(), Some(&parked.delivery_id));

        let mut group = vec![held.requeue(at(9)), parked.requeue(at(9))];
        group.sort_by(Delivery::creation_order);
        assert_eq!(group[0].delivery_id, parked.delivery_id);
        for d in &group {
            assert_eq!(
                (d.state, d.attempts, d.held_behind.as_ref()),
                (DeliveryState::Queued, 0, None)
            );
        }
        assert_eq!(
            group[0].last_outcome.as_deref(),
            Some("AR"),
            "the outcome is kept"
        );
    }

    #[test]
    fn attempts_never_wrap() {
        let d = Delivery {
            attempts: u32::MAX,
            ..queued("d-1")
        };
        assert!(matches!(
            d.grant(at(0), &lease(at(0))),
            Err(StoreError::Conflict(_))
        ));
    }
}
