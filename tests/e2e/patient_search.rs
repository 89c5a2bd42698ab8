//! `GET /patients` (search by MRN, or by last-name prefix and birth date) and
//! `GET /patients/{patient_id}/appointments` (newest first, with each one's HIE status).

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestApp, appointment_json, listing, patient_json, spawn_app};

async fn register(app: &TestApp, id: &str, last_name: &str, birth_date: &str) {
    let mut body = patient_json(id);
    body["last_name"] = json!(last_name);
    body["birth_date"] = json!(birth_date);
    let reply = app
        .call(Method::PUT, &format!("/patients/{id}"), "staff", Some(body))
        .await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
}

fn ids(body: &Value) -> Vec<&str> {
    listing::texts_of(body, "items", "patient_id")
}

async fn clinic(app: &TestApp) {
    register(app, "p-n1", "Núñez", "1980-02-29").await;
    register(app, "p-n2", "NUÑEZ-Ortiz", "1980-02-29").await;
    register(app, "p-n3", "nunez", "1980-02-29").await;
    register(app, "p-n4", "Núñez", "1980-03-01").await;
    register(app, "p-m1", "Martínez", "1980-02-29").await;
}

#[tokio::test]
async fn search_by_mrn_answers_the_patient_view() {
    let app = spawn_app().await;
    clinic(&app).await;
    let found = app
        .call(Method::GET, "/patients?mrn=MRN-p-n2-7731", "staff", None)
        .await;
    assert_eq!(found.status, 200, "{:#}", found.body);
    let view = app.call(Method::GET, "/patients/p-n2", "staff", None).await;
    assert_eq!(found.body["items"], json!([view.body]));
    assert_eq!(found.body["next_cursor"], Value::Null);
    let none = app
        .call(Method::GET, "/patients?mrn=MRN-nobody", "admin", None)
        .await;
    assert_eq!(none.status, 200);
    assert_eq!(none.body, json!({"items": [], "next_cursor": null}));
}

#[tokio::test]
async fn search_by_name_prefix_and_birth_date_ignores_accents_and_case() {
    let app = spawn_app().await;
    clinic(&app).await;
    for prefix in ["nú", "NU", "Nuñ", "n%C3%BA%C3%B1ez"] {
        let found = app
            .call(
                Method::GET,
                &format!("/patients?last_name={prefix}&birth_date=1980-02-29"),
                "staff",
                None,
            )
            .await;
        assert_eq!(found.status, 200, "{:#}", found.body);
        assert_eq!(ids(&found.body), ["p-n1", "p-n3", "p-n2"], "{prefix}");
    }
    let found = app
        .call(
            Method::GET,
            "/patients?last_name=nunez-o&birth_date=1980-02-29",
            "staff",
            None,
        )
        .await;
    assert_eq!(ids(&found.body), ["p-n2"]);
}

