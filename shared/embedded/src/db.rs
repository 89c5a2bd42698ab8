//! [`SqliteDb`]: the one database file, its connection, and the handles to each port.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use connector_domain::StoreError;
use connector_domain::ports::{
    AppointmentStore, AuditLog, ConsentStore, PatientStore, QueueError, SendLedger, SettingsStore,
};
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::{OpenError, db_err, queue_err};
use crate::queue::{QueueOptions, SqliteQueue};
use crate::sqlite::appointments::SqliteAppointmentStore;
use crate::sqlite::audit::SqliteAuditLog;
use crate::sqlite::consents::SqliteConsentStore;
use crate::sqlite::ledger::SqliteSendLedger;
use crate::sqlite::migrate;
use crate::sqlite::patients::SqlitePatientStore;
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
            }),
        }
    }

    /// The file's path; `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The patient store.
    pub fn patients(&self) -> Arc<dyn PatientStore> {
        Arc::new(SqlitePatientStore::new(self.clone()))
    }

    /// The consent store.
    pub fn consents(&self) -> Arc<dyn ConsentStore> {
        Arc::new(SqliteConsentStore::new(self.clone()))
    }

    /// The HIE settings store.
    pub fn settings(&self) -> Arc<dyn SettingsStore> {
        Arc::new(SqliteSettingsStore::new(self.clone()))
    }

    /// The audit log.
    pub fn audit(&self) -> Arc<dyn AuditLog> {
        Arc::new(SqliteAuditLog::new(self.clone()))
    }

    /// The appointment store.
    pub fn appointments(&self) -> Arc<dyn AppointmentStore> {
        Arc::new(SqliteAppointmentStore::new(self.clone()))
    }

    /// The HIE send ledger.
    pub fn send_ledger(&self) -> Arc<dyn SendLedger> {
        Arc::new(SqliteSendLedger::new(self.clone()))
    }

    /// The queue called `name` in this file (queues need no creation; each name is its own
    /// queue). Wrap it in an `Arc` to use it as both `WorkQueue` and `QueueConsumer`.
    pub fn queue(&self, name: &str, options: QueueOptions) -> SqliteQueue {
        SqliteQueue::new(self.clone(), name, options)
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
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(E::from_sqlite)?;
            let value = f(&tx)?;
            tx.commit().map_err(E::from_sqlite)?;
            Ok(value)
        })
        .await
    }

    /// Runs `f` in one read transaction (a consistent snapshot across its statements).
    pub(crate) async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: DbFailure + Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Deferred)
                .map_err(E::from_sqlite)?;
            let value = f(&tx)?;
            tx.commit().map_err(E::from_sqlite)?;
            Ok(value)
        })
        .await
    }
}

/// The port error types a database call can fail with.
pub(crate) trait DbFailure: Sized {
    /// From a SQLite error.
    fn from_sqlite(err: rusqlite::Error) -> Self;
    /// From a failed blocking task.
    fn from_join(err: tokio::task::JoinError) -> Self;
}

impl DbFailure for StoreError {
    fn from_sqlite(err: rusqlite::Error) -> Self {
        db_err(err)
    }
    fn from_join(err: tokio::task::JoinError) -> Self {
        StoreError::unavailable(err)
    }
}

impl DbFailure for QueueError {
    fn from_sqlite(err: rusqlite::Error) -> Self {
        queue_err(err)
    }
    fn from_join(err: tokio::task::JoinError) -> Self {
        queue_err(err)
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
