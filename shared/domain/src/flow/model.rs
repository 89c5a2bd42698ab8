//! The flow model (seed 003, "Create ... Connector Flow" and "Configure the Connector").
//!
//! A [`Flow`] moves one HL7 event type ([`Hl7EventType`], `ADT^A04`) one way ([`Direction`])
//! for one CRM entity ([`Entity`]). EHR -> CRM flows capture leads with a [`SyncBehaviour`]
//! and, for activity flows, the lead's activity with its own; CRM -> EHR flows are triggered
//! by a CRM webhook ([`WebhookEvent`]) and build an HL7 message from the flow's template.
//! Leads are found by search keys ([`SearchKey`]); the MRN field must be one of them.
//!
//! Values are built by [`crate::flow::FlowInput`]'s validation; the types below only hold
//! valid values (`Deserialize` is for the store, which holds what validation produced).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use connector_hl7::{Message, Path};
use serde::{Deserialize, Serialize};

use super::channel::{Channel, ChannelId};
use super::transform::Transform;
use crate::{ValidationError, ValidationErrors};

crate::ids::external_id!(
    /// A flow's identifier.
    FlowId,
    "flow_id"
);

/// The pseudo-field of activity mappings that sets the activity's note (LeadSquared's
/// `ActivityNote`).
pub const ACTIVITY_NOTE_FIELD: &str = "ActivityNote";
/// The pseudo-field of activity mappings that sets when the activity happened (LeadSquared's
/// `ActivityDateTime`). In EHR -> CRM flows its value must be an HL7 date/time.
pub const ACTIVITY_DATE_TIME_FIELD: &str = "ActivityDateTime";
/// LeadSquared's lead source field, set from [`Flow::lead_source`] when a lead is created.
pub const LEAD_SOURCE_FIELD: &str = "Source";
/// Schema names a mapping may never write: LeadSquared's search parameter and lead ids.
pub const RESERVED_FIELDS: [&str; 3] = ["SearchBy", "ProspectID", "ProspectAutoId"];

/// Which way a flow moves data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// HL7 from the EHR creates or updates CRM leads and activities.
    EhrToCrm,
    /// A CRM webhook becomes an HL7 message to the EHR.
    CrmToEhr,
}

impl Direction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::EhrToCrm => "ehr_to_crm",
            Direction::CrmToEhr => "crm_to_ehr",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "ehr_to_crm" => Some(Direction::EhrToCrm),
            "crm_to_ehr" => Some(Direction::CrmToEhr),
            _ => None,
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CRM entity a flow (or a mapping) is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// A lead (the patient).
    Lead,
    /// An activity on a lead (an appointment).
    Activity,
}

impl Entity {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Lead => "lead",
            Entity::Activity => "activity",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "lead" => Some(Entity::Lead),
            "activity" => Some(Entity::Activity),
            _ => None,
        }
    }
}

/// What an EHR -> CRM flow does with a record (seed 003, "Select Sync Behaviour").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncBehaviour {
    /// Create records that do not exist and update those that do.
    Capture,
    /// Create records that do not exist; leave existing ones alone.
    CreateOnly,
    /// Update records that exist; create none.
    UpdateOnly,
    /// Neither create nor update.
    DoNothing,
}

impl SyncBehaviour {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncBehaviour::Capture => "capture",
            SyncBehaviour::CreateOnly => "create_only",
            SyncBehaviour::UpdateOnly => "update_only",
            SyncBehaviour::DoNothing => "do_nothing",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "capture" => Some(SyncBehaviour::Capture),
            "create_only" => Some(SyncBehaviour::CreateOnly),
            "update_only" => Some(SyncBehaviour::UpdateOnly),
            "do_nothing" => Some(SyncBehaviour::DoNothing),
            _ => None,
        }
    }

    /// Whether a missing record is created.
    pub fn creates(self) -> bool {
        matches!(self, SyncBehaviour::Capture | SyncBehaviour::CreateOnly)
    }

    /// Whether an existing record is updated.
    pub fn updates(self) -> bool {
        matches!(self, SyncBehaviour::Capture | SyncBehaviour::UpdateOnly)
    }
}

