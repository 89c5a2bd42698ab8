//! The port contract suites: every store and queue adapter runs these against itself, so the
//! embedded (SQLite) and AWS (DynamoDB, SQS) adapters are held to one behaviour (openraft's
//! `Suite::test_all(builder)` pattern).
//!
//! A backend's test implements [`PortsHarness`] once and calls [`run_store_suites`], which runs
//! every store suite (store, flow store, delivery store, dashboard, CRM write log, and the local
//! secret store and CRM suites where the backend has those ports); a queue adapter's test
//! implements [`QueueHarness`] and calls [`run_queue_suite`], from a multi-threaded tokio test:
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn store_contract() {
//!     connector_testkit::contract::run_store_suites(&MyHarness::new()).await;
//! }
//! ```
//!
//! Two suites can also run on their own: the flow store suite on any set of channels, flows
//! and inbound ledger ([`FlowStoreHarness`], [`run_flow_store_suite`]), and the CRM suite on
//! any `Crm` adapter ([`CrmHarness`], [`run_crm_suite`]).
//!
//! Each case runs in its own task on a fresh, empty set of ports, with a time limit; the runner
//! prints one line per case, lets every case run, and panics at the end naming the failures.
//! Set `CONTRACT_CASE=<substring>` to run only the matching cases.
//!
//! The suites assert only what the ports' documentation promises (and what SQS guarantees for
//! standard queues: no ordering). Adapter-specific behaviour (dead letters, durability,
//! migrations) belongs in the adapter's own tests.

mod appointments;
mod audit;
mod backend;
mod consents;
mod crm;
mod crm_writes;
mod dashboard;
mod deliveries;
mod flows;
mod inbound;
mod ledger;
mod local_secrets;
mod patient_search;
mod patients;
mod queue;
mod settings;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::race::together;
use async_trait::async_trait;
pub use backend::{Ports, PortsHarness, run_store_suites};
use chrono::{DateTime, Utc};
use connector_domain::audit::{AuditEntry, AuditQuery, LogType};
use connector_domain::crm::Crm;
use connector_domain::ports::{
    AppointmentStore, AuditLog, ConsentStore, CrmWriteLog, DashboardStore, DeliveryStore,
    FlowStore, InboundLedger, LocalSecretStore, PatientStore, QueueConsumer, SecretStore,
    SendLedger, SettingsStore, WorkQueue,
};

/// One set of store ports, backed by one (isolated) store.
#[derive(Clone)]
pub struct StoreSet {
    /// Patients.
    pub patients: Arc<dyn PatientStore>,
    /// Consent records.
    pub consents: Arc<dyn ConsentStore>,
    /// HIE settings.
    pub settings: Arc<dyn SettingsStore>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Appointments.
    pub appointments: Arc<dyn AppointmentStore>,
    /// The HIE send ledger (its audit entries go to `audit`: same store).
    pub send_ledger: Arc<dyn SendLedger>,
}

/// The EHR <-> CRM stores of one (isolated) store: channels and flows, the inbound ledger, and
/// the audit log their writes append to (same store).
#[derive(Clone)]
pub struct FlowStoreSet {
    /// Channels and flows.
    pub flows: Arc<dyn FlowStore>,
    /// The inbound ledger.
    pub inbound_ledger: Arc<dyn InboundLedger>,
    /// The audit log of the same store.
    pub audit: Arc<dyn AuditLog>,
}

/// Builds flow store sets for the flow store suite.
#[async_trait]
pub trait FlowStoreHarness: Send + Sync {
    /// A new set of ports over an empty store that no other call's set shares: every case
    /// starts from nothing (no channels, flows, inbound records or audit entries).
    async fn fresh_flow_stores(&self) -> FlowStoreSet;
}

/// The outbound delivery store of one (isolated) store, and the audit log its writes append
/// to (same store).
#[derive(Clone)]
pub struct DeliveryStoreSet {
    /// Webhooks, deliveries and group blocks.
    pub deliveries: Arc<dyn DeliveryStore>,
    /// The audit log of the same store.
    pub audit: Arc<dyn AuditLog>,
}

/// The ports a dashboard case runs against, all on one (isolated) store: the dashboard and
/// every writer whose audit entries it counts.
#[derive(Clone)]
pub struct DashboardSet {
    /// The counts under test.
    pub dashboard: Arc<dyn DashboardStore>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// The HIE send ledger.
    pub send_ledger: Arc<dyn SendLedger>,
    /// The inbound ledger.
    pub inbound_ledger: Arc<dyn InboundLedger>,
    /// Outbound deliveries.
    pub deliveries: Arc<dyn DeliveryStore>,
}

/// The CRM write log a CRM write log case runs against.
pub type CrmWriteLogUnderTest = Arc<dyn CrmWriteLog>;

/// The ports a local secret store case runs against, all on one store.
#[derive(Clone)]
pub struct LocalSecretSet {
    /// Writes and lists the local secrets.
    pub local: Arc<dyn LocalSecretStore>,
    /// Resolves references on the same store.
    pub secrets: Arc<dyn SecretStore>,
    /// The audit log of the same store.
    pub audit: Arc<dyn AuditLog>,
}

/// The CRM a CRM case runs against.
pub type CrmUnderTest = Arc<dyn Crm>;

/// Builds CRMs for the CRM suite.
#[async_trait]
pub trait CrmHarness: Send + Sync {
    /// A CRM with no leads or activities that no other call's CRM shares.
    async fn fresh_crm(&self) -> CrmUnderTest;
}

/// One queue, as its producer and consumer sides.
#[derive(Clone)]
pub struct QueuePair {
    /// Sends to the queue.
    pub queue: Arc<dyn WorkQueue>,
    /// Receives from the same queue.
    pub consumer: Arc<dyn QueueConsumer>,
}

/// Builds queues for the queue suite.
#[async_trait]
pub trait QueueHarness: Send + Sync {
    /// A new, empty queue that no other call's queue shares; a FIFO queue when `fifo` (SQS: a
    /// `.fifo` queue without content-based deduplication).
    async fn fresh_queue(&self, fifo: bool) -> (Arc<dyn WorkQueue>, Arc<dyn QueueConsumer>);

    /// Cases this harness's backing service cannot pass through no fault of the adapter (an
    /// emulator's gap), with why. They are reported as skipped, visibly, not run.
    fn known_gaps(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
}

/// A boxed case future.
pub type CaseFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// One named case of a suite.
pub struct Case<S> {
    /// The case's name (its function's name).
    pub name: &'static str,
    /// Runs the case on a fresh `S`; panics (assertions) mean failure.
    pub run: fn(S) -> CaseFuture,
}

/// Declares cases from async functions taking the suite's fixture by value.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        vec![$($crate::contract::Case { name: stringify!($case), run: |s| Box::pin($case(s)) }),*]
    };
}
pub(crate) use cases;

