//! [`TestApp`]: the connector on one backend, built by [`TestAppBuilder`].
//!
//! - [`Backend::Sqlite`]: `Context::from_embedded` on a fresh SQLite temp file with the real
//!   outbox mailer, and the router `connector serve` mounts (`connector_app::host::router`) on a
//!   random port, called over real HTTP with local-header authentication.
//! - [`Backend::Aws`]: `Context::from_aws` on fresh DynamoDB Local tables, a fresh moto SQS queue
//!   with its dead-letter queue and moto's SES v2, as the Lambda functions build it; the API is
//!   the consent-api Lambda's router behind API Gateway JWT claims, called with API Gateway v2
//!   events (see `support::aws` for the SQS poll).
//!
//! Both have a clock the test controls and the mailer behind a [`FaultyMailer`], and one way to
//! call the API ([`TestApp::call`]) and post signed HL7 and CRM webhooks; the HIE scenario steps
//! (register, consent, collect, drain, audit) are in `scenario.rs`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_sqs::types::QueueAttributeName;
use connector_app::Context;
use connector_app::ehr_to_crm::{self, ER7_CONTENT_TYPE};
use connector_app::flows::admin::{self, AdminPorts};
use connector_app::hie::collector::CollectorReport;
use connector_app::http::auth::{
    ApiGatewayJwt, Authenticate, LocalHeaders, ROLE_HEADER, USER_HEADER, authenticated,
};
use connector_aws::{AwsAdapters, AwsConfig, QueueUrls, TableNames, create_queue_with_dlq};
use connector_domain::flow::channel::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use connector_domain::flow::{ChannelId, ChannelInput, FlowId, FlowInput};
use connector_domain::{Actor, Clock, FixedClock};
use connector_embedded::{OutboxMailer, SqliteDb};
use connector_testkit::faults::FaultyMailer;
use connector_testkit::local_aws::{LocalAws, unique_name};
use connector_transport::mllp::server::ServerConfig;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::support::fixtures::{appointment_json, patient_json, sample_event, start_time};
use crate::support::hl7::Signing;
use crate::support::logs::capture_logs;
use crate::support::reply::Reply;

/// Where the connector keeps its state, and so how it is hosted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite temp file, served over HTTP as `connector serve` serves it.
    Sqlite,
    /// DynamoDB Local and moto, behind the Lambda handlers.
    Aws,
}

/// How the AWS HIE queue is set up.
#[derive(Debug, Clone, Copy)]
pub struct QueueSetup {
    /// Receives before SQS moves a message to the dead-letter queue.
    pub max_receives: u32,
    /// The queue's visibility timeout, in seconds (what Lambda's poller uses).
    pub visibility_secs: u32,
}

impl Default for QueueSetup {
    fn default() -> Self {
        Self {
            max_receives: connector_app::config::HIE_MAX_RECEIVES,
            visibility_secs: 30,
        }
    }
}

/// Who calls the API.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// `role: staff`.
    Staff,
    /// `role: admin`.
    Admin,
    /// `role: patient` with this `patient_id` claim.
    Patient(&'a str),
    /// Any other role, by name.
    Role(&'a str),
}

impl<'a> From<&'a str> for Caller<'a> {
    fn from(role: &'a str) -> Self {
        match role {
            "staff" => Caller::Staff,
            "admin" => Caller::Admin,
            other => Caller::Role(other),
        }
    }
}

impl Caller<'_> {
    /// The local headers' user and role (the e2e convention: staff `dana.staff`, patients
    /// `unused`).
    fn local_headers(self) -> (&'static str, String) {
        match self {
            Caller::Staff => ("dana.staff", "staff".into()),
            Caller::Admin => ("dana.staff", "admin".into()),
            Caller::Patient(_) => ("unused", "patient".into()),
            Caller::Role("patient") => ("unused", "patient".into()),
            Caller::Role(role) => ("dana.staff", role.into()),
        }
    }

    /// The API Gateway JWT authorizer's claims.
    fn claims(self) -> Value {
        match self {
            Caller::Staff => json!({"sub": "user-staff-0001", "role": "staff"}),
            Caller::Admin => json!({"sub": "user-admin-0001", "role": "admin"}),
            Caller::Patient(id) => {
                json!({"sub": "user-patient-0001", "role": "patient", "patient_id": id})
            }
            Caller::Role(role) => json!({"sub": format!("user-{role}-0001"), "role": role}),
        }
    }
}

