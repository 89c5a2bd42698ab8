//! The Lambda host's side of "one code path, two hosts": what every function's `main` shares,
//! so each `main` only names its handler.
//!
//! - [`init`]: logging, the [`Context`](crate::Context) from the environment, and reporting a
//!   function that cannot start to the Runtime API (every function);
//! - [`sqs`]: the SQS event adapter: records to [`QueuedMessage`](crate::jobs::worker::QueuedMessage)s,
//!   partial batch failures, visibility backoff for kept messages;
//! - [`failure`]: the error shape a failed invocation reports (a named type, a generic message,
//!   never the cause);
//! - the handlers of the job functions ([`batch_collector`], [`hie_sender`], [`ehr_delivery`]);
//!   the HTTP functions serve the [`http`](crate::http) routers as they are.

pub mod init;
pub use init::{INIT_ERROR_TYPE, InitError, context_or_report, init_or_report, start};

#[cfg(feature = "lambda-jobs")]
pub mod failure;
#[cfg(feature = "lambda-jobs")]
mod handlers;
#[cfg(feature = "lambda-jobs")]
pub mod sqs;

#[cfg(feature = "lambda-jobs")]
pub use failure::JobFailure;
#[cfg(all(feature = "lambda-jobs", feature = "embedded"))]
pub use handlers::local_context;
#[cfg(feature = "lambda-jobs")]
pub use handlers::{batch_collector, ehr_delivery, hie_sender, local_invocation, run_job};
