//! `spawn_app`: the connector's router on a random port, on a fresh SQLite file, with a clock the
//! test controls, and every log line captured for the no-PHI checks.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use connector_app::Context;
use connector_app::http::auth::{Authenticate, LocalHeaders, ROLE_HEADER, USER_HEADER};
use connector_domain::FixedClock;
use connector_embedded::{OutboxMailer, SqliteDb};
use connector_testkit::faults::FaultyMailer;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

pub use crate::logs::{capture_logs, captured_logs};

/// The instant every test starts at: 2026-11-21 15:00 UTC.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 15, 0, 0).unwrap()
}

/// A running connector.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The clock the connector reads.
    pub clock: Arc<FixedClock>,
    /// The wiring the server uses, for running the jobs directly.
    #[allow(dead_code)]
    pub ctx: Arc<Context>,
    /// The real outbox mailer, with faults a test can script.
    #[allow(dead_code)]
    pub mailer: Arc<FaultyMailer>,
    /// Where sent mail lands.
    #[allow(dead_code)]
    pub outbox: std::path::PathBuf,
    /// The database.
    #[allow(dead_code)]
    pub db: SqliteDb,
    /// The database file.
    #[allow(dead_code)]
    pub db_path: std::path::PathBuf,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Starts the connector with local-header authentication.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Arc::new(LocalHeaders)).await
}

