//! `FlowStore` cases: channels and flows, their conflicts and absences, list order, and the
//! `configuration_changes` audit entry each write carries (and a refused write does not).

use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::flow::fixtures as ff;
use connector_domain::flow::{
    Channel, ChannelId, Flow, FlowId, FlowInput, HeaderValue, HttpHeader, HttpsDelivery,
    InboundAuth, MllpDelivery, OutboundDelivery, SecretRef, TlsSettings, TokenHash, WebhookAuth,
};
use serde_json::json;

use super::{Case, FlowStoreSet, assert_conflict, assert_not_found, audit_entries, cases};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<FlowStoreSet>> {
    cases![
        flows_channels_round_trip_in_full,
        flows_creating_an_existing_channel_conflicts_and_writes_nothing,
        flows_updating_a_channel_replaces_it,
        flows_updating_a_missing_channel_is_not_found_and_writes_nothing,
        flows_deleting_a_channel_removes_only_it,
        flows_deleting_a_missing_channel_is_not_found_and_writes_nothing,
        flows_channels_list_in_id_order,
        flows_flows_round_trip_in_full,
        flows_creating_an_existing_flow_conflicts_and_writes_nothing,
        flows_updating_a_flow_replaces_it_and_may_move_it_to_another_channel,
        flows_updating_a_missing_flow_is_not_found_and_writes_nothing,
        flows_deleting_a_flow_removes_only_it,
        flows_deleting_a_missing_flow_is_not_found_and_writes_nothing,
        flows_flows_list_in_id_order_per_channel_and_overall,
    ]
}

/// An ADT^A04 template with sample values only.
const ADT_TEMPLATE: &str = "MSH|^~\\&|EHR|CLINIC|CONNECTOR|CRM|20240101000000||ADT^A04^ADT_A01|TEMPLATE|P|2.5\r\
EVN|A04|20240101000000\r\
PID|1||SAMPLE^^^CLINIC^MR||Sample^Patient||19000101|U|||1 Sample St^^Sampletown^ST^00000||(000)000-0000\r\
PV1|1|O\r";

/// A channel id.
pub(super) fn channel_id(id: &str) -> ChannelId {
    ChannelId::parse(id).expect("a valid channel id")
}

/// A flow id.
pub(super) fn flow_id(id: &str) -> FlowId {
    FlowId::parse(id).expect("a valid flow id")
}

/// A channel with HTTPS delivery (a plain and a secret header) and CRM webhook settings,
/// created at `at`.
pub(super) fn channel(id: &str, at: i64) -> Channel {
    Channel {
        channel_id: channel_id(id),
        name: format!("Channel {id}"),
        description: "EHR interface engine".into(),
        inbound: InboundAuth::Hmac {
            secret: SecretRef::parse("local:ehr-hmac").expect("a reference"),
            replay_window_secs: 300,
        },
        outbound: Some(OutboundDelivery::Https(HttpsDelivery {
            url: "https://ehr.example.invalid/hl7".into(),
            headers: vec![
                HttpHeader {
                    name: "X-Site".into(),
                    value: HeaderValue::Value("north".into()),
                },
                HttpHeader {
                    name: "Authorization".into(),
                    value: HeaderValue::Secret(
                        SecretRef::parse("env:CONNECTOR_SECRET_EHR_TOKEN").expect("a reference"),
                    ),
                },
            ],
            timeout_ms: 10_000,
            max_attempts: 5,
            backoff_initial_ms: 1_000,
            backoff_max_ms: 60_000,
        })),
        crm_webhook: Some(WebhookAuth {
            header_name: "x-connector-webhook-token".into(),
            token_hash: TokenHash::new([0x5a; 32]),
        }),
        created_at: fixtures::at(at),
        updated_at: fixtures::at(at),
    }
}

