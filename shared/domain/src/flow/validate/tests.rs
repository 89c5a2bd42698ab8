use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::ValidationErrors;
use crate::flow::channel::{self, Channel, ChannelId, InboundAuth, OutboundDelivery};
use crate::flow::fixtures::{
    activity_flow_json, flow, flow_id, lead_flow_json, now, outbound_flow_json, remove, set,
    validate,
};
use crate::flow::input::{ChannelInput, FlowInput, InboundAuthInput};
use crate::flow::model::{CountryCode, Direction, Entity, Flow, SyncBehaviour, WebhookEvent};
use crate::flow::transform::Transform;

fn fields(e: &ValidationErrors) -> Vec<&str> {
    e.0.iter().map(|x| x.field.as_str()).collect()
}

fn assert_rejects(v: Value, field: &str, case: &str) {
    match validate(v) {
        Ok(_) => panic!("{case}: accepted"),
        Err(e) => assert!(
            fields(&e).contains(&field),
            "{case}: expected {field}, got {:?}",
            e.0
        ),
    }
}

/// Each case `(case, pointer, value, field)` sets `value` at `pointer` of the `base` flow (null
/// removes it) and expects the flow refused naming `field`.
fn assert_each_rejected(base: fn() -> Value, cases: &[(&str, &str, Value, &str)]) {
    for (case, pointer, value, field) in cases {
        let mut v = base();
        if value.is_null() {
            remove(&mut v, pointer);
        } else {
            set(&mut v, pointer, value.clone());
        }
        assert_rejects(v, field, case);
    }
}

#[test]
fn a_lead_flow_validates_and_round_trips() {
    let f = flow(lead_flow_json());
    assert_eq!(f.flow_id, flow_id());
    assert_eq!((f.created_at, f.updated_at), (now(), now()));
    assert_eq!(f.direction, Direction::EhrToCrm);
    assert_eq!(f.lead_sync, SyncBehaviour::Capture);
    assert_eq!(f.time_zone, chrono_tz::America::New_York);
    assert_eq!(f.default_country_code.map(CountryCode::get), Some(1));
    assert_eq!(f.mappings.len(), 11);
    assert_eq!(
        f.mappings[3].transforms,
        vec![Transform::Date {
            to_format: "%Y-%m-%d".into()
        }]
    );
    assert_eq!(f.mappings[0].target, Entity::Lead);
    assert!(f.mappings[0].required && !f.mappings[1].required);
    assert!(f.enabled);

    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["time_zone"], "America/New_York");
    assert_eq!(json["default_country_code"], "+1");
    assert_eq!(json["secondary_search"]["hl7_path"], "PID-13[2].4");
    assert_eq!(json["mappings"][4]["transforms"][0]["type"], "value_map");
    assert_eq!(json["mappings"][4]["transforms"][0]["map"]["F"], "Female");
    assert_eq!(json["mappings"][10]["transforms"][0]["to_time_zone"], "UTC");
    assert_eq!(json["event_type"], "ADT^A04");
    let back: Flow = serde_json::from_value(json).unwrap();
    assert_eq!(back, f);

    let again = FlowInput::from(&f).into_flow(flow_id(), now()).unwrap();
    assert_eq!(again, f);
    let input_json = serde_json::to_value(FlowInput::from(&f)).unwrap();
    assert_eq!(
        serde_json::from_value::<FlowInput>(input_json).unwrap(),
        FlowInput::from(&f)
    );
}

#[test]
fn activity_and_outbound_flows_validate() {
    let a = flow(activity_flow_json());
    assert_eq!(a.entity, Entity::Activity);
    assert_eq!(a.activity_sync, Some(SyncBehaviour::Capture));
    assert_eq!(a.activity_type, Some(201));
    assert_eq!(
        a.activity_match.as_ref().map(|k| k.crm_field.as_str()),
        Some("mx_Custom_1")
    );
    assert_eq!(FlowInput::from(&a).into_flow(flow_id(), now()).unwrap(), a);

    let o = flow(outbound_flow_json());
    assert_eq!(o.direction, Direction::CrmToEhr);
    assert_eq!(o.webhook_event, Some(WebhookEvent::LeadCreate));
    assert_eq!(o.lead_sync, SyncBehaviour::Capture);
    assert_eq!(o.lead_source, None);
    assert_eq!(FlowInput::from(&o).into_flow(flow_id(), now()).unwrap(), o);

    let mut quiet = activity_flow_json();
    set(&mut quiet, "/activity_sync", json!("do_nothing"));
    remove(&mut quiet, "/activity_match");
    assert!(validate(quiet).is_ok(), "do_nothing needs no match key");
}

