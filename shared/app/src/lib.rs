//! Clinic Connector's jobs, independent of how they are hosted: the HTTP routers (served by
//! Lambda through `lambda_http` and by `connector serve` through hyper: one code path, two
//! hosts), the wiring of adapters from configuration, and telemetry.
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