/// A channel with MLLP over TLS with a private CA, and no webhook settings.
fn mllp_channel(id: &str, at: i64) -> Channel {
    Channel {
        outbound: Some(OutboundDelivery::Mllp(MllpDelivery {
            host: "ehr.example.invalid".into(),
            port: 2575,
            tls: Some(TlsSettings {
                server_name: "ehr.example.invalid".into(),
                ca_pem_ref: Some(
                    SecretRef::parse(
                        "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:clinic/ca-AbC123",
                    )
                    .expect("a reference"),
                ),
            }),
            connect_timeout_ms: 5_000,
            ack_timeout_ms: 30_000,
            max_attempts: 10,
            backoff_initial_ms: 500,
            backoff_max_ms: 30_000,
        })),
        crm_webhook: None,
        ..channel(id, at)
    }
}

/// A valid EHR -> CRM lead flow (ADT^A04) on `channel`, created at `at`.
pub(super) fn flow(id: &str, channel: &str, at: i64) -> Flow {
    let mappings = vec![
        ff::required("PID-3.1", "mx_MRN"),
        ff::transformed("PID-5.2", "FirstName", json!([{"type": "trim"}])),
        ff::required("PID-5.1", "LastName"),
        ff::birth_date(),
        ff::gender_to_crm(),
        ff::transformed("PID-13.1", "Phone", json!([{"type": "phone_e164"}])),
    ];
    let name = format!("Flow {id}");
    let input = ff::ehr_to_crm_lead(&name, channel, "America/New_York", ADT_TEMPLATE, mappings);
    let changes = json!({
        "description": "Registrations become leads",
        "secondary_search": {"crm_field": "Phone", "hl7_path": "PID-13.1"},
        "enabled": true
    });
    validated(id, at, ff::with(input, changes))
}

/// A valid CRM -> EHR lead flow (lead created -> ADT^A04) on `channel`.
fn outbound_flow(id: &str, channel: &str, at: i64) -> Flow {
    let mappings = vec![
        ff::required("PID-5.1", "LastName"),
        ff::map("PID-5.2", "FirstName"),
    ];
    let name = format!("Outbound {id}");
    let event = ("lead_create", "ADT^A04");
    let input = ff::crm_to_ehr_lead(
        &name,
        channel,
        event,
        "Europe/Paris",
        ADT_TEMPLATE,
        mappings,
    );
    validated(id, at, ff::with(input, json!({"enabled": false})))
}

fn validated(id: &str, at: i64, input: serde_json::Value) -> Flow {
    let input: FlowInput = serde_json::from_value(input).expect("a flow input");
    match input.into_flow(flow_id(id), fixtures::at(at)) {
        Ok(flow) => flow,
        Err(errors) => panic!("invalid flow fixture: {:?}", errors.0),
    }
}

/// The audit entry of a configuration change.
pub(super) fn config_audit(action: &str, subject: &str, at: i64) -> AuditEntry {
    AuditEntry::new(
        LogType::ConfigurationChanges,
        fixtures::at(at),
        fixtures::admin(),
        action,
        AuditOutcome::Success,
    )
    .with_detail(json!({ "id": subject }))
}

/// Every `configuration_changes` entry, newest first.
/// The flows `list_flows` lists for the channel `channel`.
/// The stored flow `id`, if any.
async fn stored_flow(s: &FlowStoreSet, id: &FlowId) -> Option<Flow> {
    s.flows.get_flow(id).await.unwrap()
}

async fn channel_flows(s: &FlowStoreSet, channel: &str) -> Vec<Flow> {
    s.flows
        .list_flows(Some(&channel_id(channel)))
        .await
        .unwrap()
}

async fn config_audits(s: &FlowStoreSet) -> Vec<AuditEntry> {
    audit_entries(&*s.audit, LogType::ConfigurationChanges).await
}

/// Creates `channel` with its audit entry at `at` (distinct times keep the audit order plain).
async fn create_channel(s: &FlowStoreSet, channel: &Channel, at: i64) -> AuditEntry {
    let entry = config_audit("channel.created", channel.channel_id.as_str(), at);
    s.flows.create_channel(channel, &entry).await.unwrap();
    entry
}

/// Creates `flow` with its audit entry at `at`.
async fn create_flow(s: &FlowStoreSet, flow: &Flow, at: i64) -> AuditEntry {
    let entry = config_audit("flow.created", flow.flow_id.as_str(), at);
    s.flows.create_flow(flow, &entry).await.unwrap();
    entry
}

