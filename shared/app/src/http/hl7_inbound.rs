//! The hl7-inbound API: `POST /hl7/{channel_id}` with an ER7 body, signed with the channel's
//! HMAC secret (see [`crate::ehr_to_crm::signature`]). Answers the HL7 ACK (AA, AE or AR) with 200
//! and `x-application/hl7-v2+er7`; 401 (bad signature), 404 (unknown channel), 500
//! `/problems/channel-misconfigured` (the channel's secret reference does not resolve: an
//! administrator must store the secret or fix the channel; resending does not help) and 503
//! (stores or secret store unavailable: resend later) are problem+json and write nothing.
//!
//! This route is authenticated by the channel signature, not by the consent API's bearer
//! tokens or JWT: hosts mount it beside, not behind, that layer.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use connector_domain::flow::channel::{SIGNATURE_HEADER, TIMESTAMP_HEADER};

use super::problem::Problem;
use crate::Context;
use crate::ehr_to_crm::{Authentication, ER7_CONTENT_TYPE, InboundReply, receive};

/// Every route of this API (method, template), as the SAM template and OpenAPI list them.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/hl7/{channel_id}")];

/// The largest message accepted (HL7 messages with embedded documents can be large; MLLP
/// listeners use the same bound).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// The hl7-inbound router, with request logging and no authentication layer.
pub fn router(ctx: Arc<Context>) -> Router {
    Router::new()
        .route("/hl7/{channel_id}", post(receive_hl7))
        .layer(DefaultBodyLimit::max(MAX_MESSAGE_BYTES))
        .layer(axum::middleware::from_fn(super::problem::problem_errors))
        .layer(axum::middleware::from_fn(super::request_log::log_request))
        .with_state(ctx)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn receive_hl7(
    State(ctx): State<Arc<Context>>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = Authentication::Signed {
        timestamp: header(&headers, TIMESTAMP_HEADER),
        signature: header(&headers, SIGNATURE_HEADER),
    };
    reply_response(receive(&ctx, &channel_id, &body, auth).await)
}

/// The HTTP response for a pipeline reply.
pub fn reply_response(reply: InboundReply) -> Response {
    match reply {
        InboundReply::Ack { text, .. } => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, ER7_CONTENT_TYPE)],
            text,
        )
            .into_response(),
        InboundReply::UnknownChannel => Problem::not_found_resource("channel").into_response(),
        InboundReply::Unauthorized(e) => Problem::unauthorized(e.to_string()).into_response(),
        InboundReply::ChannelMisconfigured { field } => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "channel-misconfigured",
            "Channel misconfigured",
            format!(
                "the channel's {field} cannot be resolved: the connector's administrator must \
                 store the secret or change the channel; resending before that fails the same way"
            ),
        )
        .into_response(),
        InboundReply::Unavailable => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "the connector cannot process messages right now; resend later",
        )
        .into_response(),
    }
}
