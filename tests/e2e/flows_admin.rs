//! Flows and channels administration over real HTTP: CRUD, validation listing every problem,
//! roles, secrets never answered, channels in use, template fields, flow tests that write
//! nothing, and the `configuration_changes` audit trail.

use connector_domain::flow::fixtures as ff;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, captured_logs, listing};

/// A connector with the secrets `channel_json` refers to stored (a channel whose secret
/// references do not resolve is refused).
async fn spawn_app() -> TestApp {
    let app = crate::support::spawn_app().await;
    for name in ["north-hmac", "north-ehr-token"] {
        app.db()
            .set_local_secret(name, b"flows-admin-test-secret")
            .await
            .expect("store a secret");
    }
    app
}

/// Tries `input` on the saved flow `flow_id`: `POST /flows/{flow_id}/test` as an administrator.
async fn test_flow(app: &TestApp, flow_id: &str, input: Value) -> Reply {
    let path = format!("/flows/{flow_id}/test");
    app.post_json(&path, "admin", input).await
}

/// Tries the unsaved `flow` on [`REGISTRATION`]: `POST /flows/test` as an administrator.
async fn test_unsaved_flow(app: &TestApp, flow: Value) -> Reply {
    let input = json!({"flow": flow, "message": REGISTRATION});
    app.post_json("/flows/test", "admin", input).await
}

/// The fields of `template`: `POST /flows/template-fields` as an administrator.
async fn template_fields(app: &TestApp, template: Value) -> Reply {
    app.post_json("/flows/template-fields", "admin", template)
        .await
}

/// SHA-256 of the (invented) CRM webhook token.
const TOKEN_HASH: &str = "39c16a52f8a0f1acd0f911651faeb6d2da381da4e3e6354d2a36defdcbf524fa";

/// An ADT^A04 sample template with invented values.
const ADT_A04: &str = "MSH|^~\\&|EHR|NORTHCLINIC|CONNECTOR|CRM|20260310013000||ADT^A04^ADT_A01|MSG00001|P|2.5\r\
EVN|A04|20260310013000\r\
PID|1||MRN-EX-0001^^^NORTH^MR||Testwell^Juniper^Q||19870412|F|||100 Example Lane^^Springfield^IL^62701||(555)010-0101^PRN^PH~^NET^Internet^juniper.testwell@example.org\r\
PV1|1|O|CLINIC^101^1\r";

/// A registration of an invented patient, distinctive enough to grep logs for.
const REGISTRATION: &str = "MSH|^~\\&|EHR|NORTHCLINIC|CONNECTOR|CRM|20261121090000||ADT^A04^ADT_A01|MSG-4242|P|2.5\r\
EVN|A04|20261121090000\r\
PID|1||MRN-QX-4242^^^NORTH^MR||Quillfeather^Zephyrine^R||19790403|F|||77 Larkspur Crescent^^Fernhollow^OR^97999||(555)010-0142^PRN^PH~^NET^Internet^Zephyrine.Q@Example.org\r";

/// An ADT^A08 outbound template (CRM -> EHR), sample values only.
const OUTBOUND_A08: &str = "MSH|^~\\&|CONNECTOR|CRM|EHR|NORTHCLINIC|20260101000000||ADT^A08^ADT_A01|TEMPLATE|P|2.5\r\
EVN|A08|20260101000000\r\
PID|1||SAMPLE^^^NORTH^MR||Sample^Patient||19000101|U\r\
PV1|1|O\r";

fn channel_json() -> Value {
    json!({
        "name": "North clinic EHR",
        "description": "Interface engine of the north site",
        "inbound": {"secret": "local:north-hmac"},
        "outbound": {
            "type": "https",
            "url": "https://ehr-north.example.org/hl7",
            "headers": [
                {"name": "Authorization", "secret": "local:north-ehr-token"},
                {"name": "X-Site", "value": "north"}
            ]
        },
        "crm_webhook": {"token_hash": TOKEN_HASH}
    })
}

