//! The port contract suites from `connector-testkit`, run against the SQLite adapters on
//! temporary files.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use connector_domain::ports::{QueueConsumer, WorkQueue};
use connector_embedded::{QueueOptions, SqliteDb};
use connector_testkit::contract::{
    QueueHarness, StoreHarness, StoreSet, run_queue_suite, run_store_suite,
};

/// Each store set is a new database file in one temporary folder.
struct FileStores {
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

/// Every queue is a new name in one shared database file, so the cases also check that named
/// queues in one file do not see each other's messages.
struct FileQueues {
    db: SqliteDb,
    next: AtomicUsize,
    _dir: tempfile::TempDir,
}

#[async_trait]
impl QueueHarness for FileQueues {
    async fn fresh_queue(&self, fifo: bool) -> (Arc<dyn WorkQueue>, Arc<dyn QueueConsumer>) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = if fifo {
            format!("contract-{n}.fifo")
        } else {
            format!("contract-{n}")
        };
        let queue = Arc::new(self.db.queue(&name, QueueOptions::default()));
        (queue.clone(), queue)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_stores_honour_the_store_contract() {
    let harness = FileStores {
        dir: tempfile::tempdir().unwrap(),
        next: AtomicUsize::new(0),
    };
    run_store_suite(&harness).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_queue_honours_the_queue_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(dir.path().join("queues.db")).unwrap();
    let harness = FileQueues {
        db,
        next: AtomicUsize::new(0),
        _dir: dir,
    };
    run_queue_suite(&harness).await;
}
