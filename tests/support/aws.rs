//! What only the AWS backend has: one poll of the hie-sender's SQS event source mapping
//! ([`TestApp::lambda_poll`]), the dead-letter queue, moto's SES record, and direct reads of
//! DynamoDB items.

use std::collections::HashMap;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use connector_app::lambda;
use connector_app::lambda::sqs::batch as sqs_batch;
use connector_aws::AwsAdapters;
use connector_testkit::local_aws::unique_name;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

use crate::support::app::TestApp;

/// A new secret on moto's Secrets Manager, named `prefix` and a unique suffix, holding `value`:
/// its `secretsmanager:ARN` reference.
pub async fn secretsmanager_reference(adapters: &AwsAdapters, prefix: &str, value: &str) -> String {
    let created = adapters
        .secretsmanager_client()
        .create_secret()
        .name(unique_name(prefix))
        .secret_string(value)
        .send()
        .await
        .expect("create a secret on moto");
    format!("secretsmanager:{}", created.arn().expect("an ARN"))
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

impl TestApp {
    /// One poll of Lambda's SQS event source mapping: receive what is visible (with the queue's
    /// own visibility timeout), hand the event the poller would build to the hie-sender's real
    /// handler (`connector_app::lambda::hie_sender`), delete every message not reported as a
    /// batch item failure.
    pub async fn lambda_poll(&self) -> Polled {
        let aws = self.aws();
        let sqs = aws.adapters.sqs_client();
        let messages = self.receive(&aws.queues.queue_url).await;
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
                    .queue_url(&aws.queues.queue_url)
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

    /// Up to 10 visible messages of the queue at `url`, with their `ApproximateReceiveCount`.
    async fn receive(&self, url: &str) -> Vec<Message> {
        let out = self
            .aws()
            .adapters
            .sqs_client()
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .expect("receive");
        out.messages.unwrap_or_default()
    }

    /// Bodies on the dead-letter queue (received and deleted).
    pub async fn dead_letters(&self) -> Vec<String> {
        let aws = self.aws();
        let sqs = aws.adapters.sqs_client();
        let mut bodies = Vec::new();
        for message in self.receive(&aws.queues.dlq_url).await {
            sqs.delete_message()
                .queue_url(&aws.queues.dlq_url)
                .receipt_handle(message.receipt_handle.unwrap_or_default())
                .send()
                .await
                .expect("delete from the DLQ");
            bodies.push(message.body.unwrap_or_default());
        }
        bodies
    }

    /// The raw messages moto's SES accepted from this test's sender, oldest first.
    pub fn ses_records(&self) -> Vec<Value> {
        let data = self.aws().aws.moto_data().expect("moto's data.json");
        let sender = self.sender();
        data["ses"]["RawMessage"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["source"] == sender.as_str())
            .cloned()
            .collect()
    }

    /// An item of the consents table, read directly (strongly consistent).
    pub async fn consents_item(
        &self,
        pk: &str,
        sk: &str,
    ) -> Option<HashMap<String, AttributeValue>> {
        let adapters = &self.aws().adapters;
        adapters
            .dynamodb_client()
            .get_item()
            .table_name(&adapters.config().tables.consents)
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
        let adapters = &self.aws().adapters;
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = adapters
                .dynamodb_client()
                .scan()
                .table_name(&adapters.config().tables.audit)
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
