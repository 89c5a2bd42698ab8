//! AWS adapters for Clinic Connector's ports: DynamoDB stores ([`dynamo`]), the SQS work queue
//! ([`sqs`]), the SES v2 mailer ([`sesv2`]) and the secret store ([`secrets`]: environment and
//! Secrets Manager).
//!
//! The SQS, SES v2 and Secrets Manager adapters are behind the features of the same names
//! (`sqs`, `ses`, `secretsmanager`, all on by default), so a Lambda function links only the
//! SDKs it calls; DynamoDB is always there.
//!
//! Build them all with [`AwsAdapters`] from one `aws_config::SdkConfig` loaded once per process.
//! Local endpoints (DynamoDB Local, moto) are reached through the SDK's standard
//! `AWS_ENDPOINT_URL*` variables, the same code path as production. docs/dynamodb.md describes the
//! key design. Every SDK client sends through [`https_client`] (rustls on ring, not the SDK's
//! default on aws-lc-rs), set by [`sdk_config_loader`].
#![deny(missing_docs)]

pub mod adapters;
mod backoff;
pub mod config;
pub mod config_fault;
pub mod counter;
pub mod dynamo;
pub mod error_map;
pub mod http_client;
#[cfg(feature = "invoke")]
pub mod invoke;
#[cfg(feature = "secretsmanager")]
pub mod secrets;
#[cfg(feature = "ses")]
pub mod sesv2;
pub mod setup;
#[cfg(feature = "sqs")]
pub mod sqs;

pub use adapters::{AwsAdapters, load_sdk_config};
pub use config::{
    AwsConfig, AwsConfigError, DEFAULT_AUDIT_RETENTION, DEFAULT_DELIVERY_RETENTION,
    DEFAULT_INBOUND_RETENTION, TableNames,
};
pub use counter::RequestCounter;
pub use dynamo::appointments::DynamoAppointmentStore;
pub use dynamo::audit::DynamoAuditLog;
pub use dynamo::batch::UnprocessedKeys;
pub use dynamo::consents::DynamoConsentStore;
pub use dynamo::crm_writes::DynamoCrmWriteLog;
pub use dynamo::dashboard::DynamoDashboard;
pub use dynamo::deliveries::{DynamoDeliveryStore, MAX_WEBHOOK_DELIVERIES};
pub use dynamo::flows::DynamoFlowStore;
pub use dynamo::inbound::DynamoInboundLedger;
pub use dynamo::ledger::DynamoSendLedger;
pub use dynamo::patients::DynamoPatientStore;
pub use dynamo::settings::DynamoSettingsStore;
pub use dynamo::tables::create_tables;
pub use http_client::{https_client, sdk_config_loader};
#[cfg(feature = "invoke")]
pub use invoke::{FunctionInvoker, InvokeError};
#[cfg(feature = "secretsmanager")]
pub use secrets::{AwsSecrets, DEFAULT_SECRET_CACHE_TTL, SecretsManagerRefusal};
#[cfg(feature = "ses")]
pub use sesv2::SesMailer;
pub use setup::SetupError;
#[cfg(feature = "sqs")]
pub use sqs::{BatchEntriesFailed, QueueUrls, SqsQueue, create_queue, create_queue_with_dlq};
