//! The ehr-delivery Lambda: the delivery worker on the FIFO delivery queue's SQS trigger.
//!
//! A batch holds messages of several patients' groups, in order within each. A delivery to
//! retry gets its backoff as the message's visibility timeout (ChangeMessageVisibility) and is
//! reported as a batch item failure, and so is every later message of its group in the batch
//! (not attempted), so the patient's order holds while other groups proceed. Delivered, parked
//! and held deliveries are acknowledged (and audited). See `connector_app::lambda::ehr_delivery`.

use connector_app::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::run_job(lambda::ehr_delivery).await
}

#[cfg(test)]
mod tests {
    use connector_app::lambda::ehr_delivery as handler;
    use connector_app::lambda::sqs::batch as queued;
    use connector_app::lambda::{local_context, local_invocation};

    const ONE_DELIVERY: &str = include_str!("../../../events/ehr-delivery/one-delivery.json");

    #[test]
    fn records_carry_the_delivery_id_and_the_patient_group() {
        let batch = queued(&local_invocation(ONE_DELIVERY).unwrap().payload);
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
        let (ctx, _) = local_context(dir.path()).expect("context");
        let response = handler(&ctx, local_invocation(ONE_DELIVERY).unwrap())
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
}
