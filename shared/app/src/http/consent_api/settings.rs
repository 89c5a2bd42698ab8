use axum::Json;
use connector_domain::settings::{
    HieSettings, HieSettingsInput, current_settings, update_settings,
};

use crate::http::JsonBody;
use crate::http::call::AdminCall;
use crate::http::problem::Problem;

/// `GET /settings/hie`.
pub(crate) async fn get(AdminCall { ctx, .. }: AdminCall) -> Result<Json<HieSettings>, Problem> {
    Ok(Json(current_settings(ctx.settings.as_ref()).await?.value))
}

/// `PUT /settings/hie`: fields left out keep their value; all-or-nothing.
pub(crate) async fn put(
    AdminCall { ctx, ref actor, .. }: AdminCall,
    JsonBody(input): JsonBody<HieSettingsInput>,
) -> Result<Json<HieSettings>, Problem> {
    let settings = update_settings(ctx.settings.as_ref(), ctx.clock.as_ref(), input, actor).await?;
    tracing::info!(enabled = settings.enabled, "HIE settings updated");
    Ok(Json(settings))
}
