//! A channel that cannot take messages until an administrator fixes it: its inbound secret
//! reference does not resolve (the secret was deleted, the variable unset, or the reference
//! names a kind this deployment cannot read). Unlike a store outage this does not heal by
//! itself, so the message is refused as non-retryable, and the ERROR line that tells the
//! operator is written at most once per channel and reference per [`LOG_EVERY`], naming the
//! channel, the field and the reference only.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Utc};
use connector_domain::flow::{ChannelId, SecretRef};

/// At most one ERROR line per channel and reference this often.
pub const LOG_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// When each (channel id, reference text) was last logged.
type LastLogged = Mutex<HashMap<(String, String), DateTime<Utc>>>;

/// When each (channel, reference) was last logged, in this process.
fn last_logged() -> &'static LastLogged {
    static LAST: OnceLock<LastLogged> = OnceLock::new();
    LAST.get_or_init(Mutex::default)
}

/// Whether to log for `(channel, reference)` at `now`: the first time, and again once
/// [`LOG_EVERY`] has passed since the last line.
fn due(channel: &ChannelId, reference: &SecretRef, now: DateTime<Utc>) -> bool {
    let mut last = last_logged().lock().unwrap_or_else(|p| p.into_inner());
    if last.len() > 1024 {
        last.retain(|_, at| now - *at < LOG_EVERY);
    }
    let key = (channel.as_str().to_owned(), reference.to_string());
    match last.get(&key) {
        Some(at) if now - *at < LOG_EVERY && now >= *at => false,
        _ => {
            last.insert(key, now);
            true
        }
    }
}

/// Logs (rate-limited) that `channel`'s `field` holds a reference that does not resolve.
pub fn report(channel: &ChannelId, field: &str, reference: &SecretRef, now: DateTime<Utc>) {
    if due(channel, reference, now) {
        tracing::error!(
            channel_id = %channel,
            field,
            reference = %reference,
            "the channel's secret reference cannot be resolved: messages are refused until it is \
             stored (connector secret set / PUT /secrets) or the channel is changed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_once_per_window_per_channel_and_reference() {
        let channel = ChannelId::parse("rate-limit-test").unwrap();
        let other = ChannelId::parse("rate-limit-other").unwrap();
        let reference = SecretRef::parse("local:rate-limit").unwrap();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert!(due(&channel, &reference, t0));
        assert!(!due(
            &channel,
            &reference,
            t0 + chrono::Duration::seconds(59)
        ));
        assert!(due(&other, &reference, t0));
        assert!(due(&channel, &reference, t0 + LOG_EVERY));
    }

    #[test]
    fn over_mllp_a_misconfigured_channel_is_an_ar_with_an_err() {
        let message = "MSH|^~\\&|EHR|NORTH|CONNECTOR|CRM|20261121090000||ADT^A04|MC-1|P|2.5\r";
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let reply = crate::ehr_to_crm::InboundReply::ChannelMisconfigured {
            field: "inbound.secret",
        };
        let ack = crate::ehr_to_crm::reply_as_ack(reply, message.as_bytes(), now);
        let parsed = connector_hl7::Message::parse(&ack).unwrap();
        let info = connector_hl7::AckInfo::read(&parsed).unwrap();
        assert_eq!(info.code.as_str(), "AR", "{ack}");
        assert_eq!(info.control_id.as_deref(), Some("MC-1"));
        assert_eq!(info.errors.len(), 1, "{ack}");
    }
}
