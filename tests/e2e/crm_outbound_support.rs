//! The CRM -> EHR harness: a connector whose routes are mounted as `connector serve` mounts them
//! (the consent API behind its authentication layer; the HL7 and CRM webhook routes beside it),
//! the `north-ehr` channel delivering over MLLP to a scripted EHR listener in the test, a
//! `lead_update` -> ADT^A08 flow, and a delivery queue that can be told to fail.
//!
//! Delivery is driven by `crm_to_ehr::delivery::drain_once` (deterministic); retries wait on the
//! connector's `FixedClock`, which the tests move instead of sleeping. The MLLP sockets are real.
//!
//! Every value is invented: the sample lead is Casey Rivera (MRN20001) from `events/`, and other
//! patients are the same lead under generated ids and MRNs.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use connector_app::Context;
use connector_app::crm_to_ehr::delivery;
use connector_domain::delivery::{Delivery, DeliveryId};
use connector_domain::flow::fixtures as ff;
use connector_domain::ports::{QueueError, QueueMessage, WorkQueue};
use connector_domain::{Actor, Role};
use connector_hl7::{Message, Path};
use connector_transport::mllp::server::{ServerConfig, serve_with};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::hl7_inbound_support::SECRET;
pub use crate::hl7_inbound_support::{ADT_A04, CHANNEL};
use crate::support::hl7::Signing;
use crate::support::{Backend, Reply, TestApp};

/// The CRM webhook token (the channel keeps its SHA-256 only).
pub const TOKEN: &str = "north-ehr-webhook-token-e2e-0001";
/// SHA-256 of [`TOKEN`].
const TOKEN_SHA256: &str = "b7d78210b1bdc21070c358713d3ee0daf4db8ff5ab1b3d41960de2c2111e4af6";
/// The header the token travels in (the default).
pub const TOKEN_HEADER: &str = "x-connector-webhook-token";
/// The channel's inbound HMAC secret (`local:north-hmac`).
pub const HMAC_SECRET: &[u8] = SECRET;
/// The `lead_update` -> ADT^A08 flow.
pub const FLOW_ID: &str = "lead-updates-to-ehr";
/// The query string LeadSquared's lead update webhook is registered with.
pub const LEAD_UPDATE_QUERY: &str = "event=lead_update&entityType=Lead&eventType=Lead_Post_Update";

/// The sample lead update body (Casey Rivera, MRN20001).
pub const LEAD_UPDATE: &str = include_str!("../../events/crm-outbound/lead-update.payload.json");
/// The sample lead's ProspectID.
pub const SAMPLE_LEAD: &str = "7f3c2a10-5d1e-4c8b-9a61-0b2d4e6f8a01";
/// The ADT^A08 template of the outbound flow, holding sample values only.
pub const A08_TEMPLATE: &str = "MSH|^~\\&|CONNECTOR|CRM|NORTHEHR|NORTHCLINIC|20260101000000||ADT^A08^ADT_A01|TEMPLATE|P|2.5\r\
EVN|A08|20260101000000\r\
PID|1||SAMPLE^^^NORTHCLINIC^MR||Sample^Patient||19000101|U|||1 Sample St^^Sampletown^ST^00000||(000)000-0000\r\
PV1|1|O\r";

/// The sample patient's values as they could appear in output (for the no-PHI checks).
pub const SAMPLE_PHI: &[&str] = &[
    "Rivera",
    "Casey",
    "19870412",
    "1987-04-12",
    "2175550142",
    "2175550199",
    "555-0142",
    "555-0199",
    "casey.rivera@example.org",
    "48 Harbor Rd",
    "Springfield",
    "62704",
    "MRN20001",
];

/// How the scripted EHR answers one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EhrReply {
    /// `MSA|AA|<MSH-10>`.
    Aa,
    /// `MSA|AE|<MSH-10>` with an ERR (207).
    Ae,
    /// `MSA|AR|<MSH-10>` with an ERR (200).
    Ar,
    /// `MSA|AA|<another control id>`.
    WrongControlId,
    /// Nothing at all (the sender's ACK timeout runs out).
    Silent,
}

/// One message as the EHR received it.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// MSH-10.
    pub control_id: String,
    /// PID-3.1.
    pub mrn: String,
    /// The ER7 text.
    pub text: String,
    /// What the EHR answered.
    pub reply: EhrReply,
}

