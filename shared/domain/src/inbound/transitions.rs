//! The inbound ledger's state machine: `Processing` under a lease, then `Done` or `Failed`;
//! a failed or lapsed record is claimed again with its steps kept. Pure functions from the
//! stored record to the next one; the stores write the result only if the stored record is
//! still what they read (compare-and-set).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{InboundClaim, InboundKey, InboundRecord, InboundState, StepProgress};
use crate::StoreError;
use crate::lease::Lease;

impl InboundRecord {
    /// The record of a message's first claim: `Processing`, attempt 1, no steps.
    pub fn first(
        key: InboundKey,
        body_sha256: String,
        event: String,
        now: DateTime<Utc>,
        lease: &Lease,
    ) -> Self {
        InboundRecord {
            key,
            body_sha256,
            event,
            state: InboundState::Processing,
            attempts: 1,
            lease_until: Some(lease.until),
            steps: BTreeMap::new(),
            received_at: now,
            updated_at: now,
        }
    }

    /// A claim of this stored record at `now`: `AlreadyDone`, `Busy` (a live lease), or
    /// `Granted` with the record to write (failed, or a lapsed lease: the next attempt, steps
    /// kept).
    pub fn claim(&self, now: DateTime<Utc>, lease: &Lease) -> Result<InboundClaim, StoreError> {
        match self.state {
            InboundState::Done => return Ok(InboundClaim::AlreadyDone(self.clone())),
            InboundState::Processing if Lease::live_until(self.lease_until, now).is_some() => {
                return Ok(InboundClaim::Busy(self.clone()));
            }
            // Failed, or a lapsed lease (its handler crashed or stalled).
            InboundState::Processing | InboundState::Failed => {}
        }
        let attempts = self
            .attempts
            .checked_add(1)
            .ok_or(StoreError::Conflict("inbound attempts exhausted"))?;
        Ok(InboundClaim::Granted(InboundRecord {
            state: InboundState::Processing,
            attempts,
            lease_until: Some(lease.until),
            updated_at: now,
            ..self.clone()
        }))
    }

    /// `Conflict` unless attempt `attempt` still holds this record (`Processing` at it).
    pub fn check_current(&self, attempt: u32) -> Result<(), StoreError> {
        if self.state == InboundState::Processing && self.attempts == attempt {
            Ok(())
        } else {
            Err(StoreError::Conflict(
                "inbound attempt is not the current one",
            ))
        }
    }

    /// This record with `step`'s progress saved (replacing that step's earlier progress).
    pub fn with_step(&self, step: String, progress: StepProgress, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        next.steps.insert(step, progress);
        next.updated_at = now;
        next
    }

    /// `Invalid` unless `state` ends an attempt (`Done` or `Failed`).
    pub fn check_end(state: InboundState) -> Result<(), StoreError> {
        if state == InboundState::Processing {
            Err(StoreError::Invalid(
                "finish ends an attempt: Done or Failed",
            ))
        } else {
            Ok(())
        }
    }

    /// The attempt ended in `state`: the lease cleared.
    pub fn finish(&self, state: InboundState, now: DateTime<Utc>) -> Self {
        InboundRecord {
            state,
            lease_until: None,
            updated_at: now,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::ChannelId;
    use crate::inbound::ControlId;
    use crate::lease::test_support::{at, lease};

    fn first() -> InboundRecord {
        let key = InboundKey::new(
            ChannelId::parse("ch-1").unwrap(),
            ControlId::parse("CTL1").unwrap(),
        );
        InboundRecord::first(key, "sha".into(), "ADT^A04".into(), at(0), &lease(at(0)))
    }

    #[test]
    fn a_live_claim_is_busy_and_a_lapsed_or_failed_one_is_taken_over_with_its_steps() {
        let record = first();
        assert_eq!(
            (record.state, record.attempts),
            (InboundState::Processing, 1)
        );
        assert!(matches!(
            record.claim(at(59), &lease(at(59))),
            Ok(InboundClaim::Busy(_))
        ));
        let Ok(InboundClaim::Granted(second)) = record.claim(at(60), &lease(at(60))) else {
            panic!("a lapsed lease is taken over");
        };
        assert_eq!(second.attempts, 2);
        assert!(record.check_current(1).is_ok());
        assert!(second.check_current(1).is_err());
        let failed = second.finish(InboundState::Failed, at(61));
        assert_eq!(failed.lease_until, None);
        assert!(failed.check_current(2).is_err());
        let Ok(InboundClaim::Granted(third)) = failed.claim(at(62), &lease(at(62))) else {
            panic!("a failed record is claimed again");
        };
        assert_eq!(third.attempts, 3);
        let done = third.finish(InboundState::Done, at(63));
        assert!(matches!(
            done.claim(at(64), &lease(at(64))),
            Ok(InboundClaim::AlreadyDone(_))
        ));
        assert!(InboundRecord::check_end(InboundState::Processing).is_err());
        assert!(InboundRecord::check_end(InboundState::Done).is_ok());
    }
}
