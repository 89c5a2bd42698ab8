//! The work queue on SQS: [`SqsQueue`] puts messages (SendMessageBatch in tens, failed entries
//! retried) and takes them (ReceiveMessage / DeleteMessage / ChangeMessageVisibility). FIFO queues
//! (URL ending in `.fifo`) get each message's group and deduplication ids.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use connector_domain::ports::{
    QueueConsumer, QueueError, QueueMessage, ReceivedMessage, WorkQueue,
};

use crate::backoff::Backoff;
use crate::error_map;
use crate::setup::SetupError;

/// SendMessageBatch and ReceiveMessage take at most ten messages.
const SQS_BATCH: usize = 10;
/// Attempts at sending the entries of one batch that SQS reports as failed (not the sender's fault).
const SEND_ATTEMPTS: u32 = 5;
/// First backoff before re-sending failed entries; doubles per attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest visibility timeout SQS accepts (12 hours).
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);
/// The group of FIFO messages that name none.
pub const DEFAULT_GROUP: &str = "default";

/// An SQS queue, as both producer and consumer.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    fifo: bool,
    wait: Duration,
}

impl SqsQueue {
    /// The queue at `url` (a FIFO queue when it ends in `.fifo`). Receives short-poll: they return
    /// at once, possibly with fewer messages than are available (callers poll again).
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        let url = url.into();
        let fifo = url.ends_with(".fifo");
        Self {
            client,
            url,
            fifo,
            wait: Duration::ZERO,
        }
    }

    /// The same queue with receives that long-poll up to `wait` (whole seconds, at most 20) while
    /// the queue looks empty.
    pub fn with_receive_wait(mut self, wait: Duration) -> Self {
        self.wait = wait.min(Duration::from_secs(20));
        self
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// True for a FIFO queue.
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    fn entry(
        &self,
        id: usize,
        message: &QueueMessage,
    ) -> Result<SendMessageBatchRequestEntry, QueueError> {
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(id.to_string())
            .message_body(&message.body);
        if self.fifo {
            entry = entry
                .message_group_id(message.group_id.as_deref().unwrap_or(DEFAULT_GROUP))
                .set_message_deduplication_id(message.dedup_id.clone());
        }
        entry
            .build()
            .map_err(|e| QueueError::Unavailable(Box::new(e)))
    }

    /// Sends up to ten messages, re-sending the entries SQS reports as failed.
    async fn send_chunk(&self, messages: &[QueueMessage]) -> Result<(), QueueError> {
        let mut pending: Vec<usize> = (0..messages.len()).collect();
        let mut backoff = Backoff::starting_at(FIRST_BACKOFF);
        for attempt in 1..=SEND_ATTEMPTS {
            let entries = pending
                .iter()
                .map(|&i| self.entry(i, &messages[i]))
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(error_map::queue)?;
            let failed = out.failed;
            if failed.is_empty() {
                return Ok(());
            }
            if let Some(fault) = failed.iter().find(|f| f.sender_fault) {
                return Err(QueueError::Unavailable(Box::new(BatchEntriesFailed {
                    failed: failed.len(),
                    code: fault.code.clone(),
                    sender_fault: true,
                })));
            }
            pending = failed.iter().filter_map(|f| f.id.parse().ok()).collect();
            if attempt == SEND_ATTEMPTS {
                return Err(QueueError::Unavailable(Box::new(BatchEntriesFailed {
                    failed: failed.len(),
                    code: failed[0].code.clone(),
                    sender_fault: false,
                })));
            }
            let what = "queue batch entries failed; re-sending";
            backoff.wait(what, attempt, pending.len()).await;
        }
        Ok(())
    }
}

/// SQS kept reporting entries of a batch as failed.
#[derive(Debug, thiserror::Error)]
#[error("{failed} queue batch entries failed ({code}, sender fault: {sender_fault})")]
pub struct BatchEntriesFailed {
    /// How many entries failed in the last attempt.
    pub failed: usize,
    /// SQS's error code for the first of them.
    pub code: String,
    /// True when SQS blamed the request (retrying will not help).
    pub sender_fault: bool,
}

