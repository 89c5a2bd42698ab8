//! The one constructor: every adapter from one `SdkConfig` loaded once per process.

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;

use crate::config::{AwsConfig, AwsConfigError};
use crate::config_fault::ConfigFaultLog;
use crate::counter::RequestCounter;
use crate::dynamo::appointments::DynamoAppointmentStore;
use crate::dynamo::audit::DynamoAuditLog;
use crate::dynamo::consents::DynamoConsentStore;
use crate::dynamo::crm_writes::DynamoCrmWriteLog;
use crate::dynamo::deliveries::DynamoDeliveryStore;
use crate::dynamo::flows::DynamoFlowStore;
use crate::dynamo::inbound::DynamoInboundLedger;
use crate::dynamo::ledger::DynamoSendLedger;
use crate::dynamo::patients::DynamoPatientStore;
use crate::dynamo::settings::DynamoSettingsStore;
use crate::dynamo::{Dynamo, tables};
#[cfg(feature = "secretsmanager")]
use crate::secrets::AwsSecrets;
#[cfg(feature = "ses")]
use crate::sesv2::SesMailer;
use crate::setup::SetupError;
#[cfg(feature = "sqs")]
use crate::sqs::SqsQueue;

/// Loads the SDK configuration the standard way (environment, profile, instance/Lambda role):
/// endpoints come from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` when set. Every client
/// sends with [`crate::https_client`] ([`crate::sdk_config_loader`]).
pub async fn load_sdk_config() -> SdkConfig {
    crate::sdk_config_loader().load().await
}

/// The SDK clients and resource names, from which every adapter is made. Cloning is cheap (the
/// clients are reference-counted inside); adapters hold clones, never wrappers. The secret
/// store's cache is made once here and shared by every [`AwsAdapters::secrets`] and clone.
#[derive(Debug, Clone)]
pub struct AwsAdapters {
    dynamodb: aws_sdk_dynamodb::Client,
    #[cfg(feature = "sqs")]
    sqs: aws_sdk_sqs::Client,
    #[cfg(feature = "ses")]
    ses: aws_sdk_sesv2::Client,
    #[cfg(feature = "secretsmanager")]
    secrets: AwsSecrets,
    #[cfg(feature = "secretsmanager")]
    secretsmanager: aws_sdk_secretsmanager::Client,
    #[cfg(feature = "invoke")]
    lambda: aws_sdk_lambda::Client,
    config: AwsConfig,
}

impl AwsAdapters {
    /// Clients for DynamoDB, SQS, SES v2 and Secrets Manager (those this build has) from `sdk`,
    /// for the resources in `config`.
    pub fn new(sdk: &SdkConfig, config: AwsConfig) -> Self {
        Self::build(sdk, config, None)
    }

    /// As [`AwsAdapters::new`], with `counter` counting every request the clients send.
    pub fn with_counter(sdk: &SdkConfig, config: AwsConfig, counter: &RequestCounter) -> Self {
        Self::build(sdk, config, Some(counter))
    }

