//! The JSON shapes the consent API answers with.

use chrono::{DateTime, NaiveDate, Utc};
use connector_domain::consent::{Consent, ConsentHistory, ConsentSource, ConsentStatus, status};
use connector_domain::patient::Patient;
use connector_domain::{Actor, ConsentId, PatientId};
use serde::Serialize;

/// A consent record with its computed status.
#[derive(Debug, Serialize)]
pub(crate) struct ConsentView {
    consent_id: ConsentId,
    patient_id: PatientId,
    given_on: NaiveDate,
    expires_on: NaiveDate,
    source: ConsentSource,
    created_at: DateTime<Utc>,
    created_by: Actor,
    revoked_at: Option<DateTime<Utc>>,
    revoked_by: Option<Actor>,
    revoke_reason: Option<String>,
    status: ConsentStatus,
}

impl ConsentView {
    pub(crate) fn new(consent: Consent, status: ConsentStatus) -> Self {
        let (revoked_at, revoked_by, revoke_reason) = match consent.revocation {
            Some(r) => (Some(r.at), Some(r.by), r.reason),
            None => (None, None, None),
        };
        Self {
            consent_id: consent.consent_id,
            patient_id: consent.patient_id,
            given_on: consent.given_on,
            expires_on: consent.expires_on,
            source: consent.source,
            created_at: consent.created_at,
            created_by: consent.created_by,
            revoked_at,
            revoked_by,
            revoke_reason,
            status,
        }
    }

    /// A record that is (or just was) the patient's latest, with its status on `today`.
    pub(crate) fn latest(consent: Consent, today: NaiveDate) -> Self {
        let s = status(&consent, true, today);
        Self::new(consent, s)
    }
}

/// `PUT /patients/{id}`'s answer.
#[derive(Serialize)]
pub(crate) struct RegistrationView {
    pub(crate) patient: Patient,
    pub(crate) consent: Option<ConsentView>,
}

/// The dates a new consent record gets by default.
#[derive(Serialize)]
struct NewDefaults {
    given_on: NaiveDate,
    expires_on: Option<NaiveDate>,
}

/// `GET .../consents`'s answer.
#[derive(Serialize)]
pub(crate) struct HistoryView {
    patient_id: PatientId,
    today: NaiveDate,
    /// What a new record gets when its dates are left out: given today, expiring
    /// `consent_expire_days` later (the form's defaults).
    new_defaults: NewDefaults,
    valid: bool,
    reason: &'static str,
    current: Option<ConsentView>,
    consents: Vec<ConsentView>,
}

impl From<ConsentHistory> for HistoryView {
    fn from(history: ConsentHistory) -> Self {
        let current = history
            .current()
            .map(|(c, s)| ConsentView::new(c.clone(), *s));
        Self {
            patient_id: history.patient_id,
            today: history.today,
            new_defaults: NewDefaults {
                given_on: history.today,
                expires_on: history.default_expires_on,
            },
            valid: history.validity.is_valid(),
            reason: history.validity.reason(),
            current,
            consents: history
                .records
                .into_iter()
                .map(|(c, s)| ConsentView::new(c, s))
                .collect(),
        }
    }
}
