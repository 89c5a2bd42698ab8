//! The one wiring point: every port the jobs need, chosen from configuration.

use std::sync::Arc;

use async_trait::async_trait;
use connector_domain::Clock;
use connector_domain::consent::ConsentPorts;
use connector_domain::crm::{
    Activity, ActivityId, ActivityInput, Crm, CrmError, CrmField, Lead, LeadId,
};
use connector_domain::ports::{
    AppointmentStore, AuditLog, ConsentStore, CrmWriteLog, DashboardStore, DeliveryStore,
    EhrTransport, FlowStore, InboundLedger, LocalSecretStore, Mailer, PatientStore, QueueConsumer,
    QueueError, QueueMessage, SecretStore, SendLedger, SettingsStore, WorkQueue,
};

use crate::config::{Config, CrmConfig, StoreConfig};

#[cfg(feature = "dynamodb")]
mod aws;

/// The adapters behind every port, built once per process (Lambda INIT, `connector serve` start).
#[derive(Clone)]
pub struct Context {
    /// Patients.
    pub patients: Arc<dyn PatientStore>,
    /// Consent records.
    pub consents: Arc<dyn ConsentStore>,
    /// HIE settings.
    pub settings: Arc<dyn SettingsStore>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Appointments.
    pub appointments: Arc<dyn AppointmentStore>,
    /// The HIE send ledger (exactly one send per transition).
    pub send_ledger: Arc<dyn SendLedger>,
    /// The HIE work queue the collector fills.
    pub hie_queue: Arc<dyn WorkQueue>,
    /// The same queue's consumer side, where this host pulls work itself (`connector serve`); on
    /// Lambda the SQS trigger delivers instead.
    pub hie_consumer: Option<Arc<dyn QueueConsumer>>,
    /// Sends mail to the HIE.
    pub mailer: Arc<dyn Mailer>,
    /// Channels and flows (EHR <-> CRM configuration).
    pub flows: Arc<dyn FlowStore>,
    /// The inbound ledger: one record per HL7 message received on a channel.
    pub inbound_ledger: Arc<dyn InboundLedger>,
    /// The CRM the flows write to and read from.
    pub crm: Arc<dyn Crm>,
    /// Resolves secret references (HMAC keys, webhook tokens, outbound credentials).
    pub secrets: Arc<dyn SecretStore>,
    /// The deployment's own secrets behind `local:` references, written by administrators
    /// (`PUT /secrets/{name}`): the embedded store's; `None` on AWS, where secrets live in
    /// Secrets Manager.
    pub local_secrets: Option<Arc<dyn LocalSecretStore>>,
    /// Outbound deliveries (CRM -> EHR): accepted webhooks, their HL7 messages, parked groups.
    pub deliveries: Arc<dyn DeliveryStore>,
    /// What the connector wrote to the CRM lately (echo suppression of the webhooks it fires).
    pub crm_writes: Arc<dyn CrmWriteLog>,
    /// The delivery queue (delivery ids, one FIFO group per patient).
    pub delivery_queue: Arc<dyn WorkQueue>,
    /// The delivery queue's consumer side, where this host pulls work itself (`connector
    /// serve`); on Lambda the SQS trigger delivers instead.
    pub delivery_consumer: Option<Arc<dyn QueueConsumer>>,
    /// Sends HL7 to EHRs on channels' outbound settings (MLLP or HTTPS).
    pub ehr: Arc<dyn EhrTransport>,
    /// The admin dashboard's counts.
    pub dashboard: Arc<dyn DashboardStore>,
    /// Starts a batch collector run on demand: in this process (embedded), or by invoking the
    /// collector function (AWS).
    pub batch_trigger: Arc<dyn crate::hie::batch_run::BatchTrigger>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// Why the context could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The embedded store could not be opened.
    #[error("cannot open the embedded store")]
    Embedded(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The AWS configuration lacks something this host needs.
    #[error("AWS configuration: {0} is required")]
    AwsMissing(&'static str),
    /// The CRM client could not be built (its keys unreadable).
    #[error("cannot set up the CRM client")]
    Crm(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The configuration names adapters this binary was built without.
    #[error("this binary was built without the `{0}` adapters")]
    NotBuiltIn(&'static str),
}

impl Context {
    /// Builds the adapters `config` names.
    pub async fn from_config(config: &Config) -> Result<Self, ContextError> {
        let ctx: Self = match &config.store {
            #[cfg(feature = "embedded")]
            StoreConfig::Embedded {
                db_path,
                outbox_dir,
            } => Self::embedded(db_path, outbox_dir),
            #[cfg(not(feature = "embedded"))]
            StoreConfig::Embedded { .. } => Err(ContextError::NotBuiltIn("embedded")),
            #[cfg(feature = "dynamodb")]
            StoreConfig::Aws(aws) => {
                let sdk = connector_aws::load_sdk_config().await;
                let adapters = connector_aws::AwsAdapters::new(&sdk, aws.clone());
                Self::from_aws(&adapters, Arc::new(connector_domain::SystemClock))
            }
        }?;
        ctx.with_crm_config(&config.crm).await
    }

    /// The same context with the CRM `config` names: the embedded one stays as built, a
    /// LeadSquared client is built with its keys read through [`Context::secrets`], `None`
    /// leaves flows failing until a CRM is configured.
    ///
    /// # Errors
    /// The keys cannot be read, or this binary lacks the LeadSquared client.
    pub async fn with_crm_config(self, config: &CrmConfig) -> Result<Self, ContextError> {
        match config {
            CrmConfig::Embedded => Ok(self),
            CrmConfig::None => Ok(self.with_crm(Arc::new(UnconfiguredCrm))),
            #[cfg(feature = "leadsquared")]
            CrmConfig::LeadSquared {
                base_url,
                access_key,
                secret_key,
                rate_limit,
            } => {
                let read = |reference| {
                    let secrets = Arc::clone(&self.secrets);
                    async move {
                        let value = secrets
                            .resolve(reference)
                            .await
                            .map_err(|e| ContextError::Crm(Box::new(e)))?;
                        String::from_utf8(value.expose().to_vec()).map_err(|_| {
                            ContextError::Crm("a LeadSquared key is not UTF-8 text".into())
                        })
                    }
                };
                let access = read(access_key).await?;
                let secret = read(secret_key).await?;
                let client_config = connector_crm::LeadSquaredConfig::new(
                    base_url.clone(),
                    connector_crm::AccessKey::new(access),
                    connector_crm::SecretKey::new(secret),
                )
                .with_rate_limit(Some(*rate_limit));
                let client = connector_crm::LeadSquaredClient::new(client_config)
                    .map_err(|e| ContextError::Crm(Box::new(e)))?;
                Ok(self.with_crm(Arc::new(client)))
            }
            #[cfg(not(feature = "leadsquared"))]
            CrmConfig::LeadSquared { .. } => Err(ContextError::NotBuiltIn("leadsquared")),
        }
    }

    /// Every port on one SQLite file (mail to an outbox folder), with the system clock.
    #[cfg(feature = "embedded")]
    pub fn embedded(
        db_path: &std::path::Path,
        outbox_dir: &std::path::Path,
    ) -> Result<Self, ContextError> {
        Self::embedded_with_clock(db_path, outbox_dir, Arc::new(connector_domain::SystemClock))
    }

    /// Every port on `connector.db` in `dir` (mail to `dir/outbox`), with the given clock: what
    /// the function handlers' tests run on (a temp folder, a fixed time; see
    /// `lambda::local_context`).
    #[cfg(feature = "embedded")]
    pub fn embedded_in(dir: &std::path::Path, clock: Arc<dyn Clock>) -> Result<Self, ContextError> {
        Self::embedded_with_clock(&dir.join("connector.db"), &dir.join("outbox"), clock)
    }

    /// [`Context::embedded`] with the given clock.
    #[cfg(feature = "embedded")]
    fn embedded_with_clock(
        db_path: &std::path::Path,
        outbox_dir: &std::path::Path,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ContextError> {
        let db = connector_embedded::SqliteDb::open(db_path)
            .map_err(|e| ContextError::Embedded(Box::new(e)))?;
        let mailer = connector_embedded::OutboxMailer::new(outbox_dir)
            .map_err(|e| ContextError::Embedded(Box::new(e)))?;
        Ok(Self::from_embedded(&db, Arc::new(mailer), clock))
    }

    /// Every port on an open SQLite database, with the given mailer and clock (tests pass
    /// doubles of these two only).
    #[cfg(feature = "embedded")]
    pub fn from_embedded(
        db: &connector_embedded::SqliteDb,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let options = connector_embedded::QueueOptions::default()
            .max_receives(crate::config::HIE_MAX_RECEIVES)
            .clock(Arc::clone(&clock));
        let queue = db.queue(crate::config::HIE_QUEUE_NAME, options);
        // No receive limit: the delivery worker parks a delivery itself when it gives up.
        let delivery_queue = db.queue(
            crate::config::DELIVERY_QUEUE_NAME,
            connector_embedded::QueueOptions::default().clock(Arc::clone(&clock)),
        );
        Self {
            patients: db.patients(),
            consents: db.consents(),
            settings: db.settings(),
            audit: db.audit(),
            appointments: db.appointments(),
            send_ledger: db.send_ledger(),
            hie_queue: Arc::new(queue.clone()),
            hie_consumer: Some(Arc::new(queue)),
            mailer,
            flows: db.flows(),
            inbound_ledger: db.inbound_ledger(),
            crm: db.crm_with_clock(Arc::clone(&clock)),
            secrets: db.secrets(),
            local_secrets: Some(db.local_secrets()),
            ehr: Arc::new(connector_transport::ChannelTransport::new(db.secrets())),
            deliveries: db.deliveries(),
            crm_writes: db.crm_writes(),
            delivery_queue: Arc::new(delivery_queue.clone()),
            delivery_consumer: Some(Arc::new(delivery_queue)),
            dashboard: db.dashboard(),
            batch_trigger: Arc::new(crate::hie::batch_run::InProcess),
            clock,
        }
    }

    /// Every port on AWS: DynamoDB stores (the delivery store and CRM write log on the flows
    /// table), the SQS HIE queue (its consumer is Lambda's SQS trigger, so none here), SES v2
    /// mail. The FIFO delivery queue comes from `DELIVERY_QUEUE_URL` when it is configured, as
    /// both producer and consumer (the ehr-delivery Lambda uses the consumer side only to give
    /// a retry its delay, ChangeMessageVisibility; a host that pulls works the queue through
    /// it); without it the delivery queue is a [`MissingAdapter`], so functions that never
    /// enqueue deliveries need not configure it. A port whose adapter this build lacks (connector-app's
    /// `sqs`, `ses`, `secretsmanager` and `ehr-transport` features) is a [`MissingAdapter`].
    #[cfg(feature = "dynamodb")]
    pub fn from_aws(
        adapters: &connector_aws::AwsAdapters,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ContextError> {
        let secrets = aws::secrets(adapters);
        let ehr = aws::ehr(&secrets);
        let (delivery_queue, delivery_consumer) = aws::delivery_queue(adapters);
        Ok(Self {
            patients: Arc::new(adapters.patients()),
            consents: Arc::new(adapters.consents()),
            settings: Arc::new(adapters.settings()),
            audit: Arc::new(adapters.audit()),
            appointments: Arc::new(adapters.appointments()),
            send_ledger: Arc::new(adapters.send_ledger()),
            hie_queue: aws::hie_queue(adapters)?,
            hie_consumer: None,
            mailer: aws::mailer(adapters),
            flows: Arc::new(adapters.flows()),
            inbound_ledger: Arc::new(adapters.inbound_ledger()),
            crm: Arc::new(UnconfiguredCrm),
            secrets,
            local_secrets: None,
            ehr,
            deliveries: Arc::new(adapters.deliveries()),
            crm_writes: Arc::new(adapters.crm_writes()),
            delivery_queue,
            delivery_consumer,
            dashboard: Arc::new(adapters.dashboard()),
            batch_trigger: aws::batch_trigger(adapters),
            clock,
        })
    }

    /// The same context with another CRM (on AWS, the LeadSquared client; `from_aws` leaves an
    /// [`UnconfiguredCrm`]).
    pub fn with_crm(self, crm: Arc<dyn Crm>) -> Self {
        Self { crm, ..self }
    }

    /// The ports the consent operations use.
    pub fn consent_ports(&self) -> ConsentPorts<'_> {
        ConsentPorts {
            patients: self.patients.as_ref(),
            consents: self.consents.as_ref(),
            settings: self.settings.as_ref(),
            clock: self.clock.as_ref(),
        }
    }
}

/// Why a [`MissingAdapter`] refuses every call: names the port.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{0} is not configured in this deployment")]
pub struct NotAvailableYet(pub &'static str);

/// The stand-in for a queue a function is not configured with (on AWS: the delivery queue of a
/// function without `DELIVERY_QUEUE_URL`), named by the port. Every call fails with
/// `QueueError::Unavailable` whose source is [`NotAvailableYet`], so a feature that needs it
/// fails loudly (and retryably) instead of silently doing nothing.
#[derive(Debug, Clone, Copy)]
pub struct MissingAdapter(pub &'static str);

#[async_trait]
impl WorkQueue for MissingAdapter {
    async fn send_batch(&self, _messages: &[QueueMessage]) -> Result<(), QueueError> {
        Err(QueueError::Unavailable(Box::new(NotAvailableYet(self.0))))
    }
}

/// Why [`UnconfiguredCrm`] refuses every call.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("no CRM is configured (set CONNECTOR_CRM)")]
pub struct NoCrmConfigured;

/// The CRM of a context built without one: every call fails with `CrmError::Unavailable`
/// (source [`NoCrmConfigured`]), so flows fail visibly (and are retried once a CRM is set)
/// instead of silently doing nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnconfiguredCrm;

impl UnconfiguredCrm {
    fn refuse<T>() -> Result<T, CrmError> {
        Err(CrmError::Unavailable(Box::new(NoCrmConfigured)))
    }
}

#[async_trait]
impl Crm for UnconfiguredCrm {
    async fn find_leads(
        &self,
        _field: &str,
        _value: &str,
        _limit: usize,
    ) -> Result<Vec<Lead>, CrmError> {
        Self::refuse()
    }

    async fn create_lead(&self, _fields: &[CrmField]) -> Result<LeadId, CrmError> {
        Self::refuse()
    }

    async fn update_lead(&self, _id: &LeadId, _fields: &[CrmField]) -> Result<(), CrmError> {
        Self::refuse()
    }

    async fn find_activities(
        &self,
        _lead: &LeadId,
        _event: i32,
        _field: &str,
        _value: &str,
        _limit: usize,
    ) -> Result<Vec<Activity>, CrmError> {
        Self::refuse()
    }

    async fn create_activity(
        &self,
        _lead: &LeadId,
        _activity: &ActivityInput,
    ) -> Result<ActivityId, CrmError> {
        Self::refuse()
    }

    async fn update_activity(
        &self,
        _id: &ActivityId,
        _activity: &ActivityInput,
    ) -> Result<(), CrmError> {
        Self::refuse()
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[tokio::test]
    async fn a_missing_queue_refuses_every_call_as_unavailable_naming_itself() {
        let queue = MissingAdapter("the delivery queue");
        let error = queue.send_batch(&[]).await.unwrap_err();
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("the delivery queue is not configured in this deployment")
        );
    }

    #[tokio::test]
    async fn the_unconfigured_crm_refuses_every_call_as_unavailable() {
        let crm = UnconfiguredCrm;
        let lead = LeadId("lead-1".into());
        let activity = ActivityInput {
            event: 1,
            note: String::new(),
            at: chrono::Utc::now(),
            fields: Vec::new(),
        };
        let errors = [
            crm.find_lead("mx_MRN", "x").await.err(),
            crm.create_lead(&[]).await.err(),
            crm.update_lead(&lead, &[]).await.err(),
            crm.find_activity(&lead, 1, "f", "v").await.err(),
            crm.create_activity(&lead, &activity).await.err(),
            crm.update_activity(&ActivityId("a".into()), &activity)
                .await
                .err(),
        ];
        for error in errors {
            let error = error.expect("refused");
            assert!(error.is_transient(), "{error:?}");
            assert_eq!(
                error.source().map(ToString::to_string).as_deref(),
                Some("no CRM is configured (set CONNECTOR_CRM)")
            );
        }
    }
}
