//! What the embedded adapters' test binaries share: opening a database file (and a raw
//! connection to it) and the store harness of the contract suites.
#![allow(dead_code)] // each test binary uses its part

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use connector_embedded::SqliteDb;
use connector_testkit::contract::{
    CrmHarness, CrmUnderTest, CrmWriteLogHarness, CrmWriteLogUnderTest, DashboardHarness,
    DashboardSet, DeliveryStoreHarness, DeliveryStoreSet, FlowStoreHarness, FlowStoreSet,
    LocalSecretSet, LocalSecretStoreHarness, StoreHarness, StoreSet,
};

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

/// A plain SQLite connection to `connector.db` in `dir`, to look at or edit what is stored.
pub fn raw(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("connector.db")).expect("raw open")
}

/// Each store set is a new database file in one temporary folder.
pub struct FileStores {
    dir: tempfile::TempDir,
    next: AtomicUsize,
}

#[async_trait]
impl StoreHarness for FileStores {
    async fn fresh(&self) -> StoreSet {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let db = SqliteDb::open(self.dir.path().join(format!("case-{n}.db")))
            .expect("open a fresh database");
        StoreSet {
            patients: db.patients(),
            consents: db.consents(),
            settings: db.settings(),
            audit: db.audit(),
            appointments: db.appointments(),
            send_ledger: db.send_ledger(),
        }
    }
}

impl FileStores {
    /// Stores in a new temporary folder.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            next: AtomicUsize::new(0),
        }
    }

    fn open_next(&self) -> SqliteDb {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        SqliteDb::open(self.dir.path().join(format!("case-{n}.db"))).expect("open a fresh database")
    }
}

#[async_trait]
impl FlowStoreHarness for FileStores {
    async fn fresh_flow_stores(&self) -> FlowStoreSet {
        let db = self.open_next();
        FlowStoreSet {
            flows: db.flows(),
            inbound_ledger: db.inbound_ledger(),
            audit: db.audit(),
        }
    }
}

#[async_trait]
impl DeliveryStoreHarness for FileStores {
    async fn fresh_delivery_stores(&self) -> DeliveryStoreSet {
        let db = self.open_next();
        DeliveryStoreSet {
            deliveries: db.deliveries(),
            audit: db.audit(),
        }
    }
}

#[async_trait]
impl DashboardHarness for FileStores {
    async fn fresh_dashboard(&self) -> DashboardSet {
        let db = self.open_next();
        DashboardSet {
            dashboard: db.dashboard(),
            audit: db.audit(),
            send_ledger: db.send_ledger(),
            inbound_ledger: db.inbound_ledger(),
            deliveries: db.deliveries(),
        }
    }
}

#[async_trait]
impl CrmWriteLogHarness for FileStores {
    async fn fresh_crm_write_log(&self) -> CrmWriteLogUnderTest {
        self.open_next().crm_writes()
    }
}

#[async_trait]
impl LocalSecretStoreHarness for FileStores {
    async fn fresh_local_secrets(&self) -> LocalSecretSet {
        let db = self.open_next();
        LocalSecretSet {
            local: db.local_secrets(),
            secrets: db.secrets(),
            audit: db.audit(),
        }
    }
}

#[async_trait]
impl CrmHarness for FileStores {
    async fn fresh_crm(&self) -> CrmUnderTest {
        self.open_next().crm()
    }
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
