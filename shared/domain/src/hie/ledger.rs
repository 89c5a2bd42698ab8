use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SendKey;

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
