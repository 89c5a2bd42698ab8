//! The SQLite stores: schema, migrations, and one module per port.

pub(crate) mod appointments;
pub(crate) mod audit;
pub(crate) mod consents;
pub(crate) mod crm;
pub(crate) mod crm_writes;
pub(crate) mod dashboard;
pub(crate) mod deliveries;
pub(crate) mod flows;
pub(crate) mod inbound;
pub(crate) mod ledger;
pub(crate) mod migrate;
pub(crate) mod patients;
pub(crate) mod schema;
pub(crate) mod secrets;
pub(crate) mod settings;

use connector_domain::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The schema version this build creates and understands (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = schema::MIGRATIONS.len() as u32;

/// Encodes a domain value as the JSON kept in a `body` column.
pub(crate) fn to_json<T: Serialize>(value: &T, kind: &'static str) -> Result<String, StoreError> {
    // Domain values always serialise; if one ever did not, say which kind without the value.
    serde_json::to_string(value).map_err(|_| StoreError::Corrupt(kind))
}

/// Decodes a `body` column through the domain type, so its validation (ids, PHI newtypes) holds
/// on read. serde's message may quote the stored text, so it is dropped: only the kind is named.
pub(crate) fn from_json<T: DeserializeOwned>(
    text: &str,
    kind: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| {
        tracing::warn!(kind, "stored record failed to decode");
        StoreError::Corrupt(kind)
    })
}

/// A `usize` limit as an SQLite integer.
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