async fn flows_channels_round_trip_in_full(s: FlowStoreSet) {
    let id = channel_id("north-ehr");
    assert_eq!(s.flows.get_channel(&id).await.unwrap(), None);
    assert_eq!(
        s.flows.list_channels().await.unwrap(),
        Vec::<Channel>::new()
    );

    let https = channel("north-ehr", 0);
    let mllp = mllp_channel("south-ehr", 1);
    let bare = Channel {
        outbound: None,
        crm_webhook: None,
        description: String::new(),
        ..channel("west-ehr", 2)
    };
    let mut entries = Vec::new();
    for (at, c) in [&https, &mllp, &bare].into_iter().enumerate() {
        entries.push(create_channel(&s, c, at as i64).await);
    }
    assert_eq!(s.flows.get_channel(&id).await.unwrap(), Some(https.clone()));
    assert_eq!(
        s.flows.get_channel(&mllp.channel_id).await.unwrap(),
        Some(mllp.clone())
    );
    assert_eq!(
        s.flows.get_channel(&bare.channel_id).await.unwrap(),
        Some(bare.clone())
    );
    entries.reverse();
    assert_eq!(
        config_audits(&s).await,
        entries,
        "each create is audited, newest first"
    );
}

async fn flows_creating_an_existing_channel_conflicts_and_writes_nothing(s: FlowStoreSet) {
    let first = channel("north-ehr", 0);
    let entry = create_channel(&s, &first, 0).await;
    let again = Channel {
        name: "Another".into(),
        ..mllp_channel("north-ehr", 5)
    };
    let refused = config_audit("channel.created", "north-ehr", 5);
    assert_conflict(s.flows.create_channel(&again, &refused).await);
    assert_eq!(
        s.flows.get_channel(&first.channel_id).await.unwrap(),
        Some(first),
        "the stored channel is untouched"
    );
    assert_eq!(config_audits(&s).await, vec![entry], "no audit entry");
}

async fn flows_updating_a_channel_replaces_it(s: FlowStoreSet) {
    let created = create_channel(&s, &channel("north-ehr", 0), 0).await;
    let replaced = Channel {
        name: "North (renamed)".into(),
        updated_at: fixtures::at(10),
        ..mllp_channel("north-ehr", 0)
    };
    let entry = config_audit("channel.updated", "north-ehr", 10);
    s.flows.update_channel(&replaced, &entry).await.unwrap();
    assert_eq!(
        s.flows.get_channel(&replaced.channel_id).await.unwrap(),
        Some(replaced.clone())
    );
    assert_eq!(s.flows.list_channels().await.unwrap(), vec![replaced]);
    assert_eq!(config_audits(&s).await, vec![entry, created]);
}

async fn flows_updating_a_missing_channel_is_not_found_and_writes_nothing(s: FlowStoreSet) {
    let created = create_channel(&s, &channel("north-ehr", 0), 0).await;
    let missing = channel("south-ehr", 1);
    let entry = config_audit("channel.updated", "south-ehr", 1);
    assert_not_found(s.flows.update_channel(&missing, &entry).await);
    assert_eq!(
        s.flows.get_channel(&missing.channel_id).await.unwrap(),
        None,
        "an update never creates"
    );
    assert_eq!(s.flows.list_channels().await.unwrap().len(), 1);
    assert_eq!(config_audits(&s).await, vec![created], "no audit entry");
}

async fn flows_deleting_a_channel_removes_only_it(s: FlowStoreSet) {
    let mut entries = vec![
        create_channel(&s, &channel("north-ehr", 0), 0).await,
        create_channel(&s, &channel("south-ehr", 0), 1).await,
    ];
    // A flow still on the channel does not stop the store (that check is the caller's).
    let on_north = flow("flow-1", "north-ehr", 0);
    entries.push(create_flow(&s, &on_north, 2).await);
    let entry = config_audit("channel.deleted", "north-ehr", 5);
    s.flows
        .delete_channel(&channel_id("north-ehr"), &entry)
        .await
        .unwrap();
    entries.push(entry);
    assert_eq!(
        s.flows.get_channel(&channel_id("north-ehr")).await.unwrap(),
        None
    );
    assert_eq!(
        s.flows.list_channels().await.unwrap(),
        vec![channel("south-ehr", 0)]
    );
    assert_eq!(
        stored_flow(&s, &on_north.flow_id).await,
        Some(on_north),
        "flows are not deleted with their channel"
    );
    entries.reverse();
    assert_eq!(config_audits(&s).await, entries);
}