#[async_trait]
impl WorkQueue for SqsQueue {
    async fn send_batch(&self, messages: &[QueueMessage]) -> Result<(), QueueError> {
        for chunk in messages.chunks(SQS_BATCH) {
            self.send_chunk(chunk).await?;
        }
        Ok(())
    }
}

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.min(MAX_VISIBILITY).as_secs()).unwrap_or(i32::MAX)
}

#[async_trait]
impl QueueConsumer for SqsQueue {
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let mut received = Vec::new();
        while received.len() < max {
            // Long-poll only while nothing was received: then return what there is.
            let wait = if received.is_empty() {
                self.wait
            } else {
                Duration::ZERO
            };
            let out = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(
                    i32::try_from((max - received.len()).min(SQS_BATCH)).unwrap_or(1),
                )
                .visibility_timeout(seconds(visibility))
                .wait_time_seconds(seconds(wait))
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
                .map_err(error_map::queue)?;
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                let (Some(message_id), Some(receipt)) =
                    (message.message_id, message.receipt_handle)
                else {
                    continue;
                };
                let receive_count = message
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(1);
                received.push(ReceivedMessage {
                    message_id,
                    receipt,
                    body: message.body.unwrap_or_default(),
                    receive_count,
                });
            }
        }
        Ok(received)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(error_map::queue)?;
        Ok(())
    }

    async fn release(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(delay))
            .send()
            .await
            .map_err(error_map::queue)?;
        Ok(())
    }

    /// SQS cannot tell this process about sends: the whole pause.
    async fn wait_for_messages(&self, at_most: Duration) {
        tokio::time::sleep(at_most).await;
    }
}

/// A work queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    /// The work queue.
    pub queue_url: String,
    /// Where messages go after `max_receive_count` receives.
    pub dlq_url: String,
}

/// Creates (or finds) a queue named `name` with `attributes`; for FIFO queues `.fifo` is appended
/// and `FifoQueue` set. A FIFO queue accepts messages without a dedup id only with
/// `ContentBasedDeduplication` (pass it in `attributes`, or use [`create_queue_with_dlq`]).
pub async fn create_queue(
    client: &Client,
    name: &str,
    fifo: bool,
    attributes: HashMap<QueueAttributeName, String>,
) -> Result<String, SetupError> {
    let name = if fifo && !name.ends_with(".fifo") {
        format!("{name}.fifo")
    } else {
        name.to_owned()
    };
    let mut attributes = attributes;
    if fifo {
        attributes.insert(QueueAttributeName::FifoQueue, "true".to_owned());
    }
    let out = client
        .create_queue()
        .queue_name(&name)
        .set_attributes((!attributes.is_empty()).then_some(attributes))
        .send()
        .await
        .map_err(|e| SetupError::request(&name, e))?;
    out.queue_url
        .ok_or(SetupError::NotActive { resource: name })
}

/// Creates a work queue `name` whose messages move to the dead-letter queue `<name>-dlq` after
/// `max_receive_count` receives (both FIFO with content-based deduplication when `fifo`).
pub async fn create_queue_with_dlq(
    client: &Client,
    name: &str,
    fifo: bool,
    max_receive_count: u32,
) -> Result<QueueUrls, SetupError> {
    let fifo_attributes = || {
        if fifo {
            HashMap::from([(
                QueueAttributeName::ContentBasedDeduplication,
                "true".to_owned(),
            )])
        } else {
            HashMap::new()
        }
    };
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let dlq_url = create_queue(client, &format!("{base}-dlq"), fifo, fifo_attributes()).await?;
    let arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| SetupError::request(&dlq_url, e))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| SetupError::NotActive {
            resource: dlq_url.clone(),
        })?;
    let policy = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max_receive_count.to_string() });
    let mut attributes = fifo_attributes();
    attributes.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
    let queue_url = create_queue(client, base, fifo, attributes).await?;
    Ok(QueueUrls { queue_url, dlq_url })
}
