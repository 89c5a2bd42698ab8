//! [`SqliteDb`]: the one database file, its connection, and the handles to each port.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use connector_domain::crm::{Crm, CrmError};
use connector_domain::ports::{
    AppointmentStore, AuditLog, ConsentStore, CrmWriteLog, DashboardStore, DeliveryStore,
    FlowStore, InboundLedger, LocalSecretStore, PatientStore, QueueError, SecretError, SecretStore,
    SendLedger, SettingsStore,
};
use connector_domain::{Clock, StoreError};
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::{OpenError, db_err};
use crate::queue::{QueueOptions, SqliteQueue};
use crate::sqlite::appointments::SqliteAppointmentStore;
use crate::sqlite::audit::SqliteAuditLog;
use crate::sqlite::consents::SqliteConsentStore;
use crate::sqlite::crm::SqliteCrm;
use crate::sqlite::crm_writes::SqliteCrmWriteLog;
use crate::sqlite::deliveries::SqliteDeliveryStore;
use crate::sqlite::flows::SqliteFlowStore;
use crate::sqlite::inbound::SqliteInboundLedger;
use crate::sqlite::ledger::SqliteSendLedger;
use crate::sqlite::migrate;
use crate::sqlite::patients::SqlitePatientStore;
use crate::sqlite::secrets::SqliteSecrets;
use crate::sqlite::settings::SqliteSettingsStore;

/// How long a statement waits for another connection's (another process's) write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

/// One SQLite database file holding every store and queue of the embedded connector.
///
/// Cheap to clone: clones share one connection. Each port call waits for the connection's
/// (async) mutex, then runs on tokio's blocking pool (`spawn_blocking`), so calls are serialised
/// within the process. Writes use `BEGIN IMMEDIATE`, so another process on the same file waits
/// (up to the busy timeout) for the write lock instead of failing half-way through a
/// transaction. Port methods must be called from within a tokio runtime.
#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Inner>,
}

struct Inner {
    /// The connection. A tokio mutex, so callers wait for it without holding a blocking-pool
    /// thread; the owned guard then moves into the blocking task.
    conn: Arc<tokio::sync::Mutex<Connection>>,
    path: Option<PathBuf>,
    /// Per queue name: woken when that queue is sent to, so an idle consumer of this database
    /// handle picks new messages up at once (every `SqliteQueue` of one name shares it).
    wakers: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Notify>>>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteDb {
    /// Opens (creating it if needed) the database file at `path`: WAL mode, full synchronous
    /// commits, foreign keys on, a busy timeout, then applies pending schema migrations, each in
    /// its own transaction. Refuses a file whose schema is newer than this build
    /// ([`OpenError::NewerSchema`]). Blocks the calling thread; call it at start-up.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        let path = path.as_ref();
        let mut conn = Connection::open(path)?;
        configure(&conn, true)?;
        migrate::migrate(&mut conn)?;
        tracing::info!(
            schema_version = crate::SCHEMA_VERSION,
            "embedded database opened"
        );
        Ok(Self::from_connection(conn, Some(path.to_owned())))
    }

    /// Opens a private, migrated database in memory (for unit tests; nothing is kept).
    pub fn open_in_memory() -> Result<Self, OpenError> {
        let mut conn = Connection::open_in_memory()?;
        configure(&conn, false)?;
        migrate::migrate(&mut conn)?;
        Ok(Self::from_connection(conn, None))
    }

