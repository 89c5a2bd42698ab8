//! Validation of [`ChannelInput`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::Identity;
use super::fields::{IntSetting, description_field, name_field, present, required, secret_field};
use crate::flow::channel::{
    self, Channel, ChannelId, HeaderValue, HttpHeader, HttpsDelivery, InboundAuth, MllpDelivery,
    OutboundDelivery, TlsSettings, TokenHash, WebhookAuth,
};
use crate::flow::input::{
    ChannelInput, HttpHeaderInput, InboundAuthInput, OutboundInput, TlsInput, WebhookAuthInput,
};
use crate::ids::is_ascii_word;
use crate::{ValidationError, ValidationErrors};

/// The most extra HTTP headers of an HTTPS delivery.
pub(crate) const MAX_HEADERS: usize = 20;

const FORBIDDEN_HEADERS: [&str; 12] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    channel::SIGNATURE_HEADER,
    channel::TIMESTAMP_HEADER,
];

/// Whether a header carries credentials (and so must take a secret reference).
fn is_credential_header(lower: &str) -> bool {
    matches!(lower, "authorization" | "proxy-authorization" | "cookie")
        || [
            "token",
            "secret",
            "key",
            "auth",
            "password",
            "passwd",
            "signature",
            "session",
            "credential",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

fn is_header_name(name: &str) -> bool {
    is_ascii_word(name, 64, b"-_")
}

fn is_host(host: &str) -> bool {
    is_ascii_word(host, 253, b".-:") && !host.starts_with(['-', '.'])
}

/// Checks an outbound URL; `Err` holds the rule broken.
fn check_url(url: &str) -> Result<(), &'static str> {
    if url.len() > 2048 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must be a URL of at most 2048 characters without spaces");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("must start with https://");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("must not hold credentials: use a header with a secret reference");
    }
    if url.contains('#') {
        return Err("must not have a fragment");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, rest)) => (h, rest.strip_prefix(':')),
            None => return Err("must name a host"),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || !is_host(host) {
        return Err("must name a host");
    }
    if let Some(p) = port
        && !p.parse::<u16>().is_ok_and(|n| n > 0)
    {
        return Err("has an invalid port");
    }
    match scheme {
        "https" => Ok(()),
        "http" if matches!(host, "localhost" | "127.0.0.1" | "::1") => Ok(()),
        _ => Err("must use https:// (http:// only to localhost)"),
    }
}

/// How long a signed inbound request stays valid.
const REPLAY_WINDOW_SECS: IntSetting = IntSetting::or("inbound.replay_window_secs", 300, 30, 3600);

fn parse_inbound(
    e: &mut ValidationErrors,
    input: Option<&InboundAuthInput>,
) -> Option<InboundAuth> {
    let Some(i) = input else {
        e.push(required("inbound"));
        return None;
    };
    let kind_ok = match i.kind.as_deref().map(str::trim) {
        None | Some("hmac") => true,
        Some(_) => {
            e.push(ValidationError::new("inbound.type", "must be hmac"));
            false
        }
    };
    let secret = secret_field(e, "inbound.secret", i.secret.as_deref());
    let window = REPLAY_WINDOW_SECS.parse(e, i.replay_window_secs);
    Some(InboundAuth::Hmac {
        secret: secret?,
        replay_window_secs: window?,
    })
    .filter(|_| kind_ok)
}

fn forbid(e: &mut ValidationErrors, kind: &str, fields: &[(&str, bool)]) -> bool {
    let mut ok = true;
    for (name, present) in fields {
        if *present {
            e.push(ValidationError::new(
                format!("outbound.{name}"),
                format!("does not apply to {kind} delivery"),
            ));
            ok = false;
        }
    }
    ok
}

