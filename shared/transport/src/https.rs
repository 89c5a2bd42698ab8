//! Sending HL7 to an EHR's HTTPS endpoint: `POST` of the ER7 text
//! (`Content-Type: x-application/hl7-v2+er7`), the response body read as the ACK.
//!
//! | response | [`AttemptOutcome`] |
//! |---|---|
//! | any status with an HL7 ACK body | as the ACK says ([`crate::outcome::classify_reply`]) |
//! | 2xx without an ACK body | [`AttemptOutcome::WrongAck`] |
//! | 5xx, 429 or 408 without an ACK body | [`AttemptOutcome::NotSent`] (retryable) |
//! | other 3xx/4xx without an ACK body | [`AttemptOutcome::Rejected`] with `HTTP <status>` (redirects are not followed) |
//! | connection refused, DNS or TLS failure | [`AttemptOutcome::NotSent`] |
//! | no response before the timeout | [`AttemptOutcome::Unknown`] |
//!
//! Extra headers (credentials among them) are marked sensitive and never logged.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};

use crate::outcome::{
    AttemptOutcome, NotSentReason, UnknownReason, WrongAckReason, classify_reply,
};
use crate::{DestinationConfigError, ER7_CONTENT_TYPE, MessageError, control_id_of};

/// The default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest response body read as an ACK.
pub const MAX_REPLY: usize = 1 << 20;

/// Where and how to POST.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpsConfig {
    /// The endpoint: `https://`, or `http://` to a loopback host only.
    pub url: String,
    /// Extra request headers, values already resolved (secrets included).
    pub headers: Vec<(String, String)>,
    /// How long the whole exchange may take (connect, send, response).
    pub timeout: Duration,
}

impl HttpsConfig {
    /// A POST to `url` with no extra header and the default timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for HttpsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpsConfig")
            .field("url", &self.url)
            .field("header_names", &names)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Checks a URL for delivery: `https://`, or `http://` to `localhost` or a loopback address.
///
/// # Errors
/// [`DestinationConfigError::InvalidUrl`], [`DestinationConfigError::InsecureUrl`].
pub fn check_url(url: &str) -> Result<Url, DestinationConfigError> {
    let url = Url::parse(url).map_err(|_| DestinationConfigError::InvalidUrl)?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        _ if host.is_empty() => Err(DestinationConfigError::InvalidUrl),
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(DestinationConfigError::InsecureUrl),
        _ => Err(DestinationConfigError::InvalidUrl),
    }
}

/// An HTTPS destination (see the [module documentation](self)). Cheap to clone; connections
/// are pooled.
#[derive(Clone)]
pub struct HttpsClient {
    client: reqwest::Client,
    url: Url,
    headers: HeaderMap,
    timeout: Duration,
}

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsClient")
            .field("url", &self.url.as_str())
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpsClient {
    /// Prepares a destination.
    ///
    /// # Errors
    /// [`DestinationConfigError`] for a bad or insecure URL, or a header that is not valid HTTP.
    pub fn new(config: HttpsConfig) -> Result<Self, DestinationConfigError> {
        let url = check_url(&config.url)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let invalid = || DestinationConfigError::InvalidHeader { name: name.clone() };
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            let mut value = HeaderValue::from_str(value).map_err(|_| invalid())?;
            value.set_sensitive(true);
            headers.append(header, value);
        }
        // reqwest's `rustls-no-provider`: rustls on ring, the process's one crypto provider
        // (an error here only means one is installed already).
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| DestinationConfigError::HttpClient)?;
        Ok(Self {
            client,
            url,
            headers,
            timeout: config.timeout,
        })
    }

    /// POSTs one ER7 message and classifies the response.
    ///
    /// # Errors
    /// [`MessageError`] when the message is not HL7 or has no MSH-10 (nothing is sent).
    pub async fn send(&self, message: &[u8]) -> Result<AttemptOutcome, MessageError> {
        let control_id = control_id_of(message)?;
        let (outcome, status) = self.exchange(message, &control_id).await;
        tracing::info!(
            host = self.url.host_str().unwrap_or_default(),
            control_id = %control_id,
            bytes = message.len(),
            status,
            outcome = outcome.kind(),
            detail = %outcome,
            "HTTPS send"
        );
        Ok(outcome)
    }

    async fn exchange(&self, message: &[u8], control_id: &str) -> (AttemptOutcome, Option<u16>) {
        let sent = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, ER7_CONTENT_TYPE)
            .timeout(self.timeout)
            .body(message.to_vec())
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => return (request_failed(&e), None),
        };
        let status = response.status();
        let mut body = Vec::new();
        let mut too_large = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_REPLY {
                        too_large = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return (request_failed(&e), Some(status.as_u16())),
            }
        }
        let outcome = if !too_large && crate::outcome::is_ack(&body) {
            classify_reply(&body, control_id)
        } else {
            classify_status(status, too_large)
        };
        (outcome, Some(status.as_u16()))
    }
}

