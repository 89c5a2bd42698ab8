//! The HTTP APIs as axum routers. Lambda serves them with `lambda_http::run`, `connector serve`
//! with hyper; both put an authentication layer in front (see [`auth`]).

pub mod auth;
mod call;
pub mod claims;
pub mod consent_api;
pub mod crm_outbound;
pub mod flows_api;
pub mod hl7_inbound;
mod json;
#[cfg(feature = "oidc")]
pub mod oidc;
pub mod problem;
pub(crate) mod request_log;
mod strict;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::Context;

pub use json::{JsonBody, JsonFault, MAX_BODY_BYTES, OptionalJsonBody};

/// `GET /health`: 200 once the process has built its context (it is only routed after that).
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Every API of the connector in one router, as `connector serve` mounts it, with the health
/// check and request logging. The caller adds an authentication layer.
pub fn router(ctx: Arc<Context>) -> Router {
    Router::new()
        .route("/health", get(health))
        .merge(consent_api::router(ctx))
        .fallback(problem::not_found)
        .layer(axum::middleware::from_fn(problem::problem_errors))
        .layer(axum::middleware::from_fn(request_log::log_request))
}
