//! Error types of this crate and the translation of SQLite errors into the ports' errors.
//!
//! SQLite's own messages name tables and columns, never the values bound to a statement, so a
//! translated error can be logged. JSON decoding errors are *not* kept as sources (serde's
//! messages quote the offending input); they become `StoreError::Corrupt` naming the record kind.

use connector_domain::StoreError;
use connector_domain::ports::QueueError;
use rusqlite::ErrorCode;

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite refused to open or configure the file.
    #[error("cannot open the database")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer build of the connector; this build will not touch it.
    #[error(
        "the database has schema version {found}, newer than this build supports ({supported}); upgrade the connector"
    )]
    NewerSchema {
        /// The file's schema version.
        found: u32,
        /// The newest schema version this build knows.
        supported: u32,
    },
    /// A schema migration failed; the file is left at the previous version.
    #[error("cannot migrate the database to schema version {version}")]
    Migration {
        /// The version that could not be applied.
        version: u32,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// The connection could not be set to write-ahead logging.
    #[error("the database could not be switched to WAL mode (journal mode is {0})")]
    NotWal(String),
}

/// A value the embedded store cannot represent, reported as the source of
/// `StoreError::Unavailable` (the value is valid for the domain, just not storable here).
#[derive(Debug, thiserror::Error)]
#[error("{0} is outside the range the embedded store supports")]
pub struct UnsupportedValue(pub &'static str);

/// A broken port precondition (e.g. a consent whose `seq` is not `expected + 1`).
pub(crate) fn invalid_call(what: &'static str) -> StoreError {
    StoreError::Invalid(what)
}

/// Translates a SQLite error: a constraint violation means a conditional write lost
/// (`Conflict`); anything else is `Unavailable`, with the driver error kept as the source.
pub(crate) fn db_err(err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict("constraint violated"),
        _ => StoreError::unavailable(err),
    }
}

/// Like [`db_err`], naming the conflict.
pub(crate) fn conflict_or(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |err| match err.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(what),
        _ => StoreError::unavailable(err),
    }
}

/// A queue failure: the queue port reports every failure as `Unavailable`.
pub(crate) fn queue_err(err: impl std::error::Error + Send + Sync + 'static) -> QueueError {
    QueueError::Unavailable(Box::new(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_violations_are_conflicts() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id TEXT PRIMARY KEY); INSERT INTO t VALUES ('secret-value');",
        )
        .unwrap();
        let err = conn
            .execute("INSERT INTO t VALUES ('secret-value')", [])
            .unwrap_err();
        assert!(matches!(
            conflict_or("t exists")(err),
            StoreError::Conflict("t exists")
        ));
        let err = conn
            .execute("INSERT INTO t VALUES ('secret-value')", [])
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("secret-value"),
            "SQLite messages never quote values"
        );
        let other = conn.execute("INSERT INTO nope VALUES (1)", []).unwrap_err();
        assert!(matches!(db_err(other), StoreError::Unavailable(_)));
    }
}