/// The SQLite backend's files.
pub struct SqliteParts {
    /// The database.
    pub db: SqliteDb,
    /// The database file.
    pub db_path: PathBuf,
    /// Where sent mail lands.
    pub outbox: PathBuf,
    _dir: tempfile::TempDir,
}

/// The AWS backend's endpoints and resources.
pub struct AwsParts {
    /// The endpoints.
    pub aws: &'static LocalAws,
    /// The SDK clients and resource names the context was built from.
    pub adapters: AwsAdapters,
    /// The HIE queue and its dead-letter queue.
    pub queues: QueueUrls,
    /// A sender domain of this test's own, so moto's shared SES record can be filtered by it.
    pub sender_domain: String,
}

enum Api {
    /// The router served on a socket, with local-header authentication.
    Http {
        address: String,
        client: reqwest::Client,
    },
    /// The consent-api Lambda's router, driven with API Gateway v2 events.
    Lambda { router: axum::Router },
}

/// A running connector on one backend.
pub struct TestApp {
    /// Which backend.
    pub backend: Backend,
    /// The clock the connector reads.
    pub clock: Arc<FixedClock>,
    /// The wiring the API and the jobs use.
    pub ctx: Arc<Context>,
    /// The real mailer (outbox or moto's SES), with faults a test can script.
    pub mailer: Arc<FaultyMailer>,
    pub(super) sqlite: Option<SqliteParts>,
    pub(super) aws: Option<AwsParts>,
    api: Api,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

type Customize = Box<dyn FnOnce(Context) -> Context + Send>;

/// Builds a [`TestApp`]: the backend, then what a test changes of the default wiring.
pub struct TestAppBuilder {
    backend: Backend,
    auth: Arc<dyn Authenticate>,
    queue: QueueSetup,
    customize: Option<Customize>,
}

impl TestApp {
    /// A builder for `backend` (local headers, the default queue, the backend's own wiring).
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            auth: Arc::new(LocalHeaders),
            queue: QueueSetup::default(),
            customize: None,
        }
    }
}

impl TestAppBuilder {
    /// The HTTP authentication (SQLite backend; AWS always uses API Gateway JWT claims).
    pub fn auth(mut self, auth: Arc<dyn Authenticate>) -> Self {
        self.auth = auth;
        self
    }

    /// How the AWS HIE queue is set up.
    pub fn queue(mut self, queue: QueueSetup) -> Self {
        self.queue = queue;
        self
    }

    /// Changes the context the API and the jobs use (a fake CRM, a flaky queue).
    pub fn context(mut self, customize: impl FnOnce(Context) -> Context + Send + 'static) -> Self {
        self.customize = Some(Box::new(customize));
        self
    }

    /// Starts the connector; `None` (after a printed SKIPPED line) when the AWS endpoints
    /// cannot start outside CI.
    pub async fn spawn(self) -> Option<TestApp> {
        capture_logs();
        let clock = Arc::new(FixedClock::at(start_time()));
        let shutdown = CancellationToken::new();
        let (ctx, mailer, sqlite, aws) = match self.backend {
            Backend::Sqlite => {
                let (ctx, mailer, parts) = sqlite_context(&clock);
                (ctx, mailer, Some(parts), None)
            }
            Backend::Aws => {
                let (ctx, mailer, parts) = aws_context(&clock, self.queue).await?;
                (ctx, mailer, None, Some(parts))
            }
        };
        let ctx = Arc::new(match self.customize {
            Some(customize) => customize(ctx),
            None => ctx,
        });
        let api = match self.backend {
            Backend::Sqlite => {
                // What `connector serve` mounts.
                let router = connector_app::host::router(&ctx, self.auth);
                let address = serve(router, shutdown.clone()).await;
                Api::Http {
                    address: format!("http://{address}"),
                    client: reqwest::Client::new(),
                }
            }
            // What functions/consent-api builds (ApiGatewayJwt::from_env with the default
            // claim names).
            Backend::Aws => Api::Lambda {
                router: authenticated(
                    connector_app::http::router(Arc::clone(&ctx)),
                    Arc::new(ApiGatewayJwt::new("role", "patient_id")),
                ),
            },
        };
        Some(TestApp {
            backend: self.backend,
            clock,
            ctx,
            mailer,
            sqlite,
            aws,
            api,
            shutdown,
        })
    }
}