fn lead_flow_json(channel_id: &str) -> Value {
    let mappings = vec![
        ff::required("PID-3.1", "mx_MRN"),
        ff::map("PID-5.2", "FirstName"),
        ff::required("PID-5.1", "LastName"),
        ff::birth_date(),
        ff::mobile(),
        ff::email(),
    ];
    let flow = ff::ehr_to_crm_lead(
        "Register patients",
        channel_id,
        "America/New_York",
        ADT_A04,
        mappings,
    );
    ff::with(flow, json!({"secondary_search": ff::email_search()}))
}

fn outbound_flow_json(channel_id: &str) -> Value {
    let mappings = vec![
        ff::required("PID-5.1", "LastName"),
        ff::map("PID-5.2", "FirstName"),
    ];
    ff::crm_to_ehr_lead(
        "Lead updates to the EHR",
        channel_id,
        ("lead_update", "ADT^A08"),
        "America/New_York",
        OUTBOUND_A08,
        mappings,
    )
}

impl TestApp {
    /// Creates a channel as admin; returns its id.
    async fn create_channel(&self, body: Value) -> String {
        let reply = self.post_json("/channels", "admin", body).await;
        assert_eq!(reply.status, 201, "{:#}", reply.body);
        reply.body["channel_id"].as_str().unwrap().to_owned()
    }

    /// Creates a flow as admin; returns its id.
    async fn create_flow(&self, body: Value) -> String {
        let reply = self.post_json("/flows", "admin", body).await;
        assert_eq!(reply.status, 201, "{:#}", reply.body);
        reply.body["flow_id"].as_str().unwrap().to_owned()
    }
}

fn fields(problem: &Value) -> Vec<&str> {
    listing::texts_of(problem, "errors", "field")
}

/// Asserts that the validation problem `problem` lists (at least) every field of `expected`.
#[track_caller]
fn assert_lists_fields(problem: &Value, expected: &[&str]) {
    let found = fields(problem);
    for expected in expected {
        assert!(found.contains(expected), "{expected} missing: {found:?}");
    }
}

