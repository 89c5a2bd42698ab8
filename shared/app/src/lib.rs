//! Clinic Connector's services, independent of how they are hosted, cut by feature: [`hie`]
//! (the batch collector, the HIE sender, the HL7 feed of patients and appointments),
//! [`ehr_to_crm`] (the HL7 pipeline from the EHR to the CRM), [`crm_to_ehr`] (CRM webhooks to
//! HL7 deliveries, and their delivery) and [`flows`] (channel and flow administration,
//! previews, local secrets). [`http`] is a thin layer over them (served by Lambda through
//! `lambda_http` and by `connector serve` through hyper: one code path, two hosts); [`jobs`]
//! holds the one queue worker; [`context`] wires the adapters from configuration.
#![deny(missing_docs)]

pub mod config;
pub mod context;
pub mod crm_to_ehr;
pub mod ehr_to_crm;
pub mod flows;
pub mod hie;
pub mod host;
pub mod http;
pub mod jobs;
#[cfg(feature = "lambda-init")]
pub mod lambda;
pub mod telemetry;

pub use config::{Config, ConfigError, CrmConfig, StoreConfig};
pub use context::Context;
