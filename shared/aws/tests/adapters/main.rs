//! The AWS adapters' own behaviour on DynamoDB Local and moto, beyond the shared contract:
//! request counts, transaction atomicity, TTL, index plans, SQS batching and redrive, SES raw mail.

#[path = "../common/mod.rs"]
mod common;

mod dynamo;
mod launcher;
mod ses;
mod sqs;
