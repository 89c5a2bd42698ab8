use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;

use crate::common;

/// Records where each request goes.
#[derive(Debug, Clone, Default)]
struct Uris(Arc<Mutex<Vec<String>>>);

impl Intercept for Uris {
    fn name(&self) -> &'static str {
        "Uris"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0
            .lock()
            .unwrap()
            .push(context.request().uri().to_owned());
        Ok(())
    }
}

#[tokio::test]
async fn each_service_resolves_its_local_endpoint_through_the_standard_variables() {
    let Some(aws) = common::local() else { return };
    let sdk = common::sdk(aws).await;
    let uris = Uris::default();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(uris.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .interceptor(uris.clone())
            .build(),
    );
    dynamodb.list_tables().limit(1).send().await.unwrap();
    sqs.list_queues().max_results(1).send().await.unwrap();
    let seen = uris.0.lock().unwrap().clone();
    // AWS_ENDPOINT_URL_DYNAMODB wins for DynamoDB (moto serves DynamoDB too, so this matters);
    // AWS_ENDPOINT_URL serves the rest.
    assert!(seen[0].starts_with(&aws.dynamodb_endpoint()), "{seen:?}");
    assert!(seen[1].starts_with(&aws.moto_endpoint()), "{seen:?}");
    assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-east-1"));
    let _ = writeln!(
        std::io::stderr(),
        "local AWS endpoints answered {:?} after start",
        aws.started_in()
    );
}
