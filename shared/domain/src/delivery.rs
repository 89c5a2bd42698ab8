//! Outbound deliveries (CRM -> EHR): the HL7 messages that CRM webhooks became, each delivered
//! on its channel in its patient's order.
//!
//! A webhook is recorded once ([`WebhookKey`]: channel, entity, entity id and modification
//! time), together with the [`Delivery`] records it produced, in one transaction; a repeated
//! webhook changes nothing. Each delivery is then attempted through the delivery queue (one
//! FIFO group per patient, so a patient's messages keep their order while patients proceed in
//! parallel):
//!
//! ```text
//! queued --claim--> delivering --AA/CA--> delivered
//!                       |  \--AE, no ACK, wrong MSA-2, not sent--> retrying --claim--> ...
//!                       \--AR/CR, or attempts used up--> parked (blocks its group)
//! queued --claim while the group is blocked--> held (behind the parked delivery)
//! parked --redrive--> queued, and the group's held deliveries with it, in order
//! ```
//!
//! A resend after an unknown outcome (no ACK) keeps the same MSH-10, so the EHR can recognise
//! it. Message text is PHI ([`Phi`]); everything else here is ids and outcome words.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::flow::{ChannelId, FlowId};
use crate::inbound::ControlId;
use crate::phi::Phi;

crate::ids::external_id!(
    /// A delivery's identifier (UUIDv7: time-ordered, so creation order within a group).
    DeliveryId,
    "delivery_id"
);

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting on the queue.
    Queued,
    /// A worker holds the claim until `lease_until`.
    Delivering,
    /// The last attempt failed; the next is due at `next_attempt_at`.
    Retrying,
    /// The EHR accepted it (AA or CA, MSA-2 matching). Final.
    Delivered,
    /// Given up on (AR/CR, or attempts used up): waits for an admin's redrive; blocks its
    /// patient's group.
    Parked,
    /// Waiting behind a parked delivery of the same patient.
    Held,
}

impl DeliveryState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Delivering => "delivering",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Parked => "parked",
            DeliveryState::Held => "held",
        }
    }

    /// The state with this wire name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            DeliveryState::Queued,
            DeliveryState::Delivering,
            DeliveryState::Retrying,
            DeliveryState::Delivered,
            DeliveryState::Parked,
            DeliveryState::Held,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether a worker may claim a delivery in this state (a `Delivering` one only once its
    /// lease has lapsed).
    pub fn is_claimable(self) -> bool {
        matches!(
            self,
            DeliveryState::Queued | DeliveryState::Retrying | DeliveryState::Delivering
        )
    }
}

/// One HL7 message to deliver to the EHR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id.
    pub delivery_id: DeliveryId,
    /// The channel it goes out on.
    pub channel_id: ChannelId,
    /// The flow that built it.
    pub flow_id: FlowId,
    /// The patient's ordering group (`lead-<ProspectID>`): the FIFO message group.
    pub group: String,
    /// MSH-10, kept for every attempt.
    pub control_id: ControlId,
    /// MSH-9 (`ADT^A08`).
    pub event: String,
    /// The ER7 text (PHI).
    pub message: Phi<String>,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts started so far.
    pub attempts: u32,
    /// The last attempt's outcome word (`delivered`, `rejected_AE`, `no_ack`, `wrong_ack`,
    /// `not_sent`, `held`), if any.
    pub last_outcome: Option<String>,
    /// While `Delivering`, when the claim lapses.
    pub lease_until: Option<DateTime<Utc>>,
    /// While `Retrying`, when the next attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// While `Held`, the parked delivery it waits behind.
    pub held_behind: Option<DeliveryId>,
    /// When the webhook was accepted.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
}

/// A CRM webhook's identity, for deduplication: the same entity at the same modification time
/// (or, when the payload has none, the same body) is the same webhook.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WebhookKey {
    /// The channel the webhook came to.
    pub channel_id: ChannelId,
    /// `lead` or `activity`.
    pub entity: String,
    /// The entity's CRM id (ProspectID or ProspectActivityId).
    pub entity_id: String,
    /// The payload's `ModifiedOn`, or `sha256:<hex>` of the body when it has none.
    pub version: String,
}

