use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{Actor, ConsentId, PatientId};

/// How a consent record came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// Entered by clinic staff.
    Staff,
    /// Given by the patient through the portal.
    Portal,
    /// Created automatically at registration because Opt-In By Default is on.
    OptInDefault,
}

impl ConsentSource {
    /// The source's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Portal => "portal",
            Self::OptInDefault => "opt_in_default",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "staff" => Some(Self::Staff),
            "portal" => Some(Self::Portal),
            "opt_in_default" => Some(Self::OptInDefault),
            _ => None,
        }
    }
}

/// The revocation of a consent record: the only change a record ever undergoes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// When it was revoked.
    pub at: DateTime<Utc>,
    /// Who revoked it.
    pub by: Actor,
    /// Why, in the caller's words (not logged).
    pub reason: Option<String>,
}

/// One consent record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The record's id.
    pub consent_id: ConsentId,
    /// Whose consent.
    pub patient_id: PatientId,
    /// Creation order within the patient, from 1. The record with the highest `seq` is the latest.
    pub seq: u64,
    /// First day the consent is in force (clinic time zone).
    pub given_on: NaiveDate,
    /// First day the consent is no longer in force (clinic time zone).
    pub expires_on: NaiveDate,
    /// How it came to be.
    pub source: ConsentSource,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// Who recorded it.
    pub created_by: Actor,
    /// Set once, when revoked.
    pub revocation: Option<Revocation>,
}

impl Consent {
    /// True once revoked.
    pub fn is_revoked(&self) -> bool {
        self.revocation.is_some()
    }
}

/// What a caller may choose when giving consent; both dates default (today, today +
/// `consent_expire_days`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// `YYYY-MM-DD`; defaults to today in the clinic's time zone.
    pub given_on: Option<String>,
    /// `YYYY-MM-DD`; defaults to `given_on` + `consent_expire_days`.
    pub expires_on: Option<String>,
}
