//! What became of one delivery attempt, the same for MLLP and HTTPS.
//!
//! The classification is what the caller's retry logic needs:
//!
//! | outcome | meaning | caller |
//! |---|---|---|
//! | [`AttemptOutcome::Delivered`] | the EHR answered `AA` or `CA` for this control ID | done |
//! | [`AttemptOutcome::Rejected`] | the EHR answered `AE`, `AR`, `CE` or `CR` (or HTTPS refused it with a 4xx) | dead-letter, do not resend as is |
//! | [`AttemptOutcome::WrongAck`] | a reply came, but not an ACK of this message | resend later with the same control ID, alert if it persists |
//! | [`AttemptOutcome::Unknown`] | the message went out, no reply came | resend with the same control ID (the EHR may have it already) |
//! | [`AttemptOutcome::NotSent`] | nothing reached the EHR | safe to retry |
//!
//! Every text here is ours (codes, locations, table 0357 names, reasons): nothing is copied
//! from a message or a reply, so outcomes can be logged and stored.

use std::fmt;

use connector_hl7::ack::{AckInfo, ErrorDetail};
use connector_hl7::{AckCode, ErrorCode, Message};

/// How many ERR entries [`AttemptOutcome::Rejected`]'s description names at most.
const MAX_ERRORS_DESCRIBED: usize = 3;

/// What became of one delivery attempt (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The EHR accepted the message: MSA-1 `AA` or `CA`, MSA-2 the sent MSH-10.
    Delivered {
        /// `AA` or `CA`.
        ack_code: AckCode,
    },
    /// The EHR refused the message.
    Rejected {
        /// `AE`, `AR`, `CE` or `CR`; `None` when an HTTPS endpoint refused it with a 4xx status
        /// and no ACK.
        ack_code: Option<AckCode>,
        /// A short description made of codes and locations only, e.g.
        /// `101 Required field missing at PID-3; 207 Application internal error`, or
        /// `HTTP 404`. `None` when the ACK carried no ERR segment.
        error: Option<String>,
    },
    /// A reply came that does not acknowledge this message.
    WrongAck {
        /// Why the reply does not count.
        reason: WrongAckReason,
    },
    /// The message was (or may have been) sent, and no reply came.
    Unknown {
        /// What happened instead of a reply.
        reason: UnknownReason,
    },
    /// Nothing was sent: retrying is safe.
    NotSent {
        /// Why.
        reason: NotSentReason,
    },
}

impl AttemptOutcome {
    /// Whether the EHR has the message for certain.
    pub fn is_delivered(&self) -> bool {
        matches!(self, AttemptOutcome::Delivered { .. })
    }

    /// Whether sending again (with the same control ID) can help: [`AttemptOutcome::WrongAck`],
    /// [`AttemptOutcome::Unknown`] and [`AttemptOutcome::NotSent`].
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AttemptOutcome::WrongAck { .. }
                | AttemptOutcome::Unknown { .. }
                | AttemptOutcome::NotSent { .. }
        )
    }

    /// A short name for logs and metrics: `delivered`, `rejected`, `wrong_ack`, `unknown`,
    /// `not_sent`.
    pub fn kind(&self) -> &'static str {
        match self {
            AttemptOutcome::Delivered { .. } => "delivered",
            AttemptOutcome::Rejected { .. } => "rejected",
            AttemptOutcome::WrongAck { .. } => "wrong_ack",
            AttemptOutcome::Unknown { .. } => "unknown",
            AttemptOutcome::NotSent { .. } => "not_sent",
        }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::Delivered { ack_code } => write!(f, "delivered ({ack_code})"),
            AttemptOutcome::Rejected { ack_code, error } => {
                f.write_str("rejected")?;
                match (ack_code, error) {
                    (Some(c), Some(e)) => write!(f, " ({c}: {e})"),
                    (Some(c), None) => write!(f, " ({c})"),
                    (None, Some(e)) => write!(f, " ({e})"),
                    (None, None) => Ok(()),
                }
            }
            AttemptOutcome::WrongAck { reason } => write!(f, "wrong ACK: {reason}"),
            AttemptOutcome::Unknown { reason } => write!(f, "unknown: {reason}"),
            AttemptOutcome::NotSent { reason } => write!(f, "not sent: {reason}"),
        }
    }
}

