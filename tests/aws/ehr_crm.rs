//! The EHR <-> CRM functions on the local AWS endpoints, as their Lambdas run them: channels and
//! flows created through the consent-api handler (API Gateway v2 events), an HL7 message through
//! the hl7-inbound handler (the sample event, signed with a secret read from moto's Secrets
//! Manager), a CRM webhook through the crm-outbound handler (the sample event), then the
//! ehr-delivery batch handler on what the SQS FIFO queue delivers, sending over a real MLLP socket
//! to a listener standing in for the EHR. The DynamoDB items and the queue are checked directly.

use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use axum::Router;
use connector_app::Context;
use connector_app::ehr_to_crm::signature::sign;
use connector_app::http::auth::{ApiGatewayJwt, authenticated};
use connector_aws::{AwsAdapters, AwsConfig, TableNames, create_queue_with_dlq};
use connector_crm::fake::FakeLeadSquared;
use connector_domain::FixedClock;
use connector_domain::delivery::{DeliveryId, DeliveryState};
use connector_domain::flow::fixtures as ff;
use connector_domain::ports::QueueConsumer;
use connector_hl7::{AckBuilder, AckCode, Message};
use connector_testkit::local_aws::{LocalAws, unique_name};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use sha2::Digest;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::support::aws::secretsmanager_reference;
use crate::support::fixtures::event;
use crate::support::{Reply, start_time};

const WEBHOOK_TOKEN: &str = "aws-test-webhook-token";

/// An event re-targeted at `channel` (path, path parameter, both route paths).
fn for_channel(mut event: Value, channel: &str) -> Value {
    for pointer in ["/rawPath", "/requestContext/http/path"] {
        let path = event
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap()
            .replace("north-ehr", channel);
        *event.pointer_mut(pointer).unwrap() = json!(path);
    }
    event["pathParameters"]["channel_id"] = json!(channel);
    event
}

/// The Lambda's handler on an API Gateway v2 event: status and body text.
async fn invoke(router: &Router, event: &Value) -> (u16, String) {
    let request = lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let reply = Reply::read_axum(response).await;
    (reply.status, reply.text)
}