/// The CRM webhook that triggers a CRM -> EHR flow (LeadSquared `WebhookEvent` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEvent {
    /// A lead was created (code 3).
    LeadCreate,
    /// A lead was updated (code 6).
    LeadUpdate,
    /// A lead activity was created (code 2).
    ActivityCreate,
    /// A lead activity was updated (code 15).
    ActivityUpdate,
}

impl WebhookEvent {
    /// LeadSquared's `WebhookEvent` code.
    pub fn code(self) -> i32 {
        match self {
            WebhookEvent::LeadCreate => 3,
            WebhookEvent::LeadUpdate => 6,
            WebhookEvent::ActivityCreate => 2,
            WebhookEvent::ActivityUpdate => 15,
        }
    }

    /// The event with a LeadSquared code, if it is one of the four.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            3 => Some(WebhookEvent::LeadCreate),
            6 => Some(WebhookEvent::LeadUpdate),
            2 => Some(WebhookEvent::ActivityCreate),
            15 => Some(WebhookEvent::ActivityUpdate),
            _ => None,
        }
    }

    /// The entity the event is about.
    pub fn entity(self) -> Entity {
        match self {
            WebhookEvent::LeadCreate | WebhookEvent::LeadUpdate => Entity::Lead,
            WebhookEvent::ActivityCreate | WebhookEvent::ActivityUpdate => Entity::Activity,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::LeadCreate => "lead_create",
            WebhookEvent::LeadUpdate => "lead_update",
            WebhookEvent::ActivityCreate => "activity_create",
            WebhookEvent::ActivityUpdate => "activity_update",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [
            WebhookEvent::LeadCreate,
            WebhookEvent::LeadUpdate,
            WebhookEvent::ActivityCreate,
            WebhookEvent::ActivityUpdate,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

/// An HL7 event type: message code and trigger event, `ADT^A04`, `SIU^S12`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hl7EventType(String);

impl Hl7EventType {
    /// Parses `[A-Z0-9]{3}^[A-Z0-9]{3}`.
    ///
    /// # Errors
    /// A [`ValidationError`] on `event_type`.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let b = text.as_bytes();
        let part = |s: &[u8]| {
            s.iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        };
        if b.len() == 7 && b[3] == b'^' && part(&b[..3]) && part(&b[4..]) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::new(
                "event_type",
                "must be a message code and trigger event such as ADT^A04 or SIU^S12",
            ))
        }
    }

    /// The message code (`ADT`).
    pub fn message_code(&self) -> &str {
        self.0.get(..3).unwrap_or_default()
    }

    /// The trigger event (`A04`).
    pub fn trigger_event(&self) -> &str {
        self.0.get(4..).unwrap_or_default()
    }

    /// The text (`ADT^A04`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether MSH-9.1 and MSH-9.2 of a message are this event type.
    pub fn matches(&self, message: &Message<'_>) -> bool {
        message.message_code().as_deref() == Some(self.message_code())
            && message.trigger_event().as_deref() == Some(self.trigger_event())
    }
}

impl std::fmt::Display for Hl7EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

crate::string_form::string_form!(Hl7EventType, ValidationError);

/// A CRM field's schema name (LeadSquared: `FirstName`, `EmailAddress`, `mx_MRN`,
/// `mx_Custom_1`): a letter, then letters, digits and `_`, at most 100; custom fields start
/// with lower-case `mx_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CrmFieldName(String);

