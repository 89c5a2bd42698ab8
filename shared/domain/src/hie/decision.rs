use chrono::NaiveDate;
use serde::Serialize;

use crate::ConsentId;
use crate::consent::{Consent, Validity, validity};

/// Why a transitioned appointment is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The patient has no consent record.
    NoConsent,
    /// The latest record has expired.
    Expired,
    /// The latest record was revoked.
    Revoked,
    /// The latest record is not in force yet.
    FutureDated,
    /// The appointment has been transitioned again since this work item was made; the newer
    /// transition is sent instead.
    Superseded,
    /// The patient record is missing (the appointment names an unknown patient).
    UnknownPatient,
}

impl SkipReason {
    /// The reason's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoConsent => "no_consent",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::FutureDated => "future_dated",
            Self::Superseded => "superseded",
            Self::UnknownPatient => "unknown_patient",
        }
    }
}

/// Whether a patient's transitioned appointment may go to the HIE today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Send: the latest consent is Active.
    Send {
        /// The consent that allows it.
        consent_id: ConsentId,
    },
    /// Do not send.
    Skip {
        /// Why.
        reason: SkipReason,
        /// The latest consent record, if any.
        consent_id: Option<ConsentId>,
    },
}

/// Decides from the patient's latest consent record alone (seed 000: only the latest record
/// counts).
pub fn decide(latest: Option<&Consent>, today: NaiveDate) -> Decision {
    match validity(latest, today) {
        Validity::Valid { consent_id } => Decision::Send { consent_id },
        Validity::NoConsent => Decision::Skip {
            reason: SkipReason::NoConsent,
            consent_id: None,
        },
        Validity::Expired { consent_id } => Decision::Skip {
            reason: SkipReason::Expired,
            consent_id: Some(consent_id),
        },
        Validity::Revoked { consent_id } => Decision::Skip {
            reason: SkipReason::Revoked,
            consent_id: Some(consent_id),
        },
        Validity::FutureDated { consent_id } => Decision::Skip {
            reason: SkipReason::FutureDated,
            consent_id: Some(consent_id),
        },
    }
}

impl Decision {
    /// True for `Send`.
    pub fn is_send(&self) -> bool {
        matches!(self, Self::Send { .. })
    }
}
