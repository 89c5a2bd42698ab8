//! What a client sends to create or replace a flow or a channel.
//!
//! Every field is optional and enumerations are plain strings, so that one request reports
//! *every* problem (a missing field, an unknown value) as a [`crate::ValidationError`] with a
//! path such as `mappings[2].transforms[0].to_format`, instead of stopping at the first serde
//! error (whose message would also quote the value). Unknown fields are refused. Validation is
//! [`FlowInput::into_flow`] / [`ChannelInput::into_channel`] (in `validate`).
//!
//! `From<&Flow>` / `From<&Channel>` give the input that validates back to the same value, for
//! edit screens and for merge-patch updates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::channel::{Channel, HeaderValue, InboundAuth, OutboundDelivery};
use super::model::{Direction, Flow, Mapping, SearchKey, Template};
use super::transform::Transform;

/// A flow as a client sends it (see [`Flow`] for the meaning of each field).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowInput {
    /// Required, 1 to 100 characters.
    pub name: Option<String>,
    /// Up to 1000 characters.
    pub description: Option<String>,
    /// Required.
    pub channel_id: Option<String>,
    /// Required: `ehr_to_crm` or `crm_to_ehr`.
    pub direction: Option<String>,
    /// Required: `lead` or `activity`.
    pub entity: Option<String>,
    /// Required: `ADT^A04`.
    pub event_type: Option<String>,
    /// `capture`, `create_only`, `update_only`, `do_nothing`: required for `ehr_to_crm`,
    /// refused for `crm_to_ehr`.
    pub lead_sync: Option<String>,
    /// Required for `ehr_to_crm` activity flows, refused otherwise.
    pub activity_sync: Option<String>,
    /// LeadSquared `ActivityEvent` code: required for activity flows, refused for lead flows.
    pub activity_type: Option<i64>,
    /// Required for `ehr_to_crm` activity flows (unless `activity_sync` is `do_nothing`),
    /// optional for `crm_to_ehr` activity flows, refused for lead flows.
    pub activity_match: Option<SearchKeyInput>,
    /// `ehr_to_crm` only; up to 100 characters.
    pub lead_source: Option<String>,
    /// `1` or `+1`; required when a mapping uses `phone_e164`.
    pub default_country_code: Option<String>,
    /// IANA name; default `UTC`.
    pub time_zone: Option<String>,
    /// Required.
    pub primary_search: Option<SearchKeyInput>,
    /// Optional; another CRM field than the primary's.
    pub secondary_search: Option<SearchKeyInput>,
    /// Required: the `crm_field` of the primary or the secondary search key.
    pub mrn_crm_field: Option<String>,
    /// Required: an HL7 message of `event_type`, up to 64 KiB (a JSON string).
    pub template: Option<Template>,
    /// Up to 200.
    pub mappings: Option<Vec<MappingInput>>,
    /// Required for `crm_to_ehr` (`lead_create`, `lead_update`, `activity_create`,
    /// `activity_update`, agreeing with `entity`), refused for `ehr_to_crm`.
    pub webhook_event: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// A search or match key as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchKeyInput {
    /// Required: a CRM schema name.
    pub crm_field: Option<String>,
    /// Required: an HL7 path (`PID-3.1`).
    pub hl7_path: Option<String>,
}

/// A mapping as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingInput {
    /// Required: an HL7 path.
    pub hl7_path: Option<String>,
    /// Required: a CRM schema name, or `ActivityNote`/`ActivityDateTime` for activities.
    pub crm_field: Option<String>,
    /// `lead` (default) or `activity`.
    pub target: Option<String>,
    /// Applied in order; up to 10.
    pub transforms: Option<Vec<TransformInput>>,
    /// Default false.
    pub required: Option<bool>,
    /// EHR -> CRM: the CRM field's maximum length, 1 to 32,000 characters (default 200; 2,000
    /// for `ActivityNote`).
    pub max_length: Option<u32>,
    /// EHR -> CRM: `reject` (default) or `truncate`.
    pub on_too_long: Option<String>,
}

