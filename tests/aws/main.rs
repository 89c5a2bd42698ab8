//! End-to-end tests on the local AWS endpoints (DynamoDB Local, moto's SQS and SES v2): the
//! connector's `Context::from_aws` wiring, as the Lambda functions build it, on fresh tables and
//! queues per test. The consent-api Lambda's handler is driven with the API Gateway v2 events in
//! `events/consent-api/`; the HIE pipeline runs the collector, then the hie-sender's batch handler
//! on what SQS delivers, as the Lambda event source mapping would. The flow store contract suite
//! runs on the context's channel, flow and inbound ledger ports, and its secret store reads moto's
//! Secrets Manager. The EHR <-> CRM functions run end to end: consent-api creates a channel and
//! flows, hl7-inbound takes a signed message, crm-outbound a webhook, and ehr-delivery sends what
//! the SQS FIFO queue delivers over MLLP.
//!
//! Every test prints `SKIPPED` and passes when the endpoints cannot start outside CI (see
//! `connector_testkit::local_aws`); install them with `scripts/local-aws/install.sh`.

#[path = "../support/mod.rs"]
mod support;

mod consent_api;
mod ehr_crm;
mod flow_stores;
mod hie_faults;
mod hie_pipeline;
mod store_faults;