#[test]
fn defaults_apply() {
    let mut v = lead_flow_json();
    for key in [
        "description",
        "time_zone",
        "enabled",
        "secondary_search",
        "lead_source",
    ] {
        remove(&mut v, &format!("/{key}"));
    }
    let f = flow(v);
    assert_eq!(f.time_zone, Tz::UTC);
    assert!(f.enabled);
    assert_eq!(f.description, "");
    assert_eq!(f.secondary_search, None);
    assert_eq!(f.lead_source, None);
}

#[test]
fn each_lead_flow_rule_reports_its_field() {
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        ("name missing", "/name", Value::Null, "name"),
        ("name too long", "/name", json!("n".repeat(101)), "name"),
        ("name blank", "/name", json!("   "), "name"),
        (
            "channel id",
            "/channel_id",
            json!("north ehr!"),
            "channel_id",
        ),
        ("direction", "/direction", json!("sideways"), "direction"),
        ("entity", "/entity", json!("contact"), "entity"),
        (
            "event type format",
            "/event_type",
            json!("ADT-A04"),
            "event_type",
        ),
        (
            "template event",
            "/event_type",
            json!("ADT^A08"),
            "template",
        ),
        (
            "template parse",
            "/template",
            json!("hello world"),
            "template",
        ),
        ("template empty", "/template", json!(""), "template"),
        (
            "template size",
            "/template",
            json!(format!(
                "{}\r{}",
                crate::flow::fixtures::ADT_A04,
                "NTE|".repeat(20_000)
            )),
            "template",
        ),
        (
            "lead sync value",
            "/lead_sync",
            json!("always"),
            "lead_sync",
        ),
        (
            "activity sync on lead flow",
            "/activity_sync",
            json!("capture"),
            "activity_sync",
        ),
        (
            "activity type on lead flow",
            "/activity_type",
            json!(201),
            "activity_type",
        ),
        (
            "activity match on lead flow",
            "/activity_match",
            json!({"crm_field": "mx_Custom_1", "hl7_path": "PID-3.1"}),
            "activity_match",
        ),
        (
            "webhook on ehr_to_crm",
            "/webhook_event",
            json!("lead_create"),
            "webhook_event",
        ),
        (
            "country code",
            "/default_country_code",
            json!("12"),
            "default_country_code",
        ),
        (
            "time zone",
            "/time_zone",
            json!("Mars/Olympus_Mons"),
            "time_zone",
        ),
        (
            "lead source line",
            "/lead_source",
            json!("EHR\nConnector"),
            "lead_source",
        ),
        (
            "primary path",
            "/primary_search/hl7_path",
            json!("PID3.1"),
            "primary_search.hl7_path",
        ),
        (
            "primary field case",
            "/primary_search/crm_field",
            json!("MX_MRN"),
            "primary_search.crm_field",
        ),
        (
            "primary reserved",
            "/primary_search/crm_field",
            json!("SearchBy"),
            "primary_search.crm_field",
        ),
        (
            "primary pseudo",
            "/primary_search/crm_field",
            json!("ActivityNote"),
            "primary_search.crm_field",
        ),
        (
            "primary segment",
            "/primary_search/hl7_path",
            json!("MRG-1.1"),
            "primary_search.hl7_path",
        ),
        (
            "secondary same field",
            "/secondary_search/crm_field",
            json!("mx_MRN"),
            "secondary_search.crm_field",
        ),
        (
            "mrn not a key",
            "/mrn_crm_field",
            json!("mx_Patient_Id"),
            "mrn_crm_field",
        ),
        (
            "mrn invalid",
            "/mrn_crm_field",
            json!("mx MRN"),
            "mrn_crm_field",
        ),
        (
            "key path differs from mapping",
            "/primary_search/hl7_path",
            json!("PID-2"),
            "primary_search.hl7_path",
        ),
        (
            "mapping path syntax",
            "/mappings/1/hl7_path",
            json!("PID-5.x"),
            "mappings[1].hl7_path",
        ),
        (
            "mapping path missing",
            "/mappings/1/hl7_path",
            Value::Null,
            "mappings[1].hl7_path",
        ),
        (
            "mapping segment absent",
            "/mappings/1/hl7_path",
            json!("ZPI-1"),
            "mappings[1].hl7_path",
        ),
        (
            "mapping path has parts",
            "/mappings/1/hl7_path",
            json!("PID-5"),
            "mappings[1].hl7_path",
        ),
        (
            "mapping crm field",
            "/mappings/1/crm_field",
            json!("First Name"),
            "mappings[1].crm_field",
        ),
        (
            "mapping crm field reserved",
            "/mappings/1/crm_field",
            json!("ProspectID"),
            "mappings[1].crm_field",
        ),
        (
            "mapping target value",
            "/mappings/1/target",
            json!("opportunity"),
            "mappings[1].target",
        ),
        (
            "mapping activity target in lead flow",
            "/mappings/1/target",
            json!("activity"),
            "mappings[1].target",
        ),
        (
            "activity field on lead",
            "/mappings/1/crm_field",
            json!("ActivityNote"),
            "mappings[1].crm_field",
        ),
        (
            "source with lead_source",
            "/mappings/1/crm_field",
            json!("Source"),
            "mappings[1].crm_field",
        ),
        (
            "duplicate crm field",
            "/mappings/2/crm_field",
            json!("FirstName"),
            "mappings[2].crm_field",
        ),
        (
            "transform type",
            "/mappings/1/transforms/0/type",
            json!("titlecase"),
            "mappings[1].transforms[0].type",
        ),
        (
            "transform type missing",
            "/mappings/1/transforms/0",
            json!({}),
            "mappings[1].transforms[0].type",
        ),
        (
            "transform extra parameter",
            "/mappings/1/transforms/0/value",
            json!("x"),
            "mappings[1].transforms[0].value",
        ),
        (
            "date with time fields",
            "/mappings/3/transforms/0/to_format",
            json!("%Y-%m-%d %H:%M"),
            "mappings[3].transforms[0].to_format",
        ),
        (
            "bad strftime",
            "/mappings/10/transforms/0/to_format",
            json!("%Y-%Q"),
            "mappings[10].transforms[0].to_format",
        ),
        (
            "format missing",
            "/mappings/10/transforms/0/to_format",
            Value::Null,
            "mappings[10].transforms[0].to_format",
        ),
        (
            "bad to_time_zone",
            "/mappings/10/transforms/0/to_time_zone",
            json!("Nowhere/Land"),
            "mappings[10].transforms[0].to_time_zone",
        ),
        (
            "empty value map",
            "/mappings/4/transforms/0/map",
            json!({}),
            "mappings[4].transforms[0].map",
        ),
        (
            "default without value",
            "/mappings/1/transforms/0",
            json!({"type": "default"}),
            "mappings[1].transforms[0].value",
        ),
        (
            "too many transforms",
            "/mappings/1/transforms",
            json!(vec![json!({"type": "trim"}); 11]),
            "mappings[1].transforms",
        ),
        (
            "too many mappings",
            "/mappings",
            json!(vec![
                json!({"hl7_path": "PID-5.2", "crm_field": "FirstName"});
                201
            ]),
            "mappings",
        ),
    ];
    assert_each_rejected(lead_flow_json, &cases);
    let mut v = lead_flow_json();
    remove(&mut v, "/lead_sync");
    assert_rejects(v, "lead_sync", "lead_sync missing");
    let mut v = lead_flow_json();
    remove(&mut v, "/primary_search");
    assert_rejects(v, "primary_search", "primary missing");
    let mut v = lead_flow_json();
    remove(&mut v, "/default_country_code");
    assert_rejects(v, "default_country_code", "phone_e164 needs a country code");
}

