//! `spawn_on_aws`: the connector's `Context::from_aws` on four fresh DynamoDB Local tables, a fresh
//! moto SQS queue with its dead-letter queue, and moto's SES v2 behind a [`FaultyMailer`], with a
//! clock the test controls. Beside it, the two Lambda entry points as their `main.rs` wire them:
//! the consent API router behind API Gateway JWT claims ([`AwsApp::invoke`]), and one SQS poll of
//! the hie-sender's event source mapping ([`AwsApp::lambda_poll`]).

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use chrono::{DateTime, TimeZone, Utc};
use connector_app::Context;
use connector_app::hie::collector::CollectorReport;
use connector_app::http::auth::{ApiGatewayJwt, authenticated};
use connector_app::lambda;
use connector_app::lambda::sqs::batch as sqs_batch;
use connector_aws::{AwsAdapters, AwsConfig, QueueUrls, TableNames, create_queue_with_dlq};
use connector_domain::FixedClock;
use connector_testkit::faults::FaultyMailer;
use connector_testkit::local_aws::{LocalAws, unique_name};
use http_body_util::BodyExt;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The instant every test starts at: 2026-11-21 15:00 UTC (the sample events' day).
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 15, 0, 0).unwrap()
}

/// How the HIE queue is set up.
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

/// A connector on the local AWS endpoints.
pub struct AwsApp {
    /// The endpoints.
    pub aws: &'static LocalAws,
    /// The SDK clients and resource names the context was built from.
    pub adapters: AwsAdapters,
    /// The context, as the Lambda functions build it (with the mailer wrapped for faults).
    pub ctx: Arc<Context>,
    /// The clock the connector reads.
    pub clock: Arc<FixedClock>,
    /// moto's SES v2 mailer, with faults a test can script.
    pub mailer: Arc<FaultyMailer>,
    /// The HIE queue and its dead-letter queue.
    pub queues: QueueUrls,
    /// A sender domain of this test's own, so moto's shared SES record can be filtered by it.
    pub sender_domain: String,
    router: axum::Router,
}

/// The connector on fresh tables and queues, or `None` after a printed SKIPPED line.
pub async fn spawn_on_aws() -> Option<AwsApp> {
    spawn_on_aws_with(QueueSetup::default()).await
}

/// As [`spawn_on_aws`], with the queue set up as `setup` says.
pub async fn spawn_on_aws_with(setup: QueueSetup) -> Option<AwsApp> {
    let aws = LocalAws::shared()?;
    let sdk = aws.sdk_config().await;
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

    let clock = Arc::new(FixedClock::at(start_time()));
    let ctx = Context::from_aws(&adapters, clock.clone()).expect("context");
    let mailer = Arc::new(FaultyMailer::new(Arc::new(adapters.mailer())));
    let ctx = Arc::new(Context {
        mailer: mailer.clone(),
        ..ctx
    });
    // What functions/consent-api builds (ApiGatewayJwt::from_env with the default claim names).
    let router = authenticated(
        connector_app::http::router(Arc::clone(&ctx)),
        Arc::new(ApiGatewayJwt::new("role", "patient_id")),
    );
    Some(AwsApp {
        aws,
        adapters,
        ctx,
        clock,
        mailer,
        queues,
        sender_domain: format!("{}.exampleclinic.org", unique_name("c")),
        router,
    })
}

