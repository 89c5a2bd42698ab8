use chrono::NaiveDate;
use serde_json::json;

use super::{
    Consent, ConsentInput, ConsentSource, ConsentStatus, Revocation, Validity, status, validity,
};
use crate::audit::{AuditEntry, AuditOutcome, LogType};
use crate::patient::{Patient, PatientInput, parse_date};
use crate::ports::{ConsentStore, PatientStore, SettingsStore};
use crate::settings::{HieSettings, current_settings};
use crate::{Actor, Clock, ConsentId, PatientId, StoreError, ValidationError, ValidationErrors};

/// How many times an operation re-reads and retries after losing a conditional write. Every
/// round has a winner, so N concurrent writers for one patient all finish within N rounds; 32
/// is far beyond what a clinic produces for one patient and still bounds a pathological case.
const MAX_ATTEMPTS: usize = 32;
/// Longest accepted revocation reason.
const MAX_REASON_CHARS: usize = 1000;

/// The ports the consent operations use.
#[derive(Clone, Copy)]
pub struct ConsentPorts<'a> {
    /// Patients.
    pub patients: &'a dyn PatientStore,
    /// Consent records.
    pub consents: &'a dyn ConsentStore,
    /// HIE settings (time zone, expiry days, opt-in by default).
    pub settings: &'a dyn SettingsStore,
    /// Time.
    pub clock: &'a dyn Clock,
}

/// Why a consent operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// No patient with this id.
    #[error("unknown patient")]
    UnknownPatient,
    /// No consent record with this id for this patient.
    #[error("unknown consent record")]
    UnknownConsent,
    /// The input broke one or more rules.
    #[error("invalid input")]
    Invalid(#[from] ValidationErrors),
    /// Only the patient's latest record can be revoked.
    #[error("only the latest consent record can be revoked")]
    NotLatest,
    /// The record was revoked already.
    #[error("the consent record is already revoked")]
    AlreadyRevoked,
    /// Concurrent writers kept winning; the caller may retry.
    #[error("too many concurrent changes to this patient's consents")]
    Contention,
    /// The store failed.
    #[error("store failure")]
    Store(#[from] StoreError),
}

/// The result of registering or updating a patient.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The stored patient.
    pub patient: Patient,
    /// True when the patient was new.
    pub created: bool,
    /// The consent that Opt-In By Default created, if it did.
    pub consent: Option<Consent>,
}

/// A patient's consent records with their statuses, and the decision they lead to.
#[derive(Debug, Clone)]
pub struct ConsentHistory {
    /// Whose.
    pub patient_id: PatientId,
    /// "Today" in the clinic's time zone, against which statuses were computed.
    pub today: NaiveDate,
    /// Whether sharing is allowed, decided by the latest record.
    pub validity: Validity,
    /// The Expires On a new record given today gets by default (`consent_expire_days` later).
    pub default_expires_on: Option<NaiveDate>,
    /// Every record, newest first, with its status.
    pub records: Vec<(Consent, ConsentStatus)>,
}

impl ConsentHistory {
    /// The latest record, if any.
    pub fn current(&self) -> Option<&(Consent, ConsentStatus)> {
        self.records.first()
    }
}

fn consent_audit(
    action: &str,
    consent: &Consent,
    actor: &Actor,
    at: chrono::DateTime<chrono::Utc>,
) -> AuditEntry {
    AuditEntry::new(
        LogType::HieConsentChanges,
        at,
        actor.clone(),
        action,
        AuditOutcome::Success,
    )
    .with_patient(&consent.patient_id)
    .with_consent(&consent.consent_id)
    .with_detail(json!({
        "seq": consent.seq,
        "source": consent.source.as_str(),
        "given_on": consent.given_on,
        "expires_on": consent.expires_on,
    }))
}

