//! Appointment intake and the HIE operators' routes.

use axum::Json;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use connector_domain::appointment::Appointment;
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::hie::{
    AppointmentError, AppointmentInput, AppointmentPorts, HieWork, save_appointment, transition,
};
use connector_domain::{AppointmentId, ValidationError, ValidationErrors};
use serde_json::{Value, json};

use super::query::QueryParams;
use crate::Context;
use crate::hie::collector::{PlanStatus, preview};
use crate::http::JsonBody;
use crate::http::call::{AdminCall, StaffCall};
use crate::http::problem::Problem;

impl From<AppointmentError> for Problem {
    fn from(err: AppointmentError) -> Self {
        match err {
            AppointmentError::Invalid(errors) => Problem::validation(errors),
            AppointmentError::UnknownAppointment => Problem::not_found_resource("appointment"),
            AppointmentError::Contention => {
                Problem::conflict("the appointment changed concurrently; retry")
            }
            AppointmentError::Store(err) => err.into(),
        }
    }
}

fn ports(ctx: &Context) -> AppointmentPorts<'_> {
    AppointmentPorts {
        patients: ctx.patients.as_ref(),
        appointments: ctx.appointments.as_ref(),
        clock: ctx.clock.as_ref(),
    }
}

fn appointment_path(id: String) -> Result<AppointmentId, Problem> {
    AppointmentId::parse(id).map_err(|_| Problem::not_found_resource("appointment"))
}

/// `PUT /appointments/{appointment_id}`: create (201) or update (200) the scheduling data.
pub(crate) async fn put(
    StaffCall { ctx, .. }: StaffCall,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<AppointmentInput>,
) -> Result<(StatusCode, Json<Appointment>), Problem> {
    let id = AppointmentId::parse(id).map_err(|e| Problem::validation(e.into()))?;
    let (appointment, created) = save_appointment(ports(&ctx), &id, &input).await?;
    tracing::info!(appointment_id = %id, created, "appointment saved");
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(appointment),
    ))
}

/// `GET /appointments/{appointment_id}`.
pub(crate) async fn get(
    StaffCall { ctx, .. }: StaffCall,
    Path(id): Path<String>,
) -> Result<Json<Appointment>, Problem> {
    let id = appointment_path(id)?;
    Ok(Json(ctx.appointments.get(&id).await?.ok_or_else(|| {
        Problem::not_found_resource("appointment")
    })?))
}

/// `POST /appointments/{appointment_id}/transition`: transitioned to billing now.
pub(crate) async fn transition_now(
    StaffCall { ctx, .. }: StaffCall,
    Path(id): Path<String>,
) -> Result<Json<Appointment>, Problem> {
    let id = appointment_path(id)?;
    let appointment = transition(ports(&ctx), &id).await?;
    tracing::info!(appointment_id = %id, transition_seq = appointment.transition_seq, "appointment transitioned");
    Ok(Json(appointment))
}

/// `POST /appointments/{appointment_id}/resend` (admin): sends the latest transition again,
/// deliberately, as a delivery of its own; audited.
pub(crate) async fn resend(
    AdminCall { ctx, ref actor, .. }: AdminCall,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let id = appointment_path(id)?;
    let appointment = Problem::found(ctx.appointments.get(&id).await?, "appointment")?;
    if appointment.transition_seq == 0 {
        return Err(Problem::conflict(
            "the appointment has not been transitioned, so there is nothing to resend",
        ));
    }
    let now = ctx.clock.now();
    let work = HieWork {
        appointment_id: id.clone(),
        transition_seq: appointment.transition_seq,
        resend: u64::try_from(now.timestamp_millis()).unwrap_or(1).max(1),
    };
    ctx.hie_queue
        .send_batch(&[work.to_message()])
        .await
        .map_err(|e| Problem::unavailable(&e))?;
    let audit = AuditEntry::new(
        LogType::HieSentAppointments,
        now,
        actor.clone(),
        "appointment.resend_requested",
        AuditOutcome::Success,
    )
    .with_appointment(&id)
    .with_patient(&appointment.patient_id)
    .with_detail(json!({"transition_seq": work.transition_seq, "resend": work.resend}));
    ctx.audit.append(&audit).await?;
    tracing::info!(appointment_id = %id, resend = work.resend, "resend queued");
    Ok((StatusCode::ACCEPTED, Json(json!({"queued": work}))))
}

/// `GET /hie/batch-preview?limit=` (admin): what the next batch would send and skip, and why,
/// what waits in the safety lag, and what the send ledger already has; writes nothing.
pub(crate) async fn batch_preview(
    AdminCall { ctx, .. }: AdminCall,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let params = QueryParams::parse(raw.as_deref(), &["limit"])?;
    let limit = match params.get("limit") {
        None => 100,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                Problem::validation(ValidationErrors::from(ValidationError::new(
                    "limit",
                    "must be a whole number from 1 to 1000",
                )))
            })?,
    };
    let (planned, more) = preview(&ctx, limit).await?;
    let count = |status: PlanStatus| planned.iter().filter(|p| p.status == status).count();
    let settings = connector_domain::settings::current_settings(ctx.settings.as_ref())
        .await?
        .value;
    Ok(Json(json!({
        "enabled": settings.enabled,
        "next_batch_start_time": settings.next_batch_start_time,
        "safety_lag_seconds": settings.safety_lag_seconds,
        "would_send": count(PlanStatus::Send),
        "would_skip": count(PlanStatus::Skip),
        "pending": count(PlanStatus::Pending),
        "already_sent": count(PlanStatus::AlreadySent),
        "in_progress": count(PlanStatus::InProgress),
        "closed": count(PlanStatus::Closed),
        "more": more,
        "appointments": planned,
    })))
}