#[test]
fn each_activity_and_outbound_rule_reports_its_field() {
    let activity: Vec<(&str, &str, Value, &str)> = vec![
        (
            "activity_sync missing",
            "/activity_sync",
            Value::Null,
            "activity_sync",
        ),
        (
            "activity_type missing",
            "/activity_type",
            Value::Null,
            "activity_type",
        ),
        (
            "activity_type zero",
            "/activity_type",
            json!(0),
            "activity_type",
        ),
        (
            "activity_type huge",
            "/activity_type",
            json!(1_i64 << 40),
            "activity_type",
        ),
        (
            "activity_match missing",
            "/activity_match",
            Value::Null,
            "activity_match",
        ),
        (
            "activity_match path",
            "/activity_match/hl7_path",
            json!("SCH-1"),
            "activity_match.hl7_path",
        ),
        (
            "activity_match differs",
            "/activity_match/hl7_path",
            json!("SCH-2.1"),
            "activity_match.hl7_path",
        ),
        (
            "ActivityDateTime formatted",
            "/mappings/4/transforms",
            json!([{"type": "date_time", "to_format": "%Y"}]),
            "mappings[4].transforms",
        ),
        (
            "webhook on ehr_to_crm",
            "/webhook_event",
            json!("activity_create"),
            "webhook_event",
        ),
    ];
    assert_each_rejected(activity_flow_json, &activity);
    let outbound: Vec<(&str, &str, Value, &str)> = vec![
        (
            "webhook missing",
            "/webhook_event",
            Value::Null,
            "webhook_event",
        ),
        (
            "webhook unknown",
            "/webhook_event",
            json!("lead_delete"),
            "webhook_event",
        ),
        (
            "webhook of another entity",
            "/webhook_event",
            json!("activity_update"),
            "webhook_event",
        ),
        (
            "lead_sync on crm_to_ehr",
            "/lead_sync",
            json!("capture"),
            "lead_sync",
        ),
        (
            "activity_sync on crm_to_ehr",
            "/activity_sync",
            json!("capture"),
            "activity_sync",
        ),
        (
            "lead_source on crm_to_ehr",
            "/lead_source",
            json!("Web"),
            "lead_source",
        ),
        (
            "MSH-7 is the connector's",
            "/mappings/1/hl7_path",
            json!("MSH-7"),
            "mappings[1].hl7_path",
        ),
        (
            "MSH-10 is the connector's",
            "/mappings/1/hl7_path",
            json!("MSH-10"),
            "mappings[1].hl7_path",
        ),
        (
            "MSH-9 is the template's",
            "/mappings/1/hl7_path",
            json!("MSH-9.2"),
            "mappings[1].hl7_path",
        ),
        (
            "occurrence not in template",
            "/mappings/1/hl7_path",
            json!("PID[2]-5.2"),
            "mappings[1].hl7_path",
        ),
        (
            "segment not in template",
            "/mappings/1/hl7_path",
            json!("PV2-3.1"),
            "mappings[1].hl7_path",
        ),
        (
            "duplicate path",
            "/mappings/1/hl7_path",
            json!("PID-5.1"),
            "mappings[1].hl7_path",
        ),
        (
            "key into MSH",
            "/primary_search/hl7_path",
            json!("MSH-10"),
            "primary_search.hl7_path",
        ),
    ];
    assert_each_rejected(outbound_flow_json, &outbound);
    // The same CRM field may feed two HL7 positions in crm_to_ehr flows.
    let mut v = outbound_flow_json();
    set(
        &mut v,
        "/mappings/8",
        json!({"hl7_path": "PID-2.1", "crm_field": "LastName"}),
    );
    assert!(validate(v).is_ok());
}

