//! The channel's inbound HMAC check: `x-connector-timestamp` (unix seconds) and
//! `x-connector-signature: sha256=<hex>` over `"<timestamp>." + body` (see
//! `connector_domain::flow::channel`), within the channel's replay window, compared in
//! constant time.

use chrono::{DateTime, Utc};
use connector_domain::flow::channel::{SIGNATURE_PREFIX, signed_payload};
use connector_domain::flow::{InboundAuth, SecretValue};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

/// Why a signature was refused. The variants say what was wrong, never what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The timestamp or signature header is missing.
    #[error(
        "the request is not signed (x-connector-timestamp and x-connector-signature are required)"
    )]
    Missing,
    /// The timestamp is not unix seconds.
    #[error("x-connector-timestamp must be unix seconds")]
    BadTimestamp,
    /// The timestamp is outside the channel's replay window.
    #[error("x-connector-timestamp is outside the channel's replay window")]
    Stale,
    /// The signature is not `sha256=` and 64 hex digits.
    #[error("x-connector-signature must be sha256= followed by 64 hex digits")]
    BadFormat,
    /// The signature does not match.
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks a request's signature headers against the channel's secret.
///
/// # Errors
/// The first problem found, in the order missing, timestamp, freshness, format, match.
pub fn verify(
    auth: &InboundAuth,
    secret: &SecretValue,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let seconds: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if !auth.timestamp_is_fresh(seconds, now) {
        return Err(SignatureError::Stale);
    }
    let hex_digest = signature
        .trim()
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(SignatureError::BadFormat)?;
    let mut presented = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut presented).map_err(|_| SignatureError::BadFormat)?;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.expose())
        .map_err(|_| SignatureError::Mismatch)?;
    mac.update(&signed_payload(timestamp.trim(), body));
    mac.verify_slice(&presented)
        .map_err(|_| SignatureError::Mismatch)
}

/// The signature headers' values for `body` at `timestamp` (what an EHR, the MLLP bridge or a
/// test sends).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> (String, String) {
    let timestamp = timestamp.to_string();
    let mut mac =
        hmac::Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&signed_payload(&timestamp, body));
    let digest = mac.finalize().into_bytes();
    (
        timestamp,
        format!("{SIGNATURE_PREFIX}{}", hex::encode(digest)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_domain::flow::SecretRef;

    fn auth() -> InboundAuth {
        InboundAuth::Hmac {
            secret: SecretRef::parse("local:ehr").unwrap(),
            replay_window_secs: 300,
        }
    }

    #[test]
    fn accepts_its_own_signature_and_refuses_changes() {
        let secret = SecretValue::new(b"s3cret".to_vec());
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let body = b"MSH|^~\\&|...";
        let (ts, sig) = sign(b"s3cret", now.timestamp(), body);
        assert_eq!(
            verify(&auth(), &secret, Some(&ts), Some(&sig), body, now),
            Ok(())
        );
        assert_eq!(
            verify(&auth(), &secret, Some(&ts), Some(&sig), b"MSH|other", now),
            Err(SignatureError::Mismatch)
        );
        let other = SecretValue::new(b"other".to_vec());
        assert_eq!(
            verify(&auth(), &other, Some(&ts), Some(&sig), body, now),
            Err(SignatureError::Mismatch)
        );
        let later = now + chrono::Duration::seconds(301);
        assert_eq!(
            verify(&auth(), &secret, Some(&ts), Some(&sig), body, later),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&auth(), &secret, None, Some(&sig), body, now),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(&auth(), &secret, Some("soon"), Some(&sig), body, now),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(&auth(), &secret, Some(&ts), Some("md5=abc"), body, now),
            Err(SignatureError::BadFormat)
        );
    }
}