/// The outcome of a response without an ACK body.
fn classify_status(status: StatusCode, too_large: bool) -> AttemptOutcome {
    if status.is_success() {
        AttemptOutcome::WrongAck {
            reason: if too_large {
                WrongAckReason::BadFrame
            } else {
                WrongAckReason::NotAnAck
            },
        }
    } else if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        AttemptOutcome::NotSent {
            reason: NotSentReason::HttpStatus(status.as_u16()),
        }
    } else {
        AttemptOutcome::Rejected {
            ack_code: None,
            error: Some(format!("HTTP {}", status.as_u16())),
        }
    }
}

fn request_failed(e: &reqwest::Error) -> AttemptOutcome {
    if e.is_connect() {
        AttemptOutcome::NotSent {
            reason: NotSentReason::HttpConnect,
        }
    } else if e.is_timeout() {
        AttemptOutcome::Unknown {
            reason: UnknownReason::AckTimeout,
        }
    } else {
        AttemptOutcome::Unknown {
            reason: UnknownReason::Io(std::io::ErrorKind::Other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(check_url("https://ehr.example.org/hl7").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hl7").is_ok());
        assert!(check_url("http://localhost/hl7").is_ok());
        assert!(check_url("http://[::1]/hl7").is_ok());
        assert_eq!(
            check_url("http://ehr.example.org/hl7").unwrap_err(),
            DestinationConfigError::InsecureUrl
        );
        assert_eq!(
            check_url("ftp://ehr.example.org").unwrap_err(),
            DestinationConfigError::InvalidUrl
        );
        assert_eq!(
            check_url("not a url").unwrap_err(),
            DestinationConfigError::InvalidUrl
        );
    }

    #[test]
    fn statuses_without_an_ack() {
        assert_eq!(
            classify_status(StatusCode::SERVICE_UNAVAILABLE, false),
            AttemptOutcome::NotSent {
                reason: NotSentReason::HttpStatus(503)
            }
        );
        assert_eq!(
            classify_status(StatusCode::TOO_MANY_REQUESTS, false),
            AttemptOutcome::NotSent {
                reason: NotSentReason::HttpStatus(429)
            }
        );
        assert_eq!(
            classify_status(StatusCode::NOT_FOUND, false),
            AttemptOutcome::Rejected {
                ack_code: None,
                error: Some("HTTP 404".to_owned())
            }
        );
        assert_eq!(
            classify_status(StatusCode::OK, false),
            AttemptOutcome::WrongAck {
                reason: WrongAckReason::NotAnAck
            }
        );
    }

    #[test]
    fn debug_hides_header_values() {
        let mut config = HttpsConfig::new("https://ehr.example.org/hl7");
        config
            .headers
            .push(("Authorization".to_owned(), "Bearer s3cret".to_owned()));
        assert!(!format!("{config:?}").contains("s3cret"));
        let client = HttpsClient::new(config).unwrap();
        assert!(!format!("{client:?}").contains("s3cret"));
    }
}