/// A transform as a client sends it: `type` and the parameters that type takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformInput {
    /// Required: `trim`, `upper`, `lower`, `default`, `value_map`, `date_time`, `date`,
    /// `phone_e164`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `default`: the value.
    pub value: Option<String>,
    /// `value_map`: the map.
    pub map: Option<BTreeMap<String, String>>,
    /// `value_map`: the value for anything not in the map.
    pub otherwise: Option<String>,
    /// `date_time`, `date`: a `chrono` format.
    pub to_format: Option<String>,
    /// `date_time`: an IANA zone name.
    pub to_time_zone: Option<String>,
}

/// A channel as a client sends it (see [`Channel`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    /// Required, 1 to 100 characters.
    pub name: Option<String>,
    /// Up to 1000 characters.
    pub description: Option<String>,
    /// Required.
    pub inbound: Option<InboundAuthInput>,
    /// Optional (CRM -> EHR flows need it).
    pub outbound: Option<OutboundInput>,
    /// Optional (CRM -> EHR flows need it).
    pub crm_webhook: Option<WebhookAuthInput>,
}

/// Inbound authentication as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundAuthInput {
    /// `hmac` (the default and only kind).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Required: a secret reference (`env:CONNECTOR_SECRET_...`, `secretsmanager:arn:...`,
    /// `local:...`).
    pub secret: Option<String>,
    /// 30 to 3600; default 300.
    pub replay_window_secs: Option<i64>,
}

/// Outbound delivery as a client sends it: `type` and the settings of that type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundInput {
    /// Required: `mllp` or `https`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `mllp`, required: host name or IP address.
    pub host: Option<String>,
    /// `mllp`, required: 1 to 65535.
    pub port: Option<i64>,
    /// `mllp`: TLS settings.
    pub tls: Option<TlsInput>,
    /// `mllp`: 100 to 60000; default 5000.
    pub connect_timeout_ms: Option<i64>,
    /// `mllp`: 1000 to 300000; default 30000.
    pub ack_timeout_ms: Option<i64>,
    /// `https`, required.
    pub url: Option<String>,
    /// `https`: up to 20 extra headers.
    pub headers: Option<Vec<HttpHeaderInput>>,
    /// `https`: 1000 to 300000; default 30000.
    pub timeout_ms: Option<i64>,
    /// 1 to 20; default 5.
    pub max_attempts: Option<i64>,
    /// 100 to 600000; default 1000.
    pub backoff_initial_ms: Option<i64>,
    /// At least `backoff_initial_ms`, at most 3600000; default 300000.
    pub backoff_max_ms: Option<i64>,
}

/// TLS settings as a client sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsInput {
    /// Default: the host.
    pub server_name: Option<String>,
    /// A secret reference to a PEM CA bundle.
    pub ca_pem_ref: Option<String>,
}

/// An HTTP header as a client sends it: exactly one of `value` and `secret`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHeaderInput {
    /// Required: the header name.
    pub name: Option<String>,
    /// A plain value (refused for credential headers).
    pub value: Option<String>,
    /// A secret reference.
    pub secret: Option<String>,
}

/// CRM webhook settings as a client sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookAuthInput {
    /// Default `x-connector-webhook-token`.
    pub header_name: Option<String>,
    /// Required: SHA-256 of the token, 64 hex digits (the token itself is never sent here).
    pub token_hash: Option<String>,
}

impl From<&SearchKey> for SearchKeyInput {
    fn from(k: &SearchKey) -> Self {
        Self {
            crm_field: Some(k.crm_field.to_string()),
            hl7_path: Some(k.hl7_path.to_string()),
        }
    }
}

impl From<&Transform> for TransformInput {
    fn from(t: &Transform) -> Self {
        let mut out = TransformInput {
            kind: Some(t.kind().to_owned()),
            ..TransformInput::default()
        };
        match t {
            Transform::Trim | Transform::Upper | Transform::Lower | Transform::PhoneE164 => {}
            Transform::Default { value } => out.value = Some(value.clone()),
            Transform::ValueMap { map, otherwise } => {
                out.map = Some(map.clone());
                out.otherwise.clone_from(otherwise);
            }
            Transform::DateTime {
                to_format,
                to_time_zone,
            } => {
                out.to_format = Some(to_format.clone());
                out.to_time_zone = to_time_zone.map(|z| z.name().to_owned());
            }
            Transform::Date { to_format } => out.to_format = Some(to_format.clone()),
        }
        out
    }
}

