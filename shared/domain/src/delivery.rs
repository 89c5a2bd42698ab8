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

mod transitions;

pub use transitions::{HELD_OUTCOME, NOT_CURRENT};

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
    /// Every state, in the order of the life cycle.
    pub const ALL: [DeliveryState; 6] = [
        DeliveryState::Queued,
        DeliveryState::Delivering,
        DeliveryState::Retrying,
        DeliveryState::Delivered,
        DeliveryState::Parked,
        DeliveryState::Held,
    ];

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
        Self::ALL.into_iter().find(|s| s.as_str() == text)
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

impl Delivery {
    /// A new delivery of `message` (MSH-10 `control_id`, MSH-9 `event`) on `route`, accepted
    /// at `now`: queued, with no attempt, lease or outcome yet.
    pub fn queued(
        delivery_id: DeliveryId,
        route: DeliveryRoute,
        control_id: ControlId,
        event: String,
        message: Phi<String>,
        now: DateTime<Utc>,
    ) -> Self {
        let DeliveryRoute {
            channel_id,
            flow_id,
            group,
        } = route;
        Self {
            delivery_id,
            channel_id,
            flow_id,
            group,
            control_id,
            event,
            message,
            state: DeliveryState::Queued,
            attempts: 0,
            last_outcome: None,
            lease_until: None,
            next_attempt_at: None,
            held_behind: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Where a new delivery goes and in which ordering group (see [`Delivery::queued`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRoute {
    /// The channel it goes out on.
    pub channel_id: ChannelId,
    /// The flow that built it.
    pub flow_id: FlowId,
    /// The patient's ordering group (`lead-<ProspectID>`).
    pub group: String,
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
///
/// It holds the record as the CRM had it right after the write (read back from the CRM), not
/// merely what the connector wrote: a webhook is an echo only if it shows that very state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmWrite {
    /// `lead-<id>` or `activity-<id>`.
    pub entity: String,
    /// SHA-256 (hex) of each field's value of the record right after the write, by schema
    /// name (fields the CRM returned empty are left out): values themselves are PHI and are
    /// not kept.
    pub field_digests: std::collections::BTreeMap<String, String>,
    /// The CRM user the record's `ModifiedBy` named right after the write: the connector's
    /// API user. `None` when the CRM did not say; such a write suppresses nothing.
    pub modified_by: Option<String>,
    /// When the connector wrote it.
    pub at: DateTime<Utc>,
}

/// How long a CRM write is remembered for echo suppression.
pub const ECHO_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// The CRM's field naming who last changed a record (LeadSquared's `ModifiedBy`).
pub const MODIFIED_BY: &str = "ModifiedBy";

/// SHA-256 hex of a field value, as [`CrmWrite::field_digests`] holds it (values are trimmed
/// first: the CRM trims what it stores). A phone number is digested in one form, so
/// LeadSquared's stored `+1-5550100123` and the E.164 `+15550100123` compare equal (see
/// [`crate::flow::phone::comparable`]).
pub fn field_digest(value: &str) -> String {
    use sha2::Digest;
    let value = value.trim();
    let phone = crate::flow::phone::comparable(value);
    let value = phone.as_deref().unwrap_or(value);
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

/// Whether a webhook is only the echo of a connector write, and if not, why not. Every
/// variant but [`EchoCheck::Echo`] means the webhook is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EchoCheck {
    /// The webhook carries nothing but the connector's own write: its `ModifiedBy` is the
    /// connector's CRM user and every field the flows map equals the record as the write left
    /// it.
    Echo,
    /// The connector wrote the record not at all within [`ECHO_WINDOW`].
    NoRecentWrite,
    /// The connector's CRM user is not known for the write (the read-back did not name one).
    WriterUnknown,
    /// The webhook does not say who changed the record.
    NoModifiedBy,
    /// Somebody other than the connector changed the record.
    OtherUser,
    /// The connector's user, but these mapped fields differ from the record as the write left
    /// it (names only).
    FieldsChanged(Vec<String>),
}

impl EchoCheck {
    /// A short, PHI-free word for audit entries.
    pub fn word(&self) -> &'static str {
        match self {
            EchoCheck::Echo => "echo",
            EchoCheck::NoRecentWrite => "no_recent_write",
            EchoCheck::WriterUnknown => "writer_unknown",
            EchoCheck::NoModifiedBy => "no_modified_by",
            EchoCheck::OtherUser => "modified_by_another_user",
            EchoCheck::FieldsChanged(_) => "fields_changed",
        }
    }
}

impl CrmWrite {
    /// A record of the connector's write to `entity` at `at`: `state` is the record as read
    /// back from the CRM right after the write (its `ModifiedBy` names the connector's user).
    pub fn new(entity: String, state: &[crate::crm::CrmField], at: DateTime<Utc>) -> Self {
        let modified_by = state
            .iter()
            .find(|f| f.name == MODIFIED_BY && !f.value.trim().is_empty())
            .map(|f| f.value.trim().to_owned());
        Self {
            entity,
            field_digests: state
                .iter()
                .filter(|f| !f.value.trim().is_empty())
                .map(|f| (f.name.clone(), field_digest(&f.value)))
                .collect(),
            modified_by,
            at,
        }
    }

    /// Checks a webhook payload against this write. `mapped` names the fields the flows that
    /// would run read from the payload. An echo needs both: the payload's `ModifiedBy` is the
    /// connector's user, and each mapped field holds what the record held right after the
    /// write (a field absent or empty on both sides is equal). Anything else is a change
    /// somebody made, and goes to the EHR: a repeated message is harmless, a lost one is not.
    pub fn check<'a>(
        &self,
        payload: &std::collections::BTreeMap<String, String>,
        mapped: impl IntoIterator<Item = &'a str>,
    ) -> EchoCheck {
        let Some(writer) = &self.modified_by else {
            return EchoCheck::WriterUnknown;
        };
        let Some(by) = payload
            .get(MODIFIED_BY)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        else {
            return EchoCheck::NoModifiedBy;
        };
        if !by.eq_ignore_ascii_case(writer) {
            return EchoCheck::OtherUser;
        }
        let mut changed: Vec<String> = mapped
            .into_iter()
            .filter(|name| {
                let sent = payload
                    .get(*name)
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .map(field_digest);
                sent.as_ref() != self.field_digests.get(*name)
            })
            .map(str::to_owned)
            .collect();
        if changed.is_empty() {
            EchoCheck::Echo
        } else {
            changed.sort();
            changed.dedup();
            EchoCheck::FieldsChanged(changed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::CrmField;
    use std::collections::BTreeMap;

    const CONNECTOR: &str = "8f1c0000-0000-4000-8000-00000000c0de";

    fn payload(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn write_after_create() -> CrmWrite {
        CrmWrite::new(
            "lead-1".into(),
            &[
                CrmField::new("FirstName", "Casey"),
                CrmField::new("mx_MRN", "MRN20001"),
                CrmField::new("Phone", ""),
                CrmField::new(MODIFIED_BY, CONNECTOR),
            ],
            DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        )
    }

    #[test]
    fn phone_values_compare_in_leadsquareds_stored_form_and_e164() {
        assert_eq!(field_digest("+1-5550100123"), field_digest("+15550100123"));
        assert_eq!(
            field_digest(" +44-2079460958"),
            field_digest("+442079460958")
        );
        assert_ne!(field_digest("+1-5550100123"), field_digest("+15550100124"));
        // Only phone-shaped values are folded: other text compares exactly.
        assert_ne!(field_digest("2024-01-10"), field_digest("20240110"));
        assert_ne!(field_digest("+1-5 apples"), field_digest("+15apples"));
    }

    #[test]
    fn an_echo_is_the_connectors_user_showing_the_state_it_left() {
        let write = write_after_create();
        let echo = payload(&[
            ("FirstName", "Casey "),
            ("mx_MRN", "MRN20001"),
            ("Phone", ""),
            ("Score", "12"),
            (MODIFIED_BY, CONNECTOR),
        ]);
        let mapped = ["FirstName", "mx_MRN", "Phone"];
        assert_eq!(write.check(&echo, mapped), EchoCheck::Echo);

        // A person set the phone (a field the connector never wrote): not an echo.
        let mut edited = echo.clone();
        edited.insert("Phone".into(), "+1-5550100123".into());
        edited.insert(MODIFIED_BY.into(), "person-7".into());
        assert_eq!(write.check(&edited, mapped), EchoCheck::OtherUser);
        // Even under the connector's user, a mapped field that differs is a change.
        edited.insert(MODIFIED_BY.into(), CONNECTOR.into());
        assert_eq!(
            write.check(&edited, mapped),
            EchoCheck::FieldsChanged(vec!["Phone".into()])
        );
        // Who changed it must be said.
        let mut anonymous = echo.clone();
        anonymous.remove(MODIFIED_BY);
        assert_eq!(write.check(&anonymous, mapped), EchoCheck::NoModifiedBy);
        // Fields no flow maps do not matter.
        let mut scored = echo.clone();
        scored.insert("Score".into(), "99".into());
        assert_eq!(write.check(&scored, mapped), EchoCheck::Echo);
    }

    #[test]
    fn a_write_without_its_writer_suppresses_nothing() {
        let write = CrmWrite::new(
            "lead-1".into(),
            &[CrmField::new("FirstName", "Casey")],
            DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        );
        assert_eq!(write.modified_by, None);
        let echo = payload(&[("FirstName", "Casey"), (MODIFIED_BY, CONNECTOR)]);
        assert_eq!(write.check(&echo, ["FirstName"]), EchoCheck::WriterUnknown);
    }

    #[test]
    fn states_round_trip() {
        for s in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
    }
}