#[tokio::test]
async fn channels_and_flows_crud_with_audit() {
    let app = spawn_app().await;
    let created = app
        .call_as(
            Method::POST,
            "/channels",
            "ada.admin",
            "admin",
            Some(channel_json()),
        )
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let channel_id = created.body["channel_id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["name"], "North clinic EHR");
    assert_eq!(
        created.body["crm_webhook"],
        json!({"header_name": "x-connector-webhook-token", "token_configured": true})
    );
    assert_eq!(
        created.body["inbound"],
        json!({"type": "hmac", "secret": "local:north-hmac", "replay_window_secs": 300})
    );

    let listed = app.get("/channels", "admin").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let fetched = app.get(&format!("/channels/{channel_id}"), "admin").await;
    // The channel as created, and whether each secret reference resolves.
    let mut detail = fetched.body.clone();
    let secrets = detail.as_object_mut().unwrap().remove("secrets");
    assert_eq!(detail, created.body);
    assert_eq!(
        secrets,
        Some(json!([
            {"field": "inbound.secret", "reference": "local:north-hmac", "status": "resolved"},
            {"field": "outbound.headers[0].secret", "reference": "local:north-ehr-token", "status": "resolved"}
        ]))
    );

    // Replace: a new replay window.
    let mut changed = channel_json();
    changed["inbound"]["replay_window_secs"] = json!(600);
    let replaced = app
        .call_as(
            Method::PUT,
            &format!("/channels/{channel_id}"),
            "ada.admin",
            "admin",
            Some(changed.clone()),
        )
        .await;
    assert_eq!(replaced.status, 200, "{:#}", replaced.body);
    assert_eq!(replaced.body["inbound"]["replay_window_secs"], 600);
    assert_eq!(replaced.body["created_at"], created.body["created_at"]);

    // Flows: create, list (all and by channel), read, replace, replace unchanged.
    let flow_id = app.create_flow(lead_flow_json(&channel_id)).await;
    let flow = app.get(&format!("/flows/{flow_id}"), "admin").await;
    assert_eq!(flow.status, 200);
    assert_eq!(flow.body["lead_sync"], "capture");
    assert_eq!(flow.body["default_country_code"], "+1");
    for query in ["", &format!("?channel_id={channel_id}")] {
        let list = app.get(&format!("/flows{query}"), "admin").await;
        assert_eq!(list.status, 200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "{query}");
    }
    let none = app.get("/flows?channel_id=other", "admin").await;
    assert_eq!(none.body["items"], json!([]));
    app.get("/flows?channel=x", "admin")
        .await
        .assert_problem(422);

    let mut update_only = lead_flow_json(&channel_id);
    update_only["lead_sync"] = json!("update_only");
    update_only["name"] = json!("Update patients");
    let replaced = app
        .put(&format!("/flows/{flow_id}"), "admin", update_only.clone())
        .await;
    assert_eq!(replaced.status, 200, "{:#}", replaced.body);
    assert_eq!(replaced.body["lead_sync"], "update_only");
    let again = app
        .put(&format!("/flows/{flow_id}"), "admin", update_only)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["updated_at"], replaced.body["updated_at"]);

    // A channel in use cannot be deleted.
    let conflict = app
        .delete(&format!("/channels/{channel_id}"), "admin")
        .await
        .assert_problem(409);
    assert!(
        conflict.body["detail"]
            .as_str()
            .unwrap()
            .contains("used by 1 flow(s)"),
        "{:#}",
        conflict.body
    );

    // Deletes, then 404s.
    let deleted = app.delete(&format!("/flows/{flow_id}"), "admin").await;
    assert_eq!(deleted.status, 204);
    app.get(&format!("/flows/{flow_id}"), "admin")
        .await
        .assert_problem(404);
    // (PUT on an id that does not exist creates it: see config_without_code.)
    let deleted = app
        .delete(&format!("/channels/{channel_id}"), "admin")
        .await;
    assert_eq!(deleted.status, 204);
    app.get(&format!("/channels/{channel_id}"), "admin")
        .await
        .assert_problem(404);
    app.delete("/channels/no-such-channel", "admin")
        .await
        .assert_problem(404);

    // Every change audited (newest first), with ids and changed field names only.
    let audit = app.audit("log_type=configuration_changes").await;
    let actions = listing::action_names(&audit);
    assert_eq!(
        actions,
        [
            "channel.deleted",
            "flow.deleted",
            "flow.updated",
            "flow.created",
            "channel.updated",
            "channel.created"
        ]
    );
    let by_action = |a: &str| audit.iter().find(|e| e["action"] == a).unwrap();
    assert_eq!(by_action("channel.created")["actor"]["user"], "ada.admin");
    assert_eq!(
        by_action("channel.created")["detail"]["channel_id"],
        channel_id
    );
    assert_eq!(
        by_action("channel.updated")["detail"]["changed"],
        json!(["inbound"])
    );
    assert_eq!(
        by_action("flow.updated")["detail"],
        json!({"flow_id": flow_id, "channel_id": channel_id, "changed": ["lead_sync", "name"]})
    );
    assert_eq!(by_action("flow.deleted")["detail"]["flow_id"], flow_id);
    for entry in &audit {
        assert_eq!(entry["outcome"], "success");
        let text = entry.to_string();
        assert!(
            !text.contains("Testwell") && !text.contains(TOKEN_HASH),
            "{text}"
        );
    }
}

