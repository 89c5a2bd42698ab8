//! The inbound ledger's model: one record per HL7 message received on a channel, keyed by
//! (channel, MSH-10), so a resent message is recognised and nothing it did is done twice.
//!
//! A message's work is split into named steps (the HIE side feed, then one step per flow). Each
//! step's progress (the CRM ids it created or found) is saved as soon as it happens, so a
//! message that failed half-way (a CRM answering 500 after the lead was created) is finished by
//! its resend instead of being applied twice. A record is `Processing` while a handler holds it
//! (with a lease, so a crashed handler's claim lapses), `Failed` after an attempt with a failed
//! step (a resend may claim it again), and `Done` once every step succeeded (a resend changes
//! nothing and gets the same ACK).
//!
//! Nothing here is PHI: control ids, channel and flow ids, CRM record ids, outcome words.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::crm::{ActivityId, LeadId};
use crate::flow::ChannelId;
use crate::{ValidationError, ValidationErrors};

mod transitions;

/// The longest MSH-10 accepted (HL7 v2.5 gives the field 20 characters; later versions 199).
pub const MAX_CONTROL_ID_LEN: usize = 199;

/// An HL7 message control id (MSH-10). Not PHI: the EHR's message sequence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ControlId(String);

impl ControlId {
    /// A control id: 1 to [`MAX_CONTROL_ID_LEN`] printable characters.
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        if value.is_empty() || value.chars().count() > MAX_CONTROL_ID_LEN {
            return Err(ValidationError::new(
                "MSH-10",
                format!("must be 1 to {MAX_CONTROL_ID_LEN} characters"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "MSH-10",
                "must not contain control characters",
            ));
        }
        Ok(Self(value))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ControlId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

crate::string_form::string_form!(ControlId, ValidationError);

/// Which inbound message: the channel it came on and its MSH-10.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InboundKey {
    /// The channel.
    pub channel_id: ChannelId,
    /// MSH-10.
    pub control_id: ControlId,
}

impl InboundKey {
    /// A key.
    pub fn new(channel_id: ChannelId, control_id: ControlId) -> Self {
        Self {
            channel_id,
            control_id,
        }
    }
}

/// Where a message's processing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundState {
    /// A handler holds the claim until `lease_until`.
    Processing,
    /// The last attempt had a failed step; a resend may claim the record again.
    Failed,
    /// Every step succeeded: a resend changes nothing.
    Done,
}

impl InboundState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundState::Processing => "processing",
            InboundState::Failed => "failed",
            InboundState::Done => "done",
        }
    }

    /// The state with this wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "processing" => Some(InboundState::Processing),
            "failed" => Some(InboundState::Failed),
            "done" => Some(InboundState::Done),
            _ => None,
        }
    }
}

/// What a flow step did to a CRM record (a lead or an activity): saved in the ledger and
/// written to the `hl7.processed` audit detail as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrmAction {
    /// The record was created.
    Created,
    /// The record was found and changed.
    Updated,
    /// The record was found and left as it was (the flow does not update it).
    Unchanged,
    /// The record was not found, and the flow does not create it.
    NotFound,
    /// The flow writes nothing to this record (its sync behaviour is to do nothing).
    Skipped,
    /// The activity was skipped because the flow found no lead to attach it to.
    SkippedNoLead,
}

/// What one step (the HIE feed, or one flow) has done so far. Saved as it happens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    /// Whether the step finished (successfully, or with nothing to do).
    pub done: bool,
    /// The lead the step created or found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<LeadId>,
    /// What happened to the lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_action: Option<CrmAction>,
    /// The activity the step created or found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<ActivityId>,
    /// What happened to the activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_action: Option<CrmAction>,
    /// The CRM fields whose values were cut to their mapping's maximum length.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<String>,
}

