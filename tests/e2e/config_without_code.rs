//! Configuration without code, over real HTTP on a real SQLite file: `local:` secrets stored
//! through the write-only `PUT /secrets/{name}` and listed by `GET /secrets` (names and times,
//! never values); channels whose secret references cannot be resolved refused with a 422
//! naming the reference; a secret that goes missing later shown by `GET /channels/{id}` and
//! answered by `POST /hl7/{id}` with a non-retryable problem (not 503 "resend later"); and
//! `PUT /channels/{id}` / `PUT /flows/{id}` creating what does not exist yet (201, Location).

use connector_domain::flow::fixtures as ff;
use reqwest::Method;
use serde_json::{Value, json};

use crate::hl7_inbound_support::{ADT_A04, CHANNEL, CrmKind, Signing, spawn_inbound};
use crate::support::{Reply, TestApp, captured_logs, spawn_app};

/// A secret value distinctive enough to grep the logs and every answer for.
const SECRET_VALUE: &str = "zq-local-secret-value-7731";

fn channel(secret: &str) -> Value {
    json!({
        "name": "North clinic EHR",
        "inbound": {"type": "hmac", "secret": secret, "replay_window_secs": 300}
    })
}

/// PUTs `body` to `path` as robin (admin) over HTTP; asserts 201 Created at `path`.
async fn put_created(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    let created = app
        .request_as(Method::PUT, path, "robin", "admin")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(created.headers()["location"].to_str().unwrap(), path);
    created
}

/// PUTs [`SECRET_VALUE`] to `path` (`/secrets/{name}`) as admin.
async fn put_secret(app: &TestApp, path: &str) -> Reply {
    app.put(path, "admin", json!({"value": SECRET_VALUE})).await
}

#[tokio::test]
async fn secrets_are_write_only_and_listed_by_name_and_time() {
    let app = spawn_app().await;
    let put = put_secret(&app, "/secrets/cfg-north-hmac").await;
    assert_eq!(put.status, 204, "{:#}", put.body);
    assert_eq!(
        put.body,
        Value::Null,
        "no body: the value is never returned"
    );

    let listed = app.get("/secrets", "admin").await;
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    assert_eq!(
        listed.body["items"],
        json!([{
            "name": "cfg-north-hmac",
            "reference": "local:cfg-north-hmac",
            "updated_at": "2026-11-21T15:00:00Z"
        }])
    );

    // Bad input changes nothing: a bad name, an empty or missing value, unknown fields.
    for (path, body, field) in [
        ("/secrets/bad%20name", json!({"value": "x"}), "name"),
        ("/secrets/cfg-empty", json!({"value": ""}), "value"),
        ("/secrets/cfg-empty", json!({}), "value"),
    ] {
        let refused = app.put(path, "admin", body).await.assert_problem(422);
        assert_eq!(
            refused.body["errors"][0]["field"], field,
            "{:#}",
            refused.body
        );
    }
    // Administrators only.
    app.put("/secrets/cfg-staff", "staff", json!({"value": "x"}))
        .await
        .assert_problem(403);
    app.get("/secrets", "staff").await.assert_problem(403);
    let listed = app.get("/secrets", "admin").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    // The audit trail names the secret, never its value.
    let audit = app.audit("log_type=configuration_changes").await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "secret.set" && e["detail"]["name"] == "cfg-north-hmac"),
        "{audit:#?}"
    );
    assert!(
        !serde_json::to_string(&audit)
            .unwrap()
            .contains(SECRET_VALUE)
    );
    assert!(
        !captured_logs().contains(SECRET_VALUE),
        "a secret value was logged"
    );
}

#[tokio::test]
async fn a_channel_whose_secret_cannot_be_resolved_is_refused_naming_the_reference() {
    let app = spawn_app().await;
    let refused = app
        .post_json("/channels", "admin", channel("local:cfg-missing-hmac"))
        .await
        .assert_invalid("inbound.secret");
    assert!(
        refused.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("local:cfg-missing-hmac"),
        "{:#}",
        refused.body
    );
    assert!(
        app.get("/channels", "admin").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was written"
    );

    // Once the secret is stored, the same channel is accepted.
    let put = put_secret(&app, "/secrets/cfg-missing-hmac").await;
    assert_eq!(put.status, 204);
    let created = app
        .post_json("/channels", "admin", channel("local:cfg-missing-hmac"))
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["channel_id"].as_str().unwrap().to_owned();

    // An update that points an outbound header at a missing secret is refused too.
    let mut update = channel("local:cfg-missing-hmac");
    update["outbound"] = json!({
        "type": "https",
        "url": "https://ehr-north.example.org/hl7",
        "headers": [{"name": "Authorization", "secret": "local:cfg-no-such-token"}]
    });
    let refused = app
        .put(&format!("/channels/{id}"), "admin", update)
        .await
        .assert_problem(422);
    assert_eq!(
        refused.body["errors"][0]["field"],
        "outbound.headers[0].secret"
    );
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("local:cfg-no-such-token")
    );
    // Secrets Manager is not available to the embedded deployment.
    app.post_json(
        "/channels",
        "admin",
        channel(
            "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:clinic/x-AbC123",
        ),
    )
    .await
    .assert_invalid("inbound.secret");
}