async fn flows_deleting_a_missing_channel_is_not_found_and_writes_nothing(s: FlowStoreSet) {
    let entry = config_audit("channel.deleted", "north-ehr", 0);
    assert_not_found(
        s.flows
            .delete_channel(&channel_id("north-ehr"), &entry)
            .await,
    );
    let created = create_channel(&s, &channel("north-ehr", 0), 0).await;
    let deleted = config_audit("channel.deleted", "north-ehr", 1);
    s.flows
        .delete_channel(&channel_id("north-ehr"), &deleted)
        .await
        .unwrap();
    let again = config_audit("channel.deleted", "north-ehr", 2);
    assert_not_found(
        s.flows
            .delete_channel(&channel_id("north-ehr"), &again)
            .await,
    );
    assert_eq!(
        config_audits(&s).await,
        vec![deleted, created],
        "refused deletes are not audited"
    );
}

/// Ids whose byte order differs from a case-insensitive or "natural" order.
const IDS: [&str; 8] = ["north", "North", "a_1", "a.1", "a-1", "a1", "b", "A-2"];

fn sorted_ids() -> Vec<&'static str> {
    let mut ids = IDS.to_vec();
    ids.sort_unstable();
    ids
}

async fn flows_channels_list_in_id_order(s: FlowStoreSet) {
    for id in IDS {
        create_channel(&s, &channel(id, 0), 0).await;
    }
    let listed: Vec<String> = s
        .flows
        .list_channels()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.channel_id.as_str().to_owned())
        .collect();
    assert_eq!(listed, sorted_ids(), "ordered by id (byte order)");
}

async fn flows_flows_round_trip_in_full(s: FlowStoreSet) {
    let id = flow_id("flow-1");
    assert_eq!(stored_flow(&s, &id).await, None);
    assert_eq!(s.flows.list_flows(None).await.unwrap(), Vec::<Flow>::new());
    let inbound = flow("flow-1", "north-ehr", 0);
    let outbound = outbound_flow("flow-2", "north-ehr", 1);
    let first = create_flow(&s, &inbound, 0).await;
    let second = create_flow(&s, &outbound, 1).await;
    assert_eq!(stored_flow(&s, &id).await, Some(inbound.clone()));
    assert_eq!(
        stored_flow(&s, &outbound.flow_id).await,
        Some(outbound.clone())
    );
    assert_eq!(
        s.flows.list_flows(None).await.unwrap(),
        vec![inbound, outbound]
    );
    assert_eq!(config_audits(&s).await, vec![second, first]);
}

async fn flows_creating_an_existing_flow_conflicts_and_writes_nothing(s: FlowStoreSet) {
    let first = flow("flow-1", "north-ehr", 0);
    let entry = create_flow(&s, &first, 0).await;
    let again = outbound_flow("flow-1", "south-ehr", 5);
    let refused = config_audit("flow.created", "flow-1", 5);
    assert_conflict(s.flows.create_flow(&again, &refused).await);
    assert_eq!(stored_flow(&s, &first.flow_id).await, Some(first.clone()));
    assert_eq!(
        channel_flows(&s, "south-ehr").await,
        Vec::<Flow>::new(),
        "the refused flow's channel lists nothing"
    );
    assert_eq!(config_audits(&s).await, vec![entry], "no audit entry");
}

async fn flows_updating_a_flow_replaces_it_and_may_move_it_to_another_channel(s: FlowStoreSet) {
    let created = create_flow(&s, &flow("flow-1", "north-ehr", 0), 0).await;
    let replaced = Flow {
        name: "Renamed".into(),
        enabled: false,
        updated_at: fixtures::at(10),
        ..flow("flow-1", "south-ehr", 0)
    };
    let entry = config_audit("flow.updated", "flow-1", 10);
    s.flows.update_flow(&replaced, &entry).await.unwrap();
    assert_eq!(
        stored_flow(&s, &replaced.flow_id).await,
        Some(replaced.clone())
    );
    assert_eq!(
        channel_flows(&s, "north-ehr").await,
        Vec::<Flow>::new(),
        "the old channel no longer lists it"
    );
    assert_eq!(
        channel_flows(&s, "south-ehr").await,
        vec![replaced.clone()],
        "the new channel does"
    );
    assert_eq!(s.flows.list_flows(None).await.unwrap(), vec![replaced]);
    assert_eq!(config_audits(&s).await, vec![entry, created]);
}

