//! One backend's store ports as one set ([`Ports`]): an adapter's test implements one harness
//! ([`PortsHarness`]) and one call ([`run_store_suites`]) runs every store suite on it, so a
//! suite added to this crate runs on SQLite and on DynamoDB alike.

use std::sync::Arc;

use async_trait::async_trait;
use connector_domain::ports::{
    CrmWriteLog, DashboardStore, DeliveryStore, FlowStore, InboundLedger, LocalSecretStore,
    SecretStore,
};

use super::{
    CrmUnderTest, DashboardSet, DeliveryStoreSet, FlowStoreSet, LocalSecretSet, Report, StoreSet,
    collect_cases, crm, crm_writes, dashboard, deliveries, flow_store_cases, local_secrets,
    store_cases,
};

/// Every store port of one isolated store (a new SQLite file, new DynamoDB tables): the store
/// suite's set (patients, consents, settings, appointments, the send ledger and the audit log
/// every other port's writes append to) and the rest.
#[derive(Clone)]
pub struct Ports {
    /// Patients, consents, settings, the audit log, appointments and the send ledger.
    pub stores: StoreSet,
    /// Channels and flows.
    pub flows: Arc<dyn FlowStore>,
    /// The inbound ledger.
    pub inbound_ledger: Arc<dyn InboundLedger>,
    /// Webhooks, deliveries and group blocks.
    pub deliveries: Arc<dyn DeliveryStore>,
    /// The dashboard's counts.
    pub dashboard: Arc<dyn DashboardStore>,
    /// The CRM write log.
    pub crm_writes: Arc<dyn CrmWriteLog>,
    /// The `local:` secrets (writer, and the resolver on the same store), where the backend
    /// has them (the embedded deployment; AWS keeps secrets in Secrets Manager).
    pub local_secrets: Option<(Arc<dyn LocalSecretStore>, Arc<dyn SecretStore>)>,
    /// The backend's own CRM, where it has one (the embedded CRM).
    pub crm: Option<CrmUnderTest>,
}

/// Builds port sets for [`run_store_suites`].
#[async_trait]
pub trait PortsHarness: Send + Sync {
    /// A new set of ports over an empty store that no other call's set shares: every case
    /// starts from nothing.
    async fn fresh_ports(&self) -> Ports;
}

impl Ports {
    fn flow_stores(self) -> FlowStoreSet {
        FlowStoreSet {
            flows: self.flows,
            inbound_ledger: self.inbound_ledger,
            audit: self.stores.audit,
        }
    }

    fn delivery_stores(self) -> DeliveryStoreSet {
        DeliveryStoreSet {
            deliveries: self.deliveries,
            audit: self.stores.audit,
        }
    }

    fn dashboard_set(self) -> DashboardSet {
        DashboardSet {
            dashboard: self.dashboard,
            audit: self.stores.audit,
            send_ledger: self.stores.send_ledger,
            inbound_ledger: self.inbound_ledger,
            deliveries: self.deliveries,
        }
    }

    fn local_secret_set(self) -> Option<LocalSecretSet> {
        let (local, secrets) = self.local_secrets?;
        Some(LocalSecretSet {
            local,
            secrets,
            audit: self.stores.audit,
        })
    }
}

/// Runs every store suite (store, flow store, delivery store, dashboard, CRM write log, and
/// the local secret store and CRM suites where the backend has those ports) side by side, each
/// case on `harness.fresh_ports()`; every case runs, then this panics naming the failures.
pub async fn run_store_suites(harness: &dyn PortsHarness) {
    let fresh = || harness.fresh_ports();
    let reports = tokio::join!(
        collect_cases("store", store_cases(), || async {
            Some(fresh().await.stores)
        }),
        collect_cases("flow store", flow_store_cases(), || async {
            Some(fresh().await.flow_stores())
        }),
        collect_cases("delivery store", deliveries::cases(), || async {
            Some(fresh().await.delivery_stores())
        }),
        collect_cases("dashboard", dashboard::cases(), || async {
            Some(fresh().await.dashboard_set())
        }),
        collect_cases("crm write log", crm_writes::cases(), || async {
            Some(fresh().await.crm_writes)
        }),
        collect_cases("local secret store", local_secrets::cases(), || async {
            fresh().await.local_secret_set()
        }),
        collect_cases("crm", crm::cases(), || async { fresh().await.crm }),
    );
    let (a, b, c, d, e, f, g) = reports;
    Report::finish_all([a, b, c, d, e, f, g].into_iter().flatten());
}
