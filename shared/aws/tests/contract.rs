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
    CrmWriteLogHarness, CrmWriteLogUnderTest, DashboardHarness, DashboardSet, DeliveryStoreHarness,
    DeliveryStoreSet, FlowStoreHarness, FlowStoreSet, QueueHarness, StoreHarness, StoreSet,
    run_crm_write_log_suite, run_dashboard_suite, run_delivery_store_suite, run_flow_store_suite,
    run_queue_suite, run_store_suite,
};
use connector_testkit::local_aws::{LocalAws, unique_name};

struct DynamoHarness {
    aws: &'static LocalAws,
}

#[async_trait]
impl StoreHarness for DynamoHarness {
    async fn fresh(&self) -> StoreSet {
        let adapters = common::fresh_adapters(self.aws).await;
        StoreSet {
            patients: Arc::new(adapters.patients()),
            consents: Arc::new(adapters.consents()),
            settings: Arc::new(adapters.settings()),
            audit: Arc::new(adapters.audit()),
            appointments: Arc::new(adapters.appointments()),
            send_ledger: Arc::new(adapters.send_ledger()),
        }
    }
}

#[async_trait]
impl FlowStoreHarness for DynamoHarness {
    async fn fresh_flow_stores(&self) -> FlowStoreSet {
        let adapters = common::fresh_adapters(self.aws).await;
        FlowStoreSet {
            flows: Arc::new(adapters.flows()),
            inbound_ledger: Arc::new(adapters.inbound_ledger()),
            audit: Arc::new(adapters.audit()),
        }
    }
}

#[async_trait]
impl DeliveryStoreHarness for DynamoHarness {
    async fn fresh_delivery_stores(&self) -> DeliveryStoreSet {
        let adapters = common::fresh_adapters(self.aws).await;
        DeliveryStoreSet {
            deliveries: Arc::new(adapters.deliveries()),
            audit: Arc::new(adapters.audit()),
        }
    }
}

#[async_trait]
impl DashboardHarness for DynamoHarness {
    async fn fresh_dashboard(&self) -> DashboardSet {
        let adapters = common::fresh_adapters(self.aws).await;
        DashboardSet {
            dashboard: Arc::new(adapters.dashboard()),
            audit: Arc::new(adapters.audit()),
            send_ledger: Arc::new(adapters.send_ledger()),
            inbound_ledger: Arc::new(adapters.inbound_ledger()),
            deliveries: Arc::new(adapters.deliveries()),
        }
    }
}

#[async_trait]
impl CrmWriteLogHarness for DynamoHarness {
    async fn fresh_crm_write_log(&self) -> CrmWriteLogUnderTest {
        Arc::new(common::fresh_adapters(self.aws).await.crm_writes())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_contract_on_dynamodb_local() {
    let Some(aws) = common::local() else { return };
    run_store_suite(&DynamoHarness { aws }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_store_contract_on_dynamodb_local() {
    let Some(aws) = common::local() else { return };
    run_flow_store_suite(&DynamoHarness { aws }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_store_contract_on_dynamodb_local() {
    let Some(aws) = common::local() else { return };
    run_delivery_store_suite(&DynamoHarness { aws }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_contract_on_dynamodb_local() {
    let Some(aws) = common::local() else { return };
    run_dashboard_suite(&DynamoHarness { aws }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_write_log_contract_on_dynamodb_local() {
    let Some(aws) = common::local() else { return };
    run_crm_write_log_suite(&DynamoHarness { aws }).await;
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
