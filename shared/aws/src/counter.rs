//! Counts the HTTP requests the SDK clients send, per service and operation: attach one
//! [`RequestCounter`] to the client configurations (see `AwsAdapters::with_counter`) and read it
//! after a run. Retried attempts count as requests, as AWS bills them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// An SDK interceptor that counts requests. Clones share one count.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl RequestCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests sent so far, per `service.operation` (e.g. `dynamodb.BatchGetItem`,
    /// `secretsmanager.GetSecretValue`: the service name lower-cased, without spaces).
    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Requests sent so far to services whose name starts with `service` (case-insensitive,
    /// e.g. `dynamodb`, `sqs`), or to all services for `""`.
    pub fn total(&self, service: &str) -> u64 {
        let service = service.to_ascii_lowercase();
        self.by_operation()
            .iter()
            .filter(|(op, _)| op.to_ascii_lowercase().starts_with(&service))
            .map(|(_, n)| n)
            .sum()
    }

    /// Back to zero.
    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = match cfg.load::<Metadata>() {
            Some(m) => format!(
                "{}.{}",
                m.service().replace(' ', "").to_ascii_lowercase(),
                m.name()
            ),
            None => "unknown".to_owned(),
        };
        *self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default() += 1;
        Ok(())
    }
}