/// The ledger's record of one inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundRecord {
    /// Which message.
    pub key: InboundKey,
    /// SHA-256 (hex) of the message as received: a different message reusing a control id is
    /// told apart from a resend.
    pub body_sha256: String,
    /// The message's event (`ADT^A04`).
    pub event: String,
    /// Where it stands.
    pub state: InboundState,
    /// Claims granted so far (the current or last attempt's number).
    pub attempts: u32,
    /// While `Processing`, when the claim lapses.
    pub lease_until: Option<DateTime<Utc>>,
    /// Progress by step name (`hie`, `flow:<flow_id>`).
    pub steps: BTreeMap<String, StepProgress>,
    /// When the message was first received.
    pub received_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
}

/// What claiming an inbound message gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundClaim {
    /// This handler may process the message; pass `record.attempts` back to `save_step` and
    /// `finish`. `record.steps` holds what earlier attempts already did.
    Granted(InboundRecord),
    /// Every step is done: answer as before, do nothing.
    AlreadyDone(InboundRecord),
    /// Another handler holds an unexpired claim.
    Busy(InboundRecord),
}

/// The name of the step that feeds the HIE side (patients, appointments, transitions).
pub const HIE_STEP: &str = "hie";

/// The name of a flow's step.
pub fn flow_step(flow_id: &crate::flow::FlowId) -> String {
    format!("flow:{flow_id}")
}

/// Validates a key's parts from text (for handlers reading MSH-10 and a path parameter).
pub fn parse_key(channel_id: &str, control_id: &str) -> Result<InboundKey, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let channel = errors.check(ChannelId::parse(channel_id));
    let control = errors.check(ControlId::parse(control_id));
    match (channel, control) {
        (Some(channel), Some(control)) if errors.is_empty() => {
            Ok(InboundKey::new(channel, control))
        }
        _ => Err(errors),
    }
}

/// A lock on one patient's search key value on a channel (the MRN in `mx_MRN` on `north-ehr`),
/// held while a flow searches the CRM for the patient's lead and may create it: two messages
/// for one new patient (an A04 and an immediate A08 on two connections) would otherwise both
/// find nothing and both create a lead. Its id holds a digest of the value, never the value
/// (an MRN), so it can be a store key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyLock(String);

/// How long a [`KeyLock`] is held at most: longer than a search and a create take with the
/// CRM client's retries, so a lapse means the holder died.
pub const KEY_LOCK_LEASE: chrono::Duration = crate::lease::KEY_LOCK;

impl KeyLock {
    /// The lock on `value` of CRM field `field` on `channel`. Values are compared as the CRM
    /// compares them (trimmed, case-insensitive), so `mrn20001` and `MRN20001 ` share a lock.
    pub fn new(channel: &ChannelId, field: &str, value: &str) -> Self {
        use sha2::Digest;
        let folded = value.trim().to_lowercase();
        let digest = hex::encode(sha2::Sha256::digest(folded.as_bytes()));
        Self(format!("{channel}|{field}|{digest}"))
    }

    /// The lock's id: `<channel>|<field>|<SHA-256 of the folded value>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A lock read back from a store by its id.
    pub fn from_id(id: impl Into<String>) -> Self {
        Self(id.into())
    }
}

impl std::fmt::Display for KeyLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_ids_are_printable_and_bounded() {
        assert!(ControlId::parse("MSG00001").is_ok());
        assert!(ControlId::parse("").is_err());
        assert!(ControlId::parse("a\rb").is_err());
        assert!(ControlId::parse("x".repeat(MAX_CONTROL_ID_LEN)).is_ok());
        assert!(ControlId::parse("x".repeat(MAX_CONTROL_ID_LEN + 1)).is_err());
    }

    #[test]
    fn steps_round_trip_through_json() {
        let progress = StepProgress {
            done: false,
            lead_id: Some(LeadId("lead-1".into())),
            lead_action: Some(CrmAction::Created),
            activity_id: None,
            activity_action: None,
            truncated: vec!["mx_Race".into()],
        };
        let text = serde_json::to_string(&progress).unwrap();
        assert!(text.contains(r#""lead_action":"created""#), "{text}");
        assert_eq!(
            serde_json::from_str::<StepProgress>(&text).unwrap(),
            progress
        );
    }
}
