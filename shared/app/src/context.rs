//! The one wiring point: every port the jobs need, chosen from configuration.

use std::sync::Arc;

use connector_domain::Clock;
use connector_domain::consent::ConsentPorts;
use connector_domain::ports::{
    AppointmentStore, AuditLog, ConsentStore, Mailer, PatientStore, QueueConsumer, SendLedger,
    SettingsStore, WorkQueue,
};

use crate::config::{Config, StoreConfig};

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
    /// The configuration names adapters this binary was built without.
    #[error("this binary was built without the `{0}` adapters")]
    NotBuiltIn(&'static str),
}

impl Context {
    /// Builds the adapters `config` names.
    pub async fn from_config(config: &Config) -> Result<Self, ContextError> {
        match &config.store {
            #[cfg(feature = "embedded")]
            StoreConfig::Embedded {
                db_path,
                outbox_dir,
            } => Self::embedded(db_path, outbox_dir),
            #[cfg(not(feature = "embedded"))]
            StoreConfig::Embedded { .. } => Err(ContextError::NotBuiltIn("embedded")),
            #[cfg(feature = "aws")]
            StoreConfig::Aws(aws) => {
                let sdk = connector_aws::load_sdk_config().await;
                let adapters = connector_aws::AwsAdapters::new(&sdk, aws.clone());
                Self::from_aws(&adapters, Arc::new(connector_domain::SystemClock))
            }
        }
    }

    /// Every port on one SQLite file (mail to an outbox folder), with the system clock.
    #[cfg(feature = "embedded")]
    pub fn embedded(
        db_path: &std::path::Path,
        outbox_dir: &std::path::Path,
    ) -> Result<Self, ContextError> {
        let db = connector_embedded::SqliteDb::open(db_path)
            .map_err(|e| ContextError::Embedded(Box::new(e)))?;
        let mailer = connector_embedded::OutboxMailer::new(outbox_dir)
            .map_err(|e| ContextError::Embedded(Box::new(e)))?;
        Ok(Self::from_embedded(
            &db,
            Arc::new(mailer),
            Arc::new(connector_domain::SystemClock),
        ))
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
            clock,
        }
    }

    /// Every port on AWS: DynamoDB stores, the SQS HIE queue (its consumer is Lambda's SQS
    /// trigger, so none here), SES v2 mail.
    #[cfg(feature = "aws")]
    pub fn from_aws(
        adapters: &connector_aws::AwsAdapters,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ContextError> {
        let queue = adapters
            .hie_queue()
            .ok_or(ContextError::AwsMissing("HIE_QUEUE_URL"))?;
        Ok(Self {
            patients: Arc::new(adapters.patients()),
            consents: Arc::new(adapters.consents()),
            settings: Arc::new(adapters.settings()),
            audit: Arc::new(adapters.audit()),
            appointments: Arc::new(adapters.appointments()),
            send_ledger: Arc::new(adapters.send_ledger()),
            hie_queue: Arc::new(queue),
            hie_consumer: None,
            mailer: Arc::new(adapters.mailer()),
            clock,
        })
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