impl CrmFieldName {
    /// Validates a schema name. The error's field is `field`.
    ///
    /// # Errors
    /// A [`ValidationError`] naming the rule.
    pub fn parse_for(field: &str, text: &str) -> Result<Self, ValidationError> {
        let b = text.as_bytes();
        if b.is_empty() || b.len() > 100 {
            return Err(ValidationError::new(field, "must be 1 to 100 characters"));
        }
        if !b[0].is_ascii_alphabetic() || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            return Err(ValidationError::new(
                field,
                "must be a CRM schema name: a letter, then letters, digits and '_'",
            ));
        }
        if b.len() >= 3 && b[..3].eq_ignore_ascii_case(b"mx_") && &b[..3] != b"mx_" {
            return Err(ValidationError::new(
                field,
                "custom field names start with lower-case mx_",
            ));
        }
        if b == b"mx_" {
            return Err(ValidationError::new(field, "needs a name after mx_"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is a custom field (`mx_...`).
    pub fn is_custom(&self) -> bool {
        self.0.starts_with("mx_")
    }
}

impl std::fmt::Display for CrmFieldName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CrmFieldName {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        Self::parse_for("crm_field", &s)
    }
}

impl From<CrmFieldName> for String {
    fn from(n: CrmFieldName) -> String {
        n.0
    }
}

impl PartialEq<str> for CrmFieldName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// An E.164 country calling code (`1` for the US and Canada), shown as `+1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(u16);

/// The two-digit calling codes; all others are one digit (1, 7) or three.
const TWO_DIGIT_CODES: [u16; 44] = [
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56,
    57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
];

impl CountryCode {
    /// Parses `1`, `+1`, `44`, `+353`: one to three digits forming a well-formed calling code
    /// (calling codes are prefix-free: `1` and `7` stand alone, two-digit codes are a fixed
    /// list, and a three-digit code never starts with one of them).
    ///
    /// # Errors
    /// A [`ValidationError`] on `default_country_code`.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let err = || {
            ValidationError::new(
                "default_country_code",
                "must be a country calling code such as 1 or +44",
            )
        };
        let digits = text.trim().strip_prefix('+').unwrap_or(text.trim());
        if digits.is_empty()
            || digits.len() > 3
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(err());
        }
        let n: u16 = digits.parse().map_err(|_| err())?;
        let ok = match digits.len() {
            1 => n == 1 || n == 7,
            2 => TWO_DIGIT_CODES.contains(&n),
            _ => {
                let head = n / 10;
                !matches!(n / 100, 1 | 7) && !TWO_DIGIT_CODES.contains(&head)
            }
        };
        if ok { Ok(Self(n)) } else { Err(err()) }
    }

    /// The code as a number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl std::fmt::Display for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "+{}", self.0)
    }
}

crate::string_form::string_form!(CountryCode, ValidationError, display);

/// A CRM field and the HL7 position that holds the same value: a lead search key (the MRN
/// in `PID-3.1` and `mx_MRN`), or the key that finds an activity (`SCH-1.1` and
/// `mx_Custom_1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchKey {
    /// The CRM field (unique in the CRM, for lead search keys).
    pub crm_field: CrmFieldName,
    /// The HL7 position.
    #[serde(with = "super::path_serde")]
    pub hl7_path: Path,
}

/// One field mapping between an HL7 position and a CRM field. In EHR -> CRM flows the value
/// is read at `hl7_path`, transformed, and written to `crm_field`; in CRM -> EHR flows the
/// other way round. Transforms run in order, from the flow's source to its destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// The HL7 position (`PID-5.1`).
    #[serde(with = "super::path_serde")]
    pub hl7_path: Path,
    /// The CRM schema name (`FirstName`), or for activities `ActivityNote`/`ActivityDateTime`.
    pub crm_field: CrmFieldName,
    /// Whether the CRM field is the lead's or the activity's.
    pub target: Entity,
    /// Applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<Transform>,
    /// When true, a message without a value here fails; otherwise the field is left out.
    #[serde(default)]
    pub required: bool,
    /// The CRM field's maximum length in characters (EHR -> CRM); `None` is
    /// [`Mapping::DEFAULT_MAX_LENGTH`] (or [`Mapping::DEFAULT_NOTE_MAX_LENGTH`] for
    /// `ActivityNote`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// What a longer value does.
    #[serde(default, skip_serializing_if = "TooLong::is_reject")]
    pub on_too_long: TooLong,
}

impl Mapping {
    /// The length limit of a CRM field without `max_length`: LeadSquared text fields hold a
    /// few hundred characters at most (each field's `MaxLength` is set by the CRM admin).
    pub const DEFAULT_MAX_LENGTH: u32 = 200;
    /// The length limit of `ActivityNote` without `max_length`.
    pub const DEFAULT_NOTE_MAX_LENGTH: u32 = 2000;
    /// The largest `max_length` a mapping may set.
    pub const MAX_MAX_LENGTH: u32 = 32_000;

