//! The shared port contract suites (connector-testkit) against the AWS adapters, on DynamoDB
//! Local and moto started by `connector_testkit::local_aws` (install them with
//! `scripts/local-aws/install.sh`). Every case gets new tables or a new queue.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use connector_aws::{AwsAdapters, AwsConfig, create_queue};
use connector_domain::ports::{QueueConsumer, WorkQueue};
use connector_testkit::contract::{
    Ports, PortsHarness, QueueHarness, StoreSet, run_queue_suite, run_store_suites,
};
use connector_testkit::local_aws::{LocalAws, unique_name};

struct DynamoHarness {
    aws: &'static LocalAws,
}

#[async_trait]
impl PortsHarness for DynamoHarness {
    async fn fresh_ports(&self) -> Ports {
        let adapters = common::fresh_adapters(self.aws).await;
        Ports {
            stores: StoreSet {
                patients: Arc::new(adapters.patients()),
                consents: Arc::new(adapters.consents()),
                settings: Arc::new(adapters.settings()),
                audit: Arc::new(adapters.audit()),
                appointments: Arc::new(adapters.appointments()),
                send_ledger: Arc::new(adapters.send_ledger()),
            },
            flows: Arc::new(adapters.flows()),
            inbound_ledger: Arc::new(adapters.inbound_ledger()),
            deliveries: Arc::new(adapters.deliveries()),
            dashboard: Arc::new(adapters.dashboard()),
            crm_writes: Arc::new(adapters.crm_writes()),
            // Secrets Manager and LeadSquared are not DynamoDB stores.
            local_secrets: None,
            crm: None,
        }
    }
}

struct SqsHarness {
    adapters: AwsAdapters,
}

#[async_trait]
impl QueueHarness for SqsHarness {
    async fn fresh_queue(&self, fifo: bool) -> (Arc<dyn WorkQueue>, Arc<dyn QueueConsumer>) {
        let url = create_queue(
            self.adapters.sqs_client(),
            &unique_name("q-"),
            fifo,
            HashMap::new(),
        )
        .await
        .expect("create queue");
        let queue = Arc::new(self.adapters.queue(&url));
        (queue.clone(), queue)
    }

    /// moto deduplicates a FIFO message only against messages still in the queue, while SQS
    /// remembers a deduplication id for five minutes after the message was deleted. The adapter
    /// passes the id through (the in-batch repeat is dropped, see the adapter tests).
    fn known_gaps(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            "fifo_dedup_id_drops_repeats",
            "moto forgets a FIFO deduplication id once its message is deleted; SQS keeps it 5 minutes",
        )]
    }
}

/// Every store suite (store, flow store, delivery store, dashboard, CRM write log), side by
/// side, each case on new tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_contracts_on_dynamodb_local() {
    let Some(aws) = common::local() else { return };
    run_store_suites(&DynamoHarness { aws }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_contract_on_moto_sqs() {
    let Some(aws) = common::local() else { return };
    let adapters = AwsAdapters::new(
        &common::sdk(aws).await,
        AwsConfig::for_tables(common::fresh_tables()),
    );
    run_queue_suite(&SqsHarness { adapters }).await;
}
