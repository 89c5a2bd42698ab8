//! One batch collector run as every host starts it (the interval of `connector serve`, the
//! schedule on AWS, `connector collect`, `POST /hie/batch-runs`): serialized within the process
//! so two runs never overlap, and recorded either way: a finished run by the collector's
//! `batch.collected` entry, a failed one by a `batch.failed` entry here. Both are what the
//! dashboard's `last_batch_run` shows.

use async_trait::async_trait;
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::dashboard::BatchRunSummary;
use serde_json::json;

use super::collector::{self, CollectorError, CollectorOptions, CollectorReport};
use crate::Context;

/// Held for the length of a run: runs of this process take turns.
static RUN_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs the collector once, after any run of this process in progress has ended; a failed run
/// is audited (`batch.failed`) before its error is returned.
pub async fn run(
    ctx: &Context,
    options: CollectorOptions,
) -> Result<CollectorReport, CollectorError> {
    let _turn = RUN_LOCK.lock().await;
    let started_at = ctx.clock.now();
    let result = collector::run(ctx, options).await;
    if let Ok(report) = &result {
        // A run that found nothing leaves no audit entry; the dashboard still shows it ran.
        if report.enabled && report.scanned == 0 && !report.watermark_conflict {
            let summary = BatchRunSummary {
                started_at,
                finished_at: ctx.clock.now(),
                queued: 0,
                skipped: 0,
                errors: 0,
            };
            let id = uuid::Uuid::now_v7().to_string();
            if let Err(err) = ctx.dashboard.record_batch_run(&id, &summary).await {
                tracing::warn!(error.chain = %crate::telemetry::error_chain(&err), "the empty batch run could not be recorded");
            }
        }
    }
    if let Err(err) = &result {
        let entry = AuditEntry::new(
            LogType::HieSentAppointments,
            ctx.clock.now(),
            collector::actor(),
            "batch.failed",
            AuditOutcome::Error,
        )
        .with_detail(json!({
            "started_at": started_at,
            "error": crate::telemetry::error_chain(err).to_string(),
        }));
        if let Err(audit_err) = ctx.audit.append(&entry).await {
            tracing::error!(error.chain = %crate::telemetry::error_chain(&audit_err), "the failed batch run could not be audited");
        }
    }
    result
}

/// What starting a batch run on demand did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchStart {
    /// The run happened here and ended (the embedded host).
    Finished(BatchRunSummary),
    /// The run was handed to the batch collector function and goes on there (AWS).
    Started,
}

/// Why a batch run could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BatchStartError {
    /// The run failed.
    #[error("the batch run failed")]
    Run(#[from] CollectorError),
    /// The collector function could not be invoked.
    #[error("the batch collector could not be started")]
    Invoke(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// This deployment cannot start runs on demand (the function's name is not configured).
    #[error("{0}")]
    Unavailable(&'static str),
}

/// Starts a batch collector run on demand (`POST /hie/batch-runs`).
#[async_trait]
pub trait BatchTrigger: Send + Sync {
    /// Starts a run; see [`BatchStart`].
    async fn start(&self, ctx: &Context) -> Result<BatchStart, BatchStartError>;
}

/// Runs the collector in this process ([`run`], so never beside the interval's run).
#[derive(Debug, Clone, Copy, Default)]
pub struct InProcess;

#[async_trait]
impl BatchTrigger for InProcess {
    async fn start(&self, ctx: &Context) -> Result<BatchStart, BatchStartError> {
        let started_at = ctx.clock.now();
        let report = run(ctx, CollectorOptions::default()).await?;
        // The recorded summary when the run recorded one (an enabled run always does).
        let recorded = match ctx.dashboard.last_batch_run().await {
            Ok(Some(last)) if last.started_at >= started_at => Some(last),
            _ => None,
        };
        Ok(BatchStart::Finished(recorded.unwrap_or_else(|| {
            BatchRunSummary {
                started_at,
                finished_at: ctx.clock.now(),
                queued: u64::try_from(report.enqueued).unwrap_or(u64::MAX),
                skipped: report
                    .skipped
                    .values()
                    .map(|n| u64::try_from(*n).unwrap_or(0))
                    .sum(),
                errors: 0,
            }
        })))
    }
}

/// A deployment that cannot start runs on demand; every start is `Unavailable`.
#[derive(Debug, Clone, Copy)]
pub struct NoTrigger(pub &'static str);

#[async_trait]
impl BatchTrigger for NoTrigger {
    async fn start(&self, _ctx: &Context) -> Result<BatchStart, BatchStartError> {
        Err(BatchStartError::Unavailable(self.0))
    }
}

/// Invokes the batch collector function asynchronously (AWS): the run goes on there.
#[cfg(feature = "invoke")]
#[derive(Debug, Clone)]
pub struct InvokeCollector(pub connector_aws::FunctionInvoker);

#[cfg(feature = "invoke")]
#[async_trait]
impl BatchTrigger for InvokeCollector {
    async fn start(&self, ctx: &Context) -> Result<BatchStart, BatchStartError> {
        let payload = manual_run_event(ctx.clock.now()).to_string();
        self.0
            .invoke_event(payload.as_bytes())
            .await
            .map_err(|e| BatchStartError::Invoke(Box::new(e)))?;
        tracing::info!(function = self.0.function(), "batch collector run started");
        Ok(BatchStart::Started)
    }
}

/// The payload of an on-demand run: an EventBridge event like the schedule's (the collector's
/// handler takes that shape and ignores its content), marked as manual.
pub fn manual_run_event(now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Manual Batch Run",
        "source": "connector.consent-api",
        "account": "",
        "time": now,
        "region": "",
        "resources": [],
        "detail": {},
    })
}

#[cfg(all(test, feature = "lambda-jobs"))]
mod tests {
    use aws_lambda_events::event::eventbridge::EventBridgeEvent;

    #[test]
    fn the_manual_run_event_is_what_the_collector_handler_takes() {
        let event = super::manual_run_event(chrono::Utc::now());
        let parsed: EventBridgeEvent = serde_json::from_value(event).unwrap();
        assert_eq!(parsed.detail_type, "Manual Batch Run");
    }
}