/// Starts the connector with the given authentication.
pub async fn spawn_app_with(auth: Arc<dyn Authenticate>) -> TestApp {
    capture_logs();
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("connector.db");
    let db = SqliteDb::open(&db_path).expect("open db");
    let clock = Arc::new(FixedClock::at(start_time()));
    let outbox = dir.path().join("outbox");
    let mailer = Arc::new(FaultyMailer::new(Arc::new(
        OutboxMailer::new(&outbox).expect("outbox"),
    )));
    let ctx = Arc::new(Context::from_embedded(&db, mailer.clone(), clock.clone()));
    let router = connector_app::host::router(&ctx, auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    TestApp {
        address,
        clock,
        ctx,
        mailer,
        outbox,
        db,
        db_path,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

/// A finished response: status, content type and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

impl Reply {
    async fn from(response: Response) -> Self {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        Self {
            status,
            content_type,
            body,
        }
    }

    /// Asserts a problem+json answer with `status`, and returns it.
    pub fn assert_problem(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(self.content_type, "application/problem+json");
        for key in ["type", "title", "status", "detail"] {
            assert!(
                self.body.get(key).is_some(),
                "problem lacks {key}: {}",
                self.body
            );
        }
        self
    }
}

impl TestApp {
    /// A request as `user` in `role` (local headers).
    pub fn request_as(&self, method: Method, path: &str, user: &str, role: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
            .header(USER_HEADER, user)
            .header(ROLE_HEADER, role)
    }

    /// Sends a request as `user` in `role` with an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, role: &str, body: Option<Value>) -> Reply {
        let user = if role == "patient" {
            "unused"
        } else {
            "dana.staff"
        };
        self.call_as(method, path, user, role, body).await
    }

    /// Sends a request as `user` in `role` with an optional JSON body.
    pub async fn call_as(
        &self,
        method: Method,
        path: &str,
        user: &str,
        role: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.request_as(method, path, user, role);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from(request.send().await.expect("request")).await
    }

    /// Sends raw bytes as the body.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        role: &str,
        body: &'static str,
    ) -> Reply {
        let request = self
            .request_as(method, path, "dana.staff", role)
            .header("content-type", "application/json")
            .body(body);
        Reply::from(request.send().await.expect("request")).await
    }

    /// Registers the fixture patient `patient_id` as staff; asserts success.
    pub async fn register(&self, patient_id: &str) -> Reply {
        let reply = self
            .call(
                Method::PUT,
                &format!("/patients/{patient_id}"),
                "staff",
                Some(patient_json(patient_id)),
            )
            .await;
        assert!(
            reply.status == 201 || reply.status == 200,
            "{:#}",
            reply.body
        );
        reply
    }

    /// Gives consent for `patient_id` as staff with the given body.
    pub async fn give(&self, patient_id: &str, body: Value) -> Reply {
        self.call(
            Method::POST,
            &format!("/patients/{patient_id}/consents"),
            "staff",
            Some(body),
        )
        .await
    }

    /// The consent history of `patient_id`.
    pub async fn history(&self, patient_id: &str) -> Value {
        let reply = self
            .call(
                Method::GET,
                &format!("/patients/{patient_id}/consents"),
                "staff",
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        reply.body
    }

    /// Changes HIE settings as admin; asserts success.
    pub async fn settings(&self, body: Value) -> Value {
        let reply = self
            .call(Method::PUT, "/settings/hie", "admin", Some(body))
            .await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        reply.body
    }
}

/// The invented demographics of fixture patient `patient_id`, as the API takes them. Every
/// value is fictional and distinctive enough to grep logs for.
pub fn patient_json(patient_id: &str) -> Value {
    serde_json::json!({
        "mrn": format!("MRN-{patient_id}-7731"),
        "first_name": "Zephyrine",
        "last_name": "Quillfeather",
        "birth_date": "1979-04-03",
        "sex": "F",
        "phone": "+1-555-0142",
        "email": "zephyrine.quillfeather@example.org",
        "address": {
            "line1": "77 Larkspur Crescent",
            "line2": "Apt 4B",
            "city": "Fernhollow",
            "state": "OR",
            "postal_code": "97999-4321",
            "country": "US"
        }
    })
}

/// Every PHI value in [`patient_json`] (for any id), as it could appear in output.
pub fn phi_values(patient_id: &str) -> Vec<String> {
    vec![
        format!("MRN-{patient_id}-7731"),
        "Zephyrine".into(),
        "Quillfeather".into(),
        "1979-04-03".into(),
        "19790403".into(),
        "555-0142".into(),
        "zephyrine.quillfeather@example.org".into(),
        "Larkspur".into(),
        "Apt 4B".into(),
        "Fernhollow".into(),
        "97999-4321".into(),
    ]
}

/// Enables HIE with Direct addresses and a watermark at 2026-11-21T00:00Z.
#[allow(dead_code)]
pub async fn enable_hie(app: &TestApp) {
    app.settings(serde_json::json!({
        "enabled": true,
        "default_to_address": "intake@direct.examplehie.org",
        "default_from_address": "records@direct.exampleclinic.org",
        "default_subject": "Encounter for the HIE",
        "default_body": "One encounter attached.",
        "next_batch_start_time": "2026-11-21T00:00:00Z"
    }))
    .await;
}

/// An appointment for `patient_id`, as the API takes it.
#[allow(dead_code)]
pub fn appointment_json(patient_id: &str) -> Value {
    serde_json::json!({
        "patient_id": patient_id,
        "scheduled_start": "2026-11-21T09:30:00-06:00",
        "provider": {"id": "NPI-1234567890", "name": "Dr. Rowan Ashby"},
        "location": "CLINIC-2",
        "reason": "Zephyrine's knee follow-up",
        "status": "complete"
    })
}

impl TestApp {
    /// Creates `appointment_id` for `patient_id` and transitions it now; asserts success.
    #[allow(dead_code)]
    pub async fn transitioned_appointment(&self, appointment_id: &str, patient_id: &str) -> Value {
        let reply = self
            .call(
                Method::PUT,
                &format!("/appointments/{appointment_id}"),
                "staff",
                Some(appointment_json(patient_id)),
            )
            .await;
        assert!(
            reply.status == 201 || reply.status == 200,
            "{:#}",
            reply.body
        );
        let reply = self
            .call(
                Method::POST,
                &format!("/appointments/{appointment_id}/transition"),
                "staff",
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        reply.body
    }

    /// Runs one collector batch.
    #[allow(dead_code)]
    pub async fn collect(&self) -> connector_app::hie::collector::CollectorReport {
        connector_app::hie::collector::run(&self.ctx, Default::default())
            .await
            .expect("collector run")
    }

    /// Lets the sender work the queue until nothing is visible; returns messages handled.
    #[allow(dead_code)]
    pub async fn drain(&self) -> usize {
        let mut total = 0;
        loop {
            let n = connector_app::hie::sender::drain_once(&self.ctx)
                .await
                .expect("drain");
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    /// Every `.eml` in the outbox, parsed-ready bytes, sorted by file name.
    #[allow(dead_code)]
    pub fn outbox_mails(&self) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|p| std::fs::read(p).expect("read eml"))
            .collect()
    }

    /// Audit entries of a log (newest first), up to 500.
    #[allow(dead_code)]
    pub async fn audit(&self, query: &str) -> Vec<Value> {
        let reply = self
            .call(
                Method::GET,
                &format!("/audit-entries?limit=500&{query}"),
                "admin",
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        reply.body["items"].as_array().cloned().unwrap_or_default()
    }
}
