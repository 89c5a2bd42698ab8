use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{listing, spawn_app};

fn statuses(history: &Value) -> Vec<&str> {
    listing::texts_of(history, "consents", "status")
}

#[tokio::test]
async fn giving_consent_uses_the_defaults() {
    let app = spawn_app().await;
    app.register("p-200").await;
    let reply = app.give("p-200", json!({})).await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let c = &reply.body;
    assert_eq!(c["given_on"], "2026-11-21");
    assert_eq!(c["expires_on"], "2027-11-21");
    assert_eq!(c["status"], "active");
    assert_eq!(c["source"], "staff");
    assert_eq!(
        c["created_by"],
        json!({"user": "dana.staff", "role": "staff"})
    );
    assert!(c["revoked_at"].is_null());

    let history = app.history("p-200").await;
    assert_eq!(history["valid"], true);
    assert_eq!(history["current"]["consent_id"], c["consent_id"]);
}

#[tokio::test]
async fn bad_consent_input_changes_nothing() {
    let app = spawn_app().await;
    app.give("ghost", json!({})).await.assert_problem(404);
    app.register("p-201").await;
    let reply = app
        .give(
            "p-201",
            json!({"given_on": "2026-12-01", "expires_on": "2026-12-01"}),
        )
        .await;
    reply.assert_invalid("expires_on");
    let reply = app.give("p-201", json!({"given_on": "2026-13-01"})).await;
    reply.assert_invalid("given_on");
    let reply = app
        .give(
            "p-201",
            json!({"given_on": "tomorrow", "expires_on": "later"}),
        )
        .await
        .assert_problem(422);
    assert_eq!(reply.body["errors"].as_array().unwrap().len(), 2);
    let history = app.history("p-201").await;
    assert!(history["consents"].as_array().unwrap().is_empty());
    assert_eq!(history["valid"], false);
    assert_eq!(history["reason"], "no_consent");
    assert!(history["current"].is_null());
}

#[tokio::test]
async fn the_latest_record_decides_and_only_it_can_be_revoked() {
    let app = spawn_app().await;
    app.register("p-202").await;
    let first = app.give("p-202", json!({})).await.body;
    let second = app
        .give(
            "p-202",
            json!({"given_on": "2026-11-01", "expires_on": "2027-05-01"}),
        )
        .await
        .body;
    let history = app.history("p-202").await;
    assert_eq!(
        statuses(&history),
        ["active", "inactive"],
        "newest first; the older is overridden"
    );

    let path = |c: &Value| {
        format!(
            "/patients/p-202/consents/{}/revoke",
            c["consent_id"].as_str().unwrap()
        )
    };
    app.post_json(&path(&first), "staff", json!({}))
        .await
        .assert_problem(409);

    let revoked = app
        .post_json(
            &path(&second),
            "staff",
            json!({"reason": "patient request"}),
        )
        .await;
    assert_eq!(revoked.status, 200, "{:#}", revoked.body);
    assert_eq!(revoked.body["status"], "revoked");
    assert_eq!(revoked.body["revoke_reason"], "patient request");
    assert_eq!(revoked.body["revoked_by"]["user"], "dana.staff");

    app.call(Method::POST, &path(&second), "staff", None)
        .await
        .assert_problem(409);
    app.call(
        Method::POST,
        "/patients/p-202/consents/nope/revoke",
        "staff",
        None,
    )
    .await
    .assert_problem(404);

    let history = app.history("p-202").await;
    assert_eq!(statuses(&history), ["revoked", "inactive"]);
    assert_eq!(history["valid"], false);
    assert_eq!(history["reason"], "revoked");

    // A new consent after a revocation is the patient's new decision.
    app.give("p-202", json!({})).await;
    let history = app.history("p-202").await;
    assert_eq!(statuses(&history), ["active", "revoked", "inactive"]);
    assert_eq!(history["valid"], true);
}

#[tokio::test]
async fn statuses_follow_the_calendar() {
    let app = spawn_app().await;
    app.register("p-203").await;
    app.give(
        "p-203",
        json!({"given_on": "2026-12-01", "expires_on": "2026-12-10"}),
    )
    .await;
    let history = app.history("p-203").await;
    assert_eq!(statuses(&history), ["inactive"]);
    assert_eq!(history["reason"], "future_dated");

    app.clock.advance(Duration::days(10)); // 2026-12-01
    assert_eq!(statuses(&app.history("p-203").await), ["active"]);
    app.clock.advance(Duration::days(8)); // 2026-12-09: last day in force
    assert_eq!(statuses(&app.history("p-203").await), ["active"]);
    app.clock.advance(Duration::days(1)); // 2026-12-10: Expires On
    let history = app.history("p-203").await;
    assert_eq!(statuses(&history), ["expired"]);
    assert_eq!(history["reason"], "expired");
}

#[tokio::test]
async fn today_is_reckoned_in_the_clinic_time_zone() {
    let app = spawn_app().await;
    // 15:00 UTC on 2026-11-21 is 05:00 on 2026-11-21 in Honolulu; move to 06:00 UTC on the 22nd,
    // which is still the 21st in Honolulu.
    app.settings(json!({"time_zone": "Pacific/Honolulu"})).await;
    app.clock.advance(Duration::hours(15));
    app.register("p-204").await;
    let consent = app.give("p-204", json!({})).await.body;
    assert_eq!(consent["given_on"], "2026-11-21");
    app.give("p-204", json!({"given_on": "2026-11-22"})).await;
    assert_eq!(app.history("p-204").await["reason"], "future_dated");
}

#[tokio::test]
async fn concurrent_new_consents_are_all_kept_and_exactly_one_is_latest() {
    let app = spawn_app().await;
    app.register("p-205").await;
    let replies = futures::future::join_all((0..20).map(|_| app.give("p-205", json!({})))).await;
    assert!(
        replies.iter().all(|r| r.status == 201),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let history = app.history("p-205").await;
    let statuses = statuses(&history);
    assert_eq!(statuses.len(), 20);
    assert_eq!(statuses.iter().filter(|s| **s == "active").count(), 1);
    assert_eq!(statuses[0], "active");
}
