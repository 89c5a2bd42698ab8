//! The crm-outbound webhook API: `POST /crm/webhooks/{channel_id}` with a LeadSquared webhook
//! body and LeadSquared's `entityType`, `entityId`, `eventType` query parameters (plus our
//! `event`, see [`crate::crm_to_ehr::payload::event_of`]). Authenticated by the channel's webhook
//! token in its custom header (LeadSquared webhooks are unsigned), compared in constant time.
//! `HEAD` answers 200, as LeadSquared's webhook guidance asks.
//!
//! Answers `{Status, StatusReason}` with 200 as soon as the deliveries are recorded and queued
//! (delivery is asynchronous); 400/401/404 (problem+json) write nothing; 503 asks the CRM to
//! retry.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use connector_domain::flow::ChannelId;
use serde_json::json;

use super::problem::Problem;
use crate::Context;
use crate::crm_to_ehr::{WebhookQuery, WebhookReply, receive_webhook, token_header};

/// Every route of this API (method, template).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/crm/webhooks/{channel_id}"),
    ("HEAD", "/crm/webhooks/{channel_id}"),
];

/// The largest webhook body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The crm-outbound router, with request logging and no authentication layer (the token is
/// checked per channel).
pub fn router(ctx: Arc<Context>) -> Router {
    Router::new()
        .route(
            "/crm/webhooks/{channel_id}",
            post(webhook).head(|| async { StatusCode::OK }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(super::problem::problem_errors))
        .layer(axum::middleware::from_fn(super::request_log::log_request))
        .with_state(ctx)
}

async fn webhook(
    State(ctx): State<Arc<Context>>,
    Path(channel_id): Path<String>,
    Query(query): Query<WebhookQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(channel_id) = ChannelId::parse(channel_id) else {
        return Problem::not_found_resource("channel").into_response();
    };
    let channel = match ctx.flows.get_channel(&channel_id).await {
        Ok(Some(channel)) => channel,
        Ok(None) => return Problem::not_found_resource("channel").into_response(),
        Err(e) => return Problem::unavailable(&e).into_response(),
    };
    let token = token_header(&channel)
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok());
    match receive_webhook(&ctx, &channel, token, &query, &body).await {
        WebhookReply::Accepted { reason, deliveries } => (
            StatusCode::OK,
            axum::Json(json!({
                "Status": "Success",
                "StatusReason": reason,
                "DeliveryIds": deliveries,
            })),
        )
            .into_response(),
        WebhookReply::Refused(reason) => (
            StatusCode::OK,
            axum::Json(json!({ "Status": "Error", "StatusReason": reason })),
        )
            .into_response(),
        WebhookReply::BadRequest(detail) => Problem::bad_request(detail).into_response(),
        WebhookReply::Unauthorized => {
            Problem::unauthorized("the webhook token is missing or wrong").into_response()
        }
        WebhookReply::UnknownChannel => Problem::not_found_resource("channel").into_response(),
        WebhookReply::Unavailable => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "the connector cannot take webhooks right now; retry later",
        )
        .into_response(),
    }
}
