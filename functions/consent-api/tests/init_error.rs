//! Issue 12.9: a function that cannot start reports why through the Runtime API's
//! `/init/error` (here a local stand-in for the Runtime API, over real HTTP), instead of only
//! exiting (`Runtime.ExitError`, cause unseen).

use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::Value;

/// What the stand-in Runtime API received on `/init/error`.
#[derive(Debug, Clone)]
struct Report {
    error_type_header: String,
    body: Value,
}

/// Serves `POST /2018-06-01/runtime/init/error` on a free port; returns its `host:port`.
async fn runtime_api(reports: Arc<Mutex<Vec<Report>>>) -> String {
    let app = Router::new().route(
        "/2018-06-01/runtime/init/error",
        post(move |headers: HeaderMap, body: Bytes| {
            let reports = Arc::clone(&reports);
            async move {
                let error_type_header = headers
                    .get("lambda-runtime-function-error-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                reports.lock().unwrap().push(Report {
                    error_type_header,
                    body,
                });
                axum::Json(serde_json::json!({"status": "OK"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// Runs the consent-api binary with `env` against the stand-in; returns its exit success and
/// what was reported.
async fn start_with(env: &[(&str, &str)]) -> (bool, Vec<Report>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let api = runtime_api(Arc::clone(&reports)).await;
    let mut command = Command::new(env!("CARGO_BIN_EXE_consent-api"));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_REGION", "us-east-1");
    for (name, value) in env {
        command.env(name, value);
    }
    let status = tokio::task::spawn_blocking(move || command.status().expect("the binary runs"))
        .await
        .unwrap();
    let reports = reports.lock().unwrap().clone();
    (status.success(), reports)
}

#[tokio::test]
async fn a_missing_table_variable_is_reported_as_an_init_error() {
    let (ok, reports) = start_with(&[
        ("CONNECTOR_STORE", "aws"),
        ("CONSENTS_TABLE", "consents"),
        ("APPOINTMENTS_TABLE", "appointments"),
        ("FLOWS_TABLE", "flows"),
    ])
    .await;
    assert!(!ok, "the function exits");
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = &reports[0];
    assert_eq!(report.error_type_header, "Connector.ConfigurationError");
    assert_eq!(report.body["errorType"], "Connector.ConfigurationError");
    let message = report.body["errorMessage"].as_str().expect("a message");
    assert!(message.contains("AUDIT_TABLE"), "{message}");
}

#[tokio::test]
async fn an_unknown_store_is_reported_as_an_init_error() {
    let (ok, reports) = start_with(&[("CONNECTOR_STORE", "postgres")]).await;
    assert!(!ok);
    assert_eq!(reports.len(), 1, "{reports:?}");
    let message = reports[0].body["errorMessage"].as_str().expect("a message");
    assert!(message.contains("CONNECTOR_STORE"), "{message}");
}