/// How long one case may take before it counts as failed.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

/// Every case of the store suite, in run order.
fn store_cases() -> Vec<Case<StoreSet>> {
    let mut all = patients::cases();
    all.extend(consents::cases());
    all.extend(settings::cases());
    all.extend(audit::cases());
    all.extend(appointments::cases());
    all.extend(ledger::cases());
    all.extend(patient_search::cases());
    all
}

/// Every case of the flow store suite (channels and flows, then the inbound ledger), in run
/// order.
fn flow_store_cases() -> Vec<Case<FlowStoreSet>> {
    let mut all = flows::cases();
    all.extend(inbound::cases());
    all
}

/// Runs every flow store case, each on `harness.fresh_flow_stores()`; panics at the end if any
/// failed.
pub async fn run_flow_store_suite(harness: &dyn FlowStoreHarness) {
    run_cases("flow store", flow_store_cases(), || {
        harness.fresh_flow_stores()
    })
    .await;
}

/// Runs every CRM case, each on `harness.fresh_crm()`; panics at the end if any failed.
pub async fn run_crm_suite(harness: &dyn CrmHarness) {
    run_cases("crm", crm::cases(), || harness.fresh_crm()).await;
}

/// Runs every queue case, each on a fresh queue (standard, then FIFO); panics at the end if any
/// failed. Waits for real time where visibility timeouts are tested (a few seconds in all).
pub async fn run_queue_suite(harness: &dyn QueueHarness) {
    let mut report = Report::new("queue");
    for (fifo, cases) in [
        (false, queue::standard_cases()),
        (true, queue::fifo_cases()),
    ] {
        for case in cases {
            if let Some((_, why)) = harness
                .known_gaps()
                .iter()
                .find(|(name, _)| *name == case.name)
            {
                eprintln!("contract queue::{} ... SKIPPED ({why})", case.name);
                continue;
            }
            if report.selected(case.name) {
                let (queue, consumer) = harness.fresh_queue(fifo).await;
                report.run(case, QueuePair { queue, consumer }).await;
            }
        }
    }
    report.finish();
}

