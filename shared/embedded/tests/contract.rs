//! The port contract suites from `connector-testkit`, run against the SQLite adapters on
//! temporary files (and the CRM suite also against the LeadSquared client on its fake).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use common::FileStores;
use connector_crm::fake::FakeLeadSquared;
use connector_domain::ports::{QueueConsumer, WorkQueue};
use connector_embedded::{QueueOptions, SqliteDb};
use connector_testkit::contract::{
    CrmHarness, CrmUnderTest, QueueHarness, run_crm_suite, run_queue_suite, run_store_suites,
};

/// Each CRM is the LeadSquared client on a new in-memory LeadSquared fake (kept running until
/// the suite ends).
#[derive(Default)]
struct FakeLeadSquareds {
    running: std::sync::Mutex<Vec<FakeLeadSquared>>,
}

#[async_trait]
impl CrmHarness for FakeLeadSquareds {
    async fn fresh_crm(&self) -> CrmUnderTest {
        let (_, fake) = FakeLeadSquared::start().await;
        let client = fake.client();
        self.running.lock().unwrap().push(fake);
        Arc::new(client)
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

/// Every store suite (store, flow store, delivery store, dashboard, CRM write log, local
/// secrets, the embedded CRM), side by side, each case on a new database file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_stores_honour_every_store_contract() {
    run_store_suites(&FileStores::new()).await;
}

/// The suite's own check: the LeadSquared adapter (on the fake) passes what the embedded CRM
/// passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadsquared_client_on_the_fake_honours_the_crm_contract() {
    run_crm_suite(&FakeLeadSquareds::default()).await;
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