    fn from_connection(conn: Connection, path: Option<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                conn: Arc::new(tokio::sync::Mutex::new(conn)),
                path,
                wakers: std::sync::Mutex::default(),
            }),
        }
    }

    /// The file's path; `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The patient store.
    pub fn patients(&self) -> Arc<dyn PatientStore> {
        Arc::new(SqlitePatientStore { db: self.clone() })
    }

    /// The consent store.
    pub fn consents(&self) -> Arc<dyn ConsentStore> {
        Arc::new(SqliteConsentStore { db: self.clone() })
    }

    /// The HIE settings store.
    pub fn settings(&self) -> Arc<dyn SettingsStore> {
        Arc::new(SqliteSettingsStore { db: self.clone() })
    }

    /// The audit log.
    pub fn audit(&self) -> Arc<dyn AuditLog> {
        Arc::new(SqliteAuditLog { db: self.clone() })
    }

    /// The admin dashboard's counts.
    pub fn dashboard(&self) -> Arc<dyn DashboardStore> {
        Arc::new(crate::sqlite::dashboard::SqliteDashboard { db: self.clone() })
    }

    /// The appointment store.
    pub fn appointments(&self) -> Arc<dyn AppointmentStore> {
        Arc::new(SqliteAppointmentStore { db: self.clone() })
    }

    /// The HIE send ledger.
    pub fn send_ledger(&self) -> Arc<dyn SendLedger> {
        Arc::new(SqliteSendLedger { db: self.clone() })
    }

    /// Channels and flows.
    pub fn flows(&self) -> Arc<dyn FlowStore> {
        Arc::new(SqliteFlowStore { db: self.clone() })
    }

    /// The inbound (HL7 from the EHR) ledger.
    pub fn inbound_ledger(&self) -> Arc<dyn InboundLedger> {
        Arc::new(SqliteInboundLedger { db: self.clone() })
    }

    /// Outbound deliveries (CRM -> EHR): accepted webhooks, their HL7 messages and the patient
    /// groups a parked delivery blocks.
    pub fn deliveries(&self) -> Arc<dyn DeliveryStore> {
        Arc::new(SqliteDeliveryStore { db: self.clone() })
    }

    /// The log of recent writes to the CRM (echo suppression).
    pub fn crm_writes(&self) -> Arc<dyn CrmWriteLog> {
        Arc::new(SqliteCrmWriteLog { db: self.clone() })
    }

    /// The embedded CRM (leads and activities in this file), timestamping with the system clock.
    pub fn crm(&self) -> Arc<dyn Crm> {
        Arc::new(self.crm_records())
    }

    /// The embedded CRM, timestamping its records with `clock`.
    pub fn crm_with_clock(&self, clock: Arc<dyn Clock>) -> Arc<dyn Crm> {
        Arc::new(self.crm_records().with_clock(clock))
    }

    /// The embedded CRM as its concrete type, which also lists what was written
    /// ([`SqliteCrm::leads`], [`SqliteCrm::activities`]) for demos and tests.
    pub fn crm_records(&self) -> SqliteCrm {
        SqliteCrm::new(self.clone())
    }

    /// The secret store: `env:` references from the environment, `local:` ones from this file.
    pub fn secrets(&self) -> Arc<dyn SecretStore> {
        Arc::new(SqliteSecrets { db: self.clone() })
    }

    /// The store that writes and lists the `local:` secrets in this file.
    pub fn local_secrets(&self) -> Arc<dyn LocalSecretStore> {
        Arc::new(SqliteSecrets { db: self.clone() })
    }

    /// Stores (or replaces) the secret behind `local:<id>`, unaudited (tests and tools; the
    /// admin route and `connector secret set` go through [`SqliteDb::local_secrets`]). The
    /// value is kept unencrypted in the file. `Invalid` when `id` is not a valid local id (1 to
    /// 64 letters, digits, `.`, `_`, `-`).
    pub async fn set_local_secret(&self, id: &str, value: &[u8]) -> Result<(), StoreError> {
        let id = crate::sqlite::secrets::local_name(id)?;
        let value = value.to_vec();
        let now = crate::time::nanos(chrono::Utc::now())?;
        self.write(move |tx| crate::sqlite::secrets::upsert(tx, &id, &value, now))
            .await?;
        tracing::info!("local secret stored");
        Ok(())
    }

    /// Deletes the secret behind `local:<id>`; returns whether there was one.
    pub async fn delete_local_secret(&self, id: &str) -> Result<bool, StoreError> {
        let id = crate::sqlite::secrets::local_name(id)?;
        let deleted = self
            .write(move |tx| {
                tx.prepare_cached("DELETE FROM local_secrets WHERE secret_id = ?1")
                    .and_then(|mut stmt| stmt.execute([id]))
                    .map_err(db_err)
            })
            .await?;
        tracing::info!(deleted = deleted > 0, "local secret deleted");
        Ok(deleted > 0)
    }

    /// The queue called `name` in this file (queues need no creation; each name is its own
    /// queue). Wrap it in an `Arc` to use it as both `WorkQueue` and `QueueConsumer`.
    pub fn queue(&self, name: &str, options: QueueOptions) -> SqliteQueue {
        SqliteQueue::new(self.clone(), name, options)
    }

    /// The waker of the queue `name` on this database handle.
    pub(crate) fn queue_waker(&self, name: &str) -> Arc<tokio::sync::Notify> {
        let mut wakers = self
            .inner
            .wakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(wakers.entry(name.to_owned()).or_default())
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(crate) async fn with_conn<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: DbFailure + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let mut conn = Arc::clone(&self.inner.conn).lock_owned().await;
        // If `f` panics, its open transaction is rolled back as it unwinds (rusqlite's
        // `Transaction` rolls back on drop) before the guard is released. If the caller stops
        // waiting, the blocking task still runs to completion, commit included.
        tokio::task::spawn_blocking(move || f(&mut conn))
            .await
            .map_err(E::from_join)?
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed when `f` succeeds and rolled back
    /// otherwise.
    pub(crate) async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: DbFailure + Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        self.in_transaction(TransactionBehavior::Immediate, f).await
    }

    /// Runs `f` in one read transaction (a consistent snapshot across its statements).
    pub(crate) async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: DbFailure + Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        self.in_transaction(TransactionBehavior::Deferred, f).await
    }

    /// Runs `f` in one transaction that begins with `behavior`, committed when `f` succeeds and
    /// rolled back otherwise.
    async fn in_transaction<T, E, F>(&self, behavior: TransactionBehavior, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: DbFailure + Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(behavior)
                .map_err(E::from_sqlite)?;
            let value = f(&tx)?;
            tx.commit().map_err(E::from_sqlite)?;
            Ok(value)
        })
        .await
    }
}

