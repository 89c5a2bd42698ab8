//! An in-memory LeadSquared for tests (feature `test-support`): an HTTP server on `127.0.0.1:0`
//! that speaks the v2 wire format of the seven endpoints [`LeadSquaredClient`] uses, checks the auth
//! headers and the documented body shapes, stores leads and activities, records every request,
//! and fails on demand.
//!
//! ```no_run
//! # async fn demo() {
//! use connector_crm::fake::{Fault, FaultRule, FakeLeadSquared};
//! use connector_domain::crm::{Crm, CrmField};
//!
//! let (_url, fake) = FakeLeadSquared::start().await;
//! fake.inject(FaultRule::once(Fault::rate_limited(None)).on("Lead.Create"));
//! let crm = fake.client();
//! let id = crm.create_lead(&[CrmField::new("mx_MRN", "A-1")]).await.unwrap();
//! assert_eq!(fake.requests_to("Lead.Create").len(), 2); // the 429, then the retry
//! assert!(fake.lead(&id).is_some());
//! # }
//! ```
//!
//! Response bodies follow apidocs.leadsquared.com ("create-a-lead", "update-a-lead",
//! "search-by-lead-criteria", "get-a-lead-by-id", "post-an-activity-to-lead", "update-activity",
//! "get-activities-of-a-lead"). LeadSquared names only one exception type publicly
//! (`MXMandatoryAttributeMissingException`); the other `ExceptionType`s used here are
//! illustrative. Lookups compare values exactly (LeadSquared's own collation may not).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use chrono::{DateTime, Utc};
use connector_domain::crm::{ActivityId, CrmField, Lead, LeadId};
use serde_json::Value;

use crate::LeadSquaredClient;

mod server;

use crate::config::{AccessKey, LeadSquaredConfig, SecretKey};
use crate::retry::CrmRetryPolicy;
use crate::wire::format_date_time;
use server::handle;

/// The access key the fake accepts (in `x-LSQ-AccessKey`).
pub const ACCESS_KEY: &str = "u$fake-access-key";
/// The secret key the fake accepts (in `x-LSQ-SecretKey`).
pub const SECRET_KEY: &str = "fake-secret-key-0123456789";

/// Lead fields LeadSquared treats as unique by default ("create-a-lead": "EmailAddress* Phone*
/// These fields are unique by default").
pub const DEFAULT_UNIQUE_FIELDS: [&str; 2] = ["EmailAddress", "Phone"];

/// A scripted misbehaviour of the fake.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 429 with an error envelope and, if given, a `Retry-After` header with this value.
    RateLimited {
        /// The `Retry-After` header value (`"2"`, or an HTTP-date).
        retry_after: Option<String>,
    },
    /// An error envelope `{"Status":"Error","ExceptionType","ExceptionMessage"}` with this HTTP
    /// status (200 gives LeadSquared's "HTTP 200 but Status Error" answer).
    Error {
        /// The HTTP status.
        status: u16,
        /// `ExceptionType`.
        exception_type: String,
        /// `ExceptionMessage` (tests put PHI-looking text here to prove it never leaks).
        exception_message: String,
    },
    /// Wait this long, then answer normally (for client timeouts).
    Delay(Duration),
    /// Answer this raw body with this status (e.g. something that is not JSON).
    Raw {
        /// The HTTP status.
        status: u16,
        /// The body, sent as `application/json` whatever it is.
        body: String,
    },
}

impl Fault {
    /// A 429, with `Retry-After: <seconds>` when given.
    pub fn rate_limited(retry_after_seconds: Option<u64>) -> Self {
        Self::RateLimited {
            retry_after: retry_after_seconds.map(|s| s.to_string()),
        }
    }

    /// A 500 with an error envelope.
    pub fn server_error() -> Self {
        Self::error(500, "MXInternalServerException", "The API call failed.")
    }

    /// An error envelope with `status`.
    pub fn error(status: u16, exception_type: &str, exception_message: &str) -> Self {
        Self::Error {
            status,
            exception_type: exception_type.to_owned(),
            exception_message: exception_message.to_owned(),
        }
    }
}

/// Which requests a [`Fault`] applies to, and how often.
#[derive(Debug, Clone)]
pub struct FaultRule {
    fault: Fault,
    endpoint: Option<String>,
    remaining: Option<usize>,
}

