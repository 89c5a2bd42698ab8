//! The HIE side of the EHR's HL7 messages (fed by [`crate::ehr_to_crm`]): ADT registration
//! events register or update the patient (Opt-In By Default applies to new patients), SIU scheduling events upsert the appointment, and a
//! charge (DFT^P03) or an SIU whose filler status is `Complete` marks the appointment
//! transitioned, as `POST /appointments/{id}/transition` does.
//!
//! Identifiers (see README "HL7 inbound"):
//! - patient id: the PID-3 identifier of type `PI` if there is one, else a stable pseudonym
//!   `mrn-<24 hex>` derived from the MRN and its assigning authority (SHA-256), so ids, which
//!   logs and queues carry, never hold an MRN value;
//! - MRN: the PID-3 identifier of type `MR`, else the first PID-3 identifier;
//! - appointment id: SCH-2.1 (filler appointment id), else SCH-1.1 (placer); for DFT^P03,
//!   PV1-19.1 (the visit number the EHR gives the appointment's encounter).
//!
//! Timestamps without an offset are read in the HIE settings' time zone.

use chrono::Utc;
use chrono_tz::Tz;
use connector_domain::consent::{self, ConsentError};
use connector_domain::hie::{
    self as intake, AppointmentError, AppointmentInput, AppointmentPorts, ProviderInput,
};
use connector_domain::patient::{AddressInput, PatientInput};
use connector_domain::settings::current_settings;
use connector_domain::{AppointmentId, PatientId, StoreError, ValidationErrors};
use connector_hl7::{Hl7DateTime, Message, Path};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Context;

/// What an inbound message means for the HIE side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HieEvent {
    /// ADT^A01/A04/A05/A08/A28/A31: register or update the patient.
    Patient,
    /// SIU^S12 to S26: the patient, then the appointment (transitioned when `Complete`).
    Appointment,
    /// DFT^P03: the appointment reached billing.
    Charge,
}

impl HieEvent {
    /// The HIE meaning of a message's MSH-9, if it has one.
    pub fn of(message: &Message<'_>) -> Option<Self> {
        let code = message.message_code()?;
        let trigger = message.trigger_event()?;
        match (code.as_ref(), trigger.as_ref()) {
            ("ADT", "A01" | "A04" | "A05" | "A08" | "A28" | "A31") => Some(HieEvent::Patient),
            ("SIU", t) if siu_trigger(t) => Some(HieEvent::Appointment),
            ("DFT", "P03") => Some(HieEvent::Charge),
            _ => None,
        }
    }
}

fn siu_trigger(trigger: &str) -> bool {
    trigger
        .strip_prefix('S')
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (12..=26).contains(&n))
}

/// What the HIE side did with a message's patient (`hie.patient` in the audit detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatientAction {
    /// Registered.
    Created,
    /// Already registered; demographics updated.
    Updated,
    /// The demographics did not validate: nothing written.
    Invalid,
}

/// What the HIE side did with a message's appointment (`hie.appointment` in the audit detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentAction {
    /// Recorded.
    Created,
    /// Already recorded; updated.
    Updated,
    /// Marked transitioned (a charge, or a `Complete` filler status).
    Transitioned,
    /// The appointment did not validate: nothing written.
    Invalid,
    /// A charge for an appointment the connector does not know.
    Unknown,
    /// The message identifies no patient (no PID-3), so the appointment was not recorded.
    NoPatient,
}

/// What the HIE side did with a message. Ids and outcome words only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HieOutcome {
    /// The patient concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<PatientId>,
    /// What became of the patient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<PatientAction>,
    /// The appointment concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment_id: Option<AppointmentId>,
    /// What became of the appointment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment: Option<AppointmentAction>,
    /// The fields that did not validate (names only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid_fields: Vec<String>,
    /// Where in the message each refused value was, for the ACK's ERR segments.
    #[serde(skip)]
    pub refused: Vec<RefusedValue>,
}

