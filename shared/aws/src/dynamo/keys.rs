//! Key and index attribute names and values: the one place that knows the key design
//! (docs/dynamodb.md has it as a table).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use connector_domain::delivery::{DeliveryId, WebhookKey};
use connector_domain::flow::{ChannelId, FlowId};
use connector_domain::inbound::{InboundKey, KeyLock};
use connector_domain::{AppointmentId, ConsentId, PatientId};

use super::Item;

/// Partition key attribute of every table.
pub const PK: &str = "pk";
/// Sort key attribute of the tables that have one (consents, flows).
pub const SK: &str = "sk";

/// Consents table: sort key of a patient's demographics.
pub const SK_PROFILE: &str = "PROFILE";
/// Consents table: sort key of the copy of a patient's latest consent record.
pub const SK_LATEST: &str = "LATEST";
/// Consents table: sort key prefix of consent records.
pub const SK_CONSENT_PREFIX: &str = "CONSENT#";
/// Consents table: sort key of a consent id's uniqueness marker.
pub const SK_CONSENT_ID: &str = "ID";

/// Flows table: partition key of the HIE settings item.
pub const PK_SETTINGS_HIE: &str = "SETTINGS#hie";
/// Flows table: sort key of the HIE settings item.
pub const SK_SETTINGS: &str = "CURRENT";
/// Flows table: the settings item's version attribute.
pub const VERSION: &str = "version";

/// Flows table: partition key of the channels' item collection (every channel, ordered by id).
pub const PK_CHANNELS: &str = "CHANNELS";
/// Flows table: sort key prefix of a channel (`CHANNEL#<channel_id>`).
pub const SK_CHANNEL_PREFIX: &str = "CHANNEL#";
/// Flows table: partition key of the flows' item collection (every flow, ordered by id).
pub const PK_FLOWS: &str = "FLOWS";
/// Flows table: sort key prefix of a flow (`FLOW#<flow_id>`).
pub const SK_FLOW_PREFIX: &str = "FLOW#";
/// Flows table: the attribute holding a channel's or flow's JSON document.
pub const DOC: &str = "doc";
/// Flows table: a flow item's channel, a plain attribute for listing one channel's flows.
pub const CHANNEL_ID: &str = "channel_id";
/// Flows table: sort key of an inbound ledger record.
pub const SK_INBOUND: &str = "RECORD";

/// Flows table: sort key of a delivery.
pub const SK_DELIVERY: &str = "DELIVERY";
/// Flows table: sort key of an accepted webhook.
pub const SK_WEBHOOK: &str = "WEBHOOK";
/// Flows table: sort key of a patient group's block (the parked delivery it waits on).
pub const SK_GROUP_BLOCK: &str = "BLOCK";
/// Flows table: a delivery's state, copied out as the `by_delivery_state` partition key.
pub const DSTATE: &str = "dstate";
/// Flows table: a delivery's creation key (`<created_at>#<delivery_id>`), the
/// `by_delivery_state` sort key.
pub const DKEY: &str = "dkey";
/// Flows table: the index of deliveries by state, newest first.
pub const INDEX_BY_DELIVERY_STATE: &str = "by_delivery_state";
/// Flows table: the revision of a delivery or group block, which every write of it conditions
/// on and increments.
pub const REV: &str = "rev";

/// Appointments table: partition key of the item remembering the earliest transition month.
pub const PK_TRANSITION_META: &str = "META#transitions";
/// Appointments table: the earliest month bucket (`TMONTH#yyyy-mm`) any transition was recorded in.
pub const FIRST_MONTH: &str = "first_month";
/// Appointments table: partition key attribute of the `by_transition` index (`TMONTH#yyyy-mm`).
pub const TMONTH: &str = "tmonth";
/// Appointments table: sort key attribute of the `by_transition` index (`<at>#<appointment_id>`).
pub const TKEY: &str = "tkey";
/// Appointments table: the index of transitioned appointments by month and time.
pub const INDEX_BY_TRANSITION: &str = "by_transition";

