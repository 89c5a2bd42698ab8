//! Appointments and their transitions to billing (seed 000: "appointments that have been
//! successfully transitioned"). Each transition is numbered; the HIE receives each transition once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::phi::Phi;
use crate::{AppointmentId, PatientId};

mod transitions;

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

/// A position in the scan of transitioned appointments, ordered by `(transitioned_at,
/// appointment_id)`: the last appointment returned, or, with no appointment id, the start of an
/// instant (before every appointment transitioned at it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TransitionCursor {
    /// The transition time.
    pub transitioned_at: DateTime<Utc>,
    /// The appointment at that time; `None` sorts before every id.
    pub appointment_id: Option<AppointmentId>,
}

impl TransitionCursor {
    /// Just after `appointment` in the scan order.
    pub fn after(appointment: &Appointment) -> Option<Self> {
        Some(Self {
            transitioned_at: appointment.transitioned_at?,
            appointment_id: Some(appointment.appointment_id.clone()),
        })
    }

    /// Before every appointment transitioned at or after `at`.
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        Self {
            transitioned_at: at,
            appointment_id: None,
        }
    }
}
