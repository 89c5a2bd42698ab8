//! The inbound HL7 harness: a connector whose HL7 route is mounted as `connector serve` mounts
//! it (beside the consent API's authentication layer), its MLLP listener on demand, a signing
//! HTTP sender, a framing MLLP client, and the `north-ehr` channel with flows built from the
//! sample messages in `events/hl7-inbound` (one invented patient, Casey Rivera, MRN20001).
//!
//! The CRM is `LeadSquaredClient` against `FakeLeadSquared` (the LeadSquared wire format), or
//! the embedded SQLite CRM that `spawn_app` wires by default.

use std::net::SocketAddr;
use std::sync::Arc;

use connector_app::Context;
use connector_app::ehr_to_crm::{self, ER7_CONTENT_TYPE};
use connector_app::flows::admin::{self, AdminPorts};
use connector_app::http::auth::LocalHeaders;
use connector_crm::fake::FakeLeadSquared;
use connector_domain::flow::channel::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use connector_domain::flow::{ChannelId, ChannelInput, FlowId, FlowInput};
use connector_domain::inbound::{ControlId, InboundKey, InboundRecord};
use connector_domain::{Actor, Clock};
use connector_domain::{AppointmentId, PatientId};
use connector_hl7::{AckInfo, Message, MllpDecoder};
use connector_transport::mllp::server::ServerConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestApp, spawn_app};

/// The channel every test uses.
pub const CHANNEL: &str = "north-ehr";
/// Its HMAC secret (`local:north-hmac`).
pub const SECRET: &[u8] = b"north-ehr-shared-secret-0001";

/// ADT^A04, register (MSH-10 `NE-A04-0001`).
pub const ADT_A04: &str = include_str!("../../events/hl7-inbound/adt-a04.hl7");
/// ADT^A08, update with a new phone (`NE-A08-0002`).
pub const ADT_A08: &str = include_str!("../../events/hl7-inbound/adt-a08.hl7");
/// ADT^A28, add person (`NE-A28-0003`).
pub const ADT_A28: &str = include_str!("../../events/hl7-inbound/adt-a28.hl7");
/// SIU^S12, new appointment APT-5001, Booked (`NE-S12-0004`).
pub const SIU_S12: &str = include_str!("../../events/hl7-inbound/siu-s12.hl7");
/// SIU^S14, APT-5001 modified: the reason becomes "Annual physical and labs" (`NE-S14-0005`).
pub const SIU_S14: &str = include_str!("../../events/hl7-inbound/siu-s14.hl7");
/// SIU^S15, APT-5001 cancelled (`NE-S15-0006`).
pub const SIU_S15: &str = include_str!("../../events/hl7-inbound/siu-s15.hl7");
/// SIU^S14 with SCH-25 `Complete` (`NE-S14-0007`).
pub const SIU_S14_COMPLETE: &str = include_str!("../../events/hl7-inbound/siu-s14-complete.hl7");
/// DFT^P03 for the visit APT-5001 (`NE-P03-0008`).
pub const DFT_P03: &str = include_str!("../../events/hl7-inbound/dft-p03.hl7");

/// The sample patient's values as they could appear in output (for the no-PHI checks).
pub const SAMPLE_PHI: &[&str] = &[
    "Rivera",
    "Casey",
    "19870412",
    "1987-04-12",
    "555-0142",
    "5550142",
    "555-0199",
    "5550199",
    "casey.rivera@example.org",
    "48 Harbor Rd",
    "Harbor",
    "Springfield",
    "62704",
    "MRN20001",
    "Annual physical",
];

/// Which CRM the flows write to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmKind {
    /// `LeadSquaredClient` against a `FakeLeadSquared`.
    Fake,
    /// The embedded SQLite CRM.
    Embedded,
}

