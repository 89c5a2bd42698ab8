use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, spawn_app};

fn entries(reply: &Value) -> &Vec<Value> {
    reply["items"].as_array().unwrap()
}

/// `GET /audit-entries?{query}` as an administrator.
async fn audit_entries(app: &TestApp, query: &str) -> Reply {
    app.get(&format!("/audit-entries?{query}"), "admin").await
}

#[tokio::test]
async fn consent_changes_are_audited_with_who_and_when() {
    let app = spawn_app().await;
    app.register("p-300").await;
    let consent = app.give("p-300", json!({})).await.body;
    app.clock.advance(Duration::minutes(5));
    let path = format!(
        "/patients/p-300/consents/{}/revoke",
        consent["consent_id"].as_str().unwrap()
    );
    app.call_as(Method::POST, &path, "robin.admin", "admin", None)
        .await;

    let reply = audit_entries(&app, "log_type=hie_consent_changes&patient_id=p-300").await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let items = entries(&reply.body);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["action"], "consent.revoked", "newest first");
    assert_eq!(
        items[0]["actor"],
        json!({"user": "robin.admin", "role": "admin"})
    );
    assert_eq!(items[0]["occurred_at"], "2026-11-21T15:05:00Z");
    assert_eq!(items[1]["action"], "consent.created");
    assert_eq!(items[1]["actor"]["user"], "dana.staff");
    assert_eq!(items[1]["consent_id"], consent["consent_id"]);
    assert_eq!(items[1]["outcome"], "success");
    assert!(reply.body["next_cursor"].is_null());
}

#[tokio::test]
async fn filters_and_pages() {
    let app = spawn_app().await;
    for i in 0..12 {
        let id = format!("p-31{i:02}");
        app.register(&id).await;
        app.give(&id, json!({})).await;
        app.clock.advance(Duration::hours(1));
    }
    // One settings change lands in another log.
    app.settings(json!({"default_subject": "x"})).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = "log_type=hie_consent_changes&limit=5".to_owned();
        if let Some(c) = &cursor {
            query.push_str(&format!("&cursor={c}"));
        }
        let reply = audit_entries(&app, &query).await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        seen.extend(
            entries(&reply.body)
                .iter()
                .map(|e| e["entry_id"].as_str().unwrap().to_owned()),
        );
        match reply.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 12, "every entry exactly once");

    // Date range: entries at 15:00..=17:00 on the 21st, `to` exclusive.
    let range = "from=2026-11-21T15:00:00Z&to=2026-11-21T18:00:00Z";
    let reply = audit_entries(&app, &format!("log_type=hie_consent_changes&{range}")).await;
    assert_eq!(entries(&reply.body).len(), 3);
    // A bare `to` date includes the whole day (clinic time zone, UTC here).
    let reply = audit_entries(&app, "log_type=hie_consent_changes&to=2026-11-21").await;
    assert_eq!(entries(&reply.body).len(), 9);
    let reply = audit_entries(&app, "log_type=configuration_changes").await;
    assert_eq!(entries(&reply.body).len(), 1);
    assert_eq!(
        entries(&reply.body)[0]["detail"]["changed"],
        json!(["default_subject"])
    );
    let reply = audit_entries(&app, "patient_id=p-3105&outcome=success").await;
    assert_eq!(entries(&reply.body).len(), 1);
}

#[tokio::test]
async fn bad_parameters_get_422() {
    let app = spawn_app().await;
    let bad = "log_type=everything&limit=0&from=yesterday";
    let reply = audit_entries(&app, &format!("{bad}&colour=blue")).await;
    reply.assert_invalid("colour");
    let reply = audit_entries(&app, bad).await.assert_problem(422);
    let fields = reply.error_fields();
    assert_eq!(fields, ["log_type", "from", "limit"]);
    let reply = audit_entries(&app, "cursor=not-a-cursor").await;
    reply.assert_problem(400);
}