#[test]
fn all_problems_are_reported_at_once() {
    let v = json!({
        "name": "",
        "channel_id": "bad id",
        "direction": "ehr_to_crm",
        "entity": "lead",
        "event_type": "ADT^A4",
        "default_country_code": "0",
        "time_zone": "Nowhere",
        "primary_search": {"crm_field": "mx_MRN"},
        "mrn_crm_field": "mx_Other",
        "template": "MSH|^~\\&|A|B|C|D|20240101||ADT^A04|1|P|2.5\rpid|1",
        "mappings": [
            {"hl7_path": "PID-5.1"},
            {"crm_field": "FirstName", "hl7_path": "PID-5.2", "transforms": [{"type": "shout"}]}
        ]
    });
    let e = validate(v).unwrap_err();
    assert_eq!(
        fields(&e),
        [
            "name",
            "channel_id",
            "event_type",
            "lead_sync",
            "default_country_code",
            "time_zone",
            "template",
            "primary_search.hl7_path",
            "mrn_crm_field",
            "mappings[0].crm_field",
            "mappings[1].transforms[0].type",
        ]
    );
    let template_error = &e.0[6].message;
    assert!(template_error.contains("segment 2"), "{template_error}");
}

#[test]
fn messages_never_quote_values() {
    let secret = "Zebulon";
    let v = json!({
        "name": format!("{secret}{}", "x".repeat(120)),
        "description": secret.repeat(300),
        "channel_id": format!("{secret} channel"),
        "direction": secret,
        "entity": secret,
        "event_type": secret,
        "lead_sync": secret,
        "default_country_code": secret,
        "time_zone": secret,
        "lead_source": format!("{secret}\n"),
        "primary_search": {"crm_field": format!("{secret} mrn"), "hl7_path": format!("{secret}-1")},
        "mrn_crm_field": format!("mx_{secret}!"),
        "template": format!("MSH|^~\\&|{secret}|B\r{secret}|1"),
        "webhook_event": secret,
        "mappings": [{
            "hl7_path": format!("PID-{secret}"),
            "crm_field": format!("{secret}?"),
            "target": secret,
            "transforms": [
                {"type": secret},
                {"type": "value_map", "map": {secret.repeat(50): "x"}},
                {"type": "date_time", "to_format": format!("{secret}%Q"), "to_time_zone": secret},
                {"type": "default", "value": secret.repeat(300)}
            ]
        }]
    });
    let e = validate(v).unwrap_err();
    assert!(e.0.len() > 15, "{:?}", e.0);
    let text = format!("{} {:?} {}", e, e, serde_json::to_string(&e).unwrap()).to_lowercase();
    assert!(!text.contains("zebulon"), "a value leaked: {text}");
}

