//! Channels and flows on the flows table: one request per operation, writes atomic with their
//! audit entry, documents round-tripping exactly, and the table's other items left alone.

use aws_sdk_dynamodb::types::AttributeValue;
use connector_aws::{AwsAdapters, DynamoFlowStore, RequestCounter};
use connector_domain::StoreError;
use connector_domain::audit::{AuditEntry, AuditQuery, LogType};
use connector_domain::flow::fixtures as ff;
use connector_domain::flow::{
    Channel, ChannelId, Flow, FlowId, FlowInput, InboundAuth, MllpDelivery, OutboundDelivery,
    SecretRef,
};
use connector_domain::ports::{AuditLog, FlowStore, SettingsStore};
use connector_testkit::fixtures;
use serde_json::json;

use crate::common;

/// The ids of the flows `list_flows` returns for `channel` (every flow when `None`), in its
/// order.
async fn flow_ids(store: &DynamoFlowStore, channel: Option<&str>) -> Vec<String> {
    let channel = channel.map(|id| ChannelId::parse(id).unwrap());
    let flows = store.list_flows(channel.as_ref()).await.unwrap();
    flows.iter().map(|f| f.flow_id.to_string()).collect()
}

fn requests(counter: &RequestCounter) -> std::collections::BTreeMap<String, u64> {
    counter.by_operation()
}

fn channel(id: &str) -> Channel {
    Channel {
        channel_id: ChannelId::parse(id).unwrap(),
        name: format!("Channel {id}"),
        description: "EHR feed".into(),
        inbound: InboundAuth::Hmac {
            secret: SecretRef::parse("env:CONNECTOR_SECRET_NORTH_HMAC").unwrap(),
            replay_window_secs: 300,
        },
        outbound: Some(OutboundDelivery::Mllp(MllpDelivery {
            host: "ehr.example.org".into(),
            port: 2575,
            tls: None,
            connect_timeout_ms: 5000,
            ack_timeout_ms: 30_000,
            max_attempts: 5,
            backoff_initial_ms: 1000,
            backoff_max_ms: 60_000,
        })),
        crm_webhook: None,
        created_at: fixtures::base_time(),
        updated_at: fixtures::base_time(),
    }
}

const TEMPLATE: &str = "MSH|^~\\&|EPIC|NORTH|CONNECTOR|CRM|20240310013000||ADT^A04^ADT_A01|MSG00001|P|2.5\rEVN|A04|20240310013000\rPID|1||MRN12345^^^NORTH^MR||Doe^Jane||19800102|F\r";

fn flow(id: &str, channel: &str) -> Flow {
    let gender = json!([{"type": "value_map",
                         "map": {"F": "Female", "M": "Male", "a.b#c": "dotted"},
                         "otherwise": "Other"}]);
    let mappings = vec![
        ff::required("PID-3.1", "mx_MRN"),
        ff::required("PID-5.1", "LastName"),
        ff::transformed("PID-8", "mx_Gender", gender),
    ];
    let name = format!("Flow {id}");
    let lead = ff::ehr_to_crm_lead(&name, channel, "America/New_York", TEMPLATE, mappings);
    let changes = json!({
        "description": "registrations become leads",
        "lead_source": null,
        "default_country_code": null,
        "enabled": true
    });
    let input: FlowInput = serde_json::from_value(ff::with(lead, changes)).unwrap();
    input
        .into_flow(FlowId::parse(id).unwrap(), fixtures::base_time())
        .unwrap_or_else(|e| panic!("invalid fixture flow: {:?}", e.0))
}

/// Creates the channel `north` and its flow `f1`.
async fn create_north_with_f1(store: &DynamoFlowStore) {
    store
        .create_channel(&channel("north"), &change())
        .await
        .unwrap();
    store
        .create_flow(&flow("f1", "north"), &change())
        .await
        .unwrap();
}

fn change() -> AuditEntry {
    fixtures::audit_entry(LogType::ConfigurationChanges, fixtures::base_time())
}

async fn config_entries(a: &AwsAdapters) -> usize {
    let query = AuditQuery {
        log_type: Some(LogType::ConfigurationChanges),
        limit: 50,
        ..AuditQuery::default()
    };
    a.audit().query(&query).await.unwrap().items.len()
}

#[tokio::test]
async fn channels_and_flows_cost_one_request_per_operation() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let store = a.flows();

    create_north_with_f1(&store).await;
    store
        .update_flow(&flow("f1", "north"), &change())
        .await
        .unwrap();
    store
        .delete_flow(&FlowId::parse("f1").unwrap(), &change())
        .await
        .unwrap();
    assert_eq!(
        requests(&counter).get("dynamodb.TransactWriteItems"),
        Some(&4)
    );
    assert_eq!(counter.total("dynamodb"), 4);

    counter.reset();
    store
        .get_channel(&ChannelId::parse("north").unwrap())
        .await
        .unwrap()
        .unwrap();
    store.list_channels().await.unwrap();
    store
        .list_flows(Some(&ChannelId::parse("north").unwrap()))
        .await
        .unwrap();
    store.list_flows(None).await.unwrap();
    let ops = requests(&counter);
    assert_eq!(ops.get("dynamodb.GetItem"), Some(&1));
    assert_eq!(ops.get("dynamodb.Query"), Some(&3));
    assert_eq!(counter.total(""), 4, "{ops:?}");
}