    /// The longest value (in characters) this mapping writes to the CRM.
    pub fn max_length(&self) -> usize {
        let default = if self.crm_field.as_str() == ACTIVITY_NOTE_FIELD {
            Self::DEFAULT_NOTE_MAX_LENGTH
        } else {
            Self::DEFAULT_MAX_LENGTH
        };
        self.max_length.unwrap_or(default) as usize
    }
}

/// What an EHR -> CRM mapping does with a value longer than its CRM field's maximum length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TooLong {
    /// The message fails (AE, ERR 102 at the mapping's HL7 field); nothing is written.
    #[default]
    Reject,
    /// The value is cut to the maximum length, and the audit entry names the field.
    Truncate,
}

impl TooLong {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TooLong::Reject => "reject",
            TooLong::Truncate => "truncate",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "reject" => Some(TooLong::Reject),
            "truncate" => Some(TooLong::Truncate),
            _ => None,
        }
    }

    fn is_reject(&self) -> bool {
        *self == TooLong::Reject
    }
}

/// An HL7 message template (seed 003, "HL7 Message Template"). Clinics paste sample messages,
/// sometimes real ones, so its `Debug` shows only its size.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Template(String);

impl Template {
    /// Wraps template text (validation happens in [`crate::flow::FlowInput`]).
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The ER7 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The template parsed.
    ///
    /// # Errors
    /// As [`Message::parse`] (a validated flow's template always parses).
    pub fn parse(&self) -> Result<Message<'_>, connector_hl7::ParseError> {
        Message::parse(&self.0)
    }
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Template(<{} bytes>)", self.0.len())
    }
}

impl From<String> for Template {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Template {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// A connector flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// Its identifier.
    pub flow_id: FlowId,
    /// Display name ("Flow Name").
    pub name: String,
    /// "Flow Description".
    pub description: String,
    /// The channel it uses ("Select Channel").
    pub channel_id: ChannelId,
    /// "Flow Type".
    pub direction: Direction,
    /// "Select Entity".
    pub entity: Entity,
    /// "HL7 Event Type".
    pub event_type: Hl7EventType,
    /// "Select Sync Behaviour - Lead" (EHR -> CRM; for activity flows, what happens to the
    /// lead the activity is tagged to). CRM -> EHR flows do not consult it (their webhook
    /// event decides) and hold `capture`.
    pub lead_sync: SyncBehaviour,
    /// "Select Sync Behaviour - Activity": EHR -> CRM activity flows only.
    pub activity_sync: Option<SyncBehaviour>,
    /// The activity type (LeadSquared `ActivityEvent` code): activity flows only.
    pub activity_type: Option<i32>,
    /// How an activity is found for update (and, with `create_only`, found to exist): the
    /// CRM activity field holding the EHR's appointment id and where the id is in HL7.
    pub activity_match: Option<SearchKey>,
    /// "Lead Source": written to LeadSquared's `Source` when a lead is created
    /// (EHR -> CRM only).
    pub lead_source: Option<String>,
    /// "Select Default Country Code": added to phone numbers without one.
    pub default_country_code: Option<CountryCode>,
    /// "Select Time Zone": HL7 date/times without an offset are read in it, and CRM -> EHR
    /// messages are stamped in it.
    #[serde(with = "super::tz_serde")]
    pub time_zone: Tz,
    /// "Primary Lead Capture Search By Criteria".
    pub primary_search: SearchKey,
    /// "Lead Capture Secondary Search By Criteria".
    pub secondary_search: Option<SearchKey>,
    /// The CRM field holding the MRN: the `crm_field` of the primary or the secondary search
    /// key (seed 003: the MRN must be a search key).
    pub mrn_crm_field: CrmFieldName,
    /// "HL7 Message Template": a sample message of `event_type`; CRM -> EHR messages are
    /// built from it.
    pub template: Template,
    /// "Lead/Activity Mapping".
    pub mappings: Vec<Mapping>,
    /// "Select the LSQ Webhook Event": CRM -> EHR flows only.
    pub webhook_event: Option<WebhookEvent>,
    /// Whether the flow runs.
    pub enabled: bool,
    /// When the flow was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Flow {
    /// The search keys in the order they are tried.
    pub fn search_keys(&self) -> impl Iterator<Item = &SearchKey> {
        std::iter::once(&self.primary_search).chain(self.secondary_search.as_ref())
    }