/// The outbound delivery of a channel: its kind, the retry settings every kind has, then the
/// kind's own settings.
fn parse_outbound(e: &mut ValidationErrors, o: &OutboundInput) -> Option<OutboundDelivery> {
    let kind = match o.kind.as_deref().map(str::trim) {
        None => {
            e.push(required("outbound.type"));
            return None;
        }
        Some(k @ ("mllp" | "https")) => k,
        Some(_) => {
            e.push(ValidationError::new(
                "outbound.type",
                "must be mllp or https",
            ));
            return None;
        }
    };
    let retry = Retry::parse(e, o);
    if kind == "mllp" {
        parse_mllp(e, o, &retry)
    } else {
        parse_https(e, o, &retry)
    }
}

/// Attempts per delivery.
const MAX_ATTEMPTS: IntSetting = IntSetting::or("outbound.max_attempts", 5, 1, 20);
/// The first retry's delay.
const BACKOFF_INITIAL_MS: IntSetting =
    IntSetting::or("outbound.backoff_initial_ms", 1_000, 100, 600_000);
/// The longest retry delay.
const BACKOFF_MAX_MS: IntSetting =
    IntSetting::or("outbound.backoff_max_ms", 300_000, 100, 3_600_000);

/// The retry settings of an outbound delivery, each `None` when invalid.
struct Retry {
    max_attempts: Option<u32>,
    initial: Option<u32>,
    max: Option<u32>,
    /// Whether the backoff limits are valid together.
    ok: bool,
}

impl Retry {
    /// The attempts and the backoff (whose maximum is at least its initial value).
    fn parse(e: &mut ValidationErrors, o: &OutboundInput) -> Self {
        let max_attempts = MAX_ATTEMPTS.parse(e, o.max_attempts);
        let initial = BACKOFF_INITIAL_MS.parse(e, o.backoff_initial_ms);
        let max = BACKOFF_MAX_MS.parse(e, o.backoff_max_ms);
        if let (Some(i), Some(m)) = (initial, max)
            && m < i
        {
            e.push(ValidationError::new(
                "outbound.backoff_max_ms",
                "must be at least backoff_initial_ms",
            ));
        }
        let ok = max.zip(initial).is_some_and(|(m, i)| m >= i);
        Self {
            max_attempts,
            initial,
            max,
            ok,
        }
    }
}

/// The EHR's MLLP port.
const PORT: IntSetting = IntSetting::required("outbound.port", 1, 65_535);
/// How long connecting to the EHR may take.
const CONNECT_TIMEOUT_MS: IntSetting =
    IntSetting::or("outbound.connect_timeout_ms", 5_000, 100, 60_000);
/// How long the EHR may take to acknowledge.
const ACK_TIMEOUT_MS: IntSetting =
    IntSetting::or("outbound.ack_timeout_ms", 30_000, 1_000, 300_000);

/// An MLLP delivery: host, port, optional TLS and timeouts (no HTTPS settings).
fn parse_mllp(
    e: &mut ValidationErrors,
    o: &OutboundInput,
    retry: &Retry,
) -> Option<OutboundDelivery> {
    let only_mllp = forbid(
        e,
        "mllp",
        &[
            ("url", o.url.is_some()),
            ("headers", o.headers.is_some()),
            ("timeout_ms", o.timeout_ms.is_some()),
        ],
    );
    let host = match present(e, "outbound.host", o.host.as_deref()) {
        None => None,
        Some(h) if is_host(h) => Some(h.to_owned()),
        Some(_) => e.refuse("outbound.host", "must be a host name or IP address"),
    };
    let port = PORT.parse(e, o.port).and_then(|p| u16::try_from(p).ok());
    let tls = match &o.tls {
        None => Some(None),
        Some(t) => parse_tls(e, t, host.as_deref()).map(Some),
    };
    let connect = CONNECT_TIMEOUT_MS.parse(e, o.connect_timeout_ms);
    let ack = ACK_TIMEOUT_MS.parse(e, o.ack_timeout_ms);
    if !(only_mllp && retry.ok) {
        return None;
    }
    Some(OutboundDelivery::Mllp(MllpDelivery {
        host: host?,
        port: port?,
        tls: tls?,
        connect_timeout_ms: connect?,
        ack_timeout_ms: ack?,
        max_attempts: retry.max_attempts?,
        backoff_initial_ms: retry.initial?,
        backoff_max_ms: retry.max?,
    }))
}

