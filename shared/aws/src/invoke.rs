//! Starts a Lambda function asynchronously (Invoke, `InvocationType=Event`): how the consent
//! API starts a batch collector run on demand. The payload carries no PHI.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

/// Invokes one function, asynchronously.
#[derive(Debug, Clone)]
pub struct FunctionInvoker {
    client: aws_sdk_lambda::Client,
    function: String,
}

/// Why an invocation was not accepted.
#[derive(Debug, thiserror::Error)]
#[error("Lambda Invoke of {function} failed")]
pub struct InvokeError {
    function: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl FunctionInvoker {
    /// An invoker of `function` (name or ARN) through `client`.
    pub fn new(client: aws_sdk_lambda::Client, function: String) -> Self {
        Self { client, function }
    }

    /// The function invoked.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// Queues one invocation with `payload` (JSON); returns once Lambda accepted it (HTTP 202),
    /// not when the function ran.
    pub async fn invoke_event(&self, payload: &[u8]) -> Result<(), InvokeError> {
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| InvokeError {
                function: self.function.clone(),
                source: Box::new(e),
            })?;
        Ok(())
    }
}