#[derive(Default)]
struct EhrState {
    /// Replies to use next, by MSH-10 or by MRN (PID-3.1); AA when none is scripted.
    scripts: HashMap<String, VecDeque<EhrReply>>,
    arrivals: Vec<Arrival>,
}

fn ack(code: &str, msa2: &str, err: Option<&str>) -> Vec<u8> {
    let mut text = format!(
        "MSH|^~\\&|NORTHEHR|NORTHCLINIC|CONNECTOR|CRM|20261121090000||ACK^A08^ACK|EHR-ACK-{msa2}|P|2.5\rMSA|{code}|{msa2}\r"
    );
    if let Some(err) = err {
        text.push_str(&format!("ERR||PID^1^3|{err}|E\r"));
    }
    text.into_bytes()
}

impl EhrState {
    fn answer(&mut self, frame: &[u8]) -> Vec<u8> {
        let Ok(message) = Message::parse_bytes(frame) else {
            return ack("AR", "", Some("100^Segment sequence error^HL70357"));
        };
        let control_id = message.control_id().unwrap_or_default().into_owned();
        let mrn = message
            .get(&"PID-3.1".parse::<Path>().expect("a path"))
            .unwrap_or_default()
            .into_owned();
        let reply = [control_id.as_str(), mrn.as_str()]
            .iter()
            .find_map(|key| self.scripts.get_mut(*key).and_then(VecDeque::pop_front))
            .unwrap_or(EhrReply::Aa);
        self.arrivals.push(Arrival {
            control_id: control_id.clone(),
            mrn,
            text: message.as_str().to_owned(),
            reply,
        });
        match reply {
            EhrReply::Aa => ack("AA", &control_id, None),
            EhrReply::Ae => ack(
                "AE",
                &control_id,
                Some("207^Application internal error^HL70357"),
            ),
            EhrReply::Ar => ack(
                "AR",
                &control_id,
                Some("200^Unsupported message type^HL70357"),
            ),
            EhrReply::WrongControlId => ack("AA", "SOME-OTHER-MESSAGE", None),
            EhrReply::Silent => Vec::new(),
        }
    }
}

/// An EHR's MLLP listener on 127.0.0.1 (the connector's `serve_with`), answering as scripted
/// and recording every message it receives.
pub struct FakeEhr {
    /// Where it listens.
    pub address: SocketAddr,
    state: Arc<Mutex<EhrState>>,
    shutdown: CancellationToken,
}

impl Drop for FakeEhr {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl FakeEhr {
    /// Starts listening on a random port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the EHR listener");
        let address = listener.local_addr().expect("EHR address");
        let state = Arc::new(Mutex::new(EhrState::default()));
        let shutdown = CancellationToken::new();
        let handler_state = Arc::clone(&state);
        let handler = move |frame: Vec<u8>| {
            let reply = handler_state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .answer(&frame);
            async move { reply }
        };
        tokio::spawn(serve_with(
            listener,
            ServerConfig::default(),
            handler,
            shutdown.clone(),
        ));
        Self {
            address,
            state,
            shutdown,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, EhrState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next answers to messages whose MSH-10 or MRN (PID-3.1) is `key` (then AA).
    pub fn script(&self, key: &str, replies: &[EhrReply]) {
        self.state()
            .scripts
            .entry(key.to_owned())
            .or_default()
            .extend(replies.iter().copied());
    }

    /// Every message received so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.state().arrivals.clone()
    }

    /// The MSH-10s received from the patient with `mrn`, in arrival order.
    pub fn control_ids_of(&self, mrn: &str) -> Vec<String> {
        self.state()
            .arrivals
            .iter()
            .filter(|a| a.mrn == mrn)
            .map(|a| a.control_id.clone())
            .collect()
    }

    /// How many times the message with MSH-10 `control_id` was answered AA.
    pub fn accepted(&self, control_id: &str) -> usize {
        self.state()
            .arrivals
            .iter()
            .filter(|a| a.control_id == control_id && a.reply == EhrReply::Aa)
            .count()
    }
}

/// Why [`FlakyQueue`] failed: injected by the test.
#[derive(Debug, thiserror::Error)]
#[error("injected delivery queue failure")]
pub struct InjectedFailure;

/// The delivery queue, with failures a test injects (each failing call enqueues nothing).
pub struct FlakyQueue {
    inner: Arc<dyn WorkQueue>,
    failures: AtomicUsize,
    sent: AtomicUsize,
}

impl FlakyQueue {
    /// Makes the next `n` calls fail.
    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }

