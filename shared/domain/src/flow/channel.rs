//! Channels: the pipe between one EHR and the connector (seed 003: "build a channel for this
//! connector to transfer information between LeadSquared and your EHR system").
//!
//! A channel says how inbound HL7 is authenticated ([`InboundAuth`]), how outbound HL7 is
//! delivered ([`OutboundDelivery`], needed by CRM -> EHR flows) and how the CRM's webhooks
//! authenticate ([`WebhookAuth`], also needed by CRM -> EHR flows; LeadSquared webhooks have no
//! HMAC, only custom headers). Secrets are [`SecretRef`]s; the webhook token is kept as its
//! SHA-256 only. [`ChannelView`] is what the API shows.
//!
//! **Inbound signature.** The EHR (or its interface engine) sends
//! `x-connector-timestamp: <unix seconds>` and
//! `x-connector-signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>." + body)>`; the
//! connector recomputes it over [`signed_payload`] and refuses timestamps outside
//! `replay_window_secs` ([`InboundAuth::timestamp_is_fresh`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::secret::SecretRef;

crate::ids::external_id!(
    /// A channel's identifier.
    ChannelId,
    "channel_id"
);

/// The header carrying the inbound signature.
pub const SIGNATURE_HEADER: &str = "x-connector-signature";
/// The header carrying the inbound signature's timestamp (unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-connector-timestamp";
/// The prefix of the signature header's value.
pub const SIGNATURE_PREFIX: &str = "sha256=";
/// The default header the CRM's webhooks carry their token in.
pub const DEFAULT_WEBHOOK_HEADER: &str = "x-connector-webhook-token";

/// The bytes the inbound HMAC-SHA256 covers: the timestamp header's text, a `.`, the body.
pub fn signed_payload(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(timestamp.len() + 1 + body.len());
    out.extend_from_slice(timestamp.as_bytes());
    out.push(b'.');
    out.extend_from_slice(body);
    out
}

/// A channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Its identifier.
    pub channel_id: ChannelId,
    /// Display name.
    pub name: String,
    /// Free text for the clinic's staff.
    pub description: String,
    /// How inbound HL7 (EHR -> connector) is authenticated.
    pub inbound: InboundAuth,
    /// How HL7 goes to the EHR (CRM -> EHR flows need it).
    pub outbound: Option<OutboundDelivery>,
    /// How the CRM's webhooks authenticate (CRM -> EHR flows need it).
    pub crm_webhook: Option<WebhookAuth>,
    /// When the channel was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Channel {
    /// Every secret reference of the channel with the input field that holds it
    /// (`inbound.secret`, `outbound.tls.ca_pem_ref`, `outbound.headers[0].secret`), in that
    /// order.
    pub fn secret_refs(&self) -> Vec<(String, &SecretRef)> {
        let InboundAuth::Hmac { secret, .. } = &self.inbound;
        let mut refs = vec![("inbound.secret".to_owned(), secret)];
        match &self.outbound {
            Some(OutboundDelivery::Mllp(mllp)) => {
                if let Some(ca) = mllp.tls.as_ref().and_then(|t| t.ca_pem_ref.as_ref()) {
                    refs.push(("outbound.tls.ca_pem_ref".to_owned(), ca));
                }
            }
            Some(OutboundDelivery::Https(https)) => {
                for (i, header) in https.headers.iter().enumerate() {
                    if let HeaderValue::Secret(secret) = &header.value {
                        refs.push((format!("outbound.headers[{i}].secret"), secret));
                    }
                }
            }
            None => {}
        }
        refs
    }

    /// What the API shows: the same, without the webhook token's hash.
    pub fn view(&self) -> ChannelView {
        ChannelView {
            channel_id: self.channel_id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            inbound: self.inbound.clone(),
            outbound: self.outbound.clone(),
            crm_webhook: self.crm_webhook.as_ref().map(|w| WebhookAuthView {
                header_name: w.header_name.clone(),
                token_configured: true,
            }),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// How inbound HL7 is authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundAuth {
    /// HMAC-SHA256 over timestamp and body (see the [module documentation](self)).
    Hmac {
        /// Where the shared secret lives.
        secret: SecretRef,
        /// How far (either way) the timestamp may be from the connector's clock.
        replay_window_secs: u32,
    },
}

impl InboundAuth {
    /// Whether a signature's timestamp (unix seconds) is within the replay window of `now`.
    pub fn timestamp_is_fresh(&self, timestamp: i64, now: DateTime<Utc>) -> bool {
        match self {
            InboundAuth::Hmac {
                replay_window_secs, ..
            } => now
                .timestamp()
                .checked_sub(timestamp)
                .is_some_and(|d| d.unsigned_abs() <= u64::from(*replay_window_secs)),
        }
    }
}

/// How HL7 is delivered to the EHR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboundDelivery {
    /// MLLP over TCP, optionally in TLS; an ACK is awaited for each message.
    Mllp(MllpDelivery),
    /// An HTTPS POST of the ER7 text.
    Https(HttpsDelivery),
}