    /// Whether this enabled EHR -> CRM flow maps `message` (its MSH-9 is the event type).
    pub fn handles(&self, message: &Message<'_>) -> bool {
        self.enabled && self.direction == Direction::EhrToCrm && self.event_type.matches(message)
    }

    /// Whether `channel` can carry this flow: the flow must name it, and a CRM -> EHR flow
    /// needs the channel's outbound delivery and CRM webhook settings.
    ///
    /// # Errors
    /// Every missing piece, on `channel_id`.
    pub fn check_channel(&self, channel: &Channel) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if channel.channel_id != self.channel_id {
            errors.push(ValidationError::new(
                "channel_id",
                "is not the channel given",
            ));
        }
        if self.direction == Direction::CrmToEhr {
            if channel.outbound.is_none() {
                errors.push(ValidationError::new(
                    "channel_id",
                    "crm_to_ehr flows need a channel with outbound delivery",
                ));
            }
            if channel.crm_webhook.is_none() {
                errors.push(ValidationError::new(
                    "channel_id",
                    "crm_to_ehr flows need a channel with crm_webhook settings",
                ));
            }
        }
        errors.finish(|| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types() {
        let e = Hl7EventType::parse("SIU^S12").unwrap();
        assert_eq!((e.message_code(), e.trigger_event()), ("SIU", "S12"));
        for bad in [
            "ADT^A4",
            "adt^a04",
            "ADT|A04",
            "ADT^A04^ADT_A01",
            "",
            "ÄDT^A04",
        ] {
            assert!(Hl7EventType::parse(bad).is_err(), "{bad}");
        }
        let m = Message::parse("MSH|^~\\&|A|B|C|D|20240101||SIU^S12^SIU_S12|1|P|2.5").unwrap();
        assert!(e.matches(&m));
        assert!(!Hl7EventType::parse("SIU^S13").unwrap().matches(&m));
    }

    #[test]
    fn crm_field_names() {
        for ok in [
            "FirstName",
            "mx_MRN",
            "mx_Custom_1",
            "EmailAddress",
            "Phone",
        ] {
            assert!(CrmFieldName::parse_for("f", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "_x",
            "First Name",
            "MX_MRN",
            "Mx_x",
            "mx_",
            "a-b",
            "é",
        ] {
            assert!(CrmFieldName::parse_for("f", bad).is_err(), "{bad}");
        }
        assert!(CrmFieldName::parse_for("f", &"a".repeat(101)).is_err());
    }

    #[test]
    fn country_codes() {
        for (text, n) in [("1", 1), ("+1", 1), (" +44 ", 44), ("353", 353), ("+7", 7)] {
            assert_eq!(CountryCode::parse(text).unwrap().get(), n, "{text}");
        }
        for bad in [
            "", "+", "0", "01", "12", "71", "441", "1234", "+1-", "a", "28",
        ] {
            assert!(CountryCode::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(CountryCode::parse("1").unwrap().to_string(), "+1");
    }

    #[test]
    fn webhook_codes() {
        for e in [
            WebhookEvent::LeadCreate,
            WebhookEvent::LeadUpdate,
            WebhookEvent::ActivityCreate,
            WebhookEvent::ActivityUpdate,
        ] {
            assert_eq!(WebhookEvent::from_code(e.code()), Some(e));
            assert_eq!(WebhookEvent::parse(e.as_str()), Some(e));
        }
        assert_eq!(WebhookEvent::LeadCreate.code(), 3);
        assert_eq!(WebhookEvent::ActivityUpdate.code(), 15);
        assert_eq!(WebhookEvent::from_code(4), None);
    }

    #[test]
    fn sync_behaviour_wire_names() {
        for s in [
            SyncBehaviour::Capture,
            SyncBehaviour::CreateOnly,
            SyncBehaviour::UpdateOnly,
            SyncBehaviour::DoNothing,
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(SyncBehaviour::parse(s.as_str()), Some(s));
        }
        assert!(SyncBehaviour::Capture.creates() && SyncBehaviour::Capture.updates());
        assert!(!SyncBehaviour::UpdateOnly.creates() && !SyncBehaviour::DoNothing.updates());
    }
}