/// A running connector with the inbound HL7 route.
pub struct InboundApp {
    /// The consent API (settings, patients, consents, audit), on the same database.
    pub app: TestApp,
    /// The wiring the HL7 route and the MLLP listener use (the chosen CRM).
    pub ctx: Arc<Context>,
    /// `http://127.0.0.1:PORT` of the router mounted as `connector serve` mounts it.
    pub address: String,
    /// The fake LeadSquared, when the CRM is [`CrmKind::Fake`].
    pub fake: Option<FakeLeadSquared>,
    client: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for InboundApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts the connector with the `north-ehr` channel (no flows yet) and its secret stored.
pub async fn spawn_inbound(crm: CrmKind) -> InboundApp {
    let app = spawn_app().await;
    let (ctx, fake) = match crm {
        CrmKind::Fake => {
            let (_, fake) = FakeLeadSquared::start().await;
            let ctx = (*app.ctx).clone().with_crm(Arc::new(fake.client()));
            (Arc::new(ctx), Some(fake))
        }
        CrmKind::Embedded => (Arc::clone(&app.ctx), None),
    };
    // What `connector serve` mounts.
    let router = connector_app::host::router(&ctx, Arc::new(LocalHeaders));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    app.db
        .set_local_secret("north-hmac", SECRET)
        .await
        .expect("store the channel secret");
    let channel: ChannelInput = serde_json::from_value(json!({
        "name": "North EHR",
        "description": "Invented clinic's EHR",
        "inbound": {"type": "hmac", "secret": "local:north-hmac", "replay_window_secs": 300}
    }))
    .expect("a channel input");
    let inbound = InboundApp {
        app,
        ctx,
        address,
        fake,
        client: reqwest::Client::new(),
        shutdown,
    };
    admin::put_channel(
        inbound.ports(),
        &admin_actor(),
        &ChannelId::parse(CHANNEL).unwrap(),
        channel,
    )
    .await
    .expect("create the channel");
    inbound
}

fn admin_actor() -> Actor {
    Actor::system("e2e-setup")
}

/// A lead flow on `north-ehr` for `event_type` (`ADT^A04`), the template being `template`:
/// primary key `mx_MRN` = PID-3.1, secondary key `EmailAddress` = PID-13[2].4.
pub fn lead_flow(event_type: &str, template: &str, lead_sync: &str) -> Value {
    json!({
        "name": format!("{event_type} leads ({lead_sync})"),
        "channel_id": CHANNEL,
        "direction": "ehr_to_crm",
        "entity": "lead",
        "event_type": event_type,
        "lead_sync": lead_sync,
        "lead_source": "EHR Connector",
        "default_country_code": "+1",
        "time_zone": "America/Chicago",
        "primary_search": {"crm_field": "mx_MRN", "hl7_path": "PID-3.1"},
        "secondary_search": {"crm_field": "EmailAddress", "hl7_path": "PID-13[2].4"},
        "mrn_crm_field": "mx_MRN",
        "template": template,
        "mappings": lead_mappings(),
    })
}

fn lead_mappings() -> Vec<Value> {
    vec![
        json!({"hl7_path": "PID-3.1", "crm_field": "mx_MRN", "required": true}),
        json!({"hl7_path": "PID-5.2", "crm_field": "FirstName"}),
        json!({"hl7_path": "PID-5.1", "crm_field": "LastName", "required": true}),
        json!({"hl7_path": "PID-7", "crm_field": "mx_Date_of_Birth",
               "transforms": [{"type": "date", "to_format": "%Y-%m-%d"}]}),
        json!({"hl7_path": "PID-11.3", "crm_field": "mx_City"}),
        json!({"hl7_path": "PID-13.1", "crm_field": "Mobile", "transforms": [{"type": "phone_e164"}]}),
        json!({"hl7_path": "PID-13[2].4", "crm_field": "EmailAddress",
               "transforms": [{"type": "trim"}, {"type": "lower"}]}),
    ]
}

/// An activity flow (type 201) on `north-ehr` for `event_type` (`SIU^S12`), matching
/// activities by `mx_Custom_1` = SCH-2.1 (the appointment id).
pub fn activity_flow(
    event_type: &str,
    template: &str,
    lead_sync: &str,
    activity_sync: &str,
) -> Value {
    let mut mappings = lead_mappings();
    mappings.extend([
        json!({"hl7_path": "SCH-2.1", "crm_field": "mx_Custom_1", "target": "activity", "required": true}),
        json!({"hl7_path": "SCH-11.4", "crm_field": "ActivityDateTime", "target": "activity"}),
        json!({"hl7_path": "SCH-7.2", "crm_field": "ActivityNote", "target": "activity"}),
        json!({"hl7_path": "SCH-25", "crm_field": "mx_Custom_3", "target": "activity",
               "transforms": [{"type": "value_map", "map": {"Booked": "Scheduled"}}]}),
    ]);
    json!({
        "name": format!("{event_type} appointments ({activity_sync})"),
        "channel_id": CHANNEL,
        "direction": "ehr_to_crm",
        "entity": "activity",
        "event_type": event_type,
        "lead_sync": lead_sync,
        "activity_sync": activity_sync,
        "activity_type": 201,
        "activity_match": {"crm_field": "mx_Custom_1", "hl7_path": "SCH-2.1"},
        "lead_source": "EHR Connector",
        "default_country_code": "+1",
        "time_zone": "America/Chicago",
        "primary_search": {"crm_field": "mx_MRN", "hl7_path": "PID-3.1"},
        "mrn_crm_field": "mx_MRN",
        "template": template,
        "mappings": mappings,
    })
}

/// `message` with MSH-10 replaced by `control_id`.
pub fn with_control_id(message: &str, control_id: &str) -> String {
    let parsed = Message::parse(message).expect("a sample message");
    let old = parsed.control_id().expect("MSH-10").into_owned();
    message.replacen(&format!("|{old}|"), &format!("|{control_id}|"), 1)
}

/// A reply from `POST /hl7/{channel}`.
#[derive(Debug)]
pub struct HttpReply {
    /// The status.
    pub status: u16,
    /// The content type.
    pub content_type: String,
    /// The body.
    pub body: String,
}

impl HttpReply {
    /// The ACK in the body; asserts a 200 with the ER7 media type.
    pub fn ack(&self) -> Ack {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(self.content_type, ER7_CONTENT_TYPE);
        Ack::parse(&self.body)
    }