/// MLLP over TLS: the server name (the host when left out) and an optional CA reference.
fn parse_tls(e: &mut ValidationErrors, t: &TlsInput, host: Option<&str>) -> Option<TlsSettings> {
    let server_name = match t.server_name.as_deref().map(str::trim) {
        None | Some("") => host.map(str::to_owned),
        Some(s) if is_host(s) => Some(s.to_owned()),
        Some(_) => e.refuse("outbound.tls.server_name", "must be a host name"),
    };
    let ca = match t.ca_pem_ref.as_deref() {
        None => Some(None),
        Some(r) => secret_field(e, "outbound.tls.ca_pem_ref", Some(r)).map(Some),
    };
    server_name
        .zip(ca)
        .map(|(server_name, ca_pem_ref)| TlsSettings {
            server_name,
            ca_pem_ref,
        })
}

/// How long one HTTPS request to the EHR may take.
const HTTPS_TIMEOUT_MS: IntSetting = IntSetting::or("outbound.timeout_ms", 30_000, 1_000, 300_000);

/// An HTTPS delivery: URL, extra headers and timeout (no MLLP settings).
fn parse_https(
    e: &mut ValidationErrors,
    o: &OutboundInput,
    retry: &Retry,
) -> Option<OutboundDelivery> {
    let only_https = forbid(
        e,
        "https",
        &[
            ("host", o.host.is_some()),
            ("port", o.port.is_some()),
            ("tls", o.tls.is_some()),
            ("connect_timeout_ms", o.connect_timeout_ms.is_some()),
            ("ack_timeout_ms", o.ack_timeout_ms.is_some()),
        ],
    );
    let url = present(e, "outbound.url", o.url.as_deref()).and_then(|u| match check_url(u) {
        Ok(()) => Some(u.to_owned()),
        Err(rule) => e.refuse("outbound.url", rule),
    });
    let headers = parse_headers(e, o.headers.as_deref().unwrap_or_default());
    let timeout = HTTPS_TIMEOUT_MS.parse(e, o.timeout_ms);
    if !(only_https && retry.ok) {
        return None;
    }
    Some(OutboundDelivery::Https(HttpsDelivery {
        url: url?,
        headers: headers?,
        timeout_ms: timeout?,
        max_attempts: retry.max_attempts?,
        backoff_initial_ms: retry.initial?,
        backoff_max_ms: retry.max?,
    }))
}

