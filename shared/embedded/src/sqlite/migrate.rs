//! Applies the schema migrations when a database is opened.

use rusqlite::{Connection, TransactionBehavior};

use super::SCHEMA_VERSION;
use super::schema::{MIGRATIONS, SEARCH_COLUMNS_VERSION};
use super::search_columns;
use crate::error::OpenError;

/// The file's schema version (`PRAGMA user_version`).
pub(crate) fn user_version(conn: &Connection) -> Result<u32, rusqlite::Error> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Brings the database to [`SCHEMA_VERSION`], one migration per `BEGIN IMMEDIATE` transaction
/// (the version is re-read inside it, so two processes opening the same new file cannot both
/// apply a migration). Refuses a database newer than this build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, OpenError> {
    if user_version(conn)? == SCHEMA_VERSION {
        return Ok(SCHEMA_VERSION);
    }
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = user_version(&tx)?;
        if current > SCHEMA_VERSION {
            return Err(OpenError::NewerSchema {
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        if current == SCHEMA_VERSION {
            return Ok(current);
        }
        let next = current + 1;
        let sql = MIGRATIONS[current as usize];
        tx.execute_batch(sql)
            .and_then(|()| {
                if next == SEARCH_COLUMNS_VERSION {
                    search_columns::backfill(&tx)
                } else {
                    Ok(())
                }
            })
            .map_err(|source| OpenError::Migration {
                version: next,
                source,
            })?;
        tx.pragma_update(None, "user_version", next)
            .map_err(|source| OpenError::Migration {
                version: next,
                source,
            })?;
        tx.commit().map_err(|source| OpenError::Migration {
            version: next,
            source,
        })?;
        tracing::info!(schema_version = next, "embedded database migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_fresh_database_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(migrate(&mut conn).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn migrates_a_version_1_file_keeping_its_data() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute("INSERT INTO patients VALUES ('p-1', '{}')", [])
            .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let patients: i64 = conn
            .query_row("SELECT COUNT(*) FROM patients", [], |row| row.get(0))
            .unwrap();
        assert_eq!(patients, 1);
        let ledger: i64 = conn
            .query_row("SELECT COUNT(*) FROM send_ledger", [], |row| row.get(0))
            .unwrap();
        assert_eq!(ledger, 0);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(
            matches!(err, OpenError::NewerSchema { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION)
        );
    }
}
