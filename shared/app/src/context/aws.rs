//! The AWS ports a build has adapters for. A Lambda function is built with only the adapters it
//! calls (connector-app's `sqs`, `ses`, `secretsmanager` and `ehr-transport` features); the
//! port of a left-out adapter is a [`MissingAdapter`] that refuses every call, naming itself,
//! so a function that did call it would fail loudly (and retryably) rather than do nothing.

use std::sync::Arc;

use async_trait::async_trait;
use connector_aws::AwsAdapters;
use connector_domain::flow::{Channel, SecretRef, SecretValue};
use connector_domain::inbound::ControlId;
use connector_domain::ports::{
    EhrTransport, MailError, Mailer, OutgoingMail, QueueConsumer, SecretError, SecretStore,
    SendOutcome, WorkQueue,
};

use super::{ContextError, MissingAdapter, NotAvailableYet};

/// The SQS HIE queue (`HIE_QUEUE_URL` is required when this build has SQS).
pub(super) fn hie_queue(adapters: &AwsAdapters) -> Result<Arc<dyn WorkQueue>, ContextError> {
    #[cfg(feature = "sqs")]
    return Ok(Arc::new(
        adapters
            .hie_queue()
            .ok_or(ContextError::AwsMissing("HIE_QUEUE_URL"))?,
    ));
    #[cfg(not(feature = "sqs"))]
    {
        let _ = adapters;
        Ok(Arc::new(MissingAdapter("the HIE queue")))
    }
}

/// The FIFO delivery queue's producer and consumer sides, when `DELIVERY_QUEUE_URL` is set.
pub(super) fn delivery_queue(
    adapters: &AwsAdapters,
) -> (Arc<dyn WorkQueue>, Option<Arc<dyn QueueConsumer>>) {
    #[cfg(feature = "sqs")]
    if let Some(queue) = adapters.delivery_queue().map(Arc::new) {
        return (queue.clone(), Some(queue));
    }
    let _ = adapters;
    (Arc::new(MissingAdapter("the delivery queue")), None)
}

/// The SES v2 mailer.
pub(super) fn mailer(adapters: &AwsAdapters) -> Arc<dyn Mailer> {
    #[cfg(feature = "ses")]
    return Arc::new(adapters.mailer());
    #[cfg(not(feature = "ses"))]
    {
        let _ = adapters;
        Arc::new(MissingAdapter("the HIE mailer"))
    }
}

/// `env:` and `secretsmanager:` references.
pub(super) fn secrets(adapters: &AwsAdapters) -> Arc<dyn SecretStore> {
    #[cfg(feature = "secretsmanager")]
    return Arc::new(adapters.secrets());
    #[cfg(not(feature = "secretsmanager"))]
    {
        let _ = adapters;
        Arc::new(MissingAdapter("the secret store"))
    }
}

/// HL7 to EHRs on channels' outbound settings, with credentials from `secrets`.
pub(super) fn ehr(secrets: &Arc<dyn SecretStore>) -> Arc<dyn EhrTransport> {
    #[cfg(feature = "ehr-transport")]
    return Arc::new(connector_transport::ChannelTransport::new(Arc::clone(
        secrets,
    )));
    #[cfg(not(feature = "ehr-transport"))]
    {
        let _ = secrets;
        Arc::new(MissingAdapter("the EHR transport"))
    }
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
    ) -> SendOutcome {
        tracing::warn!(
            adapter = self.0,
            "not sent: this build has no EHR transport"
        );
        SendOutcome::NotSent
    }
}