/// Why a reply is not an ACK of the message sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WrongAckReason {
    /// The reply is not an HL7 message.
    Unparsable,
    /// The reply is HL7 but has no MSA, or MSA-1 is not an acknowledgment code.
    NotAnAck,
    /// MSA-2 is not the MSH-10 that was sent (or is empty).
    ControlIdMismatch,
    /// The reply frame was larger than the limit, or cut off by the start of another.
    BadFrame,
}

impl fmt::Display for WrongAckReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WrongAckReason::Unparsable => "the reply is not an HL7 message",
            WrongAckReason::NotAnAck => "the reply has no MSA with an acknowledgment code",
            WrongAckReason::ControlIdMismatch => "MSA-2 does not match the MSH-10 sent",
            WrongAckReason::BadFrame => "the reply frame was too large or not terminated",
        })
    }
}

/// What happened instead of a reply, after the message was (or may have been) sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnknownReason {
    /// No reply before the ACK timeout.
    AckTimeout,
    /// The peer closed the connection without replying.
    Closed,
    /// Reading or writing failed after the connection was made.
    Io(std::io::ErrorKind),
}

impl fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnknownReason::AckTimeout => f.write_str("no reply before the ACK timeout"),
            UnknownReason::Closed => f.write_str("the peer closed the connection without a reply"),
            UnknownReason::Io(kind) => write!(f, "I/O error after sending ({kind})"),
        }
    }
}

/// Why nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotSentReason {
    /// The host name did not resolve, or resolved to nothing.
    Resolve,
    /// The TCP connection failed (refused, unreachable...).
    Connect(std::io::ErrorKind),
    /// The connection (TCP, then TLS) did not complete within the connect timeout.
    ConnectTimeout,
    /// The TLS handshake failed (certificate not trusted, wrong name, protocol error).
    Tls,
    /// An HTTPS endpoint answered a retryable status (5xx, 429, 408) without an ACK.
    HttpStatus(u16),
    /// The HTTP request could not be made (connection refused, TLS, DNS).
    HttpConnect,
}

impl fmt::Display for NotSentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotSentReason::Resolve => f.write_str("the host name did not resolve"),
            NotSentReason::Connect(kind) => write!(f, "connection failed ({kind})"),
            NotSentReason::ConnectTimeout => f.write_str("connection timed out"),
            NotSentReason::Tls => f.write_str("TLS handshake failed"),
            NotSentReason::HttpStatus(s) => write!(f, "HTTP {s} without an ACK"),
            NotSentReason::HttpConnect => f.write_str("HTTP connection failed"),
        }
    }
}

/// Classifies a reply as the ACK of the message whose MSH-10 was `sent_control_id`.
///
/// `AA`/`CA` with a matching MSA-2 is [`AttemptOutcome::Delivered`]; `AE`/`AR`/`CE`/`CR` with a
/// matching MSA-2 is [`AttemptOutcome::Rejected`] with a description of its ERR segments; anything
/// else is [`AttemptOutcome::WrongAck`].
pub fn classify_reply(reply: &[u8], sent_control_id: &str) -> AttemptOutcome {
    let Ok(message) = Message::parse_bytes(reply) else {
        return AttemptOutcome::WrongAck {
            reason: WrongAckReason::Unparsable,
        };
    };
    let Ok(info) = AckInfo::read(&message) else {
        return AttemptOutcome::WrongAck {
            reason: WrongAckReason::NotAnAck,
        };
    };
    if sent_control_id.is_empty() || !info.acknowledges(sent_control_id) {
        return AttemptOutcome::WrongAck {
            reason: WrongAckReason::ControlIdMismatch,
        };
    }
    if info.code.is_accept() {
        AttemptOutcome::Delivered {
            ack_code: info.code,
        }
    } else {
        AttemptOutcome::Rejected {
            ack_code: Some(info.code),
            error: describe_errors(&info.errors),
        }
    }
}

/// Whether `reply` is an HL7 ACK at all (an MSA with a known code), whatever it acknowledges.
pub fn is_ack(reply: &[u8]) -> bool {
    Message::parse_bytes(reply).is_ok_and(|m| AckInfo::read(&m).is_ok())
}

