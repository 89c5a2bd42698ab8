//! EHR delivery and listening for Clinic Connector, on tokio.
//!
//! - [`mllp::client`]: send one message to an EHR's MLLP listener (TCP, optionally TLS) and
//!   read its ACK, on a long-lived connection per destination ([`MllpConnection`]).
//! - [`https`]: POST the ER7 text to an HTTPS endpoint and read the ACK in the response
//!   ([`HttpsClient`]).
//! - [`mllp::server`]: an MLLP listener handing each frame to an async handler and writing
//!   its answer back ([`mllp::server::serve`]).
//! - [`ehr`]: [`ChannelTransport`], the domain's `EhrTransport` port on channels' outbound
//!   settings.
//! - [`AttemptOutcome`]: what became of a delivery, the same for both transports, classified for
//!   the caller's retry logic.
//!
//! Logs and errors carry destinations, control IDs, byte counts and outcomes, never message
//! content: HL7 payloads are PHI.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod ack;
pub mod ehr;
pub mod https;
pub mod mllp;
pub mod outcome;
pub mod tls;

pub use ehr::ChannelTransport;
pub use https::{HttpsClient, HttpsConfig};
pub use mllp::client::{MllpConfig, MllpConnection};
pub use outcome::{AttemptOutcome, NotSentReason, UnknownReason, WrongAckReason};
pub use tls::TlsConfig;

use connector_hl7::{Message, ParseError};

/// The content type of an ER7 message over HTTP.
pub const ER7_CONTENT_TYPE: &str = "x-application/hl7-v2+er7";

/// Why a destination's settings are unusable. Nothing was sent; retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DestinationConfigError {
    /// The TLS server name is neither a DNS name nor an IP address.
    #[error("the TLS server name is not a valid DNS name or IP address")]
    InvalidServerName,
    /// The CA bundle holds no PEM certificate, or a malformed one.
    #[error("the CA bundle is not PEM or holds no certificate")]
    InvalidCaPem,
    /// A certificate of the CA bundle cannot be used as a trust anchor.
    #[error("a certificate of the CA bundle cannot be used as a trust anchor")]
    InvalidCaCertificate,
    /// The TLS configuration could not be built.
    #[error("the TLS configuration could not be built")]
    Tls,
    /// The URL does not parse, or is not `http(s)://`.
    #[error("the URL is not a valid http(s) URL")]
    InvalidUrl,
    /// `http://` to a host other than loopback.
    #[error("plain http:// is only allowed to localhost; use https://")]
    InsecureUrl,
    /// A header name or value is not valid HTTP.
    #[error("header {name:?} is not a valid HTTP header name or value")]
    InvalidHeader {
        /// The header's name (names are configuration, not secrets).
        name: String,
    },
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built")]
    HttpClient,
}

/// Why a message cannot be sent: its reply could not be matched to it. Nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The message is not HL7.
    #[error("the message is not HL7: {0}")]
    Unparsable(#[from] ParseError),
    /// MSH-10 is empty.
    #[error("the message has no control ID (MSH-10)")]
    MissingControlId,
}

/// The MSH-10 of an ER7 message.
///
/// # Errors
/// [`MessageError`] when the message does not parse or MSH-10 is empty.
pub fn control_id_of(message: &[u8]) -> Result<String, MessageError> {
    let parsed = Message::parse_bytes(message)?;
    parsed
        .control_id()
        .filter(|c| !c.is_empty())
        .map(|c| c.into_owned())
        .ok_or(MessageError::MissingControlId)
}
