use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use connector_domain::consent::{self, ConsentInput, ConsentSource};
use connector_domain::settings::current_settings;
use connector_domain::{Actor, ConsentId, PatientId};
use serde::Deserialize;

use super::views::{ConsentView, HistoryView};
use crate::Context;
use crate::http::OptionalJsonBody;
use crate::http::call::StaffCall;
use crate::http::problem::Problem;

/// `POST .../revoke`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeInput {
    reason: Option<String>,
}

fn patient_path(id: String) -> Result<PatientId, Problem> {
    PatientId::parse(id).map_err(|_| Problem::not_found_resource("patient"))
}

fn consent_path(id: String) -> Result<ConsentId, Problem> {
    ConsentId::parse(id).map_err(|_| Problem::not_found_resource("consent record"))
}

/// Records a consent for `patient_id` as `actor`, and answers 201 with it.
pub(crate) async fn give_as(
    ctx: &Context,
    patient_id: &PatientId,
    input: &ConsentInput,
    source: ConsentSource,
    actor: &Actor,
) -> Result<(StatusCode, Json<ConsentView>), Problem> {
    let consent =
        consent::give_consent(ctx.consent_ports(), patient_id, input, source, actor).await?;
    tracing::info!(patient_id = %patient_id, consent_id = %consent.consent_id, seq = consent.seq,
        source = consent.source.as_str(), "consent recorded");
    let today = current_settings(ctx.settings.as_ref())
        .await?
        .value
        .today(ctx.clock.now());
    Ok((
        StatusCode::CREATED,
        Json(ConsentView::latest(consent, today)),
    ))
}

/// Revokes a record as `actor`, and answers 200 with it.
pub(crate) async fn revoke_as(
    ctx: &Context,
    patient_id: &PatientId,
    consent_id: &ConsentId,
    input: RevokeInput,
    actor: &Actor,
) -> Result<Json<ConsentView>, Problem> {
    let revoked = consent::revoke_consent(
        ctx.consent_ports(),
        patient_id,
        consent_id,
        input.reason,
        actor,
    )
    .await?;
    tracing::info!(patient_id = %patient_id, consent_id = %consent_id, "consent revoked");
    let today = current_settings(ctx.settings.as_ref())
        .await?
        .value
        .today(ctx.clock.now());
    Ok(Json(ConsentView::latest(revoked, today)))
}

/// The patient's history as the API shows it.
pub(crate) async fn history_of(
    ctx: &Context,
    patient_id: &PatientId,
) -> Result<Json<HistoryView>, Problem> {
    Ok(Json(
        consent::history(ctx.consent_ports(), patient_id)
            .await?
            .into(),
    ))
}

/// `POST /patients/{patient_id}/consents`.
pub(crate) async fn give(
    StaffCall { ctx, ref actor, .. }: StaffCall,
    Path(patient_id): Path<String>,
    OptionalJsonBody(input): OptionalJsonBody<ConsentInput>,
) -> Result<(StatusCode, Json<ConsentView>), Problem> {
    give_as(
        &ctx,
        &patient_path(patient_id)?,
        &input,
        ConsentSource::Staff,
        actor,
    )
    .await
}

/// `GET /patients/{patient_id}/consents`.
pub(crate) async fn history(
    StaffCall { ctx, .. }: StaffCall,
    Path(patient_id): Path<String>,
) -> Result<Json<HistoryView>, Problem> {
    history_of(&ctx, &patient_path(patient_id)?).await
}

/// `POST /patients/{patient_id}/consents/{consent_id}/revoke`.
pub(crate) async fn revoke(
    StaffCall { ctx, ref actor, .. }: StaffCall,
    Path((patient_id, consent_id)): Path<(String, String)>,
    OptionalJsonBody(input): OptionalJsonBody<RevokeInput>,
) -> Result<Json<ConsentView>, Problem> {
    revoke_as(
        &ctx,
        &patient_path(patient_id)?,
        &consent_path(consent_id)?,
        input,
        actor,
    )
    .await
}
