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
pub(crate) mod search_columns;
pub(crate) mod secrets;
pub(crate) mod settings;

use connector_domain::StoreError;
use rusqlite::{Connection, OptionalExtension, Params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::SqliteDb;
use crate::error::db_err;

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

/// A stored record of `kind` that does not decode: logged (the kind only) and `Corrupt`.
pub(crate) fn corrupt(kind: &'static str) -> StoreError {
    tracing::warn!(kind, "stored record failed to decode");
    StoreError::Corrupt(kind)
}

/// The first column of the one row `sql` selects with `params`, or `None`.
pub(crate) fn optional_value<T: rusqlite::types::FromSql, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> Result<Option<T>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row(params, |row| row.get(0)).optional())
        .map_err(db_err)
}

/// Every row `sql` selects with `params`, through `map`, in order.
pub(crate) fn all_rows<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
    let rows = stmt.query_map(params, map).map_err(db_err)?;
    rows.collect::<Result<Vec<T>, _>>().map_err(db_err)
}

/// The JSON `body` (the first column) of the one row `sql` selects with `params`, decoded as
/// `kind`, or `None`.
pub(crate) fn optional_body<T: DeserializeOwned, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    kind: &'static str,
) -> Result<Option<T>, StoreError> {
    let body: Option<String> = optional_value(conn, sql, params)?;
    body.map(|b| from_json(&b, kind)).transpose()
}

impl SqliteDb {
    /// [`optional_body`] in its own read transaction, with `key` as the parameters.
    pub(crate) async fn read_body<T: DeserializeOwned + Send + 'static>(
        &self,
        sql: &'static str,
        key: Vec<String>,
        kind: &'static str,
    ) -> Result<Option<T>, StoreError> {
        self.read(move |tx| optional_body(tx, sql, rusqlite::params_from_iter(key), kind))
            .await
    }

    /// The `body` of the row of `table` whose `key_column` is `key`, decoded as `kind`.
    pub(crate) async fn body_by_key<T: DeserializeOwned + Send + 'static>(
        &self,
        table: &'static str,
        key_column: &'static str,
        key: &str,
        kind: &'static str,
    ) -> Result<Option<T>, StoreError> {
        let sql = format!("SELECT body FROM {table} WHERE {key_column} = ?1");
        let key = key.to_owned();
        self.read(move |tx| optional_body(tx, &sql, [key], kind))
            .await
    }
}

/// A `usize` limit as an SQLite integer.
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// What the stores' unit tests share: a migrated database and query plans.
#[cfg(test)]
pub(crate) mod test_support {
    use rusqlite::{Connection, Params};

    /// A private database in memory with the whole schema.
    pub(crate) fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::migrate::migrate(&mut conn).unwrap();
        conn
    }

    /// The detail lines of SQLite's plan for `sql` with `params`, joined by "; ".
    pub(crate) fn query_plan<P: Params>(sql: &str, params: P) -> String {
        let conn = migrated();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params, |row| row.get::<_, String>(3))
            .unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
    }
}