    /// Messages passed on to the real queue so far.
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl WorkQueue for FlakyQueue {
    async fn send_batch(&self, messages: &[QueueMessage]) -> Result<(), QueueError> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(QueueError::Unavailable(Box::new(InjectedFailure)));
        }
        self.inner.send_batch(messages).await?;
        self.sent.fetch_add(messages.len(), Ordering::SeqCst);
        Ok(())
    }
}

/// A running connector with the CRM webhook route and the `north-ehr` channel.
pub struct OutboundApp {
    /// The connector, its context's delivery queue being [`OutboundApp::queue`].
    pub app: TestApp,
    /// The delivery queue as the intake sees it.
    pub queue: Arc<FlakyQueue>,
    /// The EHR.
    pub ehr: FakeEhr,
}

impl Deref for OutboundApp {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// The channel as an admin configures it: MLLP to `ehr`, ACK timeout 1 s (the smallest the
/// validation allows), `max_attempts` attempts, backoff 1 s doubling up to 10 s.
pub fn channel_json(ehr: SocketAddr, max_attempts: u32) -> Value {
    json!({
        "name": "North EHR",
        "description": "Invented clinic's EHR",
        "inbound": {"type": "hmac", "secret": "local:north-hmac", "replay_window_secs": 300},
        "outbound": {
            "type": "mllp",
            "host": ehr.ip().to_string(),
            "port": ehr.port(),
            "connect_timeout_ms": 1000,
            "ack_timeout_ms": 1000,
            "max_attempts": max_attempts,
            "backoff_initial_ms": 1000,
            "backoff_max_ms": 10000
        },
        "crm_webhook": {"header_name": TOKEN_HEADER, "token_hash": TOKEN_SHA256}
    })
}

/// The CRM -> EHR flow: `lead_update` -> ADT^A08 in America/Chicago, MRN (mx_MRN) to PID-3.1,
/// from this suite's template.
pub fn outbound_flow() -> Value {
    ff::lead_updates_to_ehr(CHANNEL, A08_TEMPLATE)
}

/// The EHR -> CRM flow for the echo test: ADT^A04 captures the lead (embedded CRM).
pub fn inbound_lead_flow() -> Value {
    let mappings = ff::registration_mappings();
    ff::ehr_to_crm_lead(
        "Registrations become leads",
        CHANNEL,
        "America/Chicago",
        ADT_A04,
        mappings,
    )
}

/// The sample lead update body as another lead: `lead` as ProspectID, `mrn` as mx_MRN,
/// `modified_on` as ModifiedOn.
pub fn lead_payload(lead: &str, mrn: &str, modified_on: &str) -> Value {
    let mut body: Value = serde_json::from_str(LEAD_UPDATE).expect("the sample payload");
    body["ProspectID"] = json!(lead);
    body["mx_MRN"] = json!(mrn);
    body["ModifiedOn"] = json!(modified_on);
    body
}

/// The `n`th modification time of a test's leads (`2026-11-21 09:MM:SS`, one second apart).
pub fn modified(n: u32) -> String {
    format!("2026-11-21 09:{:02}:{:02}", n / 60, n % 60)
}

/// Starts the connector and the EHR, with the channel (`max_attempts` 3) and the outbound flow.
pub async fn spawn_outbound() -> OutboundApp {
    let ehr = FakeEhr::start().await;
    let flaky = Arc::new(std::sync::OnceLock::new());
    let slot = Arc::clone(&flaky);
    let app = TestApp::builder(Backend::Sqlite)
        .context(move |ctx| {
            let queue = Arc::new(FlakyQueue {
                inner: Arc::clone(&ctx.delivery_queue),
                failures: AtomicUsize::new(0),
                sent: AtomicUsize::new(0),
            });
            let _ = slot.set(Arc::clone(&queue));
            Context {
                delivery_queue: queue as Arc<dyn WorkQueue>,
                ..ctx
            }
        })
        .spawn()
        .await
        .expect("the SQLite backend starts");
    app.db()
        .set_local_secret("north-hmac", HMAC_SECRET)
        .await
        .expect("store the channel secret");
    let queue = Arc::clone(flaky.get().expect("the context was built"));
    let outbound = OutboundApp { app, queue, ehr };
    outbound.set_max_attempts(3).await;
    outbound.put_flow(FLOW_ID, outbound_flow()).await;
    outbound
}

impl OutboundApp {
    /// (Re)configures the channel with `max_attempts` attempts per message.
    pub async fn set_max_attempts(&self, max_attempts: u32) {
        self.put_channel(CHANNEL, channel_json(self.ehr.address, max_attempts))
            .await;
    }

