//! Errors of this adapter, and the sources it keeps inside `CrmError::Unavailable`.
//!
//! LeadSquared reports failures as `{"Status":"Error","ExceptionType":"MX…Exception",
//! "ExceptionMessage":"…"}` with HTTP 200, 400, 401, 404, 429 or 500
//! (<https://apidocs.leadsquared.com/error-handling/> and each endpoint's "HTTP Response Codes").
//! `ExceptionMessage` can quote the values sent (names, e-mail addresses, MRNs), so it is never
//! deserialized, stored, displayed or logged; only `ExceptionType` is kept.

use connector_domain::crm::CrmError;

/// Why a [`LeadSquaredClient`](crate::LeadSquaredClient) could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    /// The base URL is not an absolute `http`/`https` URL.
    #[error("invalid LeadSquared base URL (expected e.g. https://api-us11.leadsquared.com)")]
    InvalidBaseUrl,
    /// An API key cannot be sent as an HTTP header value.
    #[error("LeadSquared API key is not a valid HTTP header value")]
    InvalidKey,
    /// The HTTP client could not be initialised (TLS setup).
    #[error("could not initialise the HTTP client")]
    Http(#[source] reqwest::Error),
}

/// Why LeadSquared was unavailable: the source kept in [`CrmError::Unavailable`]. Carries statuses
/// and exception types only, never request or response content.
#[derive(Debug, thiserror::Error)]
pub enum UnavailableError {
    /// LeadSquared answered 5xx.
    #[error("LeadSquared answered HTTP {status} ({exception_type})")]
    Server {
        /// The HTTP status.
        status: u16,
        /// LeadSquared's `ExceptionType`, or `unknown` when the body had none.
        exception_type: String,
    },
    /// The attempt did not complete within the configured request timeout.
    #[error("request to LeadSquared timed out")]
    Timeout(#[source] reqwest::Error),
    /// No connection could be established (nothing was sent).
    #[error("could not connect to LeadSquared")]
    Connect(#[source] reqwest::Error),
    /// The exchange failed after the request may have been sent.
    #[error("HTTP exchange with LeadSquared failed")]
    Transport(#[source] reqwest::Error),
}

impl UnavailableError {
    /// Classifies a transport error. The URL (host, path, `leadId`) is stripped from it: ids are
    /// not PHI, but an error has no business carrying request details around.
    pub(crate) fn from_reqwest(error: reqwest::Error) -> Self {
        let error = error.without_url();
        if error.is_connect() {
            Self::Connect(error)
        } else if error.is_timeout() {
            Self::Timeout(error)
        } else {
            Self::Transport(error)
        }
    }

    /// True when the request certainly did not reach LeadSquared, so even a non-idempotent
    /// request may be sent again.
    pub(crate) fn request_not_sent(&self) -> bool {
        matches!(self, Self::Connect(_))
    }
}

impl From<UnavailableError> for CrmError {
    fn from(error: UnavailableError) -> Self {
        CrmError::Unavailable(Box::new(error))
    }
}

/// The `ExceptionType` placeholder when an error response carries none.
pub(crate) const UNKNOWN_EXCEPTION: &str = "unknown";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_error_displays_status_and_type_only() {
        let error: CrmError = UnavailableError::Server {
            status: 503,
            exception_type: "MXServiceException".into(),
        }
        .into();
        assert!(error.is_transient());
        let source = std::error::Error::source(&error)
            .expect("source kept")
            .to_string();
        assert_eq!(source, "LeadSquared answered HTTP 503 (MXServiceException)");
    }
}
