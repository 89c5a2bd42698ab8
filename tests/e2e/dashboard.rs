//! `GET /dashboard`, `POST /hie/batch-runs` and the audit log's channel filter over real HTTP:
//! the counts follow real events (an HIE appointment sent by a batch run started through the
//! API, HL7 messages answered AA and AE with a CRM error, a parked delivery).

use chrono::Duration;
use connector_crm::fake::{Fault, FaultRule};
use reqwest::Method;
use serde_json::{Value, json};

use crate::crm_outbound_support::{EhrReply, lead_payload, modified, spawn_outbound};
use crate::hl7_inbound_support::{ADT_A04, CrmKind, lead_flow, spawn_inbound};
use crate::support::{listing, spawn_app};

/// The clinic day's row of `hie_sent_per_day`.
fn day<'a>(dashboard: &'a Value, date: &str) -> &'a Value {
    listing::item_where(dashboard, "hie_sent_per_day", "date", date)
}

#[tokio::test]
async fn a_batch_run_started_through_the_api_sends_and_the_dashboard_counts_it() {
    let app = spawn_app().await;
    app.enable_hie().await;
    app.register("p-1").await;
    app.give("p-1", json!({})).await;
    app.transitioned_appointment("a-1", "p-1").await;
    app.clock.advance(Duration::minutes(5)); // past the safety lag

    // Admin only; no body.
    app.call(Method::POST, "/hie/batch-runs", "staff", None)
        .await
        .assert_problem(403);
    app.call(
        Method::POST,
        "/hie/batch-runs",
        "admin",
        Some(json!({"x": 1})),
    )
    .await
    .assert_problem(400);
    let before = app.call(Method::GET, "/dashboard", "admin", None).await;
    assert_eq!(before.status, 200);
    assert_eq!(before.body["last_batch_run"], Value::Null);

    let run = app
        .call(Method::POST, "/hie/batch-runs", "admin", None)
        .await;
    assert_eq!(run.status, 200, "{:?}", run.body);
    assert_eq!(run.body["queued"], 1);
    assert_eq!(run.body["skipped"], 0);
    assert_eq!(run.body["errors"], 0);
    assert_eq!(app.drain().await, 1);

    let dashboard = app.call(Method::GET, "/dashboard", "admin", None).await;
    assert_eq!(dashboard.status, 200);
    let body = &dashboard.body;
    assert_eq!(body["last_batch_run"], run.body, "the run's own summary");
    // 14 clinic days, zeros included, today last (the default zone is behind UTC).
    let days = body["hie_sent_per_day"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    let today = &days[13];
    assert_eq!(
        (today["sent"].as_u64(), today["errors"].as_u64()),
        (Some(1), Some(0)),
        "{body}"
    );
    assert_eq!(
        days.iter()
            .map(|d| d["sent"].as_u64().unwrap())
            .sum::<u64>(),
        1
    );
    assert_eq!(body["hl7_inbound_per_hour"].as_array().unwrap().len(), 24);
    assert_eq!(
        body["deliveries"],
        json!({"parked": 0, "held": 0, "pending": 0})
    );
    assert_eq!(body["recent_crm_errors"], json!([]));

    // A second run finds nothing new; it becomes the last run.
    app.clock.advance(Duration::minutes(1));
    let again = app
        .call(Method::POST, "/hie/batch-runs", "admin", None)
        .await;
    assert_eq!(again.body["queued"], 0);
    let dashboard = app.call(Method::GET, "/dashboard", "admin", None).await;
    assert_eq!(dashboard.body["last_batch_run"], again.body);
    let today = today["date"].as_str().unwrap().to_owned();
    assert_eq!(day(&dashboard.body, &today)["sent"], 1, "counted once");

    app.call(Method::GET, "/dashboard", "staff", None)
        .await
        .assert_problem(403);
    app.call(Method::GET, "/dashboard?days=3", "admin", None)
        .await
        .assert_invalid("days");
}

#[tokio::test]
async fn inbound_acks_and_crm_errors_are_counted_and_the_log_filters_by_channel() {
    let app = spawn_inbound(CrmKind::Fake).await;
    app.app.settings(json!({"opt_in_by_default": true})).await;
    app.put_flow("a04-capture", lead_flow("ADT^A04", ADT_A04, "capture"))
        .await;
    app.fake()
        .inject(FaultRule::once(Fault::server_error()).on("Lead.Create"));
    let control_id = "NE-A04-0001";
    app.send(ADT_A04).await.expect("AE", control_id);
    // The EHR resends; the lead is created this time.
    app.send(ADT_A04).await.expect("AA", control_id);

    let dashboard = app.app.call(Method::GET, "/dashboard", "admin", None).await;
    assert_eq!(dashboard.status, 200);
    let hours = dashboard.body["hl7_inbound_per_hour"].as_array().unwrap();
    let now = &hours[23];
    assert_eq!(now["hour"], "2026-11-21T15:00:00Z");
    assert_eq!(
        (now["AA"].as_u64(), now["AE"].as_u64(), now["AR"].as_u64()),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(
        dashboard.body["recent_crm_errors"],
        json!([{
            "at": "2026-11-21T15:00:00Z",
            "channel_id": "north-ehr",
            "flow_id": "a04-capture",
            "summary": "crm_unavailable",
        }])
    );

    // The message log of the channel; another channel has none; the filter needs a log type
    // that has channels.
    let log = app
        .app
        .call(
            Method::GET,
            "/audit-entries?log_type=hl7_inbound&channel_id=north-ehr",
            "admin",
            None,
        )
        .await;
    assert_eq!(log.status, 200);
    let acks: Vec<_> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"]["ack"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(acks, ["AA", "AE"]);
    let other = app
        .app
        .call(
            Method::GET,
            "/audit-entries?log_type=hl7_inbound&channel_id=south-ehr",
            "admin",
            None,
        )
        .await;
    assert_eq!(other.body["items"], json!([]));
    app.app
        .call(
            Method::GET,
            "/audit-entries?log_type=configuration_changes&channel_id=north-ehr",
            "admin",
            None,
        )
        .await
        .assert_invalid("channel_id");
}

#[tokio::test]
async fn a_parked_delivery_is_counted() {
    let app = spawn_outbound().await;
    app.ehr.script("MRN-erin", &[EhrReply::Ar]);
    let id = app
        .queue_one(&lead_payload("lead-erin", "MRN-erin", &modified(1)))
        .await;
    assert_eq!(app.drain().await, 1);
    let dashboard = app.app.call(Method::GET, "/dashboard", "admin", None).await;
    assert_eq!(
        dashboard.body["deliveries"],
        json!({"parked": 1, "held": 0, "pending": 0}),
        "{id}"
    );
}
