//! The job functions' handlers: what each function's `main` runs per invocation, and what its
//! tests and `tests/aws` drive.

use std::convert::Infallible;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
#[cfg(feature = "embedded")]
use chrono::{TimeZone, Utc};
#[cfg(feature = "embedded")]
use connector_domain::FixedClock;
use lambda_runtime::LambdaEvent;

use super::{JobFailure, sqs};
use crate::Context;
use crate::crm_to_ehr::delivery::EhrDelivery;
use crate::hie::batch_run;
use crate::hie::collector::{CollectorOptions, CollectorReport};
use crate::hie::sender::HieSender;

/// batch-collector: one collector run per scheduled EventBridge event (or per asynchronous
/// invoke from `POST /hie/batch-runs`, with the same shape); returns the run's
/// report (counts and watermarks, no patient data). Time comes from the context's clock, not
/// from the event.
///
/// # Errors
/// The run failed ([`JobFailure`] names the kind; the cause is logged).
pub async fn batch_collector(
    ctx: &Context,
    _event: LambdaEvent<EventBridgeEvent>,
) -> Result<CollectorReport, JobFailure> {
    batch_run::run(ctx, CollectorOptions::default())
        .await
        .map_err(JobFailure::collector_run)
}

/// hie-sender: one SQS batch of HIE work items. Sent, skipped and permanently failed items are
/// acknowledged (and audited); the rest are kept (see [`sqs`]).
///
/// # Errors
/// None: every failure is per message, in the response.
pub async fn hie_sender(
    ctx: &Context,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Infallible> {
    sqs::handle(ctx, &HieSender, &event.payload).await
}

/// ehr-delivery: one batch of the FIFO delivery queue, several patients' groups in order within
/// each. A delivery to retry gets its backoff as its visibility and is kept, and so is every
/// later message of its group in the batch (not attempted), so the patient's order holds while
/// other groups proceed. Delivered, parked and held deliveries are acknowledged (and audited).
///
/// # Errors
/// None: every failure is per message, in the response.
pub async fn ehr_delivery(
    ctx: &Context,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Infallible> {
    sqs::handle(ctx, &EhrDelivery, &event.payload).await
}

/// Runs a job function: [`start`](super::start) (logs, the context from the environment, an
/// init error reported), then `handler` on every invocation until the runtime stops. A job
/// function's whole `main`.
///
/// # Errors
/// The function could not start, or the runtime failed.
pub async fn run_job<E, R, Failure, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    E: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize,
    Failure: Into<lambda_runtime::Diagnostic> + std::fmt::Debug,
    F: Fn(&'static Context, LambdaEvent<E>) -> Fut,
    Fut: std::future::Future<Output = Result<R, Failure>> + Send,
{
    // One context for the process's life, as Lambda keeps the execution environment.
    let ctx: &'static Context = Box::leak(Box::new(super::start().await?));
    lambda_runtime::run(lambda_runtime::service_fn(move |event| handler(ctx, event))).await
}

/// An invocation of a job handler with `json` as its payload and an empty Lambda context: what
/// the functions' tests and `cargo lambda invoke`-style local runs feed a handler (the samples
/// under `events/`).
///
/// # Errors
/// `json` is not a `T`.
pub fn local_invocation<T: serde::de::DeserializeOwned>(
    json: &str,
) -> Result<LambdaEvent<T>, serde_json::Error> {
    let payload = serde_json::from_str(json)?;
    Ok(LambdaEvent::new(
        payload,
        lambda_runtime::Context::default(),
    ))
}

/// The production [`Context`] on `connector.db` in `dir` ([`Context::embedded_in`]) with its
/// clock fixed at 2026-11-21 15:05:00 UTC, and that clock (to move it or compare with it):
/// what the functions' handler tests run their handler on.
///
/// # Errors
/// The SQLite file or the outbox folder cannot be created in `dir`.
#[cfg(feature = "embedded")]
pub fn local_context(
    dir: &std::path::Path,
) -> Result<(Context, std::sync::Arc<FixedClock>), crate::context::ContextError> {
    let at = Utc.with_ymd_and_hms(2026, 11, 21, 15, 5, 0).unwrap();
    let clock = std::sync::Arc::new(FixedClock::at(at));
    let ctx = Context::embedded_in(dir, clock.clone())?;
    Ok((ctx, clock))
}
