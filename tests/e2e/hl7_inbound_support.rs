//! The inbound HL7 harness: the SQLite [`TestApp`] (whose router is what `connector serve`
//! mounts) with its MLLP listener on demand, requests signed as a test says, and the
//! `north-ehr` channel with flows built from the sample messages in `events/hl7-inbound` (one invented patient, Casey Rivera, MRN20001).
//!
//! The CRM is `LeadSquaredClient` against `FakeLeadSquared` (the LeadSquared wire format), or
//! the embedded SQLite CRM that `spawn_app` wires by default.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use connector_crm::fake::FakeLeadSquared;
use connector_domain::flow::ChannelId;
use connector_domain::flow::fixtures as ff;
use connector_domain::inbound::{ControlId, InboundKey, InboundRecord};
use connector_domain::{AppointmentId, PatientId};
use connector_hl7::Message;
use serde_json::{Value, json};

pub use crate::support::hl7::{Ack, MllpClient, Signing};
use crate::support::{Backend, Reply, TestApp};

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

/// A running connector with the inbound HL7 route (as `connector serve` mounts it, beside the
/// consent API), the `north-ehr` channel and the chosen CRM.
pub struct InboundApp {
    /// The connector.
    pub app: TestApp,
    /// The fake LeadSquared, when the CRM is [`CrmKind::Fake`].
    pub fake: Option<FakeLeadSquared>,
}

impl Deref for InboundApp {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// Starts the connector with the `north-ehr` channel (no flows yet) and its secret stored.
pub async fn spawn_inbound(crm: CrmKind) -> InboundApp {
    let mut builder = TestApp::builder(Backend::Sqlite);
    let fake = match crm {
        CrmKind::Fake => {
            let (_, fake) = FakeLeadSquared::start().await;
            let client = Arc::new(fake.client());
            builder = builder.context(move |ctx| ctx.with_crm(client));
            Some(fake)
        }
        CrmKind::Embedded => None,
    };
    let app = builder.spawn().await.expect("the SQLite backend starts");
    app.db()
        .set_local_secret("north-hmac", SECRET)
        .await
        .expect("store the channel secret");
    app.put_channel(
        CHANNEL,
        json!({
            "name": "North EHR",
            "description": "Invented clinic's EHR",
            "inbound": {"type": "hmac", "secret": "local:north-hmac", "replay_window_secs": 300}
        }),
    )
    .await;
    InboundApp { app, fake }
}

/// Starts the connector as [`spawn_inbound`] does, with the stock `flows` put.
pub async fn spawn_inbound_with(crm: CrmKind, flows: &[StockFlow]) -> InboundApp {
    let app = spawn_inbound(crm).await;
    for flow in flows {
        app.put_stock(*flow).await;
    }
    app
}

/// The flows most tests put on `north-ehr`, under their ids.
#[derive(Debug, Clone, Copy)]
pub enum StockFlow {
    /// `a04-capture`: ADT^A04 captures the lead.
    A04Capture,
    /// `a08-update`: ADT^A08 updates the lead, creating none.
    A08Update,
    /// `s12-capture`: SIU^S12 captures the lead and the activity.
    S12Capture,
    /// `s14-update`: SIU^S14 updates the lead and the activity, creating neither.
    S14Update,
}

impl StockFlow {
    /// The flow's id and its JSON.
    fn id_and_json(self) -> (&'static str, Value) {
        match self {
            Self::A04Capture => ("a04-capture", lead_flow("ADT^A04", ADT_A04, "capture")),
            Self::A08Update => ("a08-update", lead_flow("ADT^A08", ADT_A08, "update_only")),
            Self::S12Capture => {
                let flow = activity_flow("SIU^S12", SIU_S12, "capture", "capture");
                ("s12-capture", flow)
            }
            Self::S14Update => {
                let flow = activity_flow("SIU^S14", SIU_S14, "update_only", "update_only");
                ("s14-update", flow)
            }
        }
    }
}

/// A lead flow on `north-ehr` for `event_type` (`ADT^A04`), the template being `template`:
/// primary key `mx_MRN` = PID-3.1, secondary key `EmailAddress` = PID-13[2].4.
pub fn lead_flow(event_type: &str, template: &str, lead_sync: &str) -> Value {
    let name = format!("{event_type} leads ({lead_sync})");
    let mappings = ff::registration_mappings();
    let flow = ff::ehr_to_crm_lead(&name, CHANNEL, "America/Chicago", template, mappings);
    let changes = json!({
        "event_type": event_type,
        "lead_sync": lead_sync,
        "secondary_search": ff::email_search(),
    });
    ff::with(flow, changes)
}

/// An activity flow (type 201) on `north-ehr` for `event_type` (`SIU^S12`), matching
/// activities by `mx_Custom_1` = SCH-2.1 (the appointment id).
pub fn activity_flow(
    event_type: &str,
    template: &str,
    lead_sync: &str,
    activity_sync: &str,
) -> Value {
    let mut mappings = ff::registration_mappings();
    mappings.extend([
        json!({"hl7_path": "SCH-2.1", "crm_field": "mx_Custom_1", "target": "activity", "required": true}),
        ff::activity("SCH-11.4", "ActivityDateTime"),
        ff::activity("SCH-7.2", "ActivityNote"),
        json!({"hl7_path": "SCH-25", "crm_field": "mx_Custom_3", "target": "activity",
               "transforms": [{"type": "value_map", "map": {"Booked": "Scheduled"}}]}),
    ]);
    let name = format!("{event_type} appointments ({activity_sync})");
    let flow = ff::ehr_to_crm_lead(&name, CHANNEL, "America/Chicago", template, mappings);
    let changes = json!({
        "entity": "activity",
        "event_type": event_type,
        "lead_sync": lead_sync,
        "activity_sync": activity_sync,
        "activity_type": 201,
        "activity_match": {"crm_field": "mx_Custom_1", "hl7_path": "SCH-2.1"},
    });
    ff::with(flow, changes)
}

/// `message` with MSH-10 replaced by `control_id`.
pub fn with_control_id(message: &str, control_id: &str) -> String {
    let parsed = Message::parse(message).expect("a sample message");
    let old = parsed.control_id().expect("MSH-10").into_owned();
    message.replacen(&format!("|{old}|"), &format!("|{control_id}|"), 1)
}

impl InboundApp {
    /// The fake LeadSquared (panics for the embedded CRM).
    pub fn fake(&self) -> &FakeLeadSquared {
        self.fake
            .as_ref()
            .expect("this app runs the fake LeadSquared")
    }

