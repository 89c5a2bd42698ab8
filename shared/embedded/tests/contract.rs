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
    CrmHarness, CrmUnderTest, QueueHarness, run_crm_suite, run_crm_write_log_suite,
    run_dashboard_suite, run_delivery_store_suite, run_flow_store_suite,
    run_local_secret_store_suite, run_queue_suite, run_store_suite,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_stores_honour_the_store_contract() {
    run_store_suite(&FileStores::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_flow_stores_honour_the_flow_store_contract() {
    run_flow_store_suite(&FileStores::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_delivery_store_honours_the_delivery_store_contract() {
    run_delivery_store_suite(&FileStores::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_dashboard_honours_the_dashboard_contract() {
    run_dashboard_suite(&FileStores::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_crm_write_log_honours_the_crm_write_log_contract() {
    run_crm_write_log_suite(&FileStores::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_local_secrets_honour_the_local_secret_store_contract() {
    run_local_secret_store_suite(&FileStores::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_crm_honours_the_crm_contract() {
    run_crm_suite(&FileStores::new()).await;
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
