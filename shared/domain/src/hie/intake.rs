//! Appointment intake: the clinic (API) or the EHR (HL7 SIU/DFT) reports appointments and their
//! transitions to billing.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::appointment::{Appointment, Provider};
use crate::patient::parse_instant;
use crate::phi::Phi;
use crate::ports::{AppointmentStore, PatientStore};
use crate::{AppointmentId, Clock, PatientId, StoreError, ValidationError, ValidationErrors};

/// The ports appointment intake uses.
#[derive(Clone, Copy)]
pub struct AppointmentPorts<'a> {
    /// Patients (an appointment must name a known patient).
    pub patients: &'a dyn PatientStore,
    /// Appointments.
    pub appointments: &'a dyn AppointmentStore,
    /// Time.
    pub clock: &'a dyn Clock,
}

/// Why an appointment operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AppointmentError {
    /// The input broke one or more rules.
    #[error("invalid input")]
    Invalid(#[from] ValidationErrors),
    /// No appointment with this id.
    #[error("unknown appointment")]
    UnknownAppointment,
    /// Concurrent writers kept winning.
    #[error("too many concurrent changes to this appointment")]
    Contention,
    /// The store failed.
    #[error("store failure")]
    Store(#[from] StoreError),
}

/// A provider as a client sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    /// The provider's id.
    pub id: Option<String>,
    /// The provider's display name.
    pub name: Option<String>,
}

/// An appointment as a client sends it.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppointmentInput {
    /// The patient seen.
    pub patient_id: Option<String>,
    /// RFC 3339 start time.
    pub scheduled_start: Option<String>,
    /// Who sees the patient.
    pub provider: Option<ProviderInput>,
    /// Where.
    pub location: Option<String>,
    /// Why (PHI).
    pub reason: Option<String>,
    /// Scheduling status (`booked`, `arrived`, `complete`, ...).
    pub status: Option<String>,
}

impl std::fmt::Debug for AppointmentInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppointmentInput([redacted])")
    }
}

fn text(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    required: bool,
    max: usize,
) -> Option<String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None if required => errors.refuse(field, "is required"),
        None => Some(String::new()),
        Some(v) if v.chars().count() > max => {
            errors.refuse(field, format!("must be at most {max} characters"))
        }
        Some(v) if v.chars().any(char::is_control) => {
            errors.refuse(field, "must not contain control characters")
        }
        Some(v) => Some(v.to_owned()),
    }
}

/// Validated scheduling data.
struct Schedule {
    patient_id: PatientId,
    scheduled_start: DateTime<Utc>,
    provider: Provider,
    location: String,
    reason: String,
    status: String,
}

impl AppointmentInput {
    fn validate(&self) -> Result<Schedule, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let patient_id = match self.patient_id.as_deref() {
            None => errors.refuse("patient_id", "is required"),
            Some(v) => errors.check(PatientId::parse(v)),
        };
        let scheduled_start = match self.scheduled_start.as_deref() {
            None => errors.refuse("scheduled_start", "is required"),
            Some(v) => errors.check(parse_instant(
                "scheduled_start",
                v,
                "2026-11-21T09:30:00-06:00",
            )),
        };
        let provider = self.provider.clone().unwrap_or_default();
        let provider_id = text(&mut errors, "provider.id", provider.id.as_deref(), true, 64);
        let provider_name = text(
            &mut errors,
            "provider.name",
            provider.name.as_deref(),
            true,
            200,
        );
        let location = text(
            &mut errors,
            "location",
            self.location.as_deref(),
            false,
            200,
        );
        let reason = text(&mut errors, "reason", self.reason.as_deref(), false, 500);
        let status = text(&mut errors, "status", self.status.as_deref(), true, 40);
        errors.finish(|| Schedule {
            patient_id: patient_id.expect("validated"),
            scheduled_start: scheduled_start.expect("validated"),
            provider: Provider {
                id: provider_id.expect("validated"),
                name: provider_name.expect("validated"),
            },
            location: location.unwrap_or_default(),
            reason: reason.unwrap_or_default(),
            status: status.map(|s| s.to_ascii_lowercase()).unwrap_or_default(),
        })
    }
}

/// Creates or updates an appointment's scheduling data; returns it and whether it was new.
/// Transition fields are kept: only [`transition`] changes them.
pub async fn save_appointment(
    ports: AppointmentPorts<'_>,
    appointment_id: &AppointmentId,
    input: &AppointmentInput,
) -> Result<(Appointment, bool), AppointmentError> {
    let schedule = input.validate()?;
    if ports.patients.get(&schedule.patient_id).await?.is_none() {
        return Err(ValidationErrors::from(ValidationError::new(
            "patient_id",
            "no patient has this id",
        ))
        .into());
    }
    let existing = ports.appointments.get(appointment_id).await?;
    let created = existing.is_none();
    let appointment = Appointment {
        appointment_id: appointment_id.clone(),
        patient_id: schedule.patient_id,
        scheduled_start: schedule.scheduled_start,
        provider: schedule.provider,
        location: schedule.location,
        reason: Phi::new(schedule.reason),
        status: schedule.status,
        transition_seq: existing.as_ref().map_or(0, |a| a.transition_seq),
        transitioned_at: existing.as_ref().and_then(|a| a.transitioned_at),
        updated_at: ports.clock.now(),
    };
    ports.appointments.put(&appointment).await?;
    // The store keeps transition fields; read back what it holds.
    let stored = ports
        .appointments
        .get(appointment_id)
        .await?
        .unwrap_or(appointment);
    Ok((stored, created))
}

/// Records a transition to billing now: a new transition number, so a corrected appointment
/// transitioned again is sent again.
pub async fn transition(
    ports: AppointmentPorts<'_>,
    appointment_id: &AppointmentId,
) -> Result<Appointment, AppointmentError> {
    for _ in 0..8 {
        let current = ports
            .appointments
            .get(appointment_id)
            .await?
            .ok_or(AppointmentError::UnknownAppointment)?;
        match ports
            .appointments
            .record_transition(appointment_id, current.transition_seq, ports.clock.now())
            .await
        {
            Ok(updated) => return Ok(updated),
            Err(StoreError::Conflict(_)) => continue,
            Err(StoreError::NotFound) => return Err(AppointmentError::UnknownAppointment),
            Err(err) => return Err(err.into()),
        }
    }
    Err(AppointmentError::Contention)
}
