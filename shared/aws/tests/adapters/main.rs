//! The AWS adapters' own behaviour on DynamoDB Local and moto, beyond the shared contract:
//! request counts, transaction atomicity, TTL, index plans, outbound deliveries and their group
//! blocks, SQS batching, FIFO groups and redrive, SES raw mail, Secrets Manager reads and their
//! cache; and the SDK's HTTP client speaking TLS.

#[path = "../common/mod.rs"]
mod common;

mod deliveries;
mod dynamo;
mod flows;
mod https_client;
mod inbound;
mod launcher;
mod secrets;
mod ses;
mod sqs;
