use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use connector_domain::PatientId;
use connector_domain::consent::register_patient;
use connector_domain::patient::{Patient, PatientInput};
use connector_domain::settings::current_settings;

use super::views::{ConsentView, RegistrationView};
use crate::http::JsonBody;
use crate::http::call::StaffCall;
use crate::http::problem::Problem;

/// `PUT /patients/{patient_id}`: register (201) or update (200) a patient.
pub(crate) async fn register(
    StaffCall { ctx, .. }: StaffCall,
    Path(patient_id): Path<String>,
    JsonBody(input): JsonBody<PatientInput>,
) -> Result<(StatusCode, Json<RegistrationView>), Problem> {
    let patient_id = PatientId::parse(patient_id).map_err(|e| Problem::validation(e.into()))?;
    let registration = register_patient(ctx.consent_ports(), &patient_id, &input).await?;
    tracing::info!(patient_id = %patient_id, created = registration.created,
        opt_in_consent = registration.consent.is_some(), "patient saved");
    let today = current_settings(ctx.settings.as_ref())
        .await?
        .value
        .today(ctx.clock.now());
    let status = if registration.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let consent = registration.consent.map(|c| ConsentView::latest(c, today));
    Ok((
        status,
        Json(RegistrationView {
            patient: registration.patient,
            consent,
        }),
    ))
}

/// `GET /patients/{patient_id}`: the stored demographics.
pub(crate) async fn get(
    StaffCall { ctx, .. }: StaffCall,
    Path(patient_id): Path<String>,
) -> Result<Json<Patient>, Problem> {
    let patient_id =
        PatientId::parse(patient_id).map_err(|_| Problem::not_found_resource("patient"))?;
    let patient = Problem::found(ctx.patients.get(&patient_id).await?, "patient")?;
    Ok(Json(patient))
}