#[tokio::test]
async fn invalid_flows_get_422_listing_every_problem() {
    let app = spawn_app().await;
    let channel_id = app.create_channel(channel_json()).await;

    let mut flow = lead_flow_json("no-such-channel");
    flow["lead_sync"] = json!("sometimes");
    flow["mrn_crm_field"] = json!("mx_Medical_Record");
    flow["mappings"][1]["transforms"] = json!([{"type": "shout"}]);
    flow["template"] = json!(ADT_A04.replace("ADT^A04^ADT_A01", "ADT^A08^ADT_A01"));
    let reply = app
        .post_json("/flows", "admin", flow)
        .await
        .assert_problem(422);
    assert_lists_fields(
        &reply.body,
        &[
            "lead_sync",
            "template",
            "mrn_crm_field",
            "mappings[1].transforms[0].type",
            "channel_id",
        ],
    );
    let mrn = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "mrn_crm_field")
        .unwrap();
    assert!(
        mrn["message"].as_str().unwrap().contains("search key"),
        "{mrn}"
    );
    let text = reply.body.to_string();
    assert!(
        !text.contains("Testwell") && !text.contains("sometimes"),
        "{text}"
    );

    // A crm_to_ehr flow needs a channel with outbound delivery and webhook settings.
    let mut bare = channel_json();
    bare.as_object_mut().unwrap().remove("outbound");
    bare.as_object_mut().unwrap().remove("crm_webhook");
    let bare_id = app.create_channel(bare.clone()).await;
    let reply = app
        .post_json("/flows", "admin", outbound_flow_json(&bare_id))
        .await
        .assert_problem(422);
    assert_eq!(fields(&reply.body), ["channel_id", "channel_id"]);

    // A channel that crm_to_ehr flows use keeps what they need.
    app.create_flow(outbound_flow_json(&channel_id)).await;
    let reply = app
        .put(&format!("/channels/{channel_id}"), "admin", bare)
        .await
        .assert_problem(422);
    assert_eq!(fields(&reply.body), ["outbound", "crm_webhook"]);

    // Channel inputs: every problem too; unknown fields are a 400 naming the field.
    let reply = app
        .post_json("/channels", "admin", json!({
                "inbound": {"secret": "plain-text-secret-value"},
                "outbound": {"type": "https", "url": "http://ehr.example.org", "headers": [{"name": "Authorization", "value": "Bearer abc"}]},
                "crm_webhook": {"token_hash": "not-hex"}
            }))
        .await
        .assert_problem(422);
    assert_lists_fields(
        &reply.body,
        &[
            "name",
            "inbound.secret",
            "outbound.url",
            "outbound.headers[0].value",
            "crm_webhook.token_hash",
        ],
    );
    let text = reply.body.to_string();
    assert!(
        !text.contains("plain-text-secret-value") && !text.contains("Bearer abc"),
        "{text}"
    );
    let reply = app
        .post_json("/channels", "admin", json!({"name": "x", "token": "abc"}))
        .await
        .assert_problem(400);
    assert!(reply.body["detail"].as_str().unwrap().contains("`token`"));

    // Nothing invalid was stored.
    let flows = app.get("/flows", "admin").await;
    assert_eq!(flows.body["items"].as_array().unwrap().len(), 1);
    let channels = app.get("/channels", "admin").await;
    assert_eq!(channels.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn non_admins_get_403() {
    let app = spawn_app().await;
    let channel_id = app.create_channel(channel_json()).await;
    let flow_id = app.create_flow(lead_flow_json(&channel_id)).await;
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/channels".into(), None),
        (Method::POST, "/channels".into(), Some(channel_json())),
        (Method::GET, format!("/channels/{channel_id}"), None),
        (
            Method::PUT,
            format!("/channels/{channel_id}"),
            Some(channel_json()),
        ),
        (Method::DELETE, format!("/channels/{channel_id}"), None),
        (Method::GET, "/flows".into(), None),
        (
            Method::POST,
            "/flows".into(),
            Some(lead_flow_json(&channel_id)),
        ),
        (
            Method::POST,
            "/flows/template-fields".into(),
            Some(json!({"template": ADT_A04})),
        ),
        (
            Method::POST,
            "/flows/test".into(),
            Some(json!({"flow": lead_flow_json(&channel_id), "message": REGISTRATION})),
        ),
        (Method::GET, format!("/flows/{flow_id}"), None),
        (
            Method::PUT,
            format!("/flows/{flow_id}"),
            Some(lead_flow_json(&channel_id)),
        ),
        (Method::DELETE, format!("/flows/{flow_id}"), None),
        (
            Method::POST,
            format!("/flows/{flow_id}/test"),
            Some(json!({"message": REGISTRATION})),
        ),
    ];
    for role in ["staff", "patient"] {
        for (method, path, body) in &routes {
            let reply = app.call(method.clone(), path, role, body.clone()).await;
            assert_eq!(
                reply.status, 403,
                "{role} {method} {path}: {:#}",
                reply.body
            );
            assert_eq!(reply.content_type, "application/problem+json");
        }
    }
    // Nothing changed.
    let audit = app.audit("log_type=configuration_changes").await;
    assert_eq!(audit.len(), 2);
}

