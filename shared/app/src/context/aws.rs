//! The AWS ports a build has adapters for. A Lambda function is built with only the adapters it
//! calls (connector-app's `sqs`, `ses`, `secretsmanager` and `ehr-transport` features); the
//! port of a left-out adapter is a [`MissingAdapter`] that refuses every call, naming itself,
//! so a function that did call it would fail loudly (and retryably) rather than do nothing.

use crate::hie::batch_run::BatchTrigger;
use std::sync::Arc;

use async_trait::async_trait;
use connector_aws::AwsAdapters;
use connector_domain::flow::{Channel, SecretRef, SecretValue};
use connector_domain::inbound::ControlId;
use connector_domain::ports::{
    EhrSendOutcome, EhrTransport, MailError, Mailer, OutgoingMail, QueueConsumer, SecretError,
    SecretStore, WorkQueue,
};

use super::{ContextError, MissingAdapter, NotAvailableYet};

/// The SQS HIE queue (`HIE_QUEUE_URL` is required when this build has SQS).
#[cfg(feature = "sqs")]
pub(super) fn hie_queue(adapters: &AwsAdapters) -> Result<Arc<dyn WorkQueue>, ContextError> {
    let queue = adapters
        .hie_queue()
        .ok_or(ContextError::AwsMissing("HIE_QUEUE_URL"))?;
    Ok(Arc::new(queue))
}

/// A build without SQS has no HIE queue.
#[cfg(not(feature = "sqs"))]
pub(super) fn hie_queue(_: &AwsAdapters) -> Result<Arc<dyn WorkQueue>, ContextError> {
    Ok(Arc::new(MissingAdapter("the HIE queue")))
}

/// The FIFO delivery queue's producer and consumer sides, when `DELIVERY_QUEUE_URL` is set.
#[cfg(feature = "sqs")]
pub(super) fn delivery_queue(
    adapters: &AwsAdapters,
) -> (Arc<dyn WorkQueue>, Option<Arc<dyn QueueConsumer>>) {
    match adapters.delivery_queue().map(Arc::new) {
        Some(queue) => (queue.clone(), Some(queue)),
        None => (Arc::new(MissingAdapter("the delivery queue")), None),
    }
}

/// A build without SQS has no delivery queue.
#[cfg(not(feature = "sqs"))]
pub(super) fn delivery_queue(
    _: &AwsAdapters,
) -> (Arc<dyn WorkQueue>, Option<Arc<dyn QueueConsumer>>) {
    (Arc::new(MissingAdapter("the delivery queue")), None)
}

/// The SES v2 mailer.
#[cfg(feature = "ses")]
pub(super) fn mailer(adapters: &AwsAdapters) -> Arc<dyn Mailer> {
    Arc::new(adapters.mailer())
}

/// A build without SES sends no mail.
#[cfg(not(feature = "ses"))]
pub(super) fn mailer(_: &AwsAdapters) -> Arc<dyn Mailer> {
    Arc::new(MissingAdapter("the HIE mailer"))
}

/// `env:` and `secretsmanager:` references.
#[cfg(feature = "secretsmanager")]
pub(super) fn secrets(adapters: &AwsAdapters) -> Arc<dyn SecretStore> {
    Arc::new(adapters.secrets())
}

/// A build without Secrets Manager resolves no reference.
#[cfg(not(feature = "secretsmanager"))]
pub(super) fn secrets(_: &AwsAdapters) -> Arc<dyn SecretStore> {
    Arc::new(MissingAdapter("the secret store"))
}

/// HL7 to EHRs on channels' outbound settings, with credentials from `secrets`.
#[cfg(feature = "ehr-transport")]
pub(super) fn ehr(secrets: &Arc<dyn SecretStore>) -> Arc<dyn EhrTransport> {
    Arc::new(connector_transport::ChannelTransport::new(Arc::clone(
        secrets,
    )))
}

/// A build without the EHR transport sends nothing.
#[cfg(not(feature = "ehr-transport"))]
pub(super) fn ehr(_: &Arc<dyn SecretStore>) -> Arc<dyn EhrTransport> {
    Arc::new(MissingAdapter("the EHR transport"))
}

#[async_trait]
impl Mailer for MissingAdapter {
    async fn send(&self, _mail: &OutgoingMail) -> Result<String, MailError> {
        Err(MailError::Transient(Box::new(NotAvailableYet(self.0))))
    }
}

#[async_trait]
impl SecretStore for MissingAdapter {
    async fn resolve(&self, _reference: &SecretRef) -> Result<SecretValue, SecretError> {
        Err(SecretError::Unavailable(Box::new(NotAvailableYet(self.0))))
    }
}

#[async_trait]
impl EhrTransport for MissingAdapter {
    async fn send(
        &self,
        _channel: &Channel,
        _control_id: &ControlId,
        _message: &[u8],
    ) -> EhrSendOutcome {
        tracing::warn!(
            adapter = self.0,
            "not sent: this build has no EHR transport"
        );
        EhrSendOutcome::NotSent
    }
}

/// How `POST /hie/batch-runs` starts a run on AWS: invoking the collector function.
#[cfg(feature = "invoke")]
pub(super) fn batch_trigger(adapters: &AwsAdapters) -> Arc<dyn BatchTrigger> {
    match adapters.batch_collector() {
        Some(invoker) => Arc::new(crate::hie::batch_run::InvokeCollector(invoker)),
        None => Arc::new(crate::hie::batch_run::NoTrigger(
            "this deployment cannot start batch runs: BATCH_COLLECTOR_FUNCTION is not set",
        )),
    }
}

#[cfg(not(feature = "invoke"))]
pub(super) fn batch_trigger(_: &AwsAdapters) -> Arc<dyn BatchTrigger> {
    Arc::new(crate::hie::batch_run::NoTrigger(
        "this function cannot start batch runs: it is built without the `invoke` feature",
    ))
}
