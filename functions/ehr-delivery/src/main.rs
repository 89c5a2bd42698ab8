//! The ehr-delivery Lambda: the delivery worker on the FIFO delivery queue's SQS trigger.
//!
//! A batch holds messages of several patients' groups, in order within each group. Each is
//! handled by `jobs::delivery::handle_batch`; a delivery to retry gets its backoff as the
//! message's visibility timeout (ChangeMessageVisibility) and is reported as a batch item
//! failure, and so is every later message of its group in the batch (not attempted), so the
//! patient's order holds while other groups proceed. Delivered, parked and held deliveries are
//! acknowledged (and audited by the job).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use connector_app::jobs::delivery::{self, QueuedDelivery};
use connector_app::{Context, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(std::io::stdout);
    let ctx = connector_app::lambda_init::context_or_report().await?;
    let ctx = &ctx;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        handler(ctx, event).await
    }))
    .await
}

/// One SQS batch. Never fails as a whole: every failure is per message, in the response.
async fn handler(
    ctx: &Context,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, std::convert::Infallible> {
    let batch = queued(&event.payload);
    let keep = delivery::handle_batch(ctx, &batch).await;
    if let Some(consumer) = ctx.delivery_consumer.as_ref() {
        for (message_id, delay) in &keep {
            let receipt = event
                .payload
                .records
                .iter()
                .find(|r| r.message_id.as_deref() == Some(message_id.as_str()))
                .and_then(|r| r.receipt_handle.as_deref());
            if let Some(receipt) = receipt
                && let Err(e) = consumer.release(receipt, *delay).await
            {
                // The queue's own visibility timeout applies instead: later, never lost.
                tracing::warn!(message_id = %message_id, error = %e, "cannot set the retry delay");
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    response.set_failures(keep.into_iter().map(|(id, _)| id).collect::<Vec<_>>());
    Ok(response)
}

/// The event's records as the delivery job sees them: the body is a delivery id, the group is
/// the FIFO `MessageGroupId` attribute.
fn queued(event: &SqsEvent) -> Vec<QueuedDelivery> {
    event
        .records
        .iter()
        .map(|record| QueuedDelivery {
            message_id: record.message_id.clone().unwrap_or_default(),
            body: record.body.clone().unwrap_or_default(),
            group: record.attributes.get("MessageGroupId").cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use connector_domain::FixedClock;
    use connector_embedded::{OutboxMailer, SqliteDb};

    use super::*;

    const ONE_DELIVERY: &str = include_str!("../../../events/ehr-delivery/one-delivery.json");

    fn event(json: &str) -> LambdaEvent<SqsEvent> {
        let payload: SqsEvent = serde_json::from_str(json).expect("an SQS event");
        LambdaEvent::new(payload, lambda_runtime::Context::default())
    }

    fn embedded(dir: &tempfile::TempDir) -> Context {
        let db = SqliteDb::open(dir.path().join("connector.db")).expect("db");
        let mailer = OutboxMailer::new(dir.path().join("outbox")).expect("outbox");
        let clock = FixedClock::at(Utc.with_ymd_and_hms(2026, 11, 21, 15, 5, 0).unwrap());
        Context::from_embedded(&db, Arc::new(mailer), Arc::new(clock))
    }

    #[test]
    fn records_carry_the_delivery_id_and_the_patient_group() {
        let batch = queued(&event(ONE_DELIVERY).payload);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].body, "019a8c1e-7b2f-7c3d-9e4f-5a6b7c8d9e01");
        assert_eq!(
            batch[0].group.as_deref(),
            Some("lead-7f3c2a10-5d1e-4c8b-9a61-0b2d4e6f8a01")
        );
    }

    #[tokio::test]
    async fn an_unknown_delivery_is_acknowledged_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = embedded(&dir);
        let response = handler(&ctx, event(ONE_DELIVERY)).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
}
