//! The patient portal's routes: a patient sees, gives and revokes only their own consent.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use connector_domain::ConsentId;
use connector_domain::consent::{ConsentInput, ConsentSource};
use connector_domain::settings::current_settings;
use serde_json::{Value, json};

use super::consents::{RevokeInput, give_as, history_of, revoke_as};
use super::views::{ConsentView, HistoryView};
use crate::Context;
use crate::http::OptionalJsonBody;
use crate::http::auth::Caller;
use crate::http::problem::Problem;

/// `GET /me/consents`.
pub(crate) async fn history(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
) -> Result<Json<HistoryView>, Problem> {
    history_of(&ctx, &caller.require_patient()?).await
}

/// `POST /me/consents`: the patient gives consent through the portal.
pub(crate) async fn give(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    OptionalJsonBody(input): OptionalJsonBody<ConsentInput>,
) -> Result<(StatusCode, Json<ConsentView>), Problem> {
    let patient_id = caller.require_patient()?;
    give_as(&ctx, &patient_id, &input, ConsentSource::Portal, &caller.0).await
}

/// `POST /me/consents/{consent_id}/revoke`.
pub(crate) async fn revoke(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(consent_id): Path<String>,
    OptionalJsonBody(input): OptionalJsonBody<RevokeInput>,
) -> Result<Json<ConsentView>, Problem> {
    let patient_id = caller.require_patient()?;
    let consent_id =
        ConsentId::parse(consent_id).map_err(|_| Problem::not_found_resource("consent record"))?;
    revoke_as(&ctx, &patient_id, &consent_id, input, &caller.0).await
}

/// `GET /me/portal`: the explanation the portal shows beside the consent form.
pub(crate) async fn portal(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
) -> Result<Json<Value>, Problem> {
    let patient_id = caller.require_patient()?;
    let settings = current_settings(ctx.settings.as_ref()).await?.value;
    Ok(Json(json!({
        "patient_id": patient_id,
        "hie_enabled": settings.enabled,
        "explanation": settings.portal_explanation,
    })))
}