/// Runs `cases` of the suite `suite`, each on a fresh fixture from `fresh`; panics at the end
/// if any failed.
async fn run_cases<S, F, Fut>(suite: &'static str, cases: Vec<Case<S>>, mut fresh: F)
where
    S: Send + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let report = collect_cases(suite, cases, || {
        let fixture = fresh();
        async move { Some(fixture.await) }
    })
    .await;
    Report::finish_all(report);
}

/// Runs `cases` of the suite `suite`, each on a fresh fixture from `fresh`, and says how they
/// went; `None` when `fresh` offers no fixture (the backend does not have these ports).
async fn collect_cases<S, F, Fut>(
    suite: &'static str,
    cases: Vec<Case<S>>,
    mut fresh: F,
) -> Option<Report>
where
    S: Send + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<S>>,
{
    let mut report = Report::new(suite);
    for case in cases {
        if report.selected(case.name) {
            let Some(fixture) = fresh().await else {
                eprintln!("contract {suite}: this backend has no such ports");
                return None;
            };
            report.run(case, fixture).await;
        }
    }
    Some(report)
}

/// Every audit entry of `log_type`, newest first (up to 500).
async fn audit_entries(audit: &dyn AuditLog, log_type: LogType) -> Vec<AuditEntry> {
    let query = AuditQuery {
        log_type: Some(log_type),
        ..AuditQuery::default()
    };
    audit_matching(audit, query).await
}

/// Every audit entry `query` selects, newest first (up to 500; `query.limit` is ignored).
async fn audit_matching(audit: &dyn AuditLog, query: AuditQuery) -> Vec<AuditEntry> {
    let query = AuditQuery {
        limit: 500,
        ..query
    };
    audit.query(&query).await.unwrap().items
}

/// Asserts one round of claims that raced: exactly one is `winner`, every other one is `busy`
/// (refused until the winner's lease ends).
#[track_caller]
fn assert_one_won<C: PartialEq + std::fmt::Debug>(claims: &[C], winner: &C, busy: &C, round: u32) {
    let count = |wanted: &C| claims.iter().filter(|c| *c == wanted).count();
    assert_eq!(
        count(winner),
        1,
        "round {round}: exactly one granted: {claims:?}"
    );
    assert_eq!(
        count(busy),
        claims.len() - 1,
        "round {round}: the others are refused until the winner's lease ends: {claims:?}"
    );
}

/// How many claims each round of a claim race releases together.
const CLAIMERS: usize = 20;

/// Two rounds of a claim race on one item, at `rounds` (the second once the first winner's
/// lease has lapsed): each round releases [`CLAIMERS`] `claim(at)`s together and asserts that
/// exactly one is the winner and every other one busy, as `expected(round, at)` gives them
/// (see [`assert_one_won`]); `then(round, at)` checks the store after each round.
async fn assert_claim_races<C, F, Fut, Then, Checked>(
    rounds: [i64; 2],
    claim: F,
    expected: impl Fn(u32, i64) -> (C, C),
    then: Then,
) where
    C: PartialEq + std::fmt::Debug + Send + 'static,
    F: Fn(i64) -> Fut,
    Fut: Future<Output = C> + Send + 'static,
    Then: Fn(u32, i64) -> Checked,
    Checked: Future<Output = ()>,
{
    for (round, at) in (1u32..).zip(rounds) {
        let claims = together(CLAIMERS, |_| claim(at)).await;
        let (winner, busy) = expected(round, at);
        assert_one_won(&claims, &winner, &busy, round);
        then(round, at).await;
    }
}

