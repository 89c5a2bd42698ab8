use reqwest::Method;
use serde_json::json;

use crate::support::{patient_json, spawn_app};

#[tokio::test]
async fn health_answers_200() {
    let app = spawn_app().await;
    let reply = reqwest::get(format!("{}/health", app.address()))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
}

#[tokio::test]
async fn registering_creates_then_updates() {
    let app = spawn_app().await;
    let created = app
        .put("/patients/p-100", "staff", patient_json("p-100"))
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_eq!(created.body["patient"]["patient_id"], "p-100");
    assert_eq!(created.body["patient"]["mrn"], "MRN-p-100-7731");
    assert_eq!(created.body["patient"]["address"]["city"], "Fernhollow");
    assert!(
        created.body["consent"].is_null(),
        "opt-in by default is off by default"
    );

    let mut changed = patient_json("p-100");
    changed["last_name"] = json!("Quillfeather-Ash");
    let updated = app.put("/patients/p-100", "staff", changed).await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.body["patient"]["last_name"], "Quillfeather-Ash");
    assert_eq!(
        updated.body["patient"]["created_at"],
        created.body["patient"]["created_at"]
    );

    let fetched = app.get("/patients/p-100", "staff").await;
    assert_eq!(fetched.body["last_name"], "Quillfeather-Ash");
}

#[tokio::test]
async fn opt_in_by_default_creates_an_active_consent_at_registration_only() {
    let app = spawn_app().await;
    app.settings(json!({"opt_in_by_default": true, "consent_expire_days": 30}))
        .await;
    let created = app.register("p-101").await;
    let consent = &created.body["consent"];
    assert_eq!(consent["source"], "opt_in_default");
    assert_eq!(consent["status"], "active");
    assert_eq!(consent["given_on"], "2026-11-21");
    assert_eq!(consent["expires_on"], "2026-12-21");
    assert_eq!(consent["created_by"]["role"], "system");

    // An update does not add another record.
    let updated = app.register("p-101").await;
    assert!(updated.body["consent"].is_null());
    let history = app.history("p-101").await;
    assert_eq!(history["consents"].as_array().unwrap().len(), 1);
    assert_eq!(history["valid"], true);
}

#[tokio::test]
async fn invalid_demographics_get_422_naming_every_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let mut bad = patient_json("p-102");
    bad["birth_date"] = json!("03/04/1979");
    bad["email"] = json!("zephyrine at example");
    bad["sex"] = json!("Q");
    bad.as_object_mut().unwrap().remove("mrn");
    let reply = app
        .put("/patients/p-102", "staff", bad)
        .await
        .assert_problem(422);
    let fields = reply.error_fields();
    assert_eq!(fields, ["mrn", "birth_date", "sex", "email"]);
    let text = reply.body.to_string();
    assert!(
        !text.contains("03/04/1979") && !text.contains("zephyrine at example"),
        "problem echoes input: {text}"
    );
    app.get("/patients/p-102", "staff")
        .await
        .assert_problem(404);

    let bad_id = app
        .put("/patients/bad%20id", "staff", patient_json("x"))
        .await;
    bad_id.assert_problem(422);
}

#[tokio::test]
async fn malformed_json_gets_400_without_echo() {
    let app = spawn_app().await;
    let reply = app
        .call_raw(
            Method::PUT,
            "/patients/p-103",
            "staff",
            r#"{"mrn": "MRN-SECRET", "first_name": }"#,
        )
        .await;
    let reply = reply.assert_problem(400);
    assert!(!reply.body.to_string().contains("MRN-SECRET"));
    for (body, value, problem_names) in [
        (r#"{"mrn": ["Zephyrine"]}"#, "Zephyrine", false),
        (r#"{"nickname": "Zee"}"#, "nickname", true),
    ] {
        let reply = app
            .call_raw(Method::PUT, "/patients/p-103", "staff", body)
            .await;
        let reply = reply.assert_problem(400);
        if problem_names {
            // An unknown field is named in the detail.
            assert!(reply.body["detail"].as_str().unwrap().contains(value));
        } else {
            // A value is never echoed.
            assert!(!reply.body.to_string().contains(value));
        }
    }
}

#[tokio::test]
async fn unknown_routes_are_problems() {
    let app = spawn_app().await;
    app.get("/nope", "staff").await.assert_problem(404);
}