    /// Asserts a problem+json answer with `status`.
    pub fn assert_problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type, "application/problem+json");
        let body: Value = serde_json::from_str(&self.body).expect("a JSON problem");
        for key in ["type", "title", "status", "detail"] {
            assert!(body.get(key).is_some(), "problem lacks {key}: {body}");
        }
        body
    }
}

/// What an ACK says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// MSA-1.
    pub code: String,
    /// MSA-2 (empty when absent).
    pub control_id: String,
    /// ERR-3.1 of each ERR.
    pub errors: Vec<u16>,
    /// The ER7 text.
    pub text: String,
}

impl Ack {
    /// Reads an ACK.
    pub fn parse(text: &str) -> Self {
        let message = Message::parse(text).expect("the ACK parses");
        let info = AckInfo::read(&message).expect("an ACK with an MSA");
        assert_eq!(
            message.message_code().as_deref(),
            Some("ACK"),
            "MSH-9 of an ACK: {text}"
        );
        Self {
            code: info.code.as_str().to_owned(),
            control_id: info.control_id.map(|c| c.into_owned()).unwrap_or_default(),
            errors: info.errors.iter().filter_map(|e| e.code).collect(),
            text: text.to_owned(),
        }
    }

    /// Asserts MSA-1 is `code` and MSA-2 is `control_id`; returns self.
    #[track_caller]
    pub fn expect(self, code: &str, control_id: &str) -> Self {
        assert_eq!(
            (self.code.as_str(), self.control_id.as_str()),
            (code, control_id),
            "{}",
            self.text.replace('\r', "\n")
        );
        self
    }
}