/// Asserts that `newest` is the only audit entry from `from` on (the log is queryable by time).
async fn assert_newest_since(audit: &dyn AuditLog, from: DateTime<Utc>, newest: AuditEntry) {
    let query = AuditQuery {
        from: Some(from),
        limit: 10,
        ..AuditQuery::default()
    };
    let by_time = audit.query(&query).await.unwrap().items;
    assert_eq!(by_time, vec![newest], "queryable by time as well");
}

/// Reads every page of `q` (page size `q.limit`); returns the pages' sizes and the ids in order.
pub async fn paginate_audit(log: &dyn AuditLog, q: AuditQuery) -> (Vec<usize>, Vec<String>) {
    let (mut sizes, mut seen) = (Vec::new(), Vec::new());
    let mut cursor = None;
    for _ in 0..100 {
        let page = log
            .query(&AuditQuery {
                cursor: cursor.take(),
                ..q.clone()
            })
            .await
            .unwrap();
        sizes.push(page.items.len());
        seen.extend(page.items.into_iter().map(|e| e.entry_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (sizes, seen),
        }
    }
    panic!("pagination did not end");
}

/// Collects case outcomes.
struct Report {
    suite: &'static str,
    filter: Option<String>,
    passed: usize,
    failed: Vec<&'static str>,
}

impl Report {
    fn new(suite: &'static str) -> Self {
        Self {
            suite,
            filter: std::env::var("CONTRACT_CASE")
                .ok()
                .filter(|f| !f.is_empty()),
            passed: 0,
            failed: Vec::new(),
        }
    }

    fn selected(&self, name: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| name.contains(f))
    }

    async fn run<S: Send + 'static>(&mut self, case: Case<S>, fixture: S) {
        let mut task = tokio::spawn((case.run)(fixture));
        let outcome = match tokio::time::timeout(CASE_TIMEOUT, &mut task).await {
            Ok(Ok(())) => "ok",
            // The panic message (the failed assertion) was printed by the panic hook.
            Ok(Err(_)) => "FAILED",
            Err(_) => {
                task.abort();
                "FAILED (timed out)"
            }
        };
        eprintln!("contract {}::{} ... {outcome}", self.suite, case.name);
        if outcome == "ok" {
            self.passed += 1;
        } else {
            self.failed.push(case.name);
        }
    }

    fn finish(self) {
        Report::finish_all([self]);
    }

    /// Prints each suite's count, then panics if any case failed (naming them all) or if no
    /// case ran at all.
    fn finish_all(reports: impl IntoIterator<Item = Report>) {
        let (mut passed, mut failed, mut suites) = (0, Vec::new(), Vec::new());
        for report in reports {
            eprintln!(
                "contract {}: {} passed, {} failed",
                report.suite,
                report.passed,
                report.failed.len()
            );
            passed += report.passed;
            failed.extend(
                report
                    .failed
                    .iter()
                    .map(|case| format!("{}::{case}", report.suite)),
            );
            suites.push(report.suite);
        }
        let suites = suites.join(", ");
        assert!(
            failed.is_empty(),
            "{} of {} {suites} contract cases failed: {}",
            failed.len(),
            failed.len() + passed,
            failed.join(", ")
        );
        assert!(
            passed > 0,
            "no {suites} contract case ran (check CONTRACT_CASE)"
        );
    }
}

/// The lease of every claim in the suites.
fn lease() -> chrono::Duration {
    chrono::Duration::seconds(60)
}

/// Asserts that `result` is `Err(StoreError::Conflict(_))`.
#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(result: Result<T, connector_domain::StoreError>) {
    assert!(
        matches!(result, Err(connector_domain::StoreError::Conflict(_))),
        "expected Conflict, got {result:?}"
    );
}

/// Asserts that `result` is `Err(StoreError::NotFound)`.
#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(result: Result<T, connector_domain::StoreError>) {
    assert!(
        matches!(result, Err(connector_domain::StoreError::NotFound)),
        "expected NotFound, got {result:?}"
    );
}
