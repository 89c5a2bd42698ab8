use serde::{Deserialize, Serialize};

use crate::AppointmentId;
use crate::ports::QueueMessage;

/// One unit of work for the sender: send this transition of this appointment. Queues carry
/// only this (ids), never patient data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HieWork {
    /// The appointment.
    pub appointment_id: AppointmentId,
    /// Which of its transitions.
    pub transition_seq: u32,
    /// 0 for the collector's send; for an administrator's deliberate resend, a number unique to
    /// that request (its time in epoch milliseconds), so it is a delivery of its own.
    #[serde(default)]
    pub resend: u64,
}

/// Identifies one delivery in the send ledger: `(appointment, transition, resend)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SendKey {
    /// The appointment.
    pub appointment_id: AppointmentId,
    /// Which of its transitions.
    pub transition_seq: u32,
    /// 0, or the resend request's number.
    pub resend: u64,
}

impl std::fmt::Display for SendKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}#{}#{}",
            self.appointment_id, self.transition_seq, self.resend
        )
    }
}

/// A queue body that is not a work item.
#[derive(Debug, thiserror::Error)]
#[error("the queue message is not an HIE work item")]
pub struct WorkParseError;

impl HieWork {
    /// The ledger key of this work item.
    pub fn key(&self) -> SendKey {
        SendKey {
            appointment_id: self.appointment_id.clone(),
            transition_seq: self.transition_seq,
            resend: self.resend,
        }
    }

    /// The queue message carrying this work item.
    pub fn to_message(&self) -> QueueMessage {
        QueueMessage {
            body: serde_json::to_string(self).unwrap_or_default(),
            group_id: None,
            dedup_id: Some(self.key().to_string()),
        }
    }

    /// Reads a queue body.
    pub fn parse(body: &str) -> Result<Self, WorkParseError> {
        serde_json::from_str(body).map_err(|_| WorkParseError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_queue_body() {
        let work = HieWork {
            appointment_id: AppointmentId::parse("a-1").unwrap(),
            transition_seq: 2,
            resend: 0,
        };
        let message = work.to_message();
        assert_eq!(
            message.body,
            r#"{"appointment_id":"a-1","transition_seq":2,"resend":0}"#
        );
        assert_eq!(HieWork::parse(&message.body).unwrap(), work);
        assert_eq!(message.dedup_id.as_deref(), Some("a-1#2#0"));
        assert!(HieWork::parse(r#"{"appointment_id":"a-1"}"#).is_err());
        assert!(HieWork::parse(r#"{"appointment_id":"a 1","transition_seq":1}"#).is_err());
    }
}
