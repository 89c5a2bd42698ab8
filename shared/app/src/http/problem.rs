//! RFC 7807 problem details (`application/problem+json`). Server errors get a generic body; their
//! cause chain is logged with ids only.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use connector_domain::ValidationErrors;
use connector_domain::consent::ConsentError;
use connector_domain::settings::SettingsError;
use connector_domain::{StoreError, ValidationError};
use serde::Serialize;

use crate::telemetry::error_chain;

/// A problem response.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A URI reference naming the problem kind (`/problems/validation`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short, fixed summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened in this case.
    pub detail: String,
    /// For validation problems: every field and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ValidationError>>,
}

impl Problem {
    /// A problem of kind `/problems/{slug}`.
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
        }
    }

    /// 422: the input broke the listed rules.
    pub fn validation(errors: ValidationErrors) -> Self {
        let detail = errors
            .0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            errors: Some(errors.0),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid input",
                detail,
            )
        }
    }

    /// 400: the body or query could not be read at all.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Malformed request",
            detail,
        )
    }

    /// 404 for a named kind of resource.
    pub fn not_found_resource(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no such {what}"),
        )
    }

    /// The record a lookup `found`, or 404 for a `what` that does not exist.
    ///
    /// # Errors
    /// [`Problem::not_found_resource`] when `found` is `None`.
    pub fn found<T>(found: Option<T>, what: &str) -> Result<T, Self> {
        found.ok_or_else(|| Self::not_found_resource(what))
    }

    /// 409: the request conflicts with the resource's current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 401: no valid credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }

    /// 403: authenticated, but the role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    /// 503 with a generic body, logging the cause chain (which never holds data values).
    pub fn unavailable(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error.chain = %error_chain(cause), "request failed: backing service unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "a backing service failed; retry later",
        )
    }

    /// 500 `/problems/store-misconfigured`: the store is not deployed as the connector expects;
    /// retrying cannot help (logs the cause chain; the store adapter logged the table and index).
    pub fn store_misconfigured(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error.chain = %error_chain(cause), "request failed: store misconfigured");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store-misconfigured",
            "Store misconfigured",
            "the connector's tables do not match its configuration; an administrator must fix the deployment (retrying will not help)",
        )
    }

    /// 500 with a generic body, logging the cause chain.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error.chain = %error_chain(cause), "request failed: internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "an internal error occurred",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::not_found_resource("record"),
            StoreError::Conflict(_) => Self::conflict("the record changed concurrently; retry"),
            StoreError::InvalidCursor => {
                Self::bad_request("the cursor is not valid; start again without it")
            }
            StoreError::Misconfigured(_) => Self::store_misconfigured(&err),
            other => Self::unavailable(&other),
        }
    }
}

impl From<ConsentError> for Problem {
    fn from(err: ConsentError) -> Self {
        match err {
            ConsentError::UnknownPatient => Self::not_found_resource("patient"),
            ConsentError::UnknownConsent => Self::not_found_resource("consent record"),
            ConsentError::Invalid(errors) => Self::validation(errors),
            ConsentError::NotLatest => {
                Self::conflict("only the patient's latest consent record can be revoked")
            }
            ConsentError::AlreadyRevoked => Self::conflict("the consent record is already revoked"),
            ConsentError::Contention => {
                Self::conflict("the patient's consents changed concurrently too many times; retry")
            }
            ConsentError::Store(err) => err.into(),
        }
    }
}

impl From<SettingsError> for Problem {
    fn from(err: SettingsError) -> Self {
        match err {
            SettingsError::Invalid(errors) => Self::validation(errors),
            SettingsError::Contention => Self::conflict("the settings changed concurrently; retry"),
            SettingsError::Store(err) => err.into(),
        }
    }
}

/// The fallback for unknown routes.
pub async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such route",
    )
}

/// The problem for an error response something other than a handler made (an extractor's
/// rejection, axum's 405, a body limit): same status, a fixed detail that never echoes the
/// request.
fn for_status(status: StatusCode) -> Problem {
    let (slug, title, detail) = match status {
        StatusCode::BAD_REQUEST => (
            "bad-request",
            "Malformed request",
            "the request could not be read: its path, query string, headers or body is malformed",
        ),
        StatusCode::NOT_FOUND => ("not-found", "Not found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "Method not allowed",
            "the route does not take this method; see the Allow header",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload-too-large",
            "Payload too large",
            "the request body is larger than this route takes",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => (
            "validation",
            "Invalid input",
            "the request could not be processed",
        ),
        s if s.is_server_error() => ("internal", "Internal error", "an internal error occurred"),
        _ => (
            "bad-request",
            "Malformed request",
            "the request was refused",
        ),
    };
    Problem::new(status, slug, title, detail)
}

/// Middleware: every error response is problem+json. Responses that already are pass through;
/// any other 4xx or 5xx (axum's extractor rejections, 405, body limits) is replaced by a problem
/// with the same status, keeping its headers (e.g. `Allow`).
pub async fn problem_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if is_problem {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let replacement = for_status(status).into_response();
    let (new_parts, body) = replacement.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/problem+json"),
    );
    if let Some(length) = new_parts.headers.get(header::CONTENT_LENGTH) {
        parts.headers.insert(header::CONTENT_LENGTH, length.clone());
    }
    Response::from_parts(parts, body)
}