/// Audit table: sort key attribute of every audit index (`<occurred_at>#<entry_id>`).
pub const OKEY: &str = "okey";
/// Audit and flows tables: the TTL attribute (epoch seconds; on the flows table only inbound
/// ledger records, delivered deliveries, accepted webhooks and CRM writes carry it).
pub const EXPIRES_AT: &str = "expires_at";
/// Audit table: index by log type.
pub const INDEX_BY_TYPE: &str = "by_type";
/// Audit table: index by patient.
pub const INDEX_BY_PATIENT: &str = "by_patient";
/// Audit table: the `by_channel` partition key of `hl7_inbound` and `crm_outbound` entries
/// (`<log_type>#<channel_id>`).
pub const CHANNEL_LOG: &str = "channel_log";
/// Audit table: index by log type and channel.
pub const INDEX_BY_CHANNEL: &str = "by_channel";
/// Audit table: index by appointment.
pub const INDEX_BY_APPOINTMENT: &str = "by_appointment";

/// A string attribute value.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute value.
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A fixed-width, lexicographically sortable UTC timestamp: `2026-11-21T05:00:00.000000000Z`.
pub fn sortable_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// `PATIENT#<id>`: the partition of a patient's profile, records and LATEST item.
pub fn patient_pk(id: &PatientId) -> String {
    format!("PATIENT#{id}")
}

/// `CONSENT#<seq, 20 digits>`: a consent record's sort key (20 digits hold any u64).
pub fn consent_sk(seq: u64) -> String {
    format!("{SK_CONSENT_PREFIX}{seq:020}")
}

/// `CONSENTID#<id>`: the partition of a consent id's uniqueness marker.
pub fn consent_id_pk(id: &ConsentId) -> String {
    format!("CONSENTID#{id}")
}

/// `CHANNEL#<id>`: a channel's sort key in the `CHANNELS` collection.
pub fn channel_sk(id: &ChannelId) -> String {
    format!("{SK_CHANNEL_PREFIX}{id}")
}

/// `FLOW#<id>`: a flow's sort key in the `FLOWS` collection.
pub fn flow_sk(id: &FlowId) -> String {
    format!("{SK_FLOW_PREFIX}{id}")
}

/// `INBOUND#<channel_id>#<control_id>`: an inbound ledger record's partition. Channel ids never
/// contain `#`, so the first `#` after the channel id ends it, whatever the control id holds.
pub fn inbound_pk(key: &InboundKey) -> String {
    format!("INBOUND#{}#{}", key.channel_id, key.control_id)
}

/// `DELIVERY#<id>`: a delivery's partition.
pub fn delivery_pk(id: &DeliveryId) -> String {
    format!("DELIVERY#{id}")
}

/// `WEBHOOK#<channel>|<entity>|<entity id>|<version>`: an accepted webhook's partition
/// ([`WebhookKey::as_text`]).
pub fn webhook_pk(key: &WebhookKey) -> String {
    format!("WEBHOOK#{}", key.as_text())
}

/// `DGROUP#<group>`: the partition of a patient group's block.
pub fn group_pk(group: &str) -> String {
    format!("DGROUP#{group}")
}

/// `<created_at>#<delivery_id>`: a delivery's creation key, ordered like creation order.
pub fn creation_key(created_at: DateTime<Utc>, id: &DeliveryId) -> String {
    format!("{}#{id}", sortable_time(created_at))
}

/// `KEYLOCK#<lock id>`: a search key lock's partition (the id holds a digest of the key value,
/// never the value).
pub fn key_lock_pk(lock: &KeyLock) -> String {
    format!("KEYLOCK#{lock}")
}

/// The sort key of a search key lock's one item.
pub const SK_KEY_LOCK: &str = "LOCK";

/// `CRMWRITE#<entity>`: the partition of the writes to one CRM entity.
pub fn crm_write_pk(entity: &str) -> String {
    format!("CRMWRITE#{entity}")
}

/// `<at>#<unique suffix>`: a CRM write's sort key, ordered by the write's time.
pub fn crm_write_sk(at: DateTime<Utc>, unique: &str) -> String {
    format!("{}#{unique}", sortable_time(at))
}

/// `APPT#<id>`: an appointment's key.
pub fn appointment_pk(id: &AppointmentId) -> String {
    format!("APPT#{id}")
}

