use reqwest::Method;
use serde_json::json;

use crate::support::{captured_logs, patient_json, phi_values, spawn_app};

/// A whole API session with a patient's data — registration, bad input, consents, revocation,
/// history, audit queries — and not one of the patient's values in the log output.
#[tokio::test]
async fn a_full_api_session_logs_no_patient_data() {
    let app = spawn_app().await;
    app.settings(json!({"opt_in_by_default": true})).await;
    app.register("p-500").await;
    app.register("p-500").await;
    let mut bad = patient_json("p-500");
    bad["birth_date"] = json!("1979-04-33");
    app.put("/patients/p-500", "staff", bad)
        .await
        .assert_problem(422);
    app.call_raw(
        Method::PUT,
        "/patients/p-500",
        "staff",
        r#"{"mrn": "MRN-p-500-7731", "first_name": 7}"#,
    )
    .await
    .assert_problem(400);
    let consent = app
        .give("p-500", json!({"given_on": "2026-11-20"}))
        .await
        .body;
    let path = format!(
        "/patients/p-500/consents/{}/revoke",
        consent["consent_id"].as_str().unwrap()
    );
    app.post_json(&path, "staff", json!({"reason": "Zephyrine moved away"}))
        .await;
    app.history("p-500").await;
    app.get("/patients/p-500", "staff").await;
    app.get("/audit-entries?patient_id=p-500", "admin").await;

    let logs = captured_logs();
    assert!(
        logs.contains("consent recorded") && logs.contains("\"http.route\""),
        "logging is on: {logs}"
    );
    for value in phi_values("p-500") {
        assert!(
            !crate::support::mentions(&logs, &value),
            "PHI value {value:?} reached the logs"
        );
    }
}