impl OutboundDelivery {
    /// The retry policy of either kind.
    pub fn retry(&self) -> ChannelRetryPolicy {
        match self {
            OutboundDelivery::Mllp(m) => ChannelRetryPolicy {
                max_attempts: m.max_attempts,
                backoff_initial_ms: m.backoff_initial_ms,
                backoff_max_ms: m.backoff_max_ms,
            },
            OutboundDelivery::Https(h) => ChannelRetryPolicy {
                max_attempts: h.max_attempts,
                backoff_initial_ms: h.backoff_initial_ms,
                backoff_max_ms: h.backoff_max_ms,
            },
        }
    }
}

/// MLLP delivery settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MllpDelivery {
    /// Host name or IP address of the EHR's listener.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS, when the listener speaks it.
    pub tls: Option<TlsSettings>,
    /// How long to wait for the TCP (and TLS) connection.
    pub connect_timeout_ms: u32,
    /// How long to wait for the ACK of a message.
    pub ack_timeout_ms: u32,
    /// Attempts per message, the first included.
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled each time.
    pub backoff_initial_ms: u32,
    /// Largest delay between attempts.
    pub backoff_max_ms: u32,
}

/// TLS settings of an MLLP connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSettings {
    /// The name the server's certificate must carry (SNI and verification).
    pub server_name: String,
    /// A CA bundle (PEM) to trust instead of the system roots, for EHRs with a private CA.
    pub ca_pem_ref: Option<SecretRef>,
}

/// HTTPS delivery settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpsDelivery {
    /// The endpoint (`https://`; `http://` only to localhost).
    pub url: String,
    /// Extra request headers.
    pub headers: Vec<HttpHeader>,
    /// How long to wait for the response.
    pub timeout_ms: u32,
    /// Attempts per message, the first included.
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled each time.
    pub backoff_initial_ms: u32,
    /// Largest delay between attempts.
    pub backoff_max_ms: u32,
}

/// One extra HTTP header: `{"name": "X-Site", "value": "north"}` or
/// `{"name": "Authorization", "secret": "env:CONNECTOR_SECRET_EHR_TOKEN"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHeader {
    /// The header name.
    pub name: String,
    /// Its value or the reference to it.
    #[serde(flatten)]
    pub value: HeaderValue,
}

/// A header's value: plain configuration, or a secret held elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderValue {
    /// A value that is not a secret (validation refuses plain values for credential headers).
    Value(String),
    /// A secret, resolved when sending.
    Secret(SecretRef),
}

/// Attempts and exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRetryPolicy {
    /// Attempts per message, the first included.
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub backoff_initial_ms: u32,
    /// Largest delay.
    pub backoff_max_ms: u32,
}

impl ChannelRetryPolicy {
    /// The delay before attempt `attempt` (1-based; `None` for the first attempt and past
    /// `max_attempts`): `initial * 2^(attempt - 2)`, capped at `backoff_max_ms`.
    pub fn delay_before(&self, attempt: u32) -> Option<Duration> {
        if attempt < 2 || attempt > self.max_attempts {
            return None;
        }
        let factor = 1u64.checked_shl(attempt - 2).unwrap_or(u64::MAX);
        let ms = u64::from(self.backoff_initial_ms)
            .saturating_mul(factor)
            .min(u64::from(self.backoff_max_ms));
        Some(Duration::from_millis(ms))
    }
}

/// How the CRM's webhooks authenticate: a random token in a custom header (LeadSquared's
/// `CustomHeaders`), of which only the SHA-256 is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAuth {
    /// The header the token arrives in (lower case).
    pub header_name: String,
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
}

