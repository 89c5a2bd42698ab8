use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SendKey;
use crate::StoreError;
use crate::lease::Lease;

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendState {
    /// A sender holds the claim until `lease_until`.
    Sending,
    /// The last attempt failed transiently; the next delivery of the work item may claim it.
    RetryPending,
    /// Sent; never to be sent again.
    Sent,
    /// Failed permanently (or skipped for want of consent); never to be retried.
    Failed,
}

/// The ledger's record of one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRecord {
    /// Which delivery.
    pub key: SendKey,
    /// Where it stands.
    pub state: SendState,
    /// Claims granted so far (the current or last attempt's number).
    pub attempts: u32,
    /// While `Sending`, when the claim lapses (a crashed sender's claim can then be taken over).
    pub lease_until: Option<DateTime<Utc>>,
    /// The mail service's message id, once sent.
    pub message_id: Option<String>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
}

/// What claiming a delivery gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This sender may send; `attempt` must be passed back when finishing.
    Granted {
        /// The attempt number (1 for the first).
        attempt: u32,
    },
    /// Already sent: do nothing.
    AlreadySent {
        /// The message id of the send.
        message_id: String,
    },
    /// Ended for good (permanent failure or consent skip): do nothing.
    Closed,
    /// Another sender holds an unexpired claim: try again after `until`.
    Busy {
        /// When that claim lapses.
        until: DateTime<Utc>,
    },
}

/// What a claim decided, before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendClaimStep {
    /// Refused (already sent, closed, or busy): nothing to write.
    Refused(Claim),
    /// Granted: write this record, conditional on the stored one being what was read.
    Take(SendRecord),
}

impl SendRecord {
    /// A claim of `key` at `now` under `lease`, given the `stored` record (`None`: none yet):
    ///
    /// - no record: the first attempt (`Sending`, attempt 1);
    /// - `RetryPending`, or `Sending` whose lease has lapsed: the next attempt;
    /// - `Sending` with a live lease: `Busy`; `Sent`: `AlreadySent`; `Failed`: `Closed`.
    pub fn claim(
        stored: Option<&SendRecord>,
        key: &SendKey,
        now: DateTime<Utc>,
        lease: &Lease,
    ) -> Result<SendClaimStep, StoreError> {
        let attempts = match stored {
            None => 0,
            Some(record) => match record.state {
                SendState::Sent => {
                    let message_id = record
                        .message_id
                        .clone()
                        .ok_or(StoreError::Corrupt("send record"))?;
                    return Ok(SendClaimStep::Refused(Claim::AlreadySent { message_id }));
                }
                SendState::Failed => return Ok(SendClaimStep::Refused(Claim::Closed)),
                SendState::Sending => match Lease::live_until(record.lease_until, now) {
                    Some(until) => return Ok(SendClaimStep::Refused(Claim::Busy { until })),
                    // A lapsed lease: its sender crashed or stalled.
                    None => record.attempts,
                },
                SendState::RetryPending => record.attempts,
            },
        };
        let attempts = attempts
            .checked_add(1)
            .ok_or(StoreError::Conflict("send attempts exhausted"))?;
        Ok(SendClaimStep::Take(SendRecord {
            key: key.clone(),
            state: SendState::Sending,
            attempts,
            lease_until: Some(lease.until),
            message_id: None,
            updated_at: now,
        }))
    }

    /// Checks a finish's arguments: it ends an attempt (so not `Sending`), and only a `Sent`
    /// end carries (and needs) the message id. The store then writes the end only if the
    /// record is `Sending` at that attempt.
    pub fn check_finish(state: SendState, message_id: Option<&str>) -> Result<(), StoreError> {
        match (state, message_id) {
            (SendState::Sending, _) => Err(StoreError::Invalid(
                "finish ends an attempt: Sent, RetryPending or Failed",
            )),
            (SendState::Sent, None) => Err(StoreError::Invalid(
                "finishing as Sent needs the message id",
            )),
            (SendState::RetryPending | SendState::Failed, Some(_)) => Err(StoreError::Invalid(
                "only finishing as Sent carries a message id",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppointmentId;
    use crate::lease::test_support::{at, lease};

    fn key() -> SendKey {
        SendKey {
            appointment_id: AppointmentId::parse("a-1").unwrap(),
            transition_seq: 1,
            resend: 0,
        }
    }

    fn take(step: SendClaimStep) -> SendRecord {
        match step {
            SendClaimStep::Take(record) => record,
            other => panic!("expected a grant, got {other:?}"),
        }
    }

    #[test]
    fn a_claim_takes_a_new_a_pending_or_a_lapsed_record_and_refuses_a_live_one() {
        let first = take(SendRecord::claim(None, &key(), at(0), &lease(at(0))).unwrap());
        assert_eq!((first.state, first.attempts), (SendState::Sending, 1));
        assert_eq!(first.lease_until, Some(at(60)));
        assert_eq!(
            SendRecord::claim(Some(&first), &key(), at(59), &lease(at(59))).unwrap(),
            SendClaimStep::Refused(Claim::Busy { until: at(60) })
        );
        let second = take(SendRecord::claim(Some(&first), &key(), at(60), &lease(at(60))).unwrap());
        assert_eq!(second.attempts, 2);
        let pending = SendRecord {
            state: SendState::RetryPending,
            lease_until: None,
            ..second
        };
        let third =
            take(SendRecord::claim(Some(&pending), &key(), at(61), &lease(at(61))).unwrap());
        assert_eq!(third.attempts, 3);
    }

    #[test]
    fn ended_records_refuse_claims() {
        let sent = SendRecord {
            key: key(),
            state: SendState::Sent,
            attempts: 1,
            lease_until: None,
            message_id: Some("m-1".into()),
            updated_at: at(0),
        };
        assert_eq!(
            SendRecord::claim(Some(&sent), &key(), at(1), &lease(at(1))).unwrap(),
            SendClaimStep::Refused(Claim::AlreadySent {
                message_id: "m-1".into()
            })
        );
        let failed = SendRecord {
            state: SendState::Failed,
            message_id: None,
            ..sent
        };
        assert_eq!(
            SendRecord::claim(Some(&failed), &key(), at(1), &lease(at(1))).unwrap(),
            SendClaimStep::Refused(Claim::Closed)
        );
    }

    #[test]
    fn a_finish_ends_an_attempt_and_only_a_send_carries_a_message_id() {
        assert!(SendRecord::check_finish(SendState::Sent, Some("m")).is_ok());
        assert!(SendRecord::check_finish(SendState::Failed, None).is_ok());
        assert!(SendRecord::check_finish(SendState::RetryPending, None).is_ok());
        assert!(SendRecord::check_finish(SendState::Sending, None).is_err());
        assert!(SendRecord::check_finish(SendState::Sent, None).is_err());
        assert!(SendRecord::check_finish(SendState::Failed, Some("m")).is_err());
    }
}
