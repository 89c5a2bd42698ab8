//! Domain values to DynamoDB items and back, through serde (`serde_dynamo`).
//!
//! Domain fields are stored as top-level attributes, next to the key and index attributes the
//! store adds; `None` fields are left out (a `NULL` index key attribute would be rejected, and a
//! left-out attribute keeps sparse indexes sparse). Decoding ignores the extra attributes.
//! Errors name the record kind only: serde's messages may quote stored values.

use aws_sdk_dynamodb::types::AttributeValue;
use connector_domain::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Item;

/// Serialises a domain value (a struct) into an item, leaving out `None` fields.
pub fn to_item<T: Serialize>(value: &T, kind: &'static str) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::aws_sdk_dynamodb_1::to_item(value).map_err(|_| StoreError::Corrupt(kind))?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    Ok(item)
}

/// Serialises one value (a timestamp, a nested struct) as an attribute value.
pub fn to_value<T: Serialize>(value: &T, kind: &'static str) -> Result<AttributeValue, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(value)
        .map_err(|_| StoreError::Corrupt(kind))
}

/// Decodes a stored item, ignoring key and index attributes.
pub fn from_item<T: DeserializeOwned>(item: Item, kind: &'static str) -> Result<T, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item).map_err(|_| StoreError::Corrupt(kind))
}

/// A number attribute of an item, as u64.
pub fn number(item: &Item, name: &str, kind: &'static str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text.parse().map_err(|_| StoreError::Corrupt(kind)),
        _ => Err(StoreError::Corrupt(kind)),
    }
}

/// A string attribute of an item.
pub fn string<'a>(item: &'a Item, name: &str, kind: &'static str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Ok(text),
        _ => Err(StoreError::Corrupt(kind)),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use connector_domain::consent::{Consent, ConsentSource, Revocation};
    use connector_domain::{Actor, ConsentId, PatientId, Role};

    use super::*;

    fn consent() -> Consent {
        Consent {
            consent_id: ConsentId::parse("c-1").unwrap(),
            patient_id: PatientId::parse("p-1").unwrap(),
            seq: 3,
            given_on: NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            expires_on: NaiveDate::from_ymd_opt(2027, 1, 2).unwrap(),
            source: ConsentSource::Portal,
            created_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            created_by: Actor::new("u1", Role::Patient),
            revocation: None,
        }
    }

    #[test]
    fn round_trips_and_leaves_out_none() {
        let c = consent();
        let mut item = to_item(&c, "consent").unwrap();
        assert!(!item.contains_key("revocation"));
        assert_eq!(item.get("seq"), Some(&AttributeValue::N("3".into())));
        item.insert("pk".into(), AttributeValue::S("PATIENT#p-1".into()));
        assert_eq!(from_item::<Consent>(item, "consent").unwrap(), c);

        let revoked = Consent {
            revocation: Some(Revocation {
                at: c.created_at,
                by: Actor::system("t"),
                reason: None,
            }),
            ..c
        };
        let item = to_item(&revoked, "consent").unwrap();
        assert_eq!(from_item::<Consent>(item, "consent").unwrap(), revoked);
    }

    #[test]
    fn corrupt_items_name_the_kind_only() {
        let mut item = to_item(&consent(), "consent").unwrap();
        item.insert("given_on".into(), AttributeValue::S("secret-value".into()));
        let err = from_item::<Consent>(item, "consent").unwrap_err();
        assert!(matches!(err, StoreError::Corrupt("consent")));
        assert!(!format!("{err:?} {err}").contains("secret-value"));
    }
}