#[tokio::test]
async fn secrets_are_never_in_a_response() {
    let app = spawn_app().await;
    let mut bodies = Vec::new();
    let created = app.post_json("/channels", "admin", channel_json()).await;
    let channel_id = created.body["channel_id"].as_str().unwrap().to_owned();
    bodies.push(created.body);
    bodies.push(app.get("/channels", "admin").await.body);
    bodies.push(
        app.get(&format!("/channels/{channel_id}"), "admin")
            .await
            .body,
    );
    bodies.push(
        app.put(&format!("/channels/{channel_id}"), "admin", channel_json())
            .await
            .body,
    );
    for body in &bodies {
        let text = body.to_string();
        assert!(!text.contains(TOKEN_HASH), "token hash answered: {text}");
        assert!(!text.contains("token_hash"), "{text}");
    }
    // Secret references are configuration and are shown as references; the header with a plain
    // value keeps it.
    let headers = &bodies[2]["outbound"]["headers"];
    assert_eq!(
        headers[0],
        json!({"name": "Authorization", "secret": "local:north-ehr-token"})
    );
    assert_eq!(headers[1], json!({"name": "X-Site", "value": "north"}));
    assert_eq!(bodies[2]["crm_webhook"]["token_configured"], true);
    // The audit log holds no hash either.
    let audit = app.audit("log_type=configuration_changes").await;
    assert!(!Value::Array(audit).to_string().contains(TOKEN_HASH));
}

#[tokio::test]
async fn template_fields_name_every_populated_leaf() {
    let app = spawn_app().await;
    let reply = template_fields(&app, json!({"template": ADT_A04})).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["event_type"], "ADT^A04");
    assert_eq!(reply.body["segments"], json!(["MSH", "EVN", "PID", "PV1"]));
    let fields = reply.body["fields"].as_array().unwrap();
    let at = |path: &str| fields.iter().find(|f| f["path"] == path).unwrap().clone();
    let family = at("PID-5.1");
    assert_eq!(family["value"], "Testwell");
    assert_eq!(family["field"], "Patient Name");
    assert_eq!(family["data_type"], "XPN");
    assert!(family["name"].is_string(), "{family}");
    assert_eq!(at("PID-13[2].4")["value"], "juniper.testwell@example.org");
    assert_eq!(at("PID-8")["name"], at("PID-8")["field"]);
    assert!(!fields.iter().any(|f| f["path"] == "PID-2"));

    // An unparseable template: 422 with the position, never the content.
    let unparseable = "MSH|^~\\&|A|B\rPID|1\rzephyrine|Quillfeather\r";
    let reply = template_fields(&app, json!({"template": unparseable})).await;
    let reply = reply.assert_invalid("template");
    let message = reply.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("segment 3"), "{message}");
    assert!(!reply.body.to_string().contains("Quillfeather"));
    let reply = template_fields(&app, json!({})).await;
    reply.assert_invalid("template");
}

