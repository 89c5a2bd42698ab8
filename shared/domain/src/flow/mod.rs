//! Connector flows between the EHR (HL7 v2) and the CRM (LeadSquared), after seed 003 (the
//! CRM's "EHR-HL7 Connector"): channels, flows, their validation, the field mapping engine for
//! both directions. (The mapping screen's HL7 v2.5 data dictionary is
//! `connector_hl7::dictionary`.)
//!
//! - [`channel`]: a [`Channel`] is the pipe a clinic's EHR and the connector share: how inbound
//!   HL7 is authenticated (HMAC), how outbound HL7 is delivered (MLLP or HTTPS) and how the
//!   CRM's webhooks authenticate. Secrets are held as [`SecretRef`]s only.
//! - [`model`]: a [`Flow`] moves one HL7 event type one way (EHR -> CRM or CRM -> EHR) for one
//!   CRM entity (lead or activity), with its template, search keys and [`Mapping`]s.
//! - [`input`] / `validate`: [`FlowInput`] and [`ChannelInput`], what a client sends; every
//!   problem is reported at once as [`crate::ValidationErrors`], never quoting a value.
//! - [`transform`]: the per-mapping [`Transform`]s (trim, case, default, value map, date/time,
//!   phone to E.164).
//! - [`engine`]: [`map_ehr_to_crm`] and [`map_crm_to_ehr`], pure functions.
//!
//! Nothing here does I/O.

pub mod channel;
pub mod engine;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod input;
pub mod model;
pub mod phone;
pub mod secret;
pub mod transform;
mod validate;

pub use channel::{
    Channel, ChannelId, ChannelRetryPolicy, ChannelView, HeaderValue, HttpHeader, HttpsDelivery,
    InboundAuth, MllpDelivery, OutboundDelivery, TlsSettings, TokenHash, WebhookAuth,
    WebhookAuthView,
};
pub use engine::{
    ActivityPlan, CrmPlan, MappingError, MappingErrors, map_crm_to_ehr, map_ehr_to_crm,
};
pub use input::{ChannelInput, FlowInput};
pub use model::{
    CountryCode, CrmFieldName, Direction, Entity, Flow, FlowId, Hl7EventType, Mapping, SearchKey,
    SyncBehaviour, Template, TooLong, WebhookEvent,
};
pub use secret::{SecretRef, SecretValue};
pub use transform::{Transform, TransformError};

/// Serde for `chrono_tz::Tz` as its IANA name.
pub(crate) mod tz_serde {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<Tz>()
            .map_err(|_| serde::de::Error::custom("unknown time zone"))
    }
}

/// Serde for `Option<chrono_tz::Tz>` as its IANA name or null.
pub(crate) mod opt_tz_serde {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Option<Tz>, s: S) -> Result<S::Ok, S::Error> {
        match tz {
            Some(tz) => s.serialize_some(tz.name()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Tz>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(name) => name
                .parse::<Tz>()
                .map(Some)
                .map_err(|_| serde::de::Error::custom("unknown time zone")),
        }
    }
}

/// Serde for `connector_hl7::Path` as its canonical text (`PID-5.1`).
pub(crate) mod path_serde {
    use connector_hl7::Path;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(path)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Path, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<Path>().map_err(serde::de::Error::custom)
    }
}