/// A value the HIE side refused, located in the message (no value, only where).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusedValue {
    /// The HL7 position (`PID-5.1`).
    pub hl7_path: &'static str,
    /// Whether it was missing (rather than unusable).
    pub missing: bool,
}

impl HieOutcome {
    /// Whether the message's patient or appointment data was refused: the EHR must hear it
    /// (the ACK is AE), and a resend is checked again.
    pub fn refused_anything(&self) -> bool {
        !self.refused.is_empty()
    }

    fn refuse(&mut self, field: &str, hl7_path: &'static str, missing: bool) {
        self.invalid_fields.push(field.to_owned());
        self.refused.push(RefusedValue { hl7_path, missing });
    }

    fn refuse_all(&mut self, errors: &ValidationErrors, message: &Message<'_>) {
        for e in &errors.0 {
            let missing = e.message == "is required";
            self.refuse(&e.field, hl7_position(&e.field, message), missing);
        }
    }
}

/// The HL7 position a validated field was read from (see [`patient_input`] and `schedule`).
fn hl7_position(field: &str, message: &Message<'_>) -> &'static str {
    match field {
        "mrn" | "patient_id" => "PID-3",
        "first_name" => "PID-5.2",
        "last_name" => "PID-5.1",
        "birth_date" => "PID-7",
        "sex" => "PID-8",
        "phone" => "PID-13.1",
        "email" => "PID-13.4",
        "address.line1" => "PID-11.1",
        "address.line2" => "PID-11.2",
        "address.city" => "PID-11.3",
        "address.state" => "PID-11.4",
        "address.postal_code" => "PID-11.5",
        "address.country" => "PID-11.6",
        "scheduled_start" if text(message, "AIS-4").is_some() => "AIS-4",
        "scheduled_start" => "SCH-11.4",
        "provider.id" if text(message, "AIP-3.1").is_some() => "AIP-3.1",
        "provider.id" => "PV1-7.1",
        "provider.name" if text(message, "AIP-3.2").is_some() => "AIP-3.2",
        "provider.name" => "PV1-7.2",
        "location" if text(message, "AIL-3.1").is_some() => "AIL-3.1",
        "location" => "PV1-3.1",
        "reason" => "SCH-7",
        "status" => "SCH-25",
        _ if field.starts_with("address") => "PID-11",
        _ if field.starts_with("provider") => "AIP-3",
        _ => "PID",
    }
}

/// Why the HIE side could not be applied now (a resend may succeed).
#[derive(Debug, thiserror::Error)]
pub enum HieFeedError {
    /// The store failed.
    #[error("store failure")]
    Store(#[from] StoreError),
    /// Too many concurrent changes to the same record.
    #[error("too many concurrent changes")]
    Contention,
}

/// Applies a message's HIE meaning.
///
/// # Errors
/// Store failures and contention; invalid data is an outcome, not an error (it changes nothing
/// and a resend would not help).
pub async fn apply(
    ctx: &Context,
    message: &Message<'_>,
    event: HieEvent,
) -> Result<HieOutcome, HieFeedError> {
    let settings = current_settings(ctx.settings.as_ref()).await?.value;
    let tz = settings.time_zone;
    let mut outcome = HieOutcome::default();
    match event {
        HieEvent::Patient => {
            register(ctx, message, &mut outcome).await?;
        }
        HieEvent::Appointment => {
            if register(ctx, message, &mut outcome).await?.is_some() {
                schedule(ctx, message, tz, &mut outcome).await?;
            } else if outcome.patient.is_none() {
                outcome.appointment = Some(AppointmentAction::NoPatient);
            }
        }
        HieEvent::Charge => {
            let id = text(message, "PV1-19.1").and_then(|v| AppointmentId::parse(v).ok());
            outcome.appointment_id = id.clone();
            match id {
                None => outcome.appointment = Some(AppointmentAction::Unknown),
                Some(id) => transition(ctx, &id, &mut outcome).await?,
            }
        }
    }
    Ok(outcome)
}

fn text(message: &Message<'_>, path: &str) -> Option<String> {
    let path: Path = path.parse().ok()?;
    message
        .get(&path)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The patient id and MRN a message's PID carries (see the module documentation).
pub fn patient_identity(message: &Message<'_>) -> Option<(PatientId, String)> {
    let mut mrn = None;
    let mut internal = None;
    let mut first = None;
    for rep in 1..=10 {
        let Some(id) = text(message, &format!("PID-3[{rep}].1")) else {
            if rep > 1 {
                break;
            }
            continue;
        };
        let authority = text(message, &format!("PID-3[{rep}].4")).unwrap_or_default();
        let kind = text(message, &format!("PID-3[{rep}].5")).unwrap_or_default();
        if first.is_none() {
            first = Some((id.clone(), authority.clone()));
        }
        match kind.as_str() {
            "MR" if mrn.is_none() => mrn = Some((id, authority)),
            "PI" if internal.is_none() => internal = Some(id),
            _ => {}
        }
    }
    let (mrn, authority) = mrn.or(first)?;
    let patient_id = match internal.and_then(|id| PatientId::parse(id).ok()) {
        Some(id) => id,
        None => pseudonym(&authority, &mrn),
    };
    Some((patient_id, mrn))
}

fn pseudonym(authority: &str, mrn: &str) -> PatientId {
    let digest = Sha256::new()
        .chain_update(authority.as_bytes())
        .chain_update(b"|")
        .chain_update(mrn.as_bytes())
        .finalize();
    let hex = hex::encode(digest);
    PatientId::parse(format!("mrn-{}", &hex[..24])).expect("a pseudonym is a valid id")
}

fn sex(code: Option<String>) -> Option<String> {
    code.map(|c| match c.as_str() {
        "F" | "M" | "O" | "U" => c,
        "A" => "O".to_owned(),
        _ => "U".to_owned(),
    })
}

fn hl7_date(value: Option<String>) -> Option<String> {
    let value = value?;
    match Hl7DateTime::parse(&value) {
        Ok(dt) => Some(dt.naive().date().format("%Y-%m-%d").to_string()),
        // Let validation name the field.
        Err(_) => Some(value),
    }
}

fn patient_input(message: &Message<'_>, mrn: String) -> PatientInput {
    let mut phone = None;
    let mut email = None;
    for rep in 1..=5 {
        let number = text(message, &format!("PID-13[{rep}].1")).or_else(|| {
            let area = text(message, &format!("PID-13[{rep}].6"))?;
            let local = text(message, &format!("PID-13[{rep}].7"))?;
            Some(format!("{area}{local}"))
        });
        if phone.is_none() && number.is_some() {
            phone = number;
        }
        if email.is_none() {
            email = text(message, &format!("PID-13[{rep}].4"));
        }
    }
    let address = text(message, "PID-11.1").map(|line1| AddressInput {
        line1: Some(line1),
        line2: text(message, "PID-11.2"),
        city: text(message, "PID-11.3"),
        state: text(message, "PID-11.4"),
        postal_code: text(message, "PID-11.5"),
        country: text(message, "PID-11.6"),
    });
    PatientInput {
        mrn: Some(mrn),
        first_name: text(message, "PID-5.2"),
        last_name: text(message, "PID-5.1"),
        birth_date: hl7_date(text(message, "PID-7")),
        sex: sex(text(message, "PID-8")),
        phone,
        email,
        address,
    }
}

/// Registers or updates the message's patient; `None` when the message has no usable PID.
async fn register(
    ctx: &Context,
    message: &Message<'_>,
    outcome: &mut HieOutcome,
) -> Result<Option<PatientId>, HieFeedError> {
    let Some((patient_id, mrn)) = patient_identity(message) else {
        outcome.refuse("PID-3", "PID-3", true);
        return Ok(None);
    };
    outcome.patient_id = Some(patient_id.clone());
    let input = patient_input(message, mrn);
    match consent::register_patient(ctx.consent_ports(), &patient_id, &input).await {
        Ok(registration) => {
            outcome.patient = Some(if registration.created {
                PatientAction::Created
            } else {
                PatientAction::Updated
            });
            Ok(Some(patient_id))
        }
        Err(ConsentError::Invalid(errors)) => {
            outcome.patient = Some(PatientAction::Invalid);
            outcome.refuse_all(&errors, message);
            // An existing patient can still take the appointment.
            match ctx.patients.get(&patient_id).await? {
                Some(_) => Ok(Some(patient_id)),
                None => Ok(None),
            }
        }
        Err(ConsentError::Store(e)) => Err(e.into()),
        Err(_) => Err(HieFeedError::Contention),
    }
}

fn appointment_ports(ctx: &Context) -> AppointmentPorts<'_> {
    AppointmentPorts {
        patients: ctx.patients.as_ref(),
        appointments: ctx.appointments.as_ref(),
        clock: ctx.clock.as_ref(),
    }
}

fn rfc3339(value: Option<String>, tz: Tz) -> Option<String> {
    let value = value?;
    match Hl7DateTime::parse(&value)
        .ok()
        .and_then(|dt| dt.to_timezone(&tz, &Utc))
    {
        Some(at) => Some(at.to_rfc3339()),
        None => Some(value),
    }
}

async fn schedule(
    ctx: &Context,
    message: &Message<'_>,
    tz: Tz,
    outcome: &mut HieOutcome,
) -> Result<(), HieFeedError> {
    let id = text(message, "SCH-2.1")
        .or_else(|| text(message, "SCH-1.1"))
        .and_then(|v| AppointmentId::parse(v).ok());
    let Some(id) = id else {
        outcome.appointment = Some(AppointmentAction::Invalid);
        outcome.refuse("SCH-2", "SCH-2", true);
        return Ok(());
    };
    outcome.appointment_id = Some(id.clone());
    let provider_name = match (text(message, "AIP-3.3"), text(message, "AIP-3.2")) {
        (Some(given), Some(family)) => Some(format!("{given} {family}")),
        (None, Some(family)) => Some(family),
        (given, None) => given.or_else(|| text(message, "PV1-7.2")),
    };
    let status = text(message, "SCH-25.1");
    let input = AppointmentInput {
        patient_id: outcome.patient_id.as_ref().map(ToString::to_string),
        scheduled_start: rfc3339(
            text(message, "AIS-4").or_else(|| text(message, "SCH-11.4")),
            tz,
        ),
        provider: Some(ProviderInput {
            id: text(message, "AIP-3.1").or_else(|| text(message, "PV1-7.1")),
            name: provider_name,
        }),
        location: text(message, "AIL-3.1").or_else(|| text(message, "PV1-3.1")),
        reason: text(message, "SCH-7.2").or_else(|| text(message, "SCH-7.1")),
        status: status.clone(),
    };
    match intake::save_appointment(appointment_ports(ctx), &id, &input).await {
        Ok((_, created)) => {
            outcome.appointment = Some(if created {
                AppointmentAction::Created
            } else {
                AppointmentAction::Updated
            });
        }
        Err(AppointmentError::Invalid(errors)) => {
            outcome.appointment = Some(AppointmentAction::Invalid);
            outcome.refuse_all(&errors, message);
            return Ok(());
        }
        Err(AppointmentError::Store(e)) => return Err(e.into()),
        Err(_) => return Err(HieFeedError::Contention),
    }
    if status.is_some_and(|s| s.eq_ignore_ascii_case("complete")) {
        transition(ctx, &id, outcome).await?;
    }
    Ok(())
}

async fn transition(
    ctx: &Context,
    id: &AppointmentId,
    outcome: &mut HieOutcome,
) -> Result<(), HieFeedError> {
    match intake::transition(appointment_ports(ctx), id).await {
        Ok(_) => outcome.appointment = Some(AppointmentAction::Transitioned),
        Err(AppointmentError::UnknownAppointment) => {
            outcome.appointment = Some(AppointmentAction::Unknown)
        }
        Err(AppointmentError::Store(e)) => return Err(e.into()),
        Err(_) => return Err(HieFeedError::Contention),
    }
    Ok(())
}