/// How a test request is signed.
#[derive(Debug, Clone, Copy)]
pub enum Signing<'a> {
    /// The channel's secret at the connector's current time.
    Valid,
    /// Another secret.
    Secret(&'a [u8]),
    /// The channel's secret at this many seconds from the connector's time.
    Skewed(i64),
    /// No signature headers.
    Unsigned,
    /// Only the timestamp header.
    TimestampOnly,
    /// The channel's secret over another body.
    OtherBody(&'a str),
}

impl InboundApp {
    /// The admin ports on this app's stores.
    pub fn ports(&self) -> AdminPorts<'_> {
        AdminPorts {
            flows: self.ctx.flows.as_ref(),
            secrets: self.ctx.secrets.as_ref(),
            clock: self.ctx.clock.as_ref(),
        }
    }

    /// The fake LeadSquared (panics for the embedded CRM).
    pub fn fake(&self) -> &FakeLeadSquared {
        self.fake
            .as_ref()
            .expect("this app runs the fake LeadSquared")
    }

    /// Creates or replaces the flow `id`; asserts it is valid.
    pub async fn put_flow(&self, id: &str, flow: Value) {
        let input: FlowInput = serde_json::from_value(flow).expect("a flow input");
        if let Err(e) = admin::put_flow(
            self.ports(),
            &admin_actor(),
            &FlowId::parse(id).unwrap(),
            input,
        )
        .await
        {
            match e {
                admin::AdminError::Invalid(errors) => panic!("invalid flow {id}: {:?}", errors.0),
                other => panic!("flow {id}: {other}"),
            }
        }
    }

    /// POSTs `body` to `/hl7/north-ehr`, signed as `signing` says.
    pub async fn post(&self, body: &str, signing: Signing<'_>) -> HttpReply {
        self.post_to(CHANNEL, body, signing).await
    }

    /// POSTs `body` to `/hl7/{channel}`, signed as `signing` says.
    pub async fn post_to(&self, channel: &str, body: &str, signing: Signing<'_>) -> HttpReply {
        let now = self.app.clock.now().timestamp();
        let mut request = self
            .client
            .post(format!("{}/hl7/{channel}", self.address))
            .header("content-type", ER7_CONTENT_TYPE)
            .body(body.to_owned());
        let signed =
            |secret: &[u8], at: i64| ehr_to_crm::signature::sign(secret, at, body.as_bytes());
        let headers = match signing {
            Signing::Valid => Some(signed(SECRET, now)),
            Signing::Secret(secret) => Some(signed(secret, now)),
            Signing::Skewed(seconds) => Some(signed(SECRET, now + seconds)),
            Signing::OtherBody(other) => {
                Some(ehr_to_crm::signature::sign(SECRET, now, other.as_bytes()))
            }
            Signing::Unsigned => None,
            Signing::TimestampOnly => {
                request = request.header(TIMESTAMP_HEADER, now.to_string());
                None
            }
        };
        if let Some((timestamp, signature)) = headers {
            request = request
                .header(TIMESTAMP_HEADER, timestamp)
                .header(SIGNATURE_HEADER, signature);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.text().await.expect("body");
        HttpReply {
            status,
            content_type,
            body,
        }
    }

    /// Sends a message signed with the channel's secret; returns its ACK (asserting a 200).
    pub async fn send(&self, message: &str) -> Ack {
        self.post(message, Signing::Valid).await.ack()
    }

    /// Starts an MLLP listener bound to `north-ehr` on 127.0.0.1, as `connector serve --mllp`
    /// does; it stops with the app.
    pub async fn start_mllp(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind MLLP");
        let address = listener.local_addr().expect("MLLP address");
        let config = ServerConfig {
            max_frame_size: connector_app::http::hl7_inbound::MAX_MESSAGE_BYTES,
            ..ServerConfig::default()
        };
        connector_app::host::spawn_mllp(
            &self.ctx,
            listener,
            config,
            CHANNEL.to_owned(),
            self.shutdown.clone(),
        );
        address
    }

    /// The `hl7_inbound` audit entries, newest first.
    pub async fn hl7_audit(&self) -> Vec<Value> {
        self.app.audit("log_type=hl7_inbound").await
    }

    /// The ledger record of the message with MSH-10 `control_id` on `north-ehr`.
    pub async fn ledger(&self, control_id: &str) -> Option<InboundRecord> {
        let key = InboundKey::new(
            ChannelId::parse(CHANNEL).unwrap(),
            ControlId::parse(control_id).unwrap(),
        );
        self.ctx
            .inbound_ledger
            .get(&key)
            .await
            .expect("ledger read")
    }

    /// The appointment `id`'s transition sequence (0: never transitioned), if it exists.
    pub async fn transition_seq(&self, id: &str) -> Option<u32> {
        self.ctx
            .appointments
            .get(&AppointmentId::parse(id).unwrap())
            .await
            .expect("appointment read")
            .map(|a| a.transition_seq)
    }
}

/// The patient id the HIE side gives a message's patient.
pub fn patient_id_of(message: &str) -> PatientId {
    let parsed = Message::parse(message).expect("a sample message");
    connector_app::hie::hl7_feed::patient_identity(&parsed)
        .expect("a PID")
        .0
}

/// A real MLLP client connection.
pub struct MllpClient {
    stream: TcpStream,
    decoder: MllpDecoder,
}

impl MllpClient {
    /// Connects.
    pub async fn connect(address: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(address).await.expect("MLLP connect"),
            decoder: MllpDecoder::new(1 << 20),
        }
    }

    /// Writes one framed message (without waiting for its ACK).
    pub async fn write(&mut self, message: &str) {
        self.stream
            .write_all(&connector_hl7::mllp::encode(message.as_bytes()))
            .await
            .expect("MLLP write");
    }

    /// Reads the next ACK.
    pub async fn read_ack(&mut self) -> Ack {
        let mut buffer = [0u8; 4096];
        loop {
            if let Some(frame) = self.decoder.next_frame() {
                let frame = frame.expect("a well-formed frame");
                return Ack::parse(std::str::from_utf8(&frame).expect("UTF-8 ACK"));
            }
            let n = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                self.stream.read(&mut buffer),
            )
            .await
            .expect("an ACK within 30 s")
            .expect("MLLP read");
            assert!(n > 0, "the listener closed the connection");
            self.decoder.push(&buffer[..n]);
        }
    }

    /// Sends one message and reads its ACK.
    pub async fn send(&mut self, message: &str) -> Ack {
        self.write(message).await;
        self.read_ack().await
    }
}

/// The newest `hl7.processed` audit entry.
pub async fn last_processed(app: &InboundApp) -> Value {
    app.hl7_audit()
        .await
        .into_iter()
        .find(|e| e["action"] == "hl7.processed")
        .expect("an hl7.processed entry")
}
