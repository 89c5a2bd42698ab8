use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use connector_domain::settings::{
    HieSettings, HieSettingsInput, current_settings, update_settings,
};

use crate::Context;
use crate::http::JsonBody;
use crate::http::auth::Caller;
use crate::http::problem::Problem;

/// `GET /settings/hie`.
pub(crate) async fn get(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
) -> Result<Json<HieSettings>, Problem> {
    caller.require_admin()?;
    Ok(Json(current_settings(ctx.settings.as_ref()).await?.value))
}

/// `PUT /settings/hie`: fields left out keep their value; all-or-nothing.
pub(crate) async fn put(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    JsonBody(input): JsonBody<HieSettingsInput>,
) -> Result<Json<HieSettings>, Problem> {
    let actor = caller.require_admin()?;
    let settings = update_settings(ctx.settings.as_ref(), ctx.clock.as_ref(), input, actor).await?;
    tracing::info!(enabled = settings.enabled, "HIE settings updated");
    Ok(Json(settings))
}
