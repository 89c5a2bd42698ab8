//! The audit log: who did what, when, to which record, with what outcome. Entries carry ids and
//! outcomes, never demographics.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Actor, AppointmentId, ConsentId, PatientId};

/// Which log an entry belongs to (the seed's "log type" filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogType {
    /// Consent records created and revoked.
    HieConsentChanges,
    /// "HIE Integration: Sent Appointments": each send attempt's outcome, and each collector run.
    HieSentAppointments,
    /// HL7 messages received from the EHR.
    Hl7Inbound,
    /// HL7 messages delivered to the EHR from CRM webhooks.
    CrmOutbound,
    /// Settings, channels and flows changed by administrators.
    ConfigurationChanges,
}

impl LogType {
    /// Every log type.
    pub const ALL: [LogType; 5] = [
        Self::HieConsentChanges,
        Self::HieSentAppointments,
        Self::Hl7Inbound,
        Self::CrmOutbound,
        Self::ConfigurationChanges,
    ];

    /// The log type's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HieConsentChanges => "hie_consent_changes",
            Self::HieSentAppointments => "hie_sent_appointments",
            Self::Hl7Inbound => "hl7_inbound",
            Self::CrmOutbound => "crm_outbound",
            Self::ConfigurationChanges => "configuration_changes",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Success,
    /// Deliberately not done (e.g. no valid consent).
    Skipped,
    /// Failed.
    Error,
}

impl Outcome {
    /// The outcome's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Skipped => "skipped",
            Self::Error => "error",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "success" => Some(Self::Success),
            "skipped" => Some(Self::Skipped),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// The channel an `hl7_inbound` or `crm_outbound` entry is about (`detail.channel_id`);
/// `None` for other log types. The audit log indexes it for [`AuditQuery::channel_id`].
pub fn entry_channel(entry: &AuditEntry) -> Option<&str> {
    matches!(entry.log_type, LogType::Hl7Inbound | LogType::CrmOutbound)
        .then(|| entry.detail.get("channel_id")?.as_str())
        .flatten()
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unique, time-ordered id (UUIDv7).
    pub entry_id: String,
    /// Which log.
    pub log_type: LogType,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Who did it.
    pub actor: Actor,
    /// What was done, e.g. `consent.created`, `consent.revoked`, `appointment.sent`.
    pub action: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The patient concerned, if any.
    pub patient_id: Option<PatientId>,
    /// The appointment concerned, if any.
    pub appointment_id: Option<AppointmentId>,
    /// The consent record concerned, if any.
    pub consent_id: Option<ConsentId>,
    /// Further facts (ids, statuses, counts, error kinds); never demographics.
    pub detail: serde_json::Value,
}

impl AuditEntry {
    /// A new entry with a fresh id and no subject; add subjects with the `with_*` methods.
    pub fn new(
        log_type: LogType,
        at: DateTime<Utc>,
        actor: Actor,
        action: &str,
        outcome: Outcome,
    ) -> Self {
        Self {
            entry_id: uuid::Uuid::now_v7().to_string(),
            log_type,
            occurred_at: at,
            actor,
            action: action.to_owned(),
            outcome,
            patient_id: None,
            appointment_id: None,
            consent_id: None,
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    /// Names the patient concerned.
    pub fn with_patient(mut self, id: &PatientId) -> Self {
        self.patient_id = Some(id.clone());
        self
    }

    /// Names the appointment concerned.
    pub fn with_appointment(mut self, id: &AppointmentId) -> Self {
        self.appointment_id = Some(id.clone());
        self
    }

    /// Names the consent record concerned.
    pub fn with_consent(mut self, id: &ConsentId) -> Self {
        self.consent_id = Some(id.clone());
        self
    }

    /// Sets the detail object.
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Which entries to list. All filters combine; results are newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this log.
    pub log_type: Option<LogType>,
    /// Only entries at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Only entries about this patient.
    pub patient_id: Option<PatientId>,
    /// Only entries about this appointment.
    pub appointment_id: Option<AppointmentId>,
    /// Only entries with this outcome.
    pub outcome: Option<Outcome>,
    /// Only entries about this channel (`hl7_inbound` and `crm_outbound` entries name theirs in
    /// `detail.channel_id`); callers pair it with one of those log types.
    pub channel_id: Option<crate::flow::ChannelId>,
    /// At most this many entries (1..=500).
    pub limit: usize,
    /// Continue after the page that returned this cursor.
    pub cursor: Option<String>,
}

/// One page of results and, when more remain, the opaque cursor for the next page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The results.
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}