/// Serves `router` on a random local port until `shutdown`; returns the address.
pub async fn serve(router: axum::Router, shutdown: CancellationToken) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    });
    address
}

fn sqlite_context(clock: &Arc<FixedClock>) -> (Context, Arc<FaultyMailer>, SqliteParts) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("connector.db");
    let db = SqliteDb::open(&db_path).expect("open db");
    let outbox = dir.path().join("outbox");
    let mailer = Arc::new(FaultyMailer::new(Arc::new(
        OutboxMailer::new(&outbox).expect("outbox"),
    )));
    let ctx = Context::from_embedded(&db, mailer.clone(), clock.clone());
    let parts = SqliteParts {
        db,
        db_path,
        outbox,
        _dir: dir,
    };
    (ctx, mailer, parts)
}

async fn aws_context(
    clock: &Arc<FixedClock>,
    setup: QueueSetup,
) -> Option<(Context, Arc<FaultyMailer>, AwsParts)> {
    let aws = LocalAws::shared()?;
    let sdk = aws.sdk_config(connector_aws::sdk_config_loader()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = create_queue_with_dlq(&sqs, &unique_name("hie-"), false, setup.max_receives)
        .await
        .expect("create the HIE queue");
    sqs.set_queue_attributes()
        .queue_url(&queues.queue_url)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            setup.visibility_secs.to_string(),
        )
        .send()
        .await
        .expect("set the visibility timeout");
    let mut config =
        AwsConfig::for_tables(TableNames::with_prefix(&format!("{}-", unique_name("t"))));
    config.hie_queue_url = Some(queues.queue_url.clone());
    let adapters = AwsAdapters::new(&sdk, config);
    adapters.create_tables().await.expect("create tables");
    let ctx = Context::from_aws(&adapters, clock.clone()).expect("context");
    let mailer = Arc::new(FaultyMailer::new(Arc::new(adapters.mailer())));
    let ctx = Context {
        mailer: mailer.clone(),
        ..ctx
    };
    let parts = AwsParts {
        aws,
        adapters,
        queues,
        sender_domain: format!("{}.exampleclinic.org", unique_name("c")),
    };
    Some((ctx, mailer, parts))
}

/// Starts the connector on SQLite with local-header authentication.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Arc::new(LocalHeaders)).await
}

/// Starts the connector on SQLite with the given authentication.
pub async fn spawn_app_with(auth: Arc<dyn Authenticate>) -> TestApp {
    TestApp::builder(Backend::Sqlite)
        .auth(auth)
        .spawn()
        .await
        .expect("the SQLite backend always starts")
}

/// The connector on fresh AWS tables and queues, or `None` after a printed SKIPPED line.
pub async fn spawn_on_aws() -> Option<TestApp> {
    spawn_on_aws_with(QueueSetup::default()).await
}

/// As [`spawn_on_aws`], with the queue set up as `setup` says.
pub async fn spawn_on_aws_with(setup: QueueSetup) -> Option<TestApp> {
    TestApp::builder(Backend::Aws).queue(setup).spawn().await
}

/// The actor test setup writes as.
fn setup_actor() -> Actor {
    Actor::system("e2e-setup")
}

impl TestApp {
    /// The SQLite backend's files (panics on AWS).
    pub fn sqlite(&self) -> &SqliteParts {
        self.sqlite.as_ref().expect("a test on the SQLite backend")
    }

    /// The AWS backend's endpoints (panics on SQLite).
    pub fn aws(&self) -> &AwsParts {
        self.aws.as_ref().expect("a test on the AWS backend")
    }

    /// The database (SQLite backend).
    pub fn db(&self) -> &SqliteDb {
        &self.sqlite().db
    }

    /// The database file (SQLite backend).
    pub fn db_path(&self) -> &Path {
        &self.sqlite().db_path
    }

    /// `http://127.0.0.1:PORT` (SQLite backend).
    pub fn address(&self) -> &str {
        match &self.api {
            Api::Http { address, .. } => address,
            Api::Lambda { .. } => panic!("the AWS backend is called through Lambda events"),
        }
    }