/// `TMONTH#yyyy-mm`: the `by_transition` partition of a transition time.
pub fn transition_month(at: DateTime<Utc>) -> String {
    format!("TMONTH#{}", at.format("%Y-%m"))
}

/// `<at>#<appointment_id>`: the `by_transition` sort key.
pub fn transition_key(at: DateTime<Utc>, id: &AppointmentId) -> String {
    format!("{}#{id}", sortable_time(at))
}

/// `ENTRY#<entry_id>`: an audit entry's key.
pub fn entry_pk(entry_id: &str) -> String {
    format!("ENTRY#{entry_id}")
}

/// `<occurred_at>#<entry_id>`: the audit indexes' sort key, unique and ordered by time.
pub fn occurred_key(at: DateTime<Utc>, entry_id: &str) -> String {
    format!("{}#{entry_id}", sortable_time(at))
}

/// A key with a partition and a sort key.
pub fn key2(pk: String, sk: impl Into<String>) -> Item {
    Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// A key with a partition key only.
pub fn key1(pk: String) -> Item {
    Item::from([(PK.to_owned(), s(pk))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_time_is_fixed_width_and_ordered() {
        let a = DateTime::parse_from_rfc3339("2026-11-21T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let b = a + chrono::Duration::nanoseconds(1);
        let c = a + chrono::Duration::seconds(10);
        assert_eq!(sortable_time(a), "2026-11-21T05:00:00.000000000Z");
        assert_eq!(sortable_time(a).len(), sortable_time(b).len());
        assert!(sortable_time(a) < sortable_time(b) && sortable_time(b) < sortable_time(c));
    }

    #[test]
    fn consent_sort_keys_order_numerically() {
        assert!(consent_sk(9) < consent_sk(10));
        assert!(consent_sk(99_999) < consent_sk(u64::MAX));
    }

    #[test]
    fn flow_and_inbound_keys() {
        let channel = ChannelId::parse("ehr-1").unwrap();
        assert_eq!(channel_sk(&channel), "CHANNEL#ehr-1");
        assert_eq!(flow_sk(&FlowId::parse("f.2").unwrap()), "FLOW#f.2");
        let key = connector_domain::inbound::parse_key("ehr-1", "MSG#00 1").unwrap();
        assert_eq!(inbound_pk(&key), "INBOUND#ehr-1#MSG#00 1");
        // Sort keys of one collection order like the ids (byte order).
        let a = ChannelId::parse("A-1").unwrap();
        let b = ChannelId::parse("a.1").unwrap();
        assert_eq!(a < b, channel_sk(&a) < channel_sk(&b));
    }

    #[test]
    fn delivery_keys() {
        let id = DeliveryId::parse("dlv-1").unwrap();
        assert_eq!(delivery_pk(&id), "DELIVERY#dlv-1");
        assert_eq!(group_pk("lead-7"), "DGROUP#lead-7");
        let key = WebhookKey {
            channel_id: ChannelId::parse("ehr").unwrap(),
            entity: "lead".into(),
            entity_id: "7".into(),
            version: "2026-11-21 10:00:00".into(),
        };
        assert_eq!(webhook_pk(&key), "WEBHOOK#ehr|lead|7|2026-11-21 10:00:00");
        let at = DateTime::parse_from_rfc3339("2026-11-21T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let later = DeliveryId::parse("dlv-2").unwrap();
        assert!(creation_key(at, &id) < creation_key(at, &later));
        assert!(
            creation_key(at, &later) < creation_key(at + chrono::Duration::nanoseconds(1), &id)
        );
        assert_eq!(crm_write_pk("lead-1"), "CRMWRITE#lead-1");
        assert!(crm_write_sk(at, "b") > sortable_time(at));
    }

    #[test]
    fn transition_keys_order_like_the_cursor() {
        let at = DateTime::parse_from_rfc3339("2026-01-31T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        let a = AppointmentId::parse("a").unwrap();
        let ab = AppointmentId::parse("a-b").unwrap();
        assert!(transition_key(at, &a) < transition_key(at, &ab));
        assert_eq!(transition_month(at), "TMONTH#2026-01");
    }
}