/// A sample API Gateway v2 event from `events/consent-api/`.
pub fn sample_event(name: &str) -> Value {
    let path = format!(
        "{}/../events/consent-api/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Who calls, as the JWT authorizer's claims say.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// `role: staff`.
    Staff,
    /// `role: admin`.
    Admin,
    /// `role: patient` with this `patient_id` claim.
    Patient(&'a str),
}

/// A finished response: status, content type and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

impl Reply {
    /// Asserts `status`, and returns the reply.
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{:#}", self.body);
        self
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

/// What one poll of the queue did.
#[derive(Debug, Default)]
pub struct Polled {
    /// Messages SQS delivered.
    pub received: usize,
    /// Their `ApproximateReceiveCount`s.
    pub receive_counts: Vec<u32>,
    /// The ids the handler reported as failures (left on the queue).
    pub kept: Vec<String>,
}

impl AwsApp {
    /// The consent-api Lambda's handler on an API Gateway v2 event: the request `lambda_http`
    /// makes of it (with the JWT claims in its `RequestContext`) through the authenticated router.
    pub async fn invoke(&self, event: &Value) -> Reply {
        let request =
            lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        Reply {
            status,
            content_type,
            body,
        }
    }

    /// Calls `method path?query` as `caller`, with an optional JSON body: a sample event with
    /// its route, claims and body replaced.
    pub async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        caller: Caller<'_>,
        body: Option<Value>,
    ) -> Reply {
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
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(path);
        event["requestContext"]["authorizer"]["jwt"]["claims"] = match caller {
            Caller::Staff => json!({"sub": "user-staff-0001", "role": "staff"}),
            Caller::Admin => json!({"sub": "user-admin-0001", "role": "admin"}),
            Caller::Patient(id) => {
                json!({"sub": "user-patient-0001", "role": "patient", "patient_id": id})
            }
        };
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        event["headers"]["content-length"] = json!(body.len().to_string());
        event["body"] = json!(body);
        self.invoke(&event).await
    }

    /// Registers the fixture patient `patient_id` as staff; asserts success.
    pub async fn register(&self, patient_id: &str) -> Reply {
        let reply = self
            .call(
                "PUT",
                &format!("/patients/{patient_id}"),
                Caller::Staff,
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

    /// Gives consent for `patient_id` as staff; asserts 201.
    pub async fn give(&self, patient_id: &str, body: Value) -> Reply {
        self.call(
            "POST",
            &format!("/patients/{patient_id}/consents"),
            Caller::Staff,
            Some(body),
        )
        .await
        .expect(201)
    }

    /// Revokes the current consent of `patient_id` as staff; returns its id.
    pub async fn revoke_current(&self, patient_id: &str) -> String {
        let history = self
            .call(
                "GET",
                &format!("/patients/{patient_id}/consents"),
                Caller::Staff,
                None,
            )
            .await
            .expect(200)
            .body;
        let consent_id = history["current"]["consent_id"]
            .as_str()
            .expect("a current consent")
            .to_owned();
        self.call(
            "POST",
            &format!("/patients/{patient_id}/consents/{consent_id}/revoke"),
            Caller::Staff,
            None,
        )
        .await
        .expect(200);
        consent_id
    }

    /// The address the HIE mail is sent from.
    pub fn sender(&self) -> String {
        format!("records@{}", self.sender_domain)
    }

    /// Enables HIE with Direct addresses and a watermark at 2026-11-21T00:00Z; with `verified`,
    /// the sender's domain is a verified SES identity (else SES rejects the mail).
    pub async fn enable_hie(&self, verified: bool) {
        if verified {
            self.adapters
                .ses_client()
                .create_email_identity()
                .email_identity(&self.sender_domain)
                .send()
                .await
                .expect("verify the sender domain");
        }
        self.call(
            "PUT",
            "/settings/hie",
            Caller::Admin,
            Some(json!({
                "enabled": true,
                "default_to_address": "intake@direct.examplehie.org",
                "default_from_address": self.sender(),
                "default_subject": "Encounter for the HIE",
                "default_body": "One encounter attached.",
                "next_batch_start_time": "2026-11-21T00:00:00Z"
            })),
        )
        .await
        .expect(200);
    }

    /// Creates `appointment_id` for `patient_id` and transitions it now; asserts success.
    pub async fn transitioned_appointment(&self, appointment_id: &str, patient_id: &str) -> Value {
        let reply = self
            .call(
                "PUT",
                &format!("/appointments/{appointment_id}"),
                Caller::Staff,
                Some(appointment_json(patient_id)),
            )
            .await;
        assert!(
            reply.status == 201 || reply.status == 200,
            "{:#}",
            reply.body
        );
        self.call(
            "POST",
            &format!("/appointments/{appointment_id}/transition"),
            Caller::Staff,
            None,
        )
        .await
        .expect(200)
        .body
    }

    /// Runs one collector batch, as the batch-collector Lambda does.
    pub async fn collect(&self) -> CollectorReport {
        connector_app::hie::collector::run(&self.ctx, Default::default())
            .await
            .expect("collector run")
    }

    /// One poll of Lambda's SQS event source mapping: receive what is visible (with the queue's
    /// own visibility timeout), hand the event the poller would build to the hie-sender's real
    /// handler (`connector_app::lambda::hie_sender`), delete every message not reported as a
    /// batch item failure.
    pub async fn lambda_poll(&self) -> Polled {
        let sqs = self.adapters.sqs_client();
        let out = sqs
            .receive_message()
            .queue_url(&self.queues.queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .expect("receive");
        let messages = out.messages.unwrap_or_default();
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: HashMap<String, String> = m
                    .attributes
                    .iter()
                    .flatten()
                    .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                    .collect();
                json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": attributes,
                    "eventSource": "aws:sqs",
                })
            })
            .collect();
        let event: SqsEvent =
            serde_json::from_value(json!({ "Records": records })).expect("an SQS event");
        let receive_counts = sqs_batch(&event).iter().map(|m| m.receive_count).collect();
        let response = lambda::hie_sender(
            &self.ctx,
            LambdaEvent::new(event, lambda_runtime::Context::default()),
        )
        .await
        .expect("the handler is infallible");
        let kept: Vec<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        for message in &messages {
            if !kept.contains(message.message_id.as_ref().expect("message id")) {
                sqs.delete_message()
                    .queue_url(&self.queues.queue_url)
                    .receipt_handle(message.receipt_handle.clone().expect("receipt"))
                    .send()
                    .await
                    .expect("delete");
            }
        }
        Polled {
            received: messages.len(),
            receive_counts,
            kept,
        }
    }

    /// Polls until a poll receives nothing; returns the messages handled.
    pub async fn drain(&self) -> usize {
        let mut total = 0;
        loop {
            let polled = self.lambda_poll().await;
            if polled.received == 0 {
                return total;
            }
            total += polled.received;
        }
    }

    /// Bodies on the dead-letter queue (received and deleted).
    pub async fn dead_letters(&self) -> Vec<String> {
        let out = self
            .adapters
            .sqs_client()
            .receive_message()
            .queue_url(&self.queues.dlq_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive the DLQ");
        let mut bodies = Vec::new();
        for message in out.messages.unwrap_or_default() {
            self.adapters
                .sqs_client()
                .delete_message()
                .queue_url(&self.queues.dlq_url)
                .receipt_handle(message.receipt_handle.unwrap_or_default())
                .send()
                .await
                .expect("delete from the DLQ");
            bodies.push(message.body.unwrap_or_default());
        }
        bodies
    }

    /// The raw messages moto's SES accepted from this test's sender, oldest first.
    pub fn sent_mails(&self) -> Vec<Value> {
        let data = self.aws.moto_data().expect("moto's data.json");
        let sender = self.sender();
        data["ses"]["RawMessage"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["source"] == sender.as_str())
            .cloned()
            .collect()
    }

    /// Audit entries (newest first), up to 500, through the API as an administrator.
    pub async fn audit(&self, query: &str) -> Vec<Value> {
        let reply = self
            .call(
                "GET",
                &format!("/audit-entries?limit=500&{query}"),
                Caller::Admin,
                None,
            )
            .await
            .expect(200);
        reply.body["items"].as_array().cloned().unwrap_or_default()
    }

    /// An item of the consents table, read directly (strongly consistent).
    pub async fn consents_item(
        &self,
        pk: &str,
        sk: &str,
    ) -> Option<HashMap<String, AttributeValue>> {
        self.adapters
            .dynamodb_client()
            .get_item()
            .table_name(&self.adapters.config().tables.consents)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get item")
            .item
    }

    /// Every item of the audit table, read directly.
    pub async fn audit_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .adapters
                .dynamodb_client()
                .scan()
                .table_name(&self.adapters.config().tables.audit)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan the audit table");
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return items,
            }
        }
    }
}

/// A string attribute of an item.
pub fn s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value,
        other => panic!("{name} is not a string: {other:?}"),
    }
}

/// A number attribute of an item.
pub fn n(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().expect("a number"),
        other => panic!("{name} is not a number: {other:?}"),
    }
}

/// The invented demographics of fixture patient `patient_id`, as the API takes them.
pub fn patient_json(patient_id: &str) -> Value {
    json!({
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

/// An appointment for `patient_id`, as the API takes it.
pub fn appointment_json(patient_id: &str) -> Value {
    json!({
        "patient_id": patient_id,
        "scheduled_start": "2026-11-21T09:30:00-06:00",
        "provider": {"id": "NPI-1234567890", "name": "Dr. Rowan Ashby"},
        "location": "CLINIC-2",
        "reason": "Zephyrine's knee follow-up",
        "status": "complete"
    })
}

/// Audit actions oldest first.
pub fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .rev()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}