/// `101 Required field missing at PID-3; 207 Application internal error` (codes from table
/// 0357 with the table's own text, locations as segment and field numbers; never ERR texts).
fn describe_errors(errors: &[ErrorDetail]) -> Option<String> {
    let parts: Vec<String> = errors
        .iter()
        .take(MAX_ERRORS_DESCRIBED)
        .map(describe_error)
        .collect();
    if parts.is_empty() {
        return None;
    }
    let mut text = parts.join("; ");
    if errors.len() > MAX_ERRORS_DESCRIBED {
        text.push_str(&format!(
            "; and {} more",
            errors.len() - MAX_ERRORS_DESCRIBED
        ));
    }
    Some(text)
}

fn describe_error(e: &ErrorDetail) -> String {
    let mut out = match e.code {
        Some(code) => match ErrorCode::from_code(code) {
            Some(known) => format!("{code} {}", known.text()),
            None => format!("error {code}"),
        },
        None => "error".to_owned(),
    };
    if let Some(loc) = &e.location {
        out.push_str(" at ");
        out.push_str(loc.segment.as_str());
        if loc.sequence > 1 {
            out.push_str(&format!("[{}]", loc.sequence));
        }
        if let Some(field) = loc.field {
            out.push_str(&format!("-{field}"));
            if let Some(component) = loc.component {
                out.push_str(&format!(".{component}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_reject_and_wrong_acks() {
        let aa = b"MSH|^~\\&|EHR|C|CC|C|20240101||ACK^A01^ACK|A1|P|2.5.1\rMSA|AA|M1\r";
        assert_eq!(
            classify_reply(aa, "M1"),
            AttemptOutcome::Delivered {
                ack_code: AckCode::ApplicationAccept
            }
        );
        assert_eq!(
            classify_reply(aa, "M2"),
            AttemptOutcome::WrongAck {
                reason: WrongAckReason::ControlIdMismatch
            }
        );
        let ae = b"MSH|^~\\&|EHR|C|CC|C|20240101||ACK|A1|P|2.5.1\rMSA|AE|M1\rERR||PID^1^3|101^Patient Jane Doe missing^HL70357|E\rERR|||207^x^HL70357|E\r";
        let out = classify_reply(ae, "M1");
        assert_eq!(
            out,
            AttemptOutcome::Rejected {
                ack_code: Some(AckCode::ApplicationError),
                error: Some(
                    "101 Required field missing at PID-3; 207 Application internal error"
                        .to_owned()
                ),
            }
        );
        assert!(!out.to_string().contains("Jane"));
        let legacy = b"MSH|^~\\&|EHR|C|CC|C|20240101||ACK|A1|P|2.3\rMSA|AR|M1|text\rERR|MSH^1^9^201&Unsupported event code&HL70357\r";
        assert_eq!(
            classify_reply(legacy, "M1"),
            AttemptOutcome::Rejected {
                ack_code: Some(AckCode::ApplicationReject),
                error: Some("201 Unsupported event code at MSH-9".to_owned()),
            }
        );
        assert_eq!(
            classify_reply(b"not hl7", "M1"),
            AttemptOutcome::WrongAck {
                reason: WrongAckReason::Unparsable
            }
        );
        assert_eq!(
            classify_reply(b"MSH|^~\\&|EHR\rPID|1", "M1"),
            AttemptOutcome::WrongAck {
                reason: WrongAckReason::NotAnAck
            }
        );
        assert!(is_ack(aa));
        assert!(!is_ack(b"MSH|^~\\&|EHR\rPID|1"));
    }

    #[test]
    fn descriptions_are_capped() {
        let mut reply = b"MSH|^~\\&|EHR|C|CC|C|20240101||ACK|A1|P|2.5.1\rMSA|CR|M1\r".to_vec();
        for _ in 0..5 {
            reply.extend_from_slice(b"ERR|||999\r");
        }
        let AttemptOutcome::Rejected { error, .. } = classify_reply(&reply, "M1") else {
            panic!("not rejected");
        };
        assert_eq!(
            error.as_deref(),
            Some("error 999; error 999; error 999; and 2 more")
        );
    }

    #[test]
    fn retryable_kinds() {
        assert!(
            AttemptOutcome::NotSent {
                reason: NotSentReason::Tls
            }
            .is_retryable()
        );
        assert!(
            !AttemptOutcome::Rejected {
                ack_code: None,
                error: None
            }
            .is_retryable()
        );
        assert_eq!(
            AttemptOutcome::Unknown {
                reason: UnknownReason::AckTimeout
            }
            .kind(),
            "unknown"
        );
    }
}