#[tokio::test]
async fn put_on_a_new_id_creates_the_channel_and_the_flow() {
    let app = spawn_app().await;
    app.put(
        "/secrets/cfg-put-hmac",
        "admin",
        json!({"value": SECRET_VALUE}),
    )
    .await;
    let created = put_created(
        &app,
        "/channels/cfg-west-ehr",
        &channel("local:cfg-put-hmac"),
    )
    .await;
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["channel_id"], "cfg-west-ehr");
    // Again: an update (200), here with nothing changed.
    let again = app
        .put(
            "/channels/cfg-west-ehr",
            "admin",
            channel("local:cfg-put-hmac"),
        )
        .await;
    assert_eq!(again.status, 200, "{:#}", again.body);

    let mappings = vec![
        ff::required("PID-3.1", "mx_MRN"),
        ff::required("PID-5.1", "LastName"),
    ];
    let flow = ff::with(
        ff::ehr_to_crm_lead(
            "Register patients",
            "cfg-west-ehr",
            "America/Chicago",
            ADT_A04,
            mappings,
        ),
        json!({"lead_source": null, "default_country_code": null}),
    );
    put_created(&app, "/flows/cfg-register", &flow).await;
    let again = app.put("/flows/cfg-register", "admin", flow).await;
    assert_eq!(again.status, 200, "{:#}", again.body);
    // Ids the routes reserve, and bad ids, are still refused.
    let mut bad = again.body.clone();
    bad.as_object_mut().unwrap().remove("flow_id");
    for id in ["test", "template-fields"] {
        let refused = app.put(&format!("/flows/{id}"), "admin", bad.clone()).await;
        assert!(
            refused.status == 422 || refused.status == 405,
            "{id}: {:#}",
            refused.body
        );
    }
    let audit = app.audit("log_type=configuration_changes").await;
    for action in ["channel.created", "flow.created"] {
        assert!(audit.iter().any(|e| e["action"] == action), "{audit:#?}");
    }
}

#[tokio::test]
async fn a_secret_that_goes_missing_is_shown_and_hl7_gets_a_non_retryable_error() {
    let inbound = spawn_inbound(CrmKind::Embedded).await;
    let path = format!("/channels/{CHANNEL}");
    let shown = inbound.app.get(&path, "admin").await;
    assert_eq!(
        shown.body["secrets"],
        json!([{"field": "inbound.secret", "reference": "local:north-hmac", "status": "resolved"}])
    );

    // The secret is deleted behind the channel's back.
    assert!(
        inbound
            .app
            .db()
            .delete_local_secret("north-hmac")
            .await
            .unwrap()
    );
    let shown = inbound.app.get(&path, "admin").await;
    assert_eq!(shown.status, 200);
    assert_eq!(
        shown.body["secrets"],
        json!([{"field": "inbound.secret", "reference": "local:north-hmac", "status": "unresolvable"}])
    );

    // Every message gets a non-retryable 500 naming the problem, not 503 "resend later".
    for _ in 0..3 {
        let reply = inbound.post(ADT_A04, Signing::Valid).await;
        let problem = reply.assert_problem(500).body;
        assert_eq!(problem["type"], "/problems/channel-misconfigured");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("inbound.secret"), "{detail}");
        // The caller is not authenticated (nothing can check its signature): the reference
        // is for the administrator's eyes (GET /channels/{id}, the log), not in the answer.
        assert!(!detail.contains("north-hmac"), "{detail}");
    }
    assert!(
        inbound.ledger("NE-A04-0001").await.is_none(),
        "nothing was written"
    );

    // One ERROR line for the three messages, naming the channel and the reference only.
    let logs = captured_logs();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("\"ERROR\"") && l.contains("secret reference cannot be resolved"))
        .filter(|l| l.contains(CHANNEL))
        .collect();
    assert_eq!(lines.len(), 1, "rate-limited: {lines:#?}");
    assert!(lines[0].contains("local:north-hmac"), "{}", lines[0]);
    assert!(
        !lines[0].contains("north-ehr-shared-secret"),
        "{}",
        lines[0]
    );

    // Storing the secret again heals the channel.
    let put = inbound
        .app
        .put(
            "/secrets/north-hmac",
            "admin",
            json!({"value": String::from_utf8_lossy(crate::hl7_inbound_support::SECRET)}),
        )
        .await;
    assert_eq!(put.status, 204);
    let ack = inbound.post(ADT_A04, Signing::Valid).await.ack();
    assert_eq!(ack.control_id, "NE-A04-0001");
}