#[test]
fn unknown_fields_are_refused() {
    let mut v = lead_flow_json();
    set(&mut v, "/colour", json!("blue"));
    assert!(serde_json::from_value::<FlowInput>(v).is_err());
    let mut v = lead_flow_json();
    set(&mut v, "/mappings/0/note", json!("x"));
    assert!(serde_json::from_value::<FlowInput>(v).is_err());
    let mut v = lead_flow_json();
    set(&mut v, "/mappings/1/transforms/0/colour", json!("x"));
    assert!(serde_json::from_value::<FlowInput>(v).is_err());
    // The stored transform form refuses them too.
    assert!(serde_json::from_str::<Transform>(r#"{"type":"default","value":"x","to":1}"#).is_err());
    assert!(serde_json::from_str::<Transform>(r#"{"type":"phone_e164"}"#).is_ok());
}

#[test]
fn replace_keeps_identity_and_creation_time() {
    let f = flow(lead_flow_json());
    let later = now() + chrono::Duration::hours(1);
    let mut input = FlowInput::from(&f);
    input.name = Some("Registrations".into());
    let g = input.replace(&f, later).unwrap();
    assert_eq!(
        (g.flow_id.clone(), g.created_at, g.updated_at),
        (f.flow_id.clone(), f.created_at, later)
    );
    assert_eq!(g.name, "Registrations");
}

#[test]
fn flows_check_their_channel() {
    let outbound = flow(outbound_flow_json());
    let bare = ChannelInput {
        name: Some("North".into()),
        inbound: Some(InboundAuthInput {
            secret: Some("local:north-hmac".into()),
            ..InboundAuthInput::default()
        }),
        ..ChannelInput::default()
    }
    .into_channel(ChannelId::parse("north-ehr").unwrap(), now())
    .unwrap();
    let e = outbound.check_channel(&bare).unwrap_err();
    assert_eq!(e.0.len(), 2);
    let inbound = flow(lead_flow_json());
    assert!(inbound.check_channel(&bare).is_ok());
    let other = Channel {
        channel_id: ChannelId::parse("south-ehr").unwrap(),
        ..bare
    };
    assert!(inbound.check_channel(&other).is_err());
}

// ---- channels ---------------------------------------------------------------------------

fn channel_json() -> Value {
    json!({
        "name": "North EHR",
        "description": "Epic at the north site",
        "inbound": {"type": "hmac", "secret": "env:CONNECTOR_SECRET_NORTH_HMAC"},
        "outbound": {
            "type": "mllp",
            "host": "ehr.north.example.org",
            "port": 6661,
            "tls": {"ca_pem_ref": "local:north-ca"}
        },
        "crm_webhook": {"token_hash": "ab".repeat(32)}
    })
}

fn https_json() -> Value {
    let mut v = channel_json();
    set(
        &mut v,
        "/outbound",
        json!({
            "type": "https",
            "url": "https://ehr.north.example.org:8443/hl7/inbound",
            "headers": [
                {"name": "Authorization", "secret": "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:clinic-connector/north-AbC123"},
                {"name": "X-Site", "value": "north"}
            ],
            "max_attempts": 8
        }),
    );
    v
}

fn channel(v: Value) -> Result<Channel, ValidationErrors> {
    serde_json::from_value::<ChannelInput>(v)
        .unwrap()
        .into_channel(ChannelId::parse("north-ehr").unwrap(), now())
}

#[test]
fn channels_validate_with_defaults_and_round_trip() {
    let c = channel(channel_json()).unwrap();
    let InboundAuth::Hmac {
        replay_window_secs, ..
    } = &c.inbound;
    assert_eq!(*replay_window_secs, 300);
    let Some(OutboundDelivery::Mllp(m)) = &c.outbound else {
        panic!("mllp")
    };
    assert_eq!(
        (m.port, m.connect_timeout_ms, m.ack_timeout_ms),
        (6661, 5_000, 30_000)
    );
    assert_eq!(
        m.tls.as_ref().map(|t| t.server_name.as_str()),
        Some("ehr.north.example.org")
    );
    assert_eq!(
        c.crm_webhook.as_ref().map(|w| w.header_name.as_str()),
        Some(channel::DEFAULT_WEBHOOK_HEADER)
    );
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["outbound"]["type"], "mllp");
    assert_eq!(json["inbound"]["secret"], "env:CONNECTOR_SECRET_NORTH_HMAC");
    assert_eq!(serde_json::from_value::<Channel>(json).unwrap(), c);
    assert_eq!(
        ChannelInput::from(&c)
            .into_channel(c.channel_id.clone(), now())
            .unwrap(),
        c
    );

    let h = channel(https_json()).unwrap();
    let Some(OutboundDelivery::Https(d)) = &h.outbound else {
        panic!("https")
    };
    assert_eq!(d.headers.len(), 2);
    assert_eq!(h.outbound.as_ref().map(|o| o.retry().max_attempts), Some(8));
    let json = serde_json::to_value(&h).unwrap();
    assert_eq!(
        json["outbound"]["headers"][1],
        json!({"name": "X-Site", "value": "north"})
    );
    assert!(
        json["outbound"]["headers"][0]["secret"]
            .as_str()
            .unwrap()
            .starts_with("secretsmanager:")
    );
    assert_eq!(serde_json::from_value::<Channel>(json).unwrap(), h);
    assert_eq!(
        ChannelInput::from(&h)
            .into_channel(h.channel_id.clone(), now())
            .unwrap(),
        h
    );
}

#[test]
fn the_view_hides_the_token_hash() {
    let c = channel(channel_json()).unwrap();
    let view = serde_json::to_string(&c.view()).unwrap();
    assert!(!view.contains(&"ab".repeat(32)));
    assert!(view.contains("\"token_configured\":true"));
    assert!(view.contains("env:CONNECTOR_SECRET_NORTH_HMAC"));
}

#[test]
fn each_channel_rule_reports_its_field() {
    let cases: Vec<(&str, Value, &str, Value)> = vec![
        ("name", channel_json(), "/name", json!("")),
        (
            "inbound type",
            channel_json(),
            "/inbound/type",
            json!("basic"),
        ),
        (
            "inbound secret in clear",
            channel_json(),
            "/inbound/secret",
            json!("hunter2"),
        ),
        (
            "inbound env outside prefix",
            channel_json(),
            "/inbound/secret",
            json!("env:AWS_SECRET_ACCESS_KEY"),
        ),
        (
            "replay window",
            channel_json(),
            "/inbound/replay_window_secs",
            json!(5),
        ),
        (
            "outbound type",
            channel_json(),
            "/outbound/type",
            json!("ftp"),
        ),
        ("port", channel_json(), "/outbound/port", json!(70000)),
        ("host", channel_json(), "/outbound/host", json!("ehr north")),
        (
            "url on mllp",
            channel_json(),
            "/outbound/url",
            json!("https://x.example.org"),
        ),
        (
            "tls server name",
            channel_json(),
            "/outbound/tls/server_name",
            json!("bad name!"),
        ),
        (
            "ca ref",
            channel_json(),
            "/outbound/tls/ca_pem_ref",
            json!("-----BEGIN CERTIFICATE-----"),
        ),
        (
            "ack timeout",
            channel_json(),
            "/outbound/ack_timeout_ms",
            json!(10),
        ),
        (
            "backoff order",
            channel_json(),
            "/outbound/backoff_max_ms",
            json!(200),
        ),
        (
            "attempts",
            channel_json(),
            "/outbound/max_attempts",
            json!(0),
        ),
        (
            "token hash",
            channel_json(),
            "/crm_webhook/token_hash",
            json!("not-hex"),
        ),
        (
            "webhook header",
            channel_json(),
            "/crm_webhook/header_name",
            json!("x token"),
        ),
        (
            "webhook header reserved",
            channel_json(),
            "/crm_webhook/header_name",
            json!("Authorization"),
        ),
        (
            "http url",
            https_json(),
            "/outbound/url",
            json!("http://ehr.north.example.org/hl7"),
        ),
        (
            "credentials in url",
            https_json(),
            "/outbound/url",
            json!("https://north:pa55@ehr.example.org/"),
        ),
        (
            "bad url port",
            https_json(),
            "/outbound/url",
            json!("https://ehr.example.org:99999/"),
        ),
        ("port on https", https_json(), "/outbound/port", json!(443)),
        (
            "credential header in clear",
            https_json(),
            "/outbound/headers/0",
            json!({"name": "Authorization", "value": "Bearer abc"}),
        ),
        (
            "api key header in clear",
            https_json(),
            "/outbound/headers/0",
            json!({"name": "X-Api-Key", "value": "abc"}),
        ),
        (
            "both value and secret",
            https_json(),
            "/outbound/headers/1",
            json!({"name": "X-Site", "value": "n", "secret": "local:x"}),
        ),
        (
            "forbidden header",
            https_json(),
            "/outbound/headers/1",
            json!({"name": "Host", "value": "n"}),
        ),
        (
            "duplicate header",
            https_json(),
            "/outbound/headers/1",
            json!({"name": "authorization", "secret": "local:x"}),
        ),
    ];
    let expected = [
        "name",
        "inbound.type",
        "inbound.secret",
        "inbound.secret",
        "inbound.replay_window_secs",
        "outbound.type",
        "outbound.port",
        "outbound.host",
        "outbound.url",
        "outbound.tls.server_name",
        "outbound.tls.ca_pem_ref",
        "outbound.ack_timeout_ms",
        "outbound.backoff_max_ms",
        "outbound.max_attempts",
        "crm_webhook.token_hash",
        "crm_webhook.header_name",
        "crm_webhook.header_name",
        "outbound.url",
        "outbound.url",
        "outbound.url",
        "outbound.port",
        "outbound.headers[0].value",
        "outbound.headers[0].value",
        "outbound.headers[1]",
        "outbound.headers[1].name",
        "outbound.headers[1].name",
    ];
    for ((case, mut v, pointer, value), field) in cases.into_iter().zip(expected) {
        set(&mut v, pointer, value);
        let e = channel(v).expect_err(case);
        assert_eq!(fields(&e), [field], "{case}");
        let text = serde_json::to_string(&e).unwrap();
        for leaked in ["hunter2", "pa55", "Bearer", "BEGIN CERT", "AWS_SECRET"] {
            assert!(!text.contains(leaked), "{case}: {text}");
        }
    }
    let mut v = channel_json();
    remove(&mut v, "/inbound");
    assert_eq!(fields(&channel(v).unwrap_err()), ["inbound"]);
    let mut v = https_json();
    set(&mut v, "/outbound/url", json!("http://localhost:8080/hl7"));
    assert!(channel(v).is_ok(), "http to localhost is allowed");
    let mut v = channel_json();
    set(&mut v, "/extra", json!(1));
    assert!(serde_json::from_value::<ChannelInput>(v).is_err());
}