/// A consent-api call as an admin: the `register-patient` sample with route and body replaced.
async fn admin_post(router: &Router, path: &str, body: &Value) -> Value {
    let mut event = event("consent-api", "register-patient");
    let object = event.as_object_mut().unwrap();
    object.remove("pathParameters");
    event["routeKey"] = json!("$default");
    event["rawPath"] = json!(path);
    event["requestContext"]["routeKey"] = json!("$default");
    event["requestContext"]["http"]["method"] = json!("POST");
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["authorizer"]["jwt"]["claims"] =
        json!({"sub": "user-admin-0001", "role": "admin"});
    let body = body.to_string();
    event["headers"]["content-length"] = json!(body.len().to_string());
    event["body"] = json!(body);
    let (status, text) = invoke(router, &event).await;
    assert_eq!(status, 201, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// An MLLP listener answering AA, recording each message's MSH-10.
async fn ehr(shutdown: CancellationToken) -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    tokio::spawn(connector_transport::mllp::server::serve(
        listener,
        move |frame: Vec<u8>| {
            let log = Arc::clone(&log);
            async move {
                let text = String::from_utf8(frame).unwrap();
                let message = Message::parse(&text).unwrap();
                let control_id = message.control_id().unwrap().into_owned();
                log.lock().unwrap().push(control_id.clone());
                AckBuilder::new(AckCode::ApplicationAccept, &format!("A{control_id}"))
                    .build(&message)
                    .to_er7()
                    .into_bytes()
            }
        },
        shutdown,
    ));
    (address, received)
}

#[tokio::test]
async fn hl7_inbound_crm_outbound_and_ehr_delivery_run_on_dynamodb_and_sqs_fifo() {
    let Some(aws) = LocalAws::shared() else {
        return;
    };
    let sdk = aws.sdk_config(connector_aws::sdk_config_loader()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = create_queue_with_dlq(&sqs, &unique_name("delivery-"), true, 50)
        .await
        .expect("the FIFO delivery queue");
    let mut config =
        AwsConfig::for_tables(TableNames::with_prefix(&format!("{}-", unique_name("t"))));
    config.hie_queue_url = Some("http://127.0.0.1:9/queue/unused".to_owned());
    config.delivery_queue_url = Some(queues.queue_url.clone());
    let tables = config.tables.clone();
    let adapters = AwsAdapters::new(&sdk, config);
    adapters.create_tables().await.expect("create tables");

    // The channel's HMAC secret lives in Secrets Manager (moto).
    let secret = secretsmanager_reference(
        &adapters,
        "clinic-connector/north-hmac-",
        "aws-test-hmac-secret",
    )
    .await;
    let (_, crm) = FakeLeadSquared::start().await;
    let clock = Arc::new(FixedClock::at(start_time()));
    let ctx = Arc::new(
        Context::from_aws(&adapters, clock.clone())
            .expect("the AWS context")
            .with_crm(Arc::new(crm.client())),
    );
    let shutdown = CancellationToken::new();
    let (ehr_address, received) = ehr(shutdown.clone()).await;

    // consent-api: the channel and two flows, as an admin.
    let consent_api = authenticated(
        connector_app::http::router(Arc::clone(&ctx)),
        Arc::new(ApiGatewayJwt::new("role", "patient_id")),
    );
    let token_hash = hex::encode(sha2::Sha256::digest(WEBHOOK_TOKEN.as_bytes()));
    let channel = admin_post(
        &consent_api,
        "/channels",
        &json!({
            "name": "North EHR",
            "inbound": {"type": "hmac", "secret": secret,
                        "replay_window_secs": 300},
            "outbound": {"type": "mllp", "host": "127.0.0.1", "port": ehr_address.port(),
                         "connect_timeout_ms": 2000, "ack_timeout_ms": 5000, "max_attempts": 3,
                         "backoff_initial_ms": 1000, "backoff_max_ms": 10000},
            "crm_webhook": {"header_name": "x-connector-webhook-token", "token_hash": token_hash},
        }),
    )
    .await;
    let channel_id = channel["channel_id"].as_str().unwrap().to_owned();
    let registers = ff::ehr_to_crm_lead(
        "Register patients",
        &channel_id,
        "America/Chicago",
        "MSH|^~\\&|EHR|NORTH|CONNECTOR|CRM|20260101000000||ADT^A04|T1|P|2.5.1\rPID|1||X^^^NORTH^MR||Sample^Pat\r",
        vec![
            ff::required("PID-3.1", "mx_MRN"),
            ff::required("PID-5.1", "LastName"),
        ],
    );
    let updates = ff::crm_to_ehr_lead(
        "Lead updates to the EHR",
        &channel_id,
        ("lead_update", "ADT^A08"),
        "America/Chicago",
        "MSH|^~\\&|CONNECTOR|CRM|EHR|NORTH|20260101000000||ADT^A08|T2|P|2.5.1\rEVN|A08|20260101000000\rPID|1||X^^^NORTH^MR||Sample^Pat\r",
        vec![ff::required("PID-5.1", "LastName")],
    );
    // Enabled; the lead flow without a lead source or default country code.
    let plain = json!({"lead_source": null, "default_country_code": null, "enabled": true});
    for flow in [
        ff::with(registers, plain),
        ff::with(updates, json!({"enabled": true})),
    ] {
        admin_post(&consent_api, "/flows", &flow).await;
    }

    // hl7-inbound: the sample event, re-signed now; then resent.
    let hl7_inbound = connector_app::http::hl7_inbound::router(Arc::clone(&ctx));
    let mut inbound = for_channel(event("hl7-inbound", "post-adt-a04"), &channel_id);
    let body = inbound["body"].as_str().unwrap().to_owned();
    let (timestamp, signature) = sign(
        b"aws-test-hmac-secret",
        start_time().timestamp(),
        body.as_bytes(),
    );
    inbound["headers"]["x-connector-timestamp"] = json!(timestamp);
    inbound["headers"]["x-connector-signature"] = json!(signature);
    for _ in 0..2 {
        let (status, ack) = invoke(&hl7_inbound, &inbound).await;
        assert_eq!(status, 200, "{ack}");
        assert!(ack.contains("MSA|AA|NE-A04-0001"), "{ack}");
    }
    assert_eq!(crm.leads().len(), 1, "the resend created nothing");
    let lead_id = crm.leads()[0].id.0.clone();
    let ledger = adapters
        .dynamodb_client()
        .get_item()
        .table_name(&tables.flows)
        .key(
            "pk",
            AttributeValue::S(format!("INBOUND#{channel_id}#NE-A04-0001")),
        )
        .key("sk", AttributeValue::S("RECORD".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the inbound ledger item");
    assert_eq!(ledger["state"], AttributeValue::S("done".into()));

    // A bad signature writes nothing.
    let mut forged = inbound.clone();
    forged["headers"]["x-connector-signature"] = json!(format!("sha256={}", "0".repeat(64)));
    assert_eq!(invoke(&hl7_inbound, &forged).await.0, 401);

    // crm-outbound: the sample lead_update webhook for that lead.
    let crm_outbound = connector_app::http::crm_outbound::router(Arc::clone(&ctx));
    let mut webhook = for_channel(event("crm-outbound", "lead-update"), &channel_id);
    let mut payload: Value = serde_json::from_str(webhook["body"].as_str().unwrap()).unwrap();
    payload["ProspectID"] = json!(lead_id);
    // The sample holds exactly what hl7-inbound just wrote (MRN and last name): an echo.
    let mut echo = webhook.clone();
    let mut echoed = payload.clone();
    echoed["ModifiedOn"] = json!("2026-11-21 09:40:00");
    // ...written by the connector's API user (the fake's, as read back after the create).
    let writer = crm.leads()[0]
        .fields
        .iter()
        .find(|f| f.name == "ModifiedBy")
        .map(|f| f.value.clone())
        .expect("the CRM names the lead's writer");
    echoed["ModifiedBy"] = json!(writer);
    echo["body"] = json!(echoed.to_string());
    echo["headers"]["content-length"] = json!(echoed.to_string().len().to_string());
    echo["headers"]["x-connector-webhook-token"] = json!(WEBHOOK_TOKEN);
    let (status, reply) = invoke(&crm_outbound, &echo).await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("echo"), "{reply}");
    // A real change in the CRM goes to the EHR.
    payload["LastName"] = json!("Rivera-Lopez");
    webhook["body"] = json!(payload.to_string());
    webhook["headers"]["content-length"] = json!(payload.to_string().len().to_string());
    webhook["headers"]["x-connector-webhook-token"] = json!(WEBHOOK_TOKEN);
    let (status, reply) = invoke(&crm_outbound, &webhook).await;
    assert_eq!(status, 200, "{reply}");
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["Status"], "Success", "{reply}");
    let delivery_id = DeliveryId::parse(reply["DeliveryIds"][0].as_str().unwrap()).unwrap();
    let (status, _) = invoke(&crm_outbound, &webhook).await;
    assert_eq!(status, 200, "a duplicate is accepted");

    // ehr-delivery: what the FIFO queue delivers, through the batch handler.
    let queue = adapters.queue(&queues.queue_url);
    let messages = queue
        .receive(10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(!messages.is_empty(), "the delivery was enqueued");
    // The event Lambda's poller builds of them, to the ehr-delivery function's real handler.
    let records: Vec<Value> = messages
        .iter()
        .map(|m| json!({"messageId": m.message_id, "receiptHandle": m.receipt, "body": m.body}))
        .collect();
    let event: SqsEvent =
        serde_json::from_value(json!({ "Records": records })).expect("an SQS event");
    let response = connector_app::lambda::ehr_delivery(
        &ctx,
        LambdaEvent::new(event, lambda_runtime::Context::default()),
    )
    .await
    .expect("the handler is infallible");
    assert!(response.batch_item_failures.is_empty(), "nothing to retry");
    for message in &messages {
        queue.delete(&message.receipt).await.unwrap();
    }
    let delivery = ctx.deliveries.get(&delivery_id).await.unwrap().unwrap();
    assert_eq!(delivery.state, DeliveryState::Delivered);
    assert_eq!(
        *received.lock().unwrap(),
        vec![delivery.control_id.to_string()],
        "delivered once over MLLP"
    );

    // Issue 11.2 on DynamoDB: messages for one new patient arriving at once (different
    // MSH-10s) make one lead; each ends AA, at the latest after the EHR's resend.
    let race: Vec<Value> = (0..4)
        .map(|n| {
            let body = body
                .replace("NE-A04-0001", &format!("RACE-{n:04}"))
                .replace("MRN20001", "MRN30001");
            let mut event = inbound.clone();
            let (timestamp, signature) = sign(
                b"aws-test-hmac-secret",
                start_time().timestamp(),
                body.as_bytes(),
            );
            event["body"] = json!(body);
            event["headers"]["content-length"] = json!(body.len().to_string());
            event["headers"]["x-connector-timestamp"] = json!(timestamp);
            event["headers"]["x-connector-signature"] = json!(signature);
            event
        })
        .collect();
    let leads_before = crm.leads().len();
    let acks = futures::future::join_all(race.iter().map(|e| invoke(&hl7_inbound, e))).await;
    for (event, (status, ack)) in race.iter().zip(acks) {
        assert_eq!(status, 200, "{ack}");
        if !ack.contains("MSA|AA|") {
            assert!(ack.contains("MSA|AE|"), "{ack}");
            let (_, again) = invoke(&hl7_inbound, event).await;
            assert!(again.contains("MSA|AA|"), "the resend finishes: {again}");
        }
    }
    assert_eq!(
        crm.leads().len(),
        leads_before + 1,
        "one new patient, one lead"
    );
    shutdown.cancel();
}
