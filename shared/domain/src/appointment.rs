//! Appointments and their transitions to billing (seed 000: "appointments that have been
//! successfully transitioned"). Each transition is numbered; the HIE receives each transition once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::phi::Phi;
use crate::{AppointmentId, PatientId};

/// The provider who sees the patient. Provider names are staff data, not PHI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// The clinic's provider id (NPI or local id).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// An appointment as the clinic reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    /// The clinic's id for the appointment.
    pub appointment_id: AppointmentId,
    /// The patient seen.
    pub patient_id: PatientId,
    /// When it is scheduled to start.
    pub scheduled_start: DateTime<Utc>,
    /// Who sees the patient.
    pub provider: Provider,
    /// Where (a clinic location code or name).
    pub location: String,
    /// Why the patient comes: clinical information, so PHI.
    pub reason: Phi<String>,
    /// The scheduling status as the EHR reports it (`booked`, `arrived`, `complete`, ...).
    pub status: String,
    /// How many times it was transitioned to billing; 0 when never.
    pub transition_seq: u32,
    /// When it was last transitioned.
    pub transitioned_at: Option<DateTime<Utc>>,
    /// When the connector last changed it.
    pub updated_at: DateTime<Utc>,
}

/// Where a scan of transitioned appointments stopped: the `(transitioned_at, appointment_id)` of the
/// last appointment returned. Ordering is by that pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TransitionCursor {
    /// The last transition time seen.
    pub transitioned_at: DateTime<Utc>,
    /// The last appointment id seen at that time.
    pub appointment_id: AppointmentId,
}