/// Registers a new patient or updates an existing one. A new patient gets a consent record when
/// Opt-In By Default is on, written in the same transaction as the patient.
pub async fn register_patient(
    ports: ConsentPorts<'_>,
    patient_id: &PatientId,
    input: &PatientInput,
) -> Result<Registration, ConsentError> {
    let settings = current_settings(ports.settings).await?.value;
    let now = ports.clock.now();
    let demographics = input.validate(settings.today(now))?;
    for _ in 0..MAX_ATTEMPTS {
        if let Some(existing) = ports.patients.get(patient_id).await? {
            let patient = existing.updated(demographics.clone(), now);
            match ports.patients.update(&patient).await {
                Ok(()) => {
                    return Ok(Registration {
                        patient,
                        created: false,
                        consent: None,
                    });
                }
                Err(StoreError::NotFound) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        let patient = Patient::new(patient_id.clone(), demographics.clone(), now);
        let consent = if settings.opt_in_by_default {
            Some(new_consent(
                &settings,
                patient_id,
                1,
                None,
                ConsentSource::OptInDefault,
                &Actor::system("opt-in-default"),
                now,
            )?)
        } else {
            None
        };
        let audit = consent
            .as_ref()
            .map(|c| consent_audit("consent.created", c, &c.created_by, now));
        let initial = consent.as_ref().zip(audit.as_ref());
        match ports.patients.insert(&patient, initial).await {
            Ok(()) => {
                return Ok(Registration {
                    patient,
                    created: true,
                    consent,
                });
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ConsentError::Contention)
}

fn new_consent(
    settings: &HieSettings,
    patient_id: &PatientId,
    seq: u64,
    input: Option<&ConsentInput>,
    source: ConsentSource,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Consent, ValidationErrors> {
    let today = settings.today(now);
    let mut errors = ValidationErrors::default();
    let given_on = match input.and_then(|i| i.given_on.as_deref()) {
        Some(text) => errors.check(parse_date("given_on", text)),
        None => Some(today),
    };
    let expires_on = match input.and_then(|i| i.expires_on.as_deref()) {
        Some(text) => errors.check(parse_date("expires_on", text)),
        None => match given_on.and_then(|g| settings.default_expiry(g)) {
            Some(d) => Some(d),
            None if given_on.is_some() => errors.refuse("given_on", "is too far in the future"),
            None => None,
        },
    };
    if let (Some(g), Some(e)) = (given_on, expires_on)
        && e <= g
    {
        errors.push(ValidationError::new("expires_on", "must be after given_on"));
    }
    errors.finish(|| Consent {
        consent_id: ConsentId::generate(),
        patient_id: patient_id.clone(),
        seq,
        given_on: given_on.unwrap_or(today),
        expires_on: expires_on.unwrap_or(today),
        source,
        created_at: now,
        created_by: actor.clone(),
        revocation: None,
    })
}

/// Records a new consent: it becomes the patient's latest record, overriding earlier ones.
pub async fn give_consent(
    ports: ConsentPorts<'_>,
    patient_id: &PatientId,
    input: &ConsentInput,
    source: ConsentSource,
    actor: &Actor,
) -> Result<Consent, ConsentError> {
    let settings = current_settings(ports.settings).await?.value;
    let now = ports.clock.now();
    // Validate before touching the store so that bad input changes nothing.
    new_consent(&settings, patient_id, 1, Some(input), source, actor, now)?;
    if ports.patients.get(patient_id).await?.is_none() {
        return Err(ConsentError::UnknownPatient);
    }
    for _ in 0..MAX_ATTEMPTS {
        let latest_seq = ports.consents.latest(patient_id).await?.map(|c| c.seq);
        let consent = new_consent(
            &settings,
            patient_id,
            latest_seq.unwrap_or(0) + 1,
            Some(input),
            source,
            actor,
            now,
        )?;
        let audit = consent_audit("consent.created", &consent, actor, now);
        match ports.consents.append(&consent, latest_seq, &audit).await {
            Ok(()) => return Ok(consent),
            Err(StoreError::Conflict(_)) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ConsentError::Contention)
}

/// Revokes the patient's latest record.
pub async fn revoke_consent(
    ports: ConsentPorts<'_>,
    patient_id: &PatientId,
    consent_id: &ConsentId,
    reason: Option<String>,
    actor: &Actor,
) -> Result<Consent, ConsentError> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(ValidationErrors::from(ValidationError::new(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters"),
        ))
        .into());
    }
    if ports.patients.get(patient_id).await?.is_none() {
        return Err(ConsentError::UnknownPatient);
    }
    let now = ports.clock.now();
    let record = revocable(ports.consents, patient_id, consent_id).await?;
    let revoked = Consent {
        revocation: Some(Revocation {
            at: now,
            by: actor.clone(),
            reason,
        }),
        ..record
    };
    let audit = consent_audit("consent.revoked", &revoked, actor, now);
    match ports.consents.revoke(&revoked, &audit).await {
        Ok(()) => Ok(revoked),
        Err(StoreError::Conflict(_)) => {
            // Lost a race: say which rule the record now breaks.
            revocable(ports.consents, patient_id, consent_id).await?;
            Err(ConsentError::Contention)
        }
        Err(StoreError::NotFound) => Err(ConsentError::UnknownConsent),
        Err(err) => Err(err.into()),
    }
}

/// The consent record, if it may be revoked: it exists, is not revoked and is the patient's
/// latest.
async fn revocable(
    store: &dyn ConsentStore,
    patient_id: &PatientId,
    consent_id: &ConsentId,
) -> Result<Consent, ConsentError> {
    let record = store
        .get(patient_id, consent_id)
        .await?
        .ok_or(ConsentError::UnknownConsent)?;
    if record.is_revoked() {
        return Err(ConsentError::AlreadyRevoked);
    }
    let latest = store.latest(&record.patient_id).await?;
    if latest.is_none_or(|l| l.consent_id != record.consent_id) {
        return Err(ConsentError::NotLatest);
    }
    Ok(record)
}

/// The patient's records with their statuses as of today in the clinic's time zone.
pub async fn history(
    ports: ConsentPorts<'_>,
    patient_id: &PatientId,
) -> Result<ConsentHistory, ConsentError> {
    if ports.patients.get(patient_id).await?.is_none() {
        return Err(ConsentError::UnknownPatient);
    }
    let settings = current_settings(ports.settings).await?.value;
    let today = settings.today(ports.clock.now());
    let records = ports.consents.history(patient_id).await?;
    let latest_seq = records.first().map(|c| c.seq);
    let validity = validity(records.first(), today);
    let records = records
        .into_iter()
        .map(|c| {
            let s = status(&c, Some(c.seq) == latest_seq, today);
            (c, s)
        })
        .collect();
    Ok(ConsentHistory {
        patient_id: patient_id.clone(),
        today,
        validity,
        default_expires_on: settings.default_expiry(today),
        records,
    })
}