async fn flows_updating_a_missing_flow_is_not_found_and_writes_nothing(s: FlowStoreSet) {
    let created = create_flow(&s, &flow("flow-1", "north-ehr", 0), 0).await;
    let missing = flow("flow-2", "north-ehr", 1);
    let entry = config_audit("flow.updated", "flow-2", 1);
    assert_not_found(s.flows.update_flow(&missing, &entry).await);
    assert_eq!(stored_flow(&s, &missing.flow_id).await, None);
    assert_eq!(channel_flows(&s, "north-ehr").await.len(), 1);
    assert_eq!(config_audits(&s).await, vec![created], "no audit entry");
}

async fn flows_deleting_a_flow_removes_only_it(s: FlowStoreSet) {
    let one = flow("flow-1", "north-ehr", 0);
    let two = flow("flow-2", "north-ehr", 0);
    let mut entries = vec![
        create_flow(&s, &one, 0).await,
        create_flow(&s, &two, 1).await,
    ];
    let entry = config_audit("flow.deleted", "flow-1", 5);
    s.flows.delete_flow(&one.flow_id, &entry).await.unwrap();
    entries.push(entry);
    assert_eq!(stored_flow(&s, &one.flow_id).await, None);
    assert_eq!(channel_flows(&s, "north-ehr").await, vec![two.clone()]);
    assert_eq!(s.flows.list_flows(None).await.unwrap(), vec![two]);
    entries.reverse();
    assert_eq!(config_audits(&s).await, entries);
}

async fn flows_deleting_a_missing_flow_is_not_found_and_writes_nothing(s: FlowStoreSet) {
    let entry = config_audit("flow.deleted", "flow-1", 0);
    assert_not_found(s.flows.delete_flow(&flow_id("flow-1"), &entry).await);
    let created = create_flow(&s, &flow("flow-1", "north-ehr", 0), 0).await;
    let deleted = config_audit("flow.deleted", "flow-1", 1);
    s.flows
        .delete_flow(&flow_id("flow-1"), &deleted)
        .await
        .unwrap();
    let again = config_audit("flow.deleted", "flow-1", 2);
    let result: Result<(), StoreError> = s.flows.delete_flow(&flow_id("flow-1"), &again).await;
    assert_not_found(result);
    assert_eq!(config_audits(&s).await, vec![deleted, created]);
}

async fn flows_flows_list_in_id_order_per_channel_and_overall(s: FlowStoreSet) {
    // Created in a scrambled order, alternating channels.
    for (i, id) in IDS.iter().enumerate() {
        let channel = if i % 2 == 0 { "north-ehr" } else { "south-ehr" };
        create_flow(&s, &flow(id, channel, 0), 0).await;
    }
    let ids = |flows: Vec<Flow>| -> Vec<String> {
        flows
            .into_iter()
            .map(|f| f.flow_id.as_str().to_owned())
            .collect()
    };
    assert_eq!(
        ids(s.flows.list_flows(None).await.unwrap()),
        sorted_ids(),
        "every flow, ordered by id (byte order)"
    );
    for (parity, channel) in [(0, "north-ehr"), (1, "south-ehr")] {
        let mut expected: Vec<&str> = IDS
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, id)| *id)
            .collect();
        expected.sort_unstable();
        assert_eq!(
            ids(s
                .flows
                .list_flows(Some(&channel_id(channel)))
                .await
                .unwrap()),
            expected,
            "{channel}'s flows, ordered by id"
        );
    }
    assert_eq!(
        channel_flows(&s, "west-ehr").await,
        Vec::<Flow>::new(),
        "a channel without flows (or unknown) lists none"
    );
}
