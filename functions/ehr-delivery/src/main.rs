//! The ehr-delivery Lambda: the delivery worker on the FIFO delivery queue's SQS trigger.
//!
//! A batch holds messages of several patients' groups, in order within each. A delivery to
//! retry gets its backoff as the message's visibility timeout (ChangeMessageVisibility) and is
//! reported as a batch item failure, and so is every later message of its group in the batch
//! (not attempted), so the patient's order holds while other groups proceed. Delivered, parked
//! and held deliveries are acknowledged (and audited). See `connector_app::lambda::ehr_delivery`.

use connector_app::lambda;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let ctx = &lambda::start().await?;
    lambda_runtime::run(service_fn(move |event| lambda::ehr_delivery(ctx, event))).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use connector_domain::FixedClock;
    use connector_embedded::{OutboxMailer, SqliteDb};

    use aws_lambda_events::event::sqs::SqsEvent;
    use connector_app::Context;
    use connector_app::lambda::ehr_delivery as handler;
    use connector_app::lambda::sqs::batch as queued;
    use lambda_runtime::LambdaEvent;

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