impl WebhookKey {
    /// The key as one string (`channel|entity|id|version`), for stores.
    pub fn as_text(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.channel_id, self.entity, self.entity_id, self.version
        )
    }
}

/// What claiming a delivery gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// This worker may attempt it; `delivery.attempts` is this attempt's number.
    Granted(Delivery),
    /// Nothing to do (delivered, parked, held, or a retry not yet due): delete the queue
    /// message. Redrive enqueues it again.
    Settled(Delivery),
    /// Another worker holds an unexpired claim, or the retry is not due yet: try again after
    /// `until`.
    Busy {
        /// When to look again.
        until: DateTime<Utc>,
    },
}

/// How an attempt ended, for [`crate::ports::DeliveryStore::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptEnd {
    /// Accepted by the EHR.
    Delivered,
    /// Failed; try again at `next_attempt_at`.
    Retry {
        /// When the next attempt is due.
        next_attempt_at: DateTime<Utc>,
    },
    /// Given up on: park it and block its group.
    Park,
}

/// A write the connector made to the CRM (from an inbound HL7 message), remembered briefly so
/// the webhook it fires can be recognised as an echo and not sent back to the EHR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmWrite {
    /// `lead-<id>` or `activity-<id>`.
    pub entity: String,
    /// SHA-256 (hex) of each written field's value, by schema name: values themselves are
    /// PHI and are not kept.
    pub field_digests: std::collections::BTreeMap<String, String>,
    /// When the connector wrote it.
    pub at: DateTime<Utc>,
}

/// How long a CRM write is remembered for echo suppression.
pub const ECHO_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// SHA-256 hex of a field value, as [`CrmWrite::field_digests`] holds it (values are trimmed
/// first: the CRM trims what it stores).
pub fn field_digest(value: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(value.trim().as_bytes()))
}

impl CrmWrite {
    /// A record of writing `fields` to `entity` at `at`.
    pub fn new(entity: String, fields: &[crate::crm::CrmField], at: DateTime<Utc>) -> Self {
        Self {
            entity,
            field_digests: fields
                .iter()
                .map(|f| (f.name.clone(), field_digest(&f.value)))
                .collect(),
            at,
        }
    }

    /// Whether a webhook payload's fields only echo this write: every field written has the
    /// same value in the payload (a changed value, or one the payload lacks, means somebody
    /// else changed the record).
    pub fn is_echoed_by(&self, payload: &std::collections::BTreeMap<String, String>) -> bool {
        !self.field_digests.is_empty()
            && self.field_digests.iter().all(|(name, digest)| {
                payload
                    .get(name)
                    .is_some_and(|value| &field_digest(value) == digest)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::CrmField;
    use std::collections::BTreeMap;

    #[test]
    fn an_echo_has_every_written_value_unchanged() {
        let write = CrmWrite::new(
            "lead-1".into(),
            &[
                CrmField::new("FirstName", "Casey"),
                CrmField::new("mx_MRN", "MRN20001"),
            ],
            DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        );
        let mut payload: BTreeMap<String, String> = [
            ("FirstName", "Casey "),
            ("mx_MRN", "MRN20001"),
            ("Score", "12"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert!(write.is_echoed_by(&payload));
        payload.insert("FirstName".into(), "Kasey".into());
        assert!(!write.is_echoed_by(&payload));
        payload.remove("FirstName");
        assert!(!write.is_echoed_by(&payload));
    }

    #[test]
    fn states_round_trip() {
        for s in [
            DeliveryState::Queued,
            DeliveryState::Delivering,
            DeliveryState::Retrying,
            DeliveryState::Delivered,
            DeliveryState::Parked,
            DeliveryState::Held,
        ] {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
    }
}