    fn client(&self) -> &reqwest::Client {
        match &self.api {
            Api::Http { client, .. } => client,
            Api::Lambda { .. } => panic!("the AWS backend is called through Lambda events"),
        }
    }

    /// A request as `user` in `role` (local headers).
    pub fn request_as(&self, method: Method, path: &str, user: &str, role: &str) -> RequestBuilder {
        self.client()
            .request(method, format!("{}{path}", self.address()))
            .header(USER_HEADER, user)
            .header(ROLE_HEADER, role)
    }

    /// Calls `method path?query` as `caller` with an optional JSON body: over HTTP with local
    /// headers, or as an API Gateway v2 event (a sample with its route, claims and body
    /// replaced) through the Lambda's router.
    pub async fn call<'a>(
        &self,
        method: Method,
        path_and_query: &str,
        caller: impl Into<Caller<'a>>,
        body: Option<Value>,
    ) -> Reply {
        let caller = caller.into();
        match &self.api {
            Api::Http { .. } => {
                let (user, role) = caller.local_headers();
                self.call_as(method, path_and_query, user, &role, body)
                    .await
            }
            Api::Lambda { .. } => {
                let (path, query) = path_and_query
                    .split_once('?')
                    .unwrap_or((path_and_query, ""));
                let mut event = sample_event("give-consent");
                let object = event.as_object_mut().expect("an object");
                object.remove("pathParameters");
                object.remove("queryStringParameters");
                event["routeKey"] = json!("$default");
                event["rawPath"] = json!(path);
                event["rawQueryString"] = json!(query);
                event["requestContext"]["routeKey"] = json!("$default");
                event["requestContext"]["http"]["method"] = json!(method.as_str());
                event["requestContext"]["http"]["path"] = json!(path);
                event["requestContext"]["authorizer"]["jwt"]["claims"] = caller.claims();
                let body = body.map(|b| b.to_string()).unwrap_or_default();
                event["headers"]["content-length"] = json!(body.len().to_string());
                event["body"] = json!(body);
                self.invoke(&event).await
            }
        }
    }

    /// GETs `path_and_query` as `caller` (see [`TestApp::call`]).
    pub async fn get<'a>(&self, path_and_query: &str, caller: impl Into<Caller<'a>>) -> Reply {
        self.call(Method::GET, path_and_query, caller, None).await
    }

    /// DELETEs `path` as `caller` (see [`TestApp::call`]).
    pub async fn delete<'a>(&self, path: &str, caller: impl Into<Caller<'a>>) -> Reply {
        self.call(Method::DELETE, path, caller, None).await
    }

    /// PUTs the JSON `body` to `path` as `caller` (see [`TestApp::call`]).
    pub async fn put<'a>(&self, path: &str, caller: impl Into<Caller<'a>>, body: Value) -> Reply {
        self.call(Method::PUT, path, caller, Some(body)).await
    }

    /// POSTs the JSON `body` to `path` as `caller` (see [`TestApp::call`]).
    pub async fn post_json<'a>(
        &self,
        path: &str,
        caller: impl Into<Caller<'a>>,
        body: Value,
    ) -> Reply {
        self.call(Method::POST, path, caller, Some(body)).await
    }

    /// The consent-api Lambda's handler on an API Gateway v2 event: the request `lambda_http`
    /// makes of it (with the JWT claims in its `RequestContext`) through the authenticated
    /// router (AWS backend).
    pub async fn invoke(&self, event: &Value) -> Reply {
        let Api::Lambda { router } = &self.api else {
            panic!("the SQLite backend is called over HTTP");
        };
        let request =
            lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event");
        let response = router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        Reply::read_axum(response).await
    }

    /// Sends a request as `user` in `role` with an optional JSON body (HTTP).
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
        Reply::read(request.send().await.expect("request")).await
    }

    /// Sends raw bytes as a JSON body (HTTP).
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
        Reply::read(request.send().await.expect("request")).await
    }

    /// POSTs `body` to `/hl7/{channel}` with the ER7 media type, signed with `secret` as
    /// `signing` says (HTTP).
    pub async fn post_hl7(
        &self,
        channel: &str,
        body: &str,
        secret: &[u8],
        signing: Signing<'_>,
    ) -> Reply {
        let now = self.clock.now().timestamp();
        let mut request = self
            .client()
            .post(format!("{}/hl7/{channel}", self.address()))
            .header("content-type", ER7_CONTENT_TYPE)
            .body(body.to_owned());
        let signed = |secret: &[u8], at: i64, over: &str| {
            Some(ehr_to_crm::signature::sign(secret, at, over.as_bytes()))
        };
        let headers = match signing {
            Signing::Valid => signed(secret, now, body),
            Signing::Secret(other) => signed(other, now, body),
            Signing::Skewed(seconds) => signed(secret, now + seconds, body),
            Signing::OtherBody(other) => signed(secret, now, other),
            Signing::Unsigned => None,
            Signing::TimestampOnly => {
                request = request.header(TIMESTAMP_HEADER, now.to_string());
                None
            }
        };
        if let Some((timestamp, signature)) = headers {
            request = request
                .header(TIMESTAMP_HEADER, timestamp)
                .header(SIGNATURE_HEADER, signature);
        }
        Reply::read(request.send().await.expect("HL7 request")).await
    }

    /// POSTs `body` to `/crm/webhooks/{channel}?{query}` as LeadSquared does, with `token`
    /// (header name, value) when given (HTTP).
    pub async fn post_webhook(
        &self,
        channel: &str,
        query: &str,
        token: Option<(&str, &str)>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client()
            .post(format!("{}/crm/webhooks/{channel}?{query}", self.address()))
            .header("content-type", "application/json")
            .header("user-agent", "LeadSquared-Webhook")
            .body(body);
        if let Some((name, value)) = token {
            request = request.header(name, value);
        }
        Reply::read(request.send().await.expect("webhook request")).await
    }

    /// Starts an MLLP listener bound to `channel` on 127.0.0.1, as `connector serve --mllp`
    /// does; it stops with the app.
    pub async fn start_mllp(&self, channel: &str) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind MLLP");
        let address = listener.local_addr().expect("MLLP address");
        let config = ServerConfig {
            max_frame_size: connector_app::http::hl7_inbound::MAX_MESSAGE_BYTES,
            ..ServerConfig::default()
        };
        connector_app::host::spawn_mllp(
            &self.ctx,
            listener,
            config,
            channel.to_owned(),
            self.shutdown.clone(),
        );
        address
    }

    /// The admin ports on this app's stores.
    pub fn ports(&self) -> AdminPorts<'_> {
        AdminPorts {
            flows: self.ctx.flows.as_ref(),
            secrets: self.ctx.secrets.as_ref(),
            clock: self.ctx.clock.as_ref(),
        }
    }

    /// Creates or replaces the channel `id`; asserts it is valid.
    pub async fn put_channel(&self, id: &str, channel: Value) {
        let input: ChannelInput = serde_json::from_value(channel).expect("a channel input");
        let id = ChannelId::parse(id).unwrap();
        let put = admin::put_channel(self.ports(), &setup_actor(), &id, input).await;
        put.unwrap_or_else(|e| refused("channel", e));
    }

    /// Creates or replaces the flow `id`; asserts it is valid.
    pub async fn put_flow(&self, id: &str, flow: Value) {
        let input: FlowInput = serde_json::from_value(flow).expect("a flow input");
        let flow_id = FlowId::parse(id).unwrap();
        let put = admin::put_flow(self.ports(), &setup_actor(), &flow_id, input).await;
        put.unwrap_or_else(|e| refused(&format!("flow {id}"), e));
    }

    /// PUTs `body` to `path` as staff; asserts it was created or updated.
    pub async fn put_ok(&self, path: &str, body: Value) -> Reply {
        let reply = self
            .call(Method::PUT, path, Caller::Staff, Some(body))
            .await;
        assert!(
            reply.status == 201 || reply.status == 200,
            "{:#}",
            reply.body
        );
        reply
    }
}

/// Fails a test whose setup `what` was refused, naming the invalid fields.
fn refused<T>(what: &str, e: admin::AdminError) -> T {
    match e {
        admin::AdminError::Invalid(errors) => panic!("invalid {what}: {:?}", errors.0),
        other => panic!("{what}: {other}"),
    }
}