impl FaultRule {
    /// The next matching request gets `fault`.
    pub fn once(fault: Fault) -> Self {
        Self {
            fault,
            endpoint: None,
            remaining: Some(1),
        }
    }

    /// The next `n` matching requests get the fault.
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = Some(n);
        self
    }

    /// Every matching request gets the fault, until [`FakeLeadSquared::clear_faults`].
    pub fn always(mut self) -> Self {
        self.remaining = None;
        self
    }

    /// Only requests whose path ends with `endpoint` (e.g. `"Lead.Create"`,
    /// `"ProspectActivity.svc/Retrieve"`) match.
    pub fn on(mut self, endpoint: &str) -> Self {
        self.endpoint = Some(endpoint.to_owned());
        self
    }

    fn matches(&self, path: &str) -> bool {
        self.endpoint.as_deref().is_none_or(|e| path.ends_with(e))
    }
}

/// A request as the fake received it.
#[derive(Clone)]
pub struct RecordedRequest {
    /// `POST`, normally.
    pub method: String,
    /// E.g. `/v2/LeadManagement.svc/Leads.Get`.
    pub path: String,
    /// Query parameters in order (names as sent).
    pub query: Vec<(String, String)>,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON (`Value::Null` when it was not JSON).
    pub body: Value,
}

impl RecordedRequest {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's value (case-insensitive name).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for RecordedRequest {
    /// Method, path, query and header names; the body (PHI) and header values (keys) are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// An activity as the fake stores it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredActivity {
    /// Its id (`ProspectActivityId`).
    pub id: ActivityId,
    /// Its lead (`RelatedProspectId`).
    pub lead: LeadId,
    /// `ActivityEvent`.
    pub event: i32,
    /// `ActivityNote` (PHI).
    pub note: String,
    /// `ActivityDateTime` exactly as received (`yyyy-MM-dd HH:mm:ss`).
    pub date_time: String,
    /// `Fields` (`SchemaName` → `Value`), in the order first set.
    pub fields: Vec<CrmField>,
}

impl StoredActivity {
    /// A field's value.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }
}

impl fmt::Debug for StoredActivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredActivity")
            .field("id", &self.id)
            .field("lead", &self.lead)
            .field("event", &self.event)
            .field("note", &connector_domain::phi::REDACTED)
            .field("date_time", &self.date_time)
            .field("fields", &self.fields)
            .finish()
    }
}

#[derive(Default)]
struct FakeState {
    leads: Vec<Lead>,
    activities: Vec<StoredActivity>,
    requests: Vec<RecordedRequest>,
    faults: Vec<FaultRule>,
    unique_fields: Vec<String>,
}

impl FakeState {
    fn take_fault(&mut self, path: &str) -> Option<Fault> {
        let index = self.faults.iter().position(|rule| rule.matches(path))?;
        let rule = &mut self.faults[index];
        let fault = rule.fault.clone();
        if let Some(remaining) = rule.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                self.faults.remove(index);
            }
        }
        Some(fault)
    }
}

type Shared = Arc<Mutex<FakeState>>;

