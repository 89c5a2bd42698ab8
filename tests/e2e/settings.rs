use serde_json::json;

use crate::support::spawn_app;

#[tokio::test]
async fn defaults_then_saved_values() {
    let app = spawn_app().await;
    let defaults = app.get("/settings/hie", "admin").await;
    assert_eq!(defaults.status, 200);
    assert_eq!(defaults.body["enabled"], false);
    assert_eq!(defaults.body["consent_expire_days"], 365);
    assert_eq!(defaults.body["time_zone"], "UTC");
    assert!(defaults.body["next_batch_start_time"].is_null());

    let saved = app
        .settings(json!({
            "enabled": true,
            "default_to_address": "intake@direct.examplehie.org",
            "default_from_address": "records@direct.exampleclinic.org",
            "default_subject": "Encounter summary",
            "default_body": "Attached: one encounter.",
            "next_batch_start_time": "2026-11-01T00:00:00-05:00",
            "opt_in_by_default": true,
            "consent_expire_days": 730,
            "portal_explanation": "We share your visits with the regional HIE.",
            "time_zone": "America/Chicago"
        }))
        .await;
    assert_eq!(saved["next_batch_start_time"], "2026-11-01T05:00:00Z");
    let fetched = app.get("/settings/hie", "admin").await.body;
    assert_eq!(fetched, saved);

    // Fields left out keep their value.
    let changed = app.settings(json!({"default_subject": "Visit"})).await;
    assert_eq!(changed["consent_expire_days"], 730);
    assert_eq!(changed["default_subject"], "Visit");
}

#[tokio::test]
async fn invalid_settings_get_422_and_nothing_is_saved() {
    let app = spawn_app().await;
    let before = app.get("/settings/hie", "admin").await.body;
    let reply = app
        .put(
            "/settings/hie",
            "admin",
            json!({
                "default_to_address": "not an address",
                "consent_expire_days": 4000,
                "time_zone": "Mars/Olympus_Mons",
                "opt_in_by_default": true
            }),
        )
        .await
        .assert_problem(422);
    let fields = reply.error_fields();
    assert_eq!(
        fields,
        ["default_to_address", "consent_expire_days", "time_zone"]
    );
    let after = app.get("/settings/hie", "admin").await.body;
    assert_eq!(before, after);

    let reply = app
        .put("/settings/hie", "admin", json!({"enabled": true}))
        .await;
    reply.assert_problem(422);
    let reply = app
        .put("/settings/hie", "admin", json!({"consent_expire_days": 0}))
        .await;
    reply.assert_problem(422);
}

#[tokio::test]
async fn the_safety_lag_is_a_setting_from_0_to_3600_seconds() {
    let app = spawn_app().await;
    let defaults = app.get("/settings/hie", "admin").await;
    assert_eq!(defaults.body["safety_lag_seconds"], 120);

    assert_eq!(
        app.settings(json!({"safety_lag_seconds": 0})).await["safety_lag_seconds"],
        0
    );
    assert_eq!(
        app.settings(json!({"safety_lag_seconds": 3600})).await["safety_lag_seconds"],
        3600
    );
    for (bad, status) in [
        (json!(-1), 422),
        (json!(3601), 422),
        (json!(1.5), 400),
        (json!("120"), 400),
    ] {
        let reply = app
            .put("/settings/hie", "admin", json!({"safety_lag_seconds": bad}))
            .await
            .assert_problem(status);
        if status == 422 {
            assert_eq!(
                reply.body["errors"][0]["field"], "safety_lag_seconds",
                "{:#}",
                reply.body
            );
        }
    }
    let after = app.get("/settings/hie", "admin").await;
    assert_eq!(after.body["safety_lag_seconds"], 3600, "nothing saved");
}