#[tokio::test]
async fn flow_tests_show_the_plan_and_write_nothing() {
    let app = spawn_app().await;
    let channel_id = app.create_channel(channel_json()).await;
    let flow_id = app.create_flow(lead_flow_json(&channel_id)).await;
    let outbound_id = app.create_flow(outbound_flow_json(&channel_id)).await;
    let audit_before = app.audit("").await.len();
    let crm = app.db().crm_records();

    let reply = test_flow(&app, &flow_id, json!({"message": REGISTRATION})).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let plan = &reply.body;
    assert_eq!(plan["direction"], "ehr_to_crm");
    assert_eq!(
        plan["lead"]["search"],
        json!([
            {"key": "primary", "field": "mx_MRN", "hl7_path": "PID-3.1", "value": "MRN-QX-4242"},
            {"key": "secondary", "field": "EmailAddress", "hl7_path": "PID-13[2].4", "value": "zephyrine.q@example.org"}
        ])
    );
    assert_eq!(plan["lead"]["sync"], "capture");
    assert_eq!(plan["lead"]["creates"], true);
    assert_eq!(plan["lead"]["updates"], true);
    let create = plan["lead"]["fields_for_create"].as_array().unwrap();
    let update = plan["lead"]["fields_for_update"].as_array().unwrap();
    assert!(create.contains(&json!({"field": "Source", "value": "EHR Connector"})));
    assert!(!update.iter().any(|f| f["field"] == "Source"));
    assert!(update.contains(&json!({"field": "Mobile", "value": "+15550100142"})));
    assert!(update.contains(&json!({"field": "mx_Date_of_Birth", "value": "1979-04-03"})));
    assert_eq!(plan["activity"], Value::Null);
    assert_eq!(plan["warnings"], json!([]));

    // A message the flow cannot map: 422 of kind mapping, every problem by path.
    let broken = REGISTRATION.replace("MRN-QX-4242^^^NORTH^MR||Quillfeather^Zephyrine^R", "||");
    let reply = test_flow(&app, &flow_id, json!({"message": broken}))
        .await
        .assert_problem_type(422, "/problems/mapping");
    assert_eq!(fields(&reply.body), ["message.PID-3.1", "message.PID-5.1"]);
    // Not a message at all; the wrong input for the direction.
    let reply = test_flow(&app, &flow_id, json!({"message": "Zephyrine Quillfeather"}))
        .await
        .assert_problem_type(422, "/problems/validation");
    assert!(!reply.body.to_string().contains("Zephyrine"));
    let reply = test_flow(
        &app,
        &flow_id,
        json!({"payload": {"LastName": "Quillfeather"}}),
    )
    .await
    .assert_problem(422);
    assert_eq!(fields(&reply.body), ["payload", "message"]);

    // CRM -> EHR: the HL7 message the flow would build from a webhook payload.
    let reply = test_flow(&app, &outbound_id, json!({"payload": {"ProspectID": "p-9", "LastName": "Quillfeather", "FirstName": "Zephyrine", "mx_MRN": "MRN-QX-4242"}}))
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["direction"], "crm_to_ehr");
    assert_eq!(reply.body["webhook_event"], "lead_update");
    let segments = reply.body["segments"].as_array().unwrap();
    assert!(segments[0].as_str().unwrap().contains("|FLOW-TEST|"));
    let pid = segments
        .iter()
        .find(|s| s.as_str().unwrap().starts_with("PID|"))
        .unwrap();
    assert!(
        pid.as_str()
            .unwrap()
            .contains("MRN-QX-4242^^^NORTH^MR||Quillfeather^Zephyrine"),
        "{pid}"
    );
    // A payload the mappings cannot fill (mapping), and one that does not name the lead: the
    // payload is read as the webhook pipeline reads it (validation). Neither is echoed.
    let refused: [(Value, &str, &[&str]); 2] = [
        (
            json!({"ProspectID": "p-9", "FirstName": "Zephyrine"}),
            "/problems/mapping",
            &["payload.LastName", "payload.mx_MRN"],
        ),
        (
            json!({"LastName": "Quillfeather", "mx_MRN": "MRN-QX-4242"}),
            "/problems/validation",
            &["payload"],
        ),
    ];
    for (payload, kind, expected) in refused {
        let reply = test_flow(&app, &outbound_id, json!({ "payload": payload })).await;
        let reply = reply.assert_problem_type(422, kind);
        assert_eq!(fields(&reply.body), expected);
        assert!(!reply.body.to_string().contains("Quillfeather"));
    }

    // An unsaved flow.
    let mut unsaved = lead_flow_json(&channel_id);
    unsaved["lead_sync"] = json!("update_only");
    let reply = test_unsaved_flow(&app, unsaved).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["lead"]["sync"], "update_only");
    assert_eq!(reply.body["lead"]["creates"], false);
    let mut invalid = lead_flow_json(&channel_id);
    invalid["mrn_crm_field"] = json!("mx_Nope");
    let reply = test_unsaved_flow(&app, invalid).await.assert_problem(422);
    assert_eq!(fields(&reply.body), ["flow.mrn_crm_field"]);
    let missing = test_flow(&app, "no-such-flow", json!({"message": REGISTRATION})).await;
    missing.assert_problem(404);

    // Nothing was written: no CRM record, no audit entry; no value reached the logs.
    assert!(crm.leads().await.unwrap().is_empty());
    assert_eq!(app.audit("").await.len(), audit_before);
    let logs = captured_logs();
    assert!(logs.contains("flow tested"), "logging is on");
    for value in [
        "Quillfeather",
        "Zephyrine",
        "MRN-QX-4242",
        "Larkspur",
        "19790403",
        "010-0142",
    ] {
        assert!(
            !crate::support::mentions(&logs, value),
            "{value} reached the logs"
        );
    }
}
