//! Clinic Connector's CRM adapter: [`LeadSquaredClient`] implements the domain's
//! [`Crm`](connector_domain::crm::Crm) port over LeadSquared's v2 REST API
//! (<https://apidocs.leadsquared.com/>).
//!
//! - [`config`]: regional host, API keys (redacted `Debug`), timeouts, retry and rate limit.
//! - [`client`]: the seven operations, error mapping, logging (ids and statuses only).
//! - [`retry`]: backoff, `Retry-After`, budget, and which failures may be retried.
//! - [`limiter`]: client-side pacing under the plan's documented calls-per-5-seconds.
//! - `wire`: the documented JSON shapes (private).
//! - [`errors`]: build errors and the PHI-free sources of `CrmError::Unavailable`.
//! - `fake` (feature `test-support`): an in-memory LeadSquared on 127.0.0.1 with fault injection.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use connector_crm::{AccessKey, LeadSquaredClient, LeadSquaredConfig, SecretKey};
//! use connector_domain::crm::Crm;
//!
//! let config = LeadSquaredConfig::new(
//!     "https://api-us11.leadsquared.com",
//!     AccessKey::new("u$r…"),
//!     SecretKey::new("…"),
//! );
//! let crm = LeadSquaredClient::new(config)?; // once, at start-up
//! let lead = crm.find_lead("mx_MRN", "A-0001").await?;
//! # let _ = lead; Ok(()) }
//! ```

pub mod client;
pub mod config;
pub mod errors;
#[cfg(feature = "test-support")]
pub mod fake;
pub mod limiter;
pub mod retry;
mod wire;

pub use client::LeadSquaredClient;
pub use config::{AccessKey, ApiKey, LeadSquaredConfig, SecretKey};
pub use errors::{ClientBuildError, UnavailableError};
pub use limiter::{RateLimit, RateLimitParseError};
pub use retry::CrmRetryPolicy;