    /// The clients from `sdk`, each with `counter` among its interceptors when given (and
    /// DynamoDB's with the configuration fault log first).
    fn build(sdk: &SdkConfig, config: AwsConfig, counter: Option<&RequestCounter>) -> Self {
        let counting = || counter.map(|c| SharedInterceptor::new(c.clone()));
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk);
        dynamodb.push_interceptor(SharedInterceptor::new(ConfigFaultLog));
        if let Some(counter) = counting() {
            dynamodb.push_interceptor(counter);
        }
        #[cfg(feature = "sqs")]
        let mut sqs = aws_sdk_sqs::config::Builder::from(sdk);
        #[cfg(feature = "sqs")]
        if let Some(counter) = counting() {
            sqs.push_interceptor(counter);
        }
        #[cfg(feature = "ses")]
        let mut ses = aws_sdk_sesv2::config::Builder::from(sdk);
        #[cfg(feature = "ses")]
        if let Some(counter) = counting() {
            ses.push_interceptor(counter);
        }
        #[cfg(feature = "secretsmanager")]
        let secretsmanager = {
            let mut builder = aws_sdk_secretsmanager::config::Builder::from(sdk);
            if let Some(counter) = counting() {
                builder.push_interceptor(counter);
            }
            aws_sdk_secretsmanager::Client::from_conf(builder.build())
        };
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            #[cfg(feature = "sqs")]
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            #[cfg(feature = "ses")]
            ses: aws_sdk_sesv2::Client::from_conf(ses.build()),
            #[cfg(feature = "secretsmanager")]
            secrets: AwsSecrets::new(secretsmanager.clone()),
            #[cfg(feature = "secretsmanager")]
            secretsmanager,
            #[cfg(feature = "invoke")]
            lambda: aws_sdk_lambda::Client::new(sdk),
            config,
        }
    }

    /// Reads [`AwsConfig::from_env`] and the SDK configuration ([`load_sdk_config`]).
    pub async fn from_env() -> Result<Self, AwsConfigError> {
        let config = AwsConfig::from_env()?;
        Ok(Self::new(&load_sdk_config().await, config))
    }

    #[cfg(feature = "invoke")]
    /// The invoker of the batch collector function, when `BATCH_COLLECTOR_FUNCTION` is set.
    pub fn batch_collector(&self) -> Option<crate::invoke::FunctionInvoker> {
        self.config
            .batch_collector_function
            .clone()
            .map(|function| crate::invoke::FunctionInvoker::new(self.lambda.clone(), function))
    }

    /// The resource configuration.
    pub fn config(&self) -> &AwsConfig {
        &self.config
    }

    /// The DynamoDB client.
    pub fn dynamodb_client(&self) -> &aws_sdk_dynamodb::Client {
        &self.dynamodb
    }

    /// The SQS client.
    #[cfg(feature = "sqs")]
    pub fn sqs_client(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    /// The SES v2 client.
    #[cfg(feature = "ses")]
    pub fn ses_client(&self) -> &aws_sdk_sesv2::Client {
        &self.ses
    }

    /// The Secrets Manager client.
    #[cfg(feature = "secretsmanager")]
    pub fn secretsmanager_client(&self) -> &aws_sdk_secretsmanager::Client {
        &self.secretsmanager
    }

    fn dynamo(&self) -> Dynamo {
        Dynamo::new(
            self.dynamodb.clone(),
            self.config.tables.clone(),
            self.config.audit_retention,
        )
    }

    /// The patient store.
    pub fn patients(&self) -> DynamoPatientStore {
        DynamoPatientStore::from_dynamo(self.dynamo())
    }

    /// The consent store.
    pub fn consents(&self) -> DynamoConsentStore {
        DynamoConsentStore::from_dynamo(self.dynamo())
    }

    /// The settings store.
    pub fn settings(&self) -> DynamoSettingsStore {
        DynamoSettingsStore::from_dynamo(self.dynamo())
    }

    /// The audit log.
    pub fn audit(&self) -> DynamoAuditLog {
        DynamoAuditLog::from_dynamo(self.dynamo())
    }

    /// The admin dashboard's counts (on the flows table).
    pub fn dashboard(&self) -> crate::DynamoDashboard {
        crate::DynamoDashboard::from_dynamo(self.dynamo())
    }

    /// The appointment store.
    pub fn appointments(&self) -> DynamoAppointmentStore {
        DynamoAppointmentStore::from_dynamo(self.dynamo())
    }

    /// The send ledger.
    pub fn send_ledger(&self) -> DynamoSendLedger {
        DynamoSendLedger::from_dynamo(self.dynamo())
    }

    /// Channels and flows (on the flows table).
    pub fn flows(&self) -> DynamoFlowStore {
        DynamoFlowStore::from_dynamo(self.dynamo())
    }

    /// The inbound ledger (on the flows table; records expire after
    /// [`AwsConfig::inbound_retention`]).
    pub fn inbound_ledger(&self) -> DynamoInboundLedger {
        DynamoInboundLedger::from_dynamo(self.dynamo(), self.config.inbound_retention)
    }

    /// Outbound deliveries, accepted webhooks and group blocks (on the flows table; delivered
    /// deliveries and webhooks expire after [`AwsConfig::delivery_retention`]).
    pub fn deliveries(&self) -> DynamoDeliveryStore {
        DynamoDeliveryStore::from_dynamo(self.dynamo(), self.config.delivery_retention)
    }

    /// The CRM write log (on the flows table; writes expire after the echo window).
    pub fn crm_writes(&self) -> DynamoCrmWriteLog {
        DynamoCrmWriteLog::from_dynamo(self.dynamo())
    }

    /// The secret store: `env:` and `secretsmanager:` references, values cached for five
    /// minutes in a cache every call and clone shares.
    #[cfg(feature = "secretsmanager")]
    pub fn secrets(&self) -> AwsSecrets {
        self.secrets.clone()
    }

    /// The HIE work queue, when `HIE_QUEUE_URL` is configured.
    #[cfg(feature = "sqs")]
    pub fn hie_queue(&self) -> Option<SqsQueue> {
        self.config
            .hie_queue_url
            .as_deref()
            .map(|url| self.queue(url))
    }

    /// The delivery queue (FIFO, one group per patient), when `DELIVERY_QUEUE_URL` is
    /// configured. Its consumer side's `release` is ChangeMessageVisibility, which is how a
    /// Lambda consumer delays a retry.
    #[cfg(feature = "sqs")]
    pub fn delivery_queue(&self) -> Option<SqsQueue> {
        self.config
            .delivery_queue_url
            .as_deref()
            .map(|url| self.queue(url))
    }

    /// The queue at `url`.
    #[cfg(feature = "sqs")]
    pub fn queue(&self, url: &str) -> SqsQueue {
        SqsQueue::new(self.sqs.clone(), url)
    }

    /// The SES v2 mailer.
    #[cfg(feature = "ses")]
    pub fn mailer(&self) -> SesMailer {
        SesMailer::new(self.ses.clone(), self.config.ses_configuration_set.clone())
    }

    /// Creates the configured tables with their indexes and TTL (see [`tables::create_tables`]).
    pub async fn create_tables(&self) -> Result<(), SetupError> {
        tables::create_tables(&self.dynamodb, &self.config.tables).await
    }
}
