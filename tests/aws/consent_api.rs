//! The consent-api Lambda on DynamoDB, driven with the sample API Gateway v2 events in
//! `events/consent-api/`, with the tables checked directly.

use serde_json::Value;

use crate::support::{Caller, n, s, sample_event, spawn_on_aws};

/// A sample event whose `CONSENT_ID` placeholders name `consent_id`.
fn with_consent_id(name: &str, consent_id: &str) -> Value {
    let text = sample_event(name)
        .to_string()
        .replace("CONSENT_ID", consent_id);
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn the_sample_events_drive_the_consent_api_on_dynamodb() {
    let Some(app) = spawn_on_aws().await else {
        return;
    };

    // Open and closed doors.
    let health = app.invoke(&sample_event("health")).await.expect(200);
    assert_eq!(health.body["status"], "ok");
    let unauthenticated = app
        .invoke(&sample_event("unauthenticated"))
        .await
        .assert_problem(401);
    assert_eq!(unauthenticated.body["status"], 401);
    app.invoke(&sample_event("forbidden"))
        .await
        .assert_problem(403);

    // A patient is registered (no consent yet: opt-in by default is off) and read back.
    let registered = app
        .invoke(&sample_event("register-patient"))
        .await
        .expect(201);
    assert_eq!(registered.body["patient"]["patient_id"], "p-1001");
    assert!(registered.body["consent"].is_null());
    let patient = app.invoke(&sample_event("get-patient")).await.expect(200);
    assert_eq!(patient.body["mrn"], "MRN-TEST-0001");
    let profile = app
        .consents_item("PATIENT#p-1001", "PROFILE")
        .await
        .expect("the PROFILE item");
    assert_eq!(s(&profile, "pk"), "PATIENT#p-1001");
    assert!(
        app.consents_item("PATIENT#p-1001", "LATEST")
            .await
            .is_none()
    );

    // Staff record consent; the history shows it active; LATEST mirrors the record.
    let given = app.invoke(&sample_event("give-consent")).await.expect(201);
    assert_eq!(given.body["status"], "active");
    assert_eq!(given.body["given_on"], "2026-11-21");
    assert_eq!(given.body["expires_on"], "2027-11-21");
    assert_eq!(given.body["source"], "staff");
    let consent_id = given.body["consent_id"].as_str().unwrap().to_owned();
    let history = app.invoke(&sample_event("list-consents")).await.expect(200);
    assert_eq!(history.body["valid"], true);
    assert_eq!(history.body["current"]["consent_id"], consent_id.as_str());
    assert_eq!(history.body["current"]["status"], "active");
    assert_eq!(history.body["consents"].as_array().unwrap().len(), 1);
    let latest = app
        .consents_item("PATIENT#p-1001", "LATEST")
        .await
        .expect("the LATEST item");
    assert_eq!(n(&latest, "seq"), 1);
    assert_eq!(s(&latest, "consent_id"), consent_id);
    let record = app
        .consents_item("PATIENT#p-1001", "CONSENT#00000000000000000001")
        .await
        .expect("the consent record");
    assert_eq!(s(&record, "consent_id"), consent_id);
    let marker = app
        .consents_item(&format!("CONSENTID#{consent_id}"), "ID")
        .await
        .expect("the consent id's marker");
    assert_eq!(s(&marker, "patient_id"), "p-1001");

    // Staff revoke it (the sample's CONSENT_ID substituted).
    let revoked = app
        .invoke(&with_consent_id("revoke-consent", &consent_id))
        .await
        .expect(200);
    assert_eq!(revoked.body["status"], "revoked");
    assert_eq!(
        revoked.body["revoke_reason"],
        "Patient asked to stop sharing."
    );
    assert_eq!(revoked.body["revoked_by"]["user"], "user-staff-0001");
    let latest = app.consents_item("PATIENT#p-1001", "LATEST").await.unwrap();
    assert_eq!(n(&latest, "seq"), 1);
    assert!(latest["revocation"].as_m().is_ok(), "{latest:?}");
    app.invoke(&with_consent_id("revoke-consent", &consent_id))
        .await
        .assert_problem(409);

    // The patient, through the portal routes with their own claims.
    let mine = app.invoke(&sample_event("me-consents")).await.expect(200);
    assert_eq!(mine.body["patient_id"], "p-1001");
    assert_eq!(mine.body["current"]["status"], "revoked");
    assert_eq!(mine.body["valid"], false);
    let portal_given = app
        .invoke(&sample_event("me-give-consent"))
        .await
        .expect(201);
    assert_eq!(portal_given.body["source"], "portal");
    assert_eq!(portal_given.body["status"], "active");
    assert_eq!(portal_given.body["created_by"]["role"], "patient");
    let portal_id = portal_given.body["consent_id"].as_str().unwrap().to_owned();
    let latest = app.consents_item("PATIENT#p-1001", "LATEST").await.unwrap();
    assert_eq!(n(&latest, "seq"), 2);
    assert_eq!(s(&latest, "consent_id"), portal_id);
    let portal_revoked = app
        .invoke(&with_consent_id("me-revoke-consent", &portal_id))
        .await
        .expect(200);
    assert_eq!(portal_revoked.body["status"], "revoked");
    // Only the latest record can be revoked.
    app.invoke(&with_consent_id("me-revoke-consent", &consent_id))
        .await
        .assert_problem(409);
    let portal = app.invoke(&sample_event("me-portal")).await.expect(200);
    assert_eq!(portal.body["patient_id"], "p-1001");
    assert_eq!(portal.body["hie_enabled"], false);
    // A patient is forbidden the staff routes.
    app.call(
        reqwest::Method::GET,
        "/patients/p-1001/consents",
        Caller::Patient("p-1001"),
        None,
    )
    .await
    .assert_problem(403);

    // Settings: defaults, then the administrator's change.
    let settings = app.invoke(&sample_event("get-settings")).await.expect(200);
    assert_eq!(settings.body["enabled"], false);
    let changed = app.invoke(&sample_event("put-settings")).await.expect(200);
    assert_eq!(changed.body["enabled"], true);
    assert_eq!(changed.body["time_zone"], "America/Chicago");
    assert_eq!(changed.body["default_to_address"], "hie@direct.example.org");
    let settings = app.invoke(&sample_event("get-settings")).await.expect(200);
    assert_eq!(settings.body["consent_expire_days"], 365);
    assert_eq!(settings.body["opt_in_by_default"], true);
    let portal = app.invoke(&sample_event("me-portal")).await.expect(200);
    assert_eq!(portal.body["hie_enabled"], true);

    // The audit log, through the API and in the table.
    let audit = app
        .invoke(&sample_event("list-audit-entries"))
        .await
        .expect(200);
    let entries = audit.body["items"].as_array().unwrap();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .rev()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["consent_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("consent.created", consent_id.as_str()),
            ("consent.revoked", consent_id.as_str()),
            ("consent.created", portal_id.as_str()),
            ("consent.revoked", portal_id.as_str()),
        ]
    );
    assert!(entries.iter().all(|e| e["patient_id"] == "p-1001"));
    let items = app.audit_items().await;
    let mut in_table: Vec<(String, String)> = items
        .iter()
        .map(|i| (s(i, "log_type").to_owned(), s(i, "action").to_owned()))
        .collect();
    in_table.sort();
    assert_eq!(
        in_table,
        [
            ("configuration_changes", "settings.hie.updated"),
            ("hie_consent_changes", "consent.created"),
            ("hie_consent_changes", "consent.created"),
            ("hie_consent_changes", "consent.revoked"),
            ("hie_consent_changes", "consent.revoked"),
        ]
        .map(|(t, a)| (t.to_owned(), a.to_owned()))
    );
    assert!(
        items.iter().all(|i| i.contains_key("expires_at")),
        "every entry carries its TTL"
    );
}

/// The embedded store's secret routes answer 501 on AWS, pointing to Secrets Manager: the
/// consent-api keeps no secrets of its own and holds no `secretsmanager:PutSecretValue`.
#[tokio::test]
async fn the_local_secret_routes_answer_501_pointing_to_secrets_manager() {
    let Some(app) = spawn_on_aws().await else {
        return;
    };
    for name in ["secrets-list", "secrets-put"] {
        let reply = app.invoke(&sample_event(name)).await.assert_problem(501);
        assert_eq!(
            reply.body["type"], "/problems/secrets-in-secrets-manager",
            "{name}"
        );
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(detail.contains("Secrets Manager"), "{name}: {detail}");
        assert!(!detail.contains("example-secret-not-real"), "{detail}");
    }
}