impl From<&Mapping> for MappingInput {
    fn from(m: &Mapping) -> Self {
        Self {
            hl7_path: Some(m.hl7_path.to_string()),
            crm_field: Some(m.crm_field.to_string()),
            target: Some(m.target.as_str().to_owned()),
            transforms: Some(m.transforms.iter().map(TransformInput::from).collect()),
            required: Some(m.required),
            max_length: m.max_length,
            on_too_long: Some(m.on_too_long.as_str().to_owned()),
        }
    }
}

impl From<&Flow> for FlowInput {
    fn from(f: &Flow) -> Self {
        Self {
            name: Some(f.name.clone()),
            description: Some(f.description.clone()),
            channel_id: Some(f.channel_id.to_string()),
            direction: Some(f.direction.as_str().to_owned()),
            entity: Some(f.entity.as_str().to_owned()),
            event_type: Some(f.event_type.to_string()),
            lead_sync: (f.direction == Direction::EhrToCrm)
                .then(|| f.lead_sync.as_str().to_owned()),
            activity_sync: f.activity_sync.map(|s| s.as_str().to_owned()),
            activity_type: f.activity_type.map(i64::from),
            activity_match: f.activity_match.as_ref().map(SearchKeyInput::from),
            lead_source: f.lead_source.clone(),
            default_country_code: f.default_country_code.map(|c| c.to_string()),
            time_zone: Some(f.time_zone.name().to_owned()),
            primary_search: Some(SearchKeyInput::from(&f.primary_search)),
            secondary_search: f.secondary_search.as_ref().map(SearchKeyInput::from),
            mrn_crm_field: Some(f.mrn_crm_field.to_string()),
            template: Some(f.template.clone()),
            mappings: Some(f.mappings.iter().map(MappingInput::from).collect()),
            webhook_event: f.webhook_event.map(|e| e.as_str().to_owned()),
            enabled: Some(f.enabled),
        }
    }
}

impl From<&Channel> for ChannelInput {
    fn from(c: &Channel) -> Self {
        let InboundAuth::Hmac {
            secret,
            replay_window_secs,
        } = &c.inbound;
        let retry = c.outbound.as_ref().map(OutboundDelivery::retry);
        let outbound = c.outbound.as_ref().map(|o| OutboundInput {
            max_attempts: retry.map(|r| i64::from(r.max_attempts)),
            backoff_initial_ms: retry.map(|r| i64::from(r.backoff_initial_ms)),
            backoff_max_ms: retry.map(|r| i64::from(r.backoff_max_ms)),
            ..match o {
                OutboundDelivery::Mllp(m) => OutboundInput {
                    kind: Some("mllp".into()),
                    host: Some(m.host.clone()),
                    port: Some(i64::from(m.port)),
                    tls: m.tls.as_ref().map(|t| TlsInput {
                        server_name: Some(t.server_name.clone()),
                        ca_pem_ref: t.ca_pem_ref.as_ref().map(ToString::to_string),
                    }),
                    connect_timeout_ms: Some(i64::from(m.connect_timeout_ms)),
                    ack_timeout_ms: Some(i64::from(m.ack_timeout_ms)),
                    ..OutboundInput::default()
                },
                OutboundDelivery::Https(h) => OutboundInput {
                    kind: Some("https".into()),
                    url: Some(h.url.clone()),
                    headers: Some(
                        h.headers
                            .iter()
                            .map(|hd| HttpHeaderInput {
                                name: Some(hd.name.clone()),
                                value: match &hd.value {
                                    HeaderValue::Value(v) => Some(v.clone()),
                                    HeaderValue::Secret(_) => None,
                                },
                                secret: match &hd.value {
                                    HeaderValue::Value(_) => None,
                                    HeaderValue::Secret(s) => Some(s.to_string()),
                                },
                            })
                            .collect(),
                    ),
                    timeout_ms: Some(i64::from(h.timeout_ms)),
                    ..OutboundInput::default()
                },
            }
        });
        Self {
            name: Some(c.name.clone()),
            description: Some(c.description.clone()),
            inbound: Some(InboundAuthInput {
                kind: Some("hmac".into()),
                secret: Some(secret.to_string()),
                replay_window_secs: Some(i64::from(*replay_window_secs)),
            }),
            outbound,
            crm_webhook: c.crm_webhook.as_ref().map(|w| WebhookAuthInput {
                header_name: Some(w.header_name.clone()),
                token_hash: Some(String::from(w.token_hash)),
            }),
        }
    }
}