/// A SHA-256 digest, serialised as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// A digest's bytes.
    pub fn new(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// Parses 64 hex digits.
    ///
    /// # Errors
    /// [`hex::FromHexError`] when the text is not 64 hex digits.
    pub fn parse_hex(text: &str) -> Result<Self, hex::FromHexError> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(text, &mut digest)?;
        Ok(Self(digest))
    }

    /// Whether the SHA-256 of a presented token equals this one, in constant time.
    pub fn matches(&self, presented_digest: &[u8; 32]) -> bool {
        self.0
            .iter()
            .zip(presented_digest)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TryFrom<String> for TokenHash {
    type Error = hex::FromHexError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse_hex(&s)
    }
}

impl From<TokenHash> for String {
    fn from(h: TokenHash) -> String {
        hex::encode(h.0)
    }
}

/// A channel as the API shows it: secret references are shown (they are not secrets), the
/// webhook token's hash is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelView {
    /// See [`Channel::channel_id`].
    pub channel_id: ChannelId,
    /// See [`Channel::name`].
    pub name: String,
    /// See [`Channel::description`].
    pub description: String,
    /// See [`Channel::inbound`].
    pub inbound: InboundAuth,
    /// See [`Channel::outbound`].
    pub outbound: Option<OutboundDelivery>,
    /// See [`Channel::crm_webhook`].
    pub crm_webhook: Option<WebhookAuthView>,
    /// See [`Channel::created_at`].
    pub created_at: DateTime<Utc>,
    /// See [`Channel::updated_at`].
    pub updated_at: DateTime<Utc>,
}

/// The webhook settings as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookAuthView {
    /// The header the token arrives in.
    pub header_name: String,
    /// Always true: a token is configured (its hash is not shown).
    pub token_configured: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_payload_is_timestamp_dot_body() {
        assert_eq!(signed_payload("1700000000", b"MSH|x"), b"1700000000.MSH|x");
    }

    #[test]
    fn replay_window_both_ways() {
        let auth = InboundAuth::Hmac {
            secret: SecretRef::parse("local:k").unwrap(),
            replay_window_secs: 300,
        };
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(auth.timestamp_is_fresh(1_700_000_000 - 300, now));
        assert!(auth.timestamp_is_fresh(1_700_000_000 + 300, now));
        assert!(!auth.timestamp_is_fresh(1_700_000_000 - 301, now));
        assert!(!auth.timestamp_is_fresh(i64::MIN, now));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let r = ChannelRetryPolicy {
            max_attempts: 40,
            backoff_initial_ms: 1_000,
            backoff_max_ms: 5_000,
        };
        assert_eq!(r.delay_before(1), None);
        assert_eq!(r.delay_before(2), Some(Duration::from_secs(1)));
        assert_eq!(r.delay_before(3), Some(Duration::from_secs(2)));
        assert_eq!(r.delay_before(5), Some(Duration::from_secs(5)));
        assert_eq!(r.delay_before(40), Some(Duration::from_secs(5)));
        assert_eq!(r.delay_before(41), None);
    }

    #[test]
    fn token_hash_hex_and_compare() {
        let h = TokenHash::parse_hex(&"ab".repeat(32)).unwrap();
        assert!(h.matches(&[0xab; 32]));
        assert!(!h.matches(&[0xaa; 32]));
        assert!(TokenHash::parse_hex("abc").is_err());
        assert_eq!(String::from(h), "ab".repeat(32));
        assert_eq!(format!("{h:?}"), "TokenHash(..)");
    }

    #[test]
    fn secret_refs_name_each_field_in_order() {
        let input: crate::flow::ChannelInput = serde_json::from_value(serde_json::json!({
            "name": "North",
            "inbound": {"type": "hmac", "secret": "local:north-hmac"},
            "outbound": {"type": "https", "url": "https://ehr.example.org/hl7", "headers": [
                {"name": "X-Site", "value": "north"},
                {"name": "Authorization", "secret": "env:CONNECTOR_SECRET_EHR_TOKEN"}
            ]}
        }))
        .unwrap();
        let channel = input
            .into_channel(ChannelId::parse("north").unwrap(), Utc::now())
            .unwrap();
        let refs: Vec<(String, String)> = channel
            .secret_refs()
            .into_iter()
            .map(|(field, r)| (field, r.to_string()))
            .collect();
        assert_eq!(
            refs,
            [
                ("inbound.secret".to_owned(), "local:north-hmac".to_owned()),
                (
                    "outbound.headers[1].secret".to_owned(),
                    "env:CONNECTOR_SECRET_EHR_TOKEN".to_owned()
                )
            ]
        );
    }
}