    /// POSTs `body` to `/crm/webhooks/{channel}?{query}` with `token` in the token header.
    pub async fn post_webhook(
        &self,
        channel: &str,
        query: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let token = token.map(|t| (TOKEN_HEADER, t));
        self.app.post_webhook(channel, query, token, body).await
    }

    /// POSTs a lead update webhook for `body` to `north-ehr` with the right token.
    pub async fn lead_update(&self, body: &Value) -> Reply {
        let lead = body["ProspectID"].as_str().unwrap_or_default();
        self.post_webhook(
            CHANNEL,
            &format!("{LEAD_UPDATE_QUERY}&entityId={lead}"),
            Some(TOKEN),
            serde_json::to_vec(body).expect("JSON"),
        )
        .await
    }

    /// POSTs a lead update that must be accepted with one delivery; returns its id.
    pub async fn queue_one(&self, body: &Value) -> String {
        let ids = self.lead_update(body).await.delivery_ids();
        assert_eq!(ids.len(), 1, "one delivery per lead update: {ids:?}");
        ids.into_iter().next().expect("one id")
    }

    /// The delivery `id`.
    pub async fn delivery(&self, id: &str) -> Delivery {
        self.ctx
            .deliveries
            .get(&DeliveryId::parse(id).expect("a delivery id"))
            .await
            .expect("delivery read")
            .expect("the delivery exists")
    }

    /// The MSH-10 of delivery `id`.
    pub async fn control_id(&self, id: &str) -> String {
        self.delivery(id).await.control_id.as_str().to_owned()
    }

    /// Every delivery, newest first.
    pub async fn deliveries(&self) -> Vec<Delivery> {
        self.ctx
            .deliveries
            .list(None, 1000)
            .await
            .expect("delivery list")
    }

    /// Runs the delivery worker until no message is visible; returns how many it received.
    pub async fn drain(&self) -> usize {
        let mut total = 0;
        loop {
            let n = delivery::drain_once(&self.ctx).await.expect("drain");
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    /// Moves the connector's clock forward (past any backoff the channel allows).
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(chrono::Duration::seconds(seconds));
    }

    /// Redrives a parked delivery as an admin; returns the ids queued again.
    pub async fn redrive(&self, id: &str) -> Vec<String> {
        delivery::redrive(
            &self.ctx,
            &DeliveryId::parse(id).expect("a delivery id"),
            &Actor::new("dana.admin", Role::Admin),
        )
        .await
        .expect("redrive")
        .into_iter()
        .map(|d| d.as_str().to_owned())
        .collect()
    }

    /// Calls the admin API (local headers) as `user` in `role`; returns the status and JSON body.
    pub async fn call_api(&self, method: Method, path: &str, role: &str) -> (u16, Value) {
        let reply = self.call_as(method, path, "dana.admin", role, None).await;
        (reply.status, reply.body)
    }

    /// The `crm_outbound` audit entries, oldest first.
    pub async fn audit(&self) -> Vec<Value> {
        let mut entries = self.app.audit("log_type=crm_outbound").await;
        entries.reverse();
        entries
    }

    /// The actions of the `crm_outbound` audit entries about delivery `id`, oldest first.
    pub async fn delivery_actions(&self, id: &str) -> Vec<String> {
        self.audit()
            .await
            .into_iter()
            .filter(|e| e["detail"]["delivery_id"] == id)
            .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// POSTs an HL7 message to `/hl7/north-ehr`, signed with the channel's secret; returns
    /// the status and body.
    pub async fn post_hl7(&self, message: &str) -> (u16, String) {
        let reply = self
            .app
            .post_hl7(CHANNEL, message, HMAC_SECRET, Signing::Valid)
            .await;
        (reply.status, reply.text)
    }
}

/// The value at `path` ("PID-5.1") of an ER7 message.
pub fn at(text: &str, path: &str) -> String {
    let message = Message::parse(text).expect("an HL7 message");
    message
        .get(&path.parse::<Path>().expect("a path"))
        .unwrap_or_default()
        .into_owned()
}
