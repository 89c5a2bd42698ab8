//! `connector collect` as a user runs it: the real binary on a database file that a running
//! `connector serve` (with its own collector off) configures over real HTTP.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

#[path = "support/server.rs"]
mod server;
use server::Server;

/// `connector serve` without its own collector, on a random loopback port.
fn serve(db: &Path, outbox: &Path) -> Server {
    let outbox = outbox.to_str().expect("a UTF-8 temp path");
    server::serve(db, &["--collect-every", "0", "--outbox", outbox])
}

/// Runs `connector collect` on `db`; asserts success and returns its standard output.
fn collect(db: &Path, outbox: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_connector"))
        .arg("collect")
        .arg("--db")
        .arg(db)
        .arg("--outbox")
        .arg(outbox)
        .output()
        .expect("run connector collect");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

async fn call(server: &Server, method: &str, path: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::new();
    let mut request = client
        .request(method.parse().unwrap(), server.url(path))
        .header("x-connector-user", "collect-test")
        .header("x-connector-role", "admin");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status();
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {body:#}");
    body
}

#[tokio::test]
async fn collect_says_why_it_found_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("connector.db");
    let outbox = dir.path().join("outbox");
    let server = serve(&db, &outbox);

    let out = collect(&db, &outbox);
    assert!(out.contains("HIE integration is disabled"), "{out}");

    call(
        &server,
        "PUT",
        "/settings/hie",
        Some(json!({
            "enabled": true,
            "default_to_address": "intake@direct.examplehie.org",
            "default_from_address": "records@direct.exampleclinic.org",
            "next_batch_start_time": "2026-01-01T00:00:00Z"
        })),
    )
    .await;
    let out = collect(&db, &outbox);
    assert!(
        out.contains(
            "no appointment was transitioned after Next Batch Start Time (2026-01-01T00:00:00Z)"
        ),
        "{out}"
    );

    call(
        &server,
        "PUT",
        "/patients/p-1",
        Some(
            json!({"mrn": "MRN-C-1", "first_name": "Tamsin", "last_name": "Quillfeather",
                    "birth_date": "1984-03-02", "sex": "F"}),
        ),
    )
    .await;
    call(
        &server,
        "PUT",
        "/appointments/a-1",
        Some(
            json!({"patient_id": "p-1", "scheduled_start": "2026-11-21T09:30:00Z",
                    "provider": {"id": "NPI-1", "name": "Dr. Ash"}, "location": "CLINIC-2",
                    "reason": "follow-up", "status": "complete"}),
        ),
    )
    .await;
    call(&server, "POST", "/appointments/a-1/transition", None).await;
    let preview = call(&server, "GET", "/hie/batch-preview", None).await;
    let planned = &preview["appointments"][0];
    assert_eq!(planned["status"], "pending", "{preview:#}");
    let eligible_at = planned["eligible_at"].as_str().unwrap().to_owned();

    let out = collect(&db, &outbox);
    assert!(out.contains("inside the 120 s safety lag"), "{out}");
    assert!(
        out.contains(&format!("the first becomes eligible at {eligible_at}")),
        "{out}"
    );

    call(
        &server,
        "PUT",
        "/settings/hie",
        Some(json!({"safety_lag_seconds": 0})),
    )
    .await;
    let out = collect(&db, &outbox);
    assert!(
        out.contains("collected: 1 scanned, 0 enqueued, 1 skipped (no_consent 1)"),
        "{out}"
    );
}
