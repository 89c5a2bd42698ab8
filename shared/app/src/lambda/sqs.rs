//! The SQS event adapter: an SQS-triggered function hands its event to a
//! [`BatchJob`] and answers with the messages the job keeps as partial batch failures
//! (`ReportBatchItemFailures`): SQS redelivers those after their visibility timeout and parks
//! them in the dead-letter queue after `maxReceiveCount`. When the job's queue has a consumer
//! in the context, each kept message first gets the job's backoff as its visibility
//! (ChangeMessageVisibility); otherwise the queue's own timeout applies.

use std::convert::Infallible;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use connector_domain::ports::QueueConsumer;

use crate::Context;
use crate::jobs::worker::{BatchJob, Kept, QueuedMessage};

/// A record as the jobs see it: the body, the receive count (`ApproximateReceiveCount`; absent:
/// a first delivery) and the FIFO group (`MessageGroupId`). SQS always sets the id; a record
/// without one gets an empty id, which Lambda treats as a failure of the whole batch if it has
/// to be kept (the safe side: nothing is lost).
pub fn queued(record: &SqsMessage) -> QueuedMessage {
    QueuedMessage {
        message_id: record.message_id.clone().unwrap_or_default(),
        body: record.body.clone().unwrap_or_default(),
        receive_count: record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1),
        group: record.attributes.get("MessageGroupId").cloned(),
    }
}

/// The event's records, in order, as the jobs see them ([`queued`]).
pub fn batch(event: &SqsEvent) -> Vec<QueuedMessage> {
    event.records.iter().map(queued).collect()
}

/// The partial batch response: the kept messages' ids.
pub fn response(kept: &[Kept]) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.set_failures(
        kept.iter()
            .map(|k| k.message_id.clone())
            .collect::<Vec<_>>(),
    );
    response
}

/// Gives each kept message its backoff as its visibility. A failure is logged, not returned:
/// the queue's own visibility timeout applies instead (later, never lost).
pub async fn release(consumer: &dyn QueueConsumer, event: &SqsEvent, kept: &[Kept]) {
    for kept in kept {
        let receipt = event
            .records
            .iter()
            .find(|r| r.message_id.as_deref() == Some(kept.message_id.as_str()))
            .and_then(|r| r.receipt_handle.as_deref());
        if let Some(receipt) = receipt
            && let Err(e) = consumer.release(receipt, kept.delay).await
        {
            tracing::warn!(message_id = %kept.message_id, error = %e, "cannot set the retry delay");
        }
    }
}

/// One SQS batch for `job`. Never fails as a whole: every failure is per message, in the
/// response.
///
/// # Errors
/// None (the type is what the runtime expects).
pub async fn handle(
    ctx: &Context,
    job: &dyn BatchJob,
    event: &SqsEvent,
) -> Result<SqsBatchResponse, Infallible> {
    let kept = job.handle_batch(ctx, &batch(event)).await;
    if let Some(consumer) = job.consumer(ctx) {
        release(consumer.as_ref(), event, &kept).await;
    }
    Ok(response(&kept))
}
