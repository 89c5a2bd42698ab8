//! The flow store contract suite (channels, flows, the inbound ledger) on the ports
//! `Context::from_aws` wires, as the Lambda functions build them, each case on fresh DynamoDB
//! Local tables; and the context's secret store reading moto's Secrets Manager.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use connector_app::Context;
use connector_aws::{AwsAdapters, AwsConfig, TableNames};
use connector_domain::FixedClock;
use connector_domain::flow::SecretRef;
use connector_domain::ports::SecretError;
use connector_testkit::contract::{FlowStoreHarness, FlowStoreSet, run_flow_store_suite};
use connector_testkit::local_aws::{LocalAws, unique_name};

use crate::support::aws::secretsmanager_reference;
use crate::support::start_time;

/// The context on four new tables. The HIE queue is never used by these ports: its URL is a
/// placeholder `from_aws` requires.
async fn fresh_context(aws: &LocalAws) -> (AwsAdapters, Context) {
    let mut config =
        AwsConfig::for_tables(TableNames::with_prefix(&format!("{}-", unique_name("t"))));
    config.hie_queue_url = Some("http://127.0.0.1:9/queue/unused".to_owned());
    let adapters = AwsAdapters::new(
        &aws.sdk_config(connector_aws::sdk_config_loader()).await,
        config,
    );
    adapters.create_tables().await.expect("create tables");
    let ctx = Context::from_aws(&adapters, Arc::new(FixedClock::at(start_time())))
        .expect("the AWS context");
    (adapters, ctx)
}

struct ContextHarness {
    aws: &'static LocalAws,
}

/// `FlowStoreHarness` is an `async_trait`; this crate does without the macro, so the method is
/// written as the macro would expand it.
impl FlowStoreHarness for ContextHarness {
    fn fresh_flow_stores<'life0, 'async_trait>(
        &'life0 self,
    ) -> Pin<Box<dyn Future<Output = FlowStoreSet> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let (_, ctx) = fresh_context(self.aws).await;
            FlowStoreSet {
                flows: ctx.flows,
                inbound_ledger: ctx.inbound_ledger,
                audit: ctx.audit,
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_context_honours_the_flow_store_contract() {
    let Some(aws) = LocalAws::shared() else {
        return;
    };
    run_flow_store_suite(&ContextHarness { aws }).await;
}

#[tokio::test]
async fn the_aws_context_resolves_secrets_manager_references() {
    let Some(aws) = LocalAws::shared() else {
        return;
    };
    let (adapters, ctx) = fresh_context(aws).await;
    let created = secretsmanager_reference(&adapters, "clinic/north-hmac-", "north-hmac-key").await;
    let reference = SecretRef::parse(&created).unwrap();
    let value = ctx.secrets.resolve(&reference).await.unwrap();
    assert_eq!(value.expose(), b"north-hmac-key");

    let local = SecretRef::parse("local:north-hmac").unwrap();
    assert!(matches!(
        ctx.secrets.resolve(&local).await,
        Err(SecretError::Unsupported("local"))
    ));
}