/// The port error types a database call can fail with: by default, both failures are the
/// port's "unavailable".
pub(crate) trait DbFailure: Sized {
    /// The port's "unavailable" with `err` as its source.
    fn unavailable(err: Box<dyn std::error::Error + Send + Sync>) -> Self;
    /// From a SQLite error.
    fn from_sqlite(err: rusqlite::Error) -> Self {
        Self::unavailable(Box::new(err))
    }
    /// From a failed blocking task.
    fn from_join(err: tokio::task::JoinError) -> Self {
        Self::unavailable(Box::new(err))
    }
}

impl DbFailure for StoreError {
    fn unavailable(err: Box<dyn std::error::Error + Send + Sync>) -> Self {
        StoreError::Unavailable(err)
    }
    /// A constraint violation is `Conflict` ([`db_err`]).
    fn from_sqlite(err: rusqlite::Error) -> Self {
        db_err(err)
    }
}

impl DbFailure for QueueError {
    fn unavailable(err: Box<dyn std::error::Error + Send + Sync>) -> Self {
        QueueError::Unavailable(err)
    }
}

impl DbFailure for CrmError {
    fn unavailable(err: Box<dyn std::error::Error + Send + Sync>) -> Self {
        CrmError::Unavailable(err)
    }
}

impl DbFailure for SecretError {
    fn unavailable(err: Box<dyn std::error::Error + Send + Sync>) -> Self {
        SecretError::Unavailable(err)
    }
}

fn configure(conn: &Connection, file: bool) -> Result<(), OpenError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))?;
    if file && !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::NotWal(mode));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}