fn parse_headers(e: &mut ValidationErrors, inputs: &[HttpHeaderInput]) -> Option<Vec<HttpHeader>> {
    if inputs.len() > MAX_HEADERS {
        e.push(ValidationError::new(
            "outbound.headers",
            format!("must be at most {MAX_HEADERS}"),
        ));
        return None;
    }
    let mut out = Vec::with_capacity(inputs.len());
    let mut ok = true;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, h) in inputs.iter().enumerate() {
        let p = format!("outbound.headers[{i}]");
        let name = match h.name.as_deref().map(str::trim) {
            None | Some("") => {
                e.push(required(format!("{p}.name")));
                None
            }
            Some(n) if !is_header_name(n) => e.refuse(
                format!("{p}.name"),
                "must be an HTTP header name (letters, digits, '-')",
            ),
            Some(n) => {
                let lower = n.to_ascii_lowercase();
                if FORBIDDEN_HEADERS.contains(&lower.as_str()) {
                    e.refuse(
                        format!("{p}.name"),
                        "is set by the connector and cannot be configured",
                    )
                } else if let Some(first) = seen.get(&lower) {
                    e.refuse(
                        format!("{p}.name"),
                        format!("repeats outbound.headers[{first}].name"),
                    )
                } else {
                    seen.insert(lower, i);
                    Some(n.to_owned())
                }
            }
        };
        let value = match (&h.value, &h.secret) {
            (Some(_), Some(_)) | (None, None) => {
                e.refuse(p.clone(), "needs exactly one of value and secret")
            }
            (None, Some(s)) => {
                secret_field(e, &format!("{p}.secret"), Some(s)).map(HeaderValue::Secret)
            }
            (Some(v), None) => {
                if name
                    .as_deref()
                    .is_some_and(|n| is_credential_header(&n.to_ascii_lowercase()))
                {
                    e.refuse(
                        format!("{p}.value"),
                        "this header carries credentials: give a secret reference in secret instead",
                    )
                } else if v.chars().count() > 1024 || v.chars().any(char::is_control) {
                    e.refuse(
                        format!("{p}.value"),
                        "must be a single line of at most 1024 characters",
                    )
                } else {
                    Some(HeaderValue::Value(v.clone()))
                }
            }
        };
        match name.zip(value) {
            Some((name, value)) => out.push(HttpHeader { name, value }),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn parse_webhook(e: &mut ValidationErrors, w: &WebhookAuthInput) -> Option<WebhookAuth> {
    let header_name = match w.header_name.as_deref().map(str::trim) {
        None | Some("") => Some(channel::DEFAULT_WEBHOOK_HEADER.to_owned()),
        Some(n) if is_header_name(n) => {
            let lower = n.to_ascii_lowercase();
            if FORBIDDEN_HEADERS.contains(&lower.as_str()) || lower == "authorization" {
                e.refuse("crm_webhook.header_name", "must be a custom header name")
            } else {
                Some(lower)
            }
        }
        Some(_) => e.refuse(
            "crm_webhook.header_name",
            "must be an HTTP header name (letters, digits, '-')",
        ),
    };
    let token_hash = match w.token_hash.as_deref().map(str::trim) {
        None | Some("") => {
            e.push(required("crm_webhook.token_hash"));
            None
        }
        Some(h) => TokenHash::parse_hex(h)
            .map_err(|_| {
                e.push(ValidationError::new(
                    "crm_webhook.token_hash",
                    "must be the SHA-256 of the token as 64 hex digits",
                ));
            })
            .ok(),
    };
    Some(WebhookAuth {
        header_name: header_name?,
        token_hash: token_hash?,
    })
}

impl ChannelInput {
    /// Validates a new channel; `created_at` and `updated_at` are `now`.
    ///
    /// # Errors
    /// Every problem found, each on its input path; messages never quote values.
    pub fn into_channel(
        self,
        channel_id: ChannelId,
        now: DateTime<Utc>,
    ) -> Result<Channel, ValidationErrors> {
        self.build(Identity::new(channel_id, now))
    }

    /// Validates a replacement of `current` (same id and creation time).
    ///
    /// # Errors
    /// As [`ChannelInput::into_channel`].
    pub fn replace(
        self,
        current: &Channel,
        now: DateTime<Utc>,
    ) -> Result<Channel, ValidationErrors> {
        let identity = Identity::replacing(current.channel_id.clone(), current.created_at, now);
        self.build(identity)
    }

    fn build(self, identity: Identity<ChannelId>) -> Result<Channel, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = name_field(&mut e, "name", self.name);
        let description = description_field(&mut e, "description", self.description);
        let inbound = parse_inbound(&mut e, self.inbound.as_ref());
        let outbound = self.outbound.as_ref().map(|o| parse_outbound(&mut e, o));
        let crm_webhook = self.crm_webhook.as_ref().map(|w| parse_webhook(&mut e, w));
        match (name, inbound) {
            (Some(name), Some(inbound)) if e.is_empty() => Ok(Channel {
                channel_id: identity.id,
                name,
                description,
                inbound,
                outbound: outbound.flatten(),
                crm_webhook: crm_webhook.flatten(),
                created_at: identity.created_at,
                updated_at: identity.updated_at,
            }),
            _ => {
                if e.is_empty() {
                    e.push(ValidationError::new("channel", "is invalid"));
                }
                Err(e)
            }
        }
    }
}
