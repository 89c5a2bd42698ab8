//! What the embedded adapters' test binaries share: opening a database file (and a raw
//! connection to it) and the store harness of the contract suites.
#![allow(dead_code)] // each test binary uses its part

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use connector_domain::audit::{AuditEntry, AuditQuery};
use connector_embedded::SqliteDb;
use connector_testkit::contract::{Ports, PortsHarness, StoreSet};

/// The database `connector.db` in `dir`.
pub fn open(dir: &Path) -> SqliteDb {
    SqliteDb::open(dir.join("connector.db")).expect("open")
}

/// Opens the database in `dir` and stores the fixture patient `p-1` in it.
pub async fn open_with_patient(dir: &Path) -> SqliteDb {
    let db = open(dir);
    let patient = connector_testkit::fixtures::patient("p-1");
    db.patients().insert(&patient, None).await.unwrap();
    db
}

/// The schema version (`PRAGMA user_version`) of `connector.db` in `dir`.
pub fn schema_version(dir: &Path) -> u32 {
    raw(dir)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// Whether `db` holds the patient `id`.
pub async fn has_patient(db: &SqliteDb, id: &str) -> bool {
    let id = connector_testkit::fixtures::patient_id(id);
    db.patients().get(&id).await.unwrap().is_some()
}

/// The audit entries `query` selects, newest first (up to 500; `query.limit` is ignored).
pub async fn audit_of(db: &SqliteDb, query: AuditQuery) -> Vec<AuditEntry> {
    let query = AuditQuery {
        limit: 500,
        ..query
    };
    db.audit().query(&query).await.unwrap().items
}

/// A plain SQLite connection to `connector.db` in `dir`, to look at or edit what is stored.
pub fn raw(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("connector.db")).expect("raw open")
}

/// Each set of ports is a new database file in one temporary folder.
pub struct FileStores {
    dir: tempfile::TempDir,
    next: AtomicUsize,
}

impl FileStores {
    /// Stores in a new temporary folder.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            next: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl PortsHarness for FileStores {
    async fn fresh_ports(&self) -> Ports {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let db = SqliteDb::open(self.dir.path().join(format!("case-{n}.db")))
            .expect("open a fresh database");
        Ports {
            stores: StoreSet {
                patients: db.patients(),
                consents: db.consents(),
                settings: db.settings(),
                audit: db.audit(),
                appointments: db.appointments(),
                send_ledger: db.send_ledger(),
            },
            flows: db.flows(),
            inbound_ledger: db.inbound_ledger(),
            deliveries: db.deliveries(),
            dashboard: db.dashboard(),
            crm_writes: db.crm_writes(),
            local_secrets: Some((db.local_secrets(), db.secrets())),
            crm: Some(db.crm()),
        }
    }
}

/// Takes `connector.db` in `dir` back to schema `version` as an older build left it: undoes
/// migrations 6 and 7, then runs `drop` (dropping what the later migrations created).
pub fn downgrade(dir: &Path, drop: &str, version: u32) {
    raw(dir)
        .execute_batch(&format!(
            "{UNDO_SEARCH_AND_DASHBOARD} {drop} PRAGMA user_version = {version};"
        ))
        .unwrap();
}

/// Opens the database in `dir`, asserting that it was migrated to this build's schema and
/// still holds the fixture patient `p-1`.
pub async fn open_migrated(dir: &Path) -> SqliteDb {
    let db = open(dir);
    let version = schema_version(dir);
    assert_eq!((version, connector_embedded::SCHEMA_VERSION), (7, 7));
    assert!(has_patient(&db, "p-1").await);
    db
}

/// Undoes migrations 6 (search columns) and 7 (dashboard): with it, dropping the tables a
/// migration created and setting `user_version` leaves the file as that older build wrote it.
pub const UNDO_SEARCH_AND_DASHBOARD: &str = "\
    DROP TABLE dashboard_hours; DROP TABLE dashboard_crm_errors; DROP TABLE dashboard_batch_runs; \
    DROP INDEX audit_by_channel; ALTER TABLE audit_log DROP COLUMN channel_id; \
    DROP INDEX patients_by_mrn; DROP INDEX patients_by_birth_date_name; \
    ALTER TABLE patients DROP COLUMN mrn; ALTER TABLE patients DROP COLUMN birth_date; \
    ALTER TABLE patients DROP COLUMN name_key; \
    DROP INDEX appointments_by_patient_start; ALTER TABLE appointments DROP COLUMN starts_at;";