    /// Puts the stock flow `flow` on `north-ehr`.
    pub async fn put_stock(&self, flow: StockFlow) {
        let (id, json) = flow.id_and_json();
        self.put_flow(id, json).await;
    }

    /// POSTs `body` to `/hl7/north-ehr`, signed as `signing` says.
    pub async fn post(&self, body: &str, signing: Signing<'_>) -> Reply {
        self.post_to(CHANNEL, body, signing).await
    }

    /// POSTs `body` to `/hl7/{channel}`, signed with the channel's secret as `signing` says.
    pub async fn post_to(&self, channel: &str, body: &str, signing: Signing<'_>) -> Reply {
        self.app.post_hl7(channel, body, SECRET, signing).await
    }

    /// Sends a message signed with the channel's secret; returns its ACK (asserting a 200).
    pub async fn send(&self, message: &str) -> Ack {
        self.post(message, Signing::Valid).await.ack()
    }

    /// Starts an MLLP listener bound to `north-ehr` on 127.0.0.1, as `connector serve --mllp`
    /// does; it stops with the app.
    pub async fn start_mllp(&self) -> SocketAddr {
        self.app.start_mllp(CHANNEL).await
    }

    /// The `hl7_inbound` audit entries, newest first.
    pub async fn hl7_audit(&self) -> Vec<Value> {
        self.app.audit("log_type=hl7_inbound").await
    }

    /// The `hl7_inbound` audit entries of `action` (newest first).
    pub async fn hl7_audit_of(&self, action: &str) -> Vec<Value> {
        let entries = self.hl7_audit().await;
        entries
            .into_iter()
            .filter(|e| e["action"] == action)
            .collect()
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

/// The newest `hl7.processed` audit entry.
/// What the first flow did to the lead for the last processed message (`created`,
/// `updated`, ...).
pub async fn last_lead_action(app: &InboundApp) -> Value {
    last_processed(app).await["detail"]["flows"][0]["lead"].clone()
}

pub async fn last_processed(app: &InboundApp) -> Value {
    app.hl7_audit()
        .await
        .into_iter()
        .find(|e| e["action"] == "hl7.processed")
        .expect("an hl7.processed entry")
}