#[tokio::test]
async fn search_pages_through_more_matches_than_the_limit() {
    let app = spawn_app().await;
    clinic(&app).await;
    let mut seen = Vec::new();
    let mut path = "/patients?last_name=nu&birth_date=1980-02-29&limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = app.call(Method::GET, &path, "staff", None).await;
        assert_eq!(page.status, 200, "{:#}", page.body);
        assert!(page.body["items"].as_array().unwrap().len() <= 2);
        seen.extend(ids(&page.body).into_iter().map(str::to_owned));
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                path =
                    format!("/patients?last_name=nu&birth_date=1980-02-29&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, ["p-n1", "p-n3", "p-n2"]);
    assert_eq!(pages, 2);
    app.call(
        Method::GET,
        "/patients?mrn=M&cursor=not-a-cursor",
        "staff",
        None,
    )
    .await
    .assert_problem(400);
}

#[tokio::test]
async fn a_patient_may_not_search() {
    let app = spawn_app().await;
    clinic(&app).await;
    for path in ["/patients?mrn=MRN-p-n1-7731", "/patients/p-n1/appointments"] {
        let reply = app.call(Method::GET, path, "patient", None).await;
        reply.assert_problem(403);
    }
}

#[tokio::test]
async fn bad_combinations_are_422_naming_the_field() {
    let app = spawn_app().await;
    for (query, field) in [
        ("", "mrn"),
        ("mrn=M-1&last_name=Nu&birth_date=1980-02-29", "mrn"),
        ("last_name=Nu", "birth_date"),
        ("birth_date=1980-02-29", "last_name"),
        ("last_name=Nu&birth_date=1980-02-30", "birth_date"),
        ("last_name=-&birth_date=1980-02-29", "last_name"),
        ("mrn=M-1&limit=101", "limit"),
    ] {
        let reply = app
            .call(Method::GET, &format!("/patients?{query}"), "staff", None)
            .await
            .assert_problem(422);
        assert_eq!(reply.error_fields(), [field], "{query}");
    }
    // An unknown parameter is refused as QueryParams refuses it everywhere.
    app.call(Method::GET, "/patients?name=Nu", "staff", None)
        .await
        .assert_problem(422);
}

#[tokio::test]
async fn appointments_list_newest_first_with_hie_status() {
    let app = spawn_app().await;
    app.enable_hie().await;
    app.register("p-1").await;
    let consent = app.give("p-1", json!({})).await.body;
    let put = |id: &'static str, start: &'static str| {
        let mut body = appointment_json("p-1");
        body["scheduled_start"] = json!(start);
        (id, body)
    };
    for (id, body) in [
        put("a-sent", "2026-11-20T09:00:00Z"),
        put("a-skipped", "2026-11-21T09:00:00Z"),
        put("a-booked", "2026-12-01T09:00:00Z"),
    ] {
        let reply = app
            .call(
                Method::PUT,
                &format!("/appointments/{id}"),
                "staff",
                Some(body),
            )
            .await;
        assert_eq!(reply.status, 201, "{:#}", reply.body);
    }
    let transition = |id: &str| format!("/appointments/{id}/transition");
    app.call(Method::POST, &transition("a-sent"), "staff", None)
        .await;
    app.clock.advance(Duration::minutes(5));
    app.collect().await;
    assert_eq!(app.drain().await, 1);
    let revoke = format!(
        "/patients/p-1/consents/{}/revoke",
        consent["consent_id"].as_str().unwrap()
    );
    assert_eq!(
        app.call(Method::POST, &revoke, "staff", None).await.status,
        200
    );
    app.call(Method::POST, &transition("a-skipped"), "staff", None)
        .await;
    app.clock.advance(Duration::minutes(5));
    app.collect().await;

    let list = app
        .call(Method::GET, "/patients/p-1/appointments", "staff", None)
        .await;
    assert_eq!(list.status, 200, "{:#}", list.body);
    let items = list.body["items"].as_array().unwrap();
    let order: Vec<&str> = items
        .iter()
        .map(|a| a["appointment_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["a-booked", "a-skipped", "a-sent"]);
    assert_eq!(items[0]["hie"], json!({"status": "not_eligible"}));
    assert_eq!(
        items[1]["hie"],
        json!({"status": "skipped", "reason": "revoked"})
    );
    let sent = &items[2]["hie"];
    assert_eq!(sent["status"], "sent");
    assert!(
        sent["sent_at"].is_string() && sent["control_id"].is_string(),
        "{sent}"
    );
    let view = app
        .call(Method::GET, "/appointments/a-sent", "staff", None)
        .await;
    let mut without_hie = items[2].clone();
    without_hie.as_object_mut().unwrap().remove("hie");
    assert_eq!(without_hie, view.body, "the appointment view plus hie");

    let first = app
        .call(
            Method::GET,
            "/patients/p-1/appointments?limit=2",
            "admin",
            None,
        )
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = app
        .call(
            Method::GET,
            &format!("/patients/p-1/appointments?limit=2&cursor={cursor}"),
            "admin",
            None,
        )
        .await;
    assert_eq!(rest.body["items"][0]["appointment_id"], "a-sent");
    assert_eq!(rest.body["next_cursor"], Value::Null);
    app.call(Method::GET, "/patients/p-404/appointments", "staff", None)
        .await
        .assert_problem(404);
}