#[tokio::test]
async fn documents_round_trip_and_lists_are_ordered_and_filtered() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let store = a.flows();
    for id in ["b-chan", "A-chan", "a.chan"] {
        store.create_channel(&channel(id), &change()).await.unwrap();
    }
    let listed: Vec<String> = store
        .list_channels()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.channel_id.to_string())
        .collect();
    assert_eq!(listed, ["A-chan", "a.chan", "b-chan"]);
    assert_eq!(
        store
            .get_channel(&ChannelId::parse("a.chan").unwrap())
            .await
            .unwrap(),
        Some(channel("a.chan"))
    );

    for (id, ch) in [("f3", "b-chan"), ("f1", "A-chan"), ("f2", "b-chan")] {
        store.create_flow(&flow(id, ch), &change()).await.unwrap();
    }
    let f1 = store
        .get_flow(&FlowId::parse("f1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f1, flow("f1", "A-chan"));
    assert_eq!(flow_ids(&store, Some("b-chan")).await, ["f2", "f3"]);
    assert_eq!(flow_ids(&store, None).await, ["f1", "f2", "f3"]);

    // Moving a flow to another channel moves it between the filtered lists.
    store
        .update_flow(&flow("f3", "A-chan"), &change())
        .await
        .unwrap();
    assert_eq!(flow_ids(&store, Some("A-chan")).await.len(), 2);
    assert!(flow_ids(&store, Some("nothing")).await.is_empty());
}

#[tokio::test]
async fn refused_writes_write_nothing_not_even_the_audit_entry() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let store = a.flows();
    let north = ChannelId::parse("north").unwrap();

    let missing = store.update_channel(&channel("north"), &change()).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let missing = store.delete_channel(&north, &change()).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let missing = store.update_flow(&flow("f1", "north"), &change()).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let missing = store
        .delete_flow(&FlowId::parse("f1").unwrap(), &change())
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    assert_eq!(config_entries(&a).await, 0);
    assert!(store.get_channel(&north).await.unwrap().is_none());

    store
        .create_channel(&channel("north"), &change())
        .await
        .unwrap();
    let mut renamed = channel("north");
    renamed.name = "Renamed".into();
    let dup = store.create_channel(&renamed, &change()).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(
        store.get_channel(&north).await.unwrap().unwrap().name,
        "Channel north"
    );
    store
        .create_flow(&flow("f1", "north"), &change())
        .await
        .unwrap();
    let dup = store.create_flow(&flow("f1", "other"), &change()).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(config_entries(&a).await, 2);

    // A retried audit entry (same id) is a conflict, and the change is not applied.
    let entry = change();
    store.update_channel(&renamed, &entry).await.unwrap();
    let mut again = renamed.clone();
    again.description = "changed twice".into();
    let replay = store.update_channel(&again, &entry).await;
    assert!(matches!(replay, Err(StoreError::Conflict(_))), "{replay:?}");
    assert_eq!(store.get_channel(&north).await.unwrap().unwrap(), renamed);

    store.delete_channel(&north, &change()).await.unwrap();
    assert!(store.get_channel(&north).await.unwrap().is_none());
    assert_eq!(config_entries(&a).await, 4);
}

#[tokio::test]
async fn channels_and_flows_live_beside_the_settings_without_touching_them() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    fixtures::save_settings(&a.settings()).await;
    let store = a.flows();
    create_north_with_f1(&store).await;
    assert_eq!(store.list_channels().await.unwrap().len(), 1);
    assert_eq!(store.list_flows(None).await.unwrap().len(), 1);
    assert_eq!(a.settings().get().await.unwrap().unwrap().version, 1);

    // The stored form: the document as JSON, the channel copied out for the filter.
    let key = [("pk", "FLOWS"), ("sk", "FLOW#f1")];
    let item = common::raw_item(&a, &a.config().tables.flows, &key)
        .await
        .unwrap();
    assert_eq!(
        item.get("channel_id"),
        Some(&AttributeValue::S("north".into()))
    );
    let doc = item.get("doc").and_then(|d| d.as_s().ok()).unwrap();
    let parsed: Flow = serde_json::from_str(doc).unwrap();
    assert_eq!(parsed, flow("f1", "north"));
    assert!(
        !item.contains_key("expires_at"),
        "configuration never expires"
    );
}

#[tokio::test]
async fn corrupt_documents_are_reported_without_their_content() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let item = [
        ("pk", "CHANNELS"),
        ("sk", "CHANNEL#bad"),
        ("doc", "{\"name\": \"secret-value\""),
    ];
    common::raw_put(&a, &a.config().tables.flows, &item).await;
    let err = a
        .flows()
        .get_channel(&ChannelId::parse("bad").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)));
    assert!(!format!("{err:?} {err}").contains("secret-value"));
    assert!(matches!(
        a.flows().list_channels().await,
        Err(StoreError::Corrupt(_))
    ));
}
