use std::sync::Arc;

use connector_app::http::auth::BearerTokens;
use connector_domain::{Actor, Role};
use reqwest::Method;
use serde_json::json;

use crate::support::{patient_json, spawn_app, spawn_app_with};

#[tokio::test]
async fn roles_limit_what_callers_reach() {
    let app = spawn_app().await;
    app.get("/settings/hie", "staff").await.assert_problem(403);
    app.get("/audit-entries", "staff").await.assert_problem(403);
    app.put("/patients/p-400", "patient", patient_json("p-400"))
        .await
        .assert_problem(403);
    app.get("/me/consents", "staff").await.assert_problem(403);
    app.get("/patients/p-400/consents", "root")
        .await
        .assert_problem(401);
}

#[tokio::test]
async fn a_patient_manages_only_their_own_consent_through_the_portal() {
    let app = spawn_app().await;
    app.settings(json!({"portal_explanation": "Share visits with the HIE?"}))
        .await;
    app.register("p-401").await;
    app.register("p-402").await;
    let other = app.give("p-402", json!({})).await.body;

    let portal = app
        .call_as(Method::GET, "/me/portal", "p-401", "patient", None)
        .await;
    assert_eq!(portal.body["explanation"], "Share visits with the HIE?");

    let given = app
        .call_as(
            Method::POST,
            "/me/consents",
            "p-401",
            "patient",
            Some(json!({})),
        )
        .await;
    assert_eq!(given.status, 201, "{:#}", given.body);
    assert_eq!(given.body["source"], "portal");
    assert_eq!(given.body["patient_id"], "p-401");
    assert_eq!(
        given.body["created_by"],
        json!({"user": "p-401", "role": "patient"})
    );

    let mine = app
        .call_as(Method::GET, "/me/consents", "p-401", "patient", None)
        .await;
    assert_eq!(mine.body["patient_id"], "p-401");
    assert_eq!(mine.body["consents"].as_array().unwrap().len(), 1);

    // Another patient's record is not reachable, even by id.
    let path = format!(
        "/me/consents/{}/revoke",
        other["consent_id"].as_str().unwrap()
    );
    app.call_as(Method::POST, &path, "p-401", "patient", None)
        .await
        .assert_problem(404);
    assert_eq!(app.history("p-402").await["valid"], true);

    let path = format!(
        "/me/consents/{}/revoke",
        given.body["consent_id"].as_str().unwrap()
    );
    let revoked = app
        .call_as(Method::POST, &path, "p-401", "patient", None)
        .await;
    assert_eq!(revoked.body["status"], "revoked");
}

#[tokio::test]
async fn bearer_tokens_are_required_when_configured() {
    let line = BearerTokens::file_line("tok-staff-1", &Actor::new("casey", Role::Staff));
    let tokens = BearerTokens::parse(&line).unwrap();
    let app = spawn_app_with(Arc::new(tokens)).await;
    let client = reqwest::Client::new();
    let url = format!("{}/patients/p-403", app.address());
    let put = |request: reqwest::RequestBuilder| async move {
        let request = request.json(&patient_json("p-403"));
        request.send().await.unwrap()
    };
    let reply = put(client.put(&url)).await;
    assert_eq!(reply.status(), 401);
    assert_eq!(reply.headers()["content-type"], "application/problem+json");
    let reply = put(client.put(&url).bearer_auth("wrong")).await;
    assert_eq!(reply.status(), 401);
    // Headers that loopback trusts mean nothing here.
    let reply = put(client.put(&url).header("x-connector-role", "admin")).await;
    assert_eq!(reply.status(), 401);
    let reply = put(client.put(&url).bearer_auth("tok-staff-1")).await;
    assert_eq!(reply.status(), 201);
    let health = client
        .get(format!("{}/health", app.address()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