/// Aborts the server task when the last handle is dropped.
struct ServerTask(tokio::task::JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running fake LeadSquared. Clones share the server; it stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeLeadSquared {
    url: String,
    state: Shared,
    _server: Arc<ServerTask>,
}

impl fmt::Debug for FakeLeadSquared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeLeadSquared")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl FakeLeadSquared {
    /// Starts a fake on `127.0.0.1` and a free port, on the current Tokio runtime. Returns its base
    /// URL (`http://127.0.0.1:PORT`, to use as [`LeadSquaredConfig::base_url`]) and the handle.
    ///
    /// # Panics
    /// When no local port can be bound (test support only).
    pub async fn start() -> (String, Self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0 for the fake LeadSquared");
        let address = listener
            .local_addr()
            .expect("local address of the fake LeadSquared");
        let url = format!("http://{address}");
        let state: Shared = Arc::new(Mutex::new(FakeState {
            unique_fields: DEFAULT_UNIQUE_FIELDS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            ..FakeState::default()
        }));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let fake = Self {
            url: url.clone(),
            state,
            _server: Arc::new(ServerTask(server)),
        };
        (url, fake)
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A client configuration for this fake: its keys, 2 s per attempt, no client-side rate limit,
    /// and quick retries (4 attempts, 20–200 ms backoff, 5 s budget).
    pub fn config(&self) -> LeadSquaredConfig {
        LeadSquaredConfig::new(
            self.url.clone(),
            AccessKey::new(ACCESS_KEY),
            SecretKey::new(SECRET_KEY),
        )
        .with_request_timeout(Duration::from_secs(2))
        .with_rate_limit(None)
        .with_retry(CrmRetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            budget: Duration::from_secs(5),
        })
    }

    /// A client built from [`FakeLeadSquared::config`].
    ///
    /// # Panics
    /// Never in practice (the configuration is valid).
    pub fn client(&self) -> LeadSquaredClient {
        LeadSquaredClient::new(self.config()).expect("client for the fake LeadSquared")
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        lock(&self.state)
    }

    /// Every stored lead, in creation order.
    pub fn leads(&self) -> Vec<Lead> {
        self.state().leads.clone()
    }

    /// One lead.
    pub fn lead(&self, id: &LeadId) -> Option<Lead> {
        self.state().leads.iter().find(|l| l.id == *id).cloned()
    }

    /// Every stored activity, in creation order.
    pub fn activities(&self) -> Vec<StoredActivity> {
        self.state().activities.clone()
    }

    /// One activity.
    pub fn activity(&self, id: &ActivityId) -> Option<StoredActivity> {
        self.state()
            .activities
            .iter()
            .find(|a| a.id == *id)
            .cloned()
    }

    /// The user id the fake stamps in `CreatedBy`/`ModifiedBy` for writes through its API
    /// (the connector's API user).
    pub const API_USER_ID: &'static str = "3f0d5a8e-0c1b-4d7e-9a52-api000000001";
    /// The user id [`FakeLeadSquared::edit_lead_in_ui`] stamps: a person working in the CRM.
    pub const UI_USER_ID: &'static str = "7b21c4d9-5e3f-4a68-8c10-staff0000001";

    /// Changes a lead as a person in LeadSquared's UI would: sets the fields and stamps
    /// `ModifiedBy` with [`FakeLeadSquared::UI_USER_ID`]. Returns the lead as it now is.
    pub fn edit_lead_in_ui(&self, id: &LeadId, fields: Vec<CrmField>) -> Option<Lead> {
        let mut state = self.state();
        let lead = state.leads.iter_mut().find(|l| l.id == *id)?;
        for update in fields {
            match lead.fields.iter_mut().find(|f| f.name == update.name) {
                Some(existing) => existing.value = update.value,
                None => lead.fields.push(update),
            }
        }
        server::stamp_system_fields(&mut lead.fields, Self::UI_USER_ID, false);
        Some(lead.clone())
    }

    /// Stores a lead directly (no request recorded) and returns its id.
    pub fn insert_lead(&self, fields: Vec<CrmField>) -> LeadId {
        let id = LeadId(new_id());
        self.state().leads.push(Lead {
            id: id.clone(),
            fields,
        });
        id
    }

    /// Stores an activity directly (no request recorded) and returns its id.
    pub fn insert_activity(
        &self,
        lead: &LeadId,
        event: i32,
        note: &str,
        at: DateTime<Utc>,
        fields: Vec<CrmField>,
    ) -> ActivityId {
        let id = ActivityId(new_id());
        self.state().activities.push(StoredActivity {
            id: id.clone(),
            lead: lead.clone(),
            event,
            note: note.to_owned(),
            date_time: format_date_time(&at),
            fields,
        });
        id
    }

    /// Replaces the lead fields that must be unique across leads (default
    /// [`DEFAULT_UNIQUE_FIELDS`]).
    pub fn set_unique_fields(&self, names: &[&str]) {
        self.state().unique_fields = names.iter().map(|s| (*s).to_owned()).collect();
    }

    /// Every request received, in order (faulted ones included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// The requests whose path ends with `endpoint` (e.g. `"Leads.Get"`).
    pub fn requests_to(&self, endpoint: &str) -> Vec<RecordedRequest> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.path.ends_with(endpoint))
            .cloned()
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// Adds a fault rule; rules are tried in the order added.
    pub fn inject(&self, rule: FaultRule) {
        self.state().faults.push(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
