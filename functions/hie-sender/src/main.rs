//! The hie-sender Lambda: builds the context once at INIT, then handles each SQS batch of HIE work
//! items and reports the ones to keep as partial batch failures (`ReportBatchItemFailures`): SQS
//! redelivers those after the visibility timeout and parks them in the dead-letter queue after
//! `maxReceiveCount`. Sent, skipped and permanently failed items are acknowledged (and audited).
//! See `connector_app::lambda::hie_sender`.

use connector_app::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::run_job(lambda::hie_sender).await
}

#[cfg(test)]
mod tests {
    use connector_app::lambda::hie_sender as handler;
    use connector_app::lambda::sqs::batch as deliveries;
    use connector_app::lambda::{local_context, local_invocation};

    const TWO_MESSAGES: &str = include_str!("../../../events/hie-sender/two-messages.json");

    #[test]
    fn records_map_to_deliveries() {
        let deliveries = deliveries(&local_invocation(TWO_MESSAGES).unwrap().payload);
        let got: Vec<(&str, &str, u32)> = deliveries
            .iter()
            .map(|d| (d.message_id.as_str(), d.body.as_str(), d.receive_count))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "2e1424d4-f796-459a-8184-9c92662be6d1",
                    r#"{"appointment_id":"a-1","transition_seq":1}"#,
                    1
                ),
                (
                    "2e1424d4-f796-459a-8184-9c92662be6d2",
                    r#"{"appointment_id":"a-2","transition_seq":1}"#,
                    1
                ),
            ]
        );
        for body in got.iter().map(|(_, body, _)| body) {
            assert!(connector_domain::hie::HieWork::parse(body).is_ok());
        }
    }

    #[test]
    fn the_receive_count_comes_from_the_attribute() {
        let mut json: serde_json::Value = serde_json::from_str(TWO_MESSAGES).unwrap();
        json["Records"][0]["attributes"]["ApproximateReceiveCount"] = "4".into();
        json["Records"][1]["attributes"] = serde_json::json!({});
        let deliveries = deliveries(&local_invocation(&json.to_string()).unwrap().payload);
        assert_eq!(deliveries[0].receive_count, 4);
        assert_eq!(deliveries[1].receive_count, 1, "absent: a first delivery");
    }

    #[tokio::test]
    async fn work_is_kept_while_the_integration_is_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, _) = local_context(dir.path()).expect("context");
        let response = handler(&ctx, local_invocation(TWO_MESSAGES).unwrap())
            .await
            .unwrap();
        let kept: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(
            kept,
            [
                "2e1424d4-f796-459a-8184-9c92662be6d1",
                "2e1424d4-f796-459a-8184-9c92662be6d2"
            ]
        );
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(
            json["batchItemFailures"][0]["itemIdentifier"], "2e1424d4-f796-459a-8184-9c92662be6d1",
            "the shape Lambda reads"
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_work_is_dropped_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, _) = local_context(dir.path()).expect("context");
        let mut json: serde_json::Value = serde_json::from_str(TWO_MESSAGES).unwrap();
        json["Records"][0]["body"] = "not json".into();
        json["Records"].as_array_mut().unwrap().truncate(1);
        let response = handler(&ctx, local_invocation(&json.to_string()).unwrap())
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
}
