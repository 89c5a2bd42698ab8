//! The batch-collector Lambda: builds the context once at INIT, then runs one collector batch per
//! scheduled EventBridge event and returns the run's report (counts and watermarks, no patient
//! data). Time comes from the context's clock, not from the event.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use connector_app::jobs::collector::{self, CollectorError, CollectorOptions, CollectorReport};
use connector_app::{Context, telemetry};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(std::io::stdout);
    let ctx = connector_app::lambda_init::context_or_report().await?;
    let ctx = &ctx;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent>| async move { handler(ctx, event).await },
    ))
    .await
}

/// One scheduled run. What a failed run enqueued is safe: the watermark never moves past work
/// that was not enqueued, so the next scheduled run resumes.
async fn handler(
    ctx: &Context,
    _event: LambdaEvent<EventBridgeEvent>,
) -> Result<CollectorReport, RunFailed> {
    collector::run(ctx, CollectorOptions::default())
        .await
        .map_err(RunFailed::from)
}

/// A failed run as Lambda reports it: a named `error_type` and a generic message. The cause
/// chain (IDs and outcomes only) is logged where the failure is converted.
struct RunFailed(CollectorError);

impl From<CollectorError> for RunFailed {
    fn from(err: CollectorError) -> Self {
        tracing::error!(
            error.chain = %connector_app::http::problem::error_chain(&err),
            "collector run failed; the next scheduled run resumes from the watermark"
        );
        Self(err)
    }
}

/// Only the kind: the runtime may log this, and SDK errors' `Debug` carries raw responses.
impl std::fmt::Debug for RunFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Diagnostic::from(self).error_type.as_str())
    }
}

impl From<&RunFailed> for Diagnostic {
    fn from(failed: &RunFailed) -> Self {
        let (error_type, error_message) = match failed.0 {
            CollectorError::Store(_) => (
                "CollectorStoreFailure",
                "the collector could not read or write its stores; the next run resumes",
            ),
            CollectorError::Queue(_) => (
                "CollectorQueueFailure",
                "the collector could not enqueue work; the next run resumes",
            ),
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error_message.to_owned(),
        }
    }
}

impl From<RunFailed> for Diagnostic {
    fn from(failed: RunFailed) -> Self {
        Self::from(&failed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use connector_app::Context;
    use connector_domain::audit::{AuditEntry, LogType, Outcome};
    use connector_domain::ports::QueueError;
    use connector_domain::settings::HieSettings;
    use connector_domain::{Actor, Clock, FixedClock, StoreError};
    use connector_embedded::{OutboxMailer, SqliteDb};

    use super::*;

    const SCHEDULED: &str = include_str!("../../../events/batch-collector/scheduled.json");

    fn event() -> LambdaEvent<EventBridgeEvent> {
        let payload: EventBridgeEvent =
            serde_json::from_str(SCHEDULED).expect("events/batch-collector/scheduled.json");
        LambdaEvent::new(payload, lambda_runtime::Context::default())
    }

    /// The production `Context` on a temp SQLite file, with a fixed clock.
    fn embedded(dir: &tempfile::TempDir) -> (Context, Arc<FixedClock>) {
        let db = SqliteDb::open(dir.path().join("connector.db")).expect("db");
        let mailer = OutboxMailer::new(dir.path().join("outbox")).expect("outbox");
        let clock = Arc::new(FixedClock::at(
            Utc.with_ymd_and_hms(2026, 11, 21, 15, 5, 0).unwrap(),
        ));
        (
            Context::from_embedded(&db, Arc::new(mailer), clock.clone()),
            clock,
        )
    }

    #[test]
    fn the_sample_event_is_a_scheduled_event() {
        let event = event();
        assert_eq!(event.payload.source, "aws.events");
        assert_eq!(event.payload.detail_type, "Scheduled Event");
    }

    #[tokio::test]
    async fn a_disabled_integration_reports_an_idle_run() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, _) = embedded(&dir);
        let report = handler(&ctx, event()).await.unwrap();
        assert_eq!(
            report,
            CollectorReport {
                safety_lag_seconds: 120,
                idle_reason: Some(collector::IdleReason::Disabled),
                ..CollectorReport::default()
            }
        );
        assert_eq!(serde_json::to_value(&report).unwrap()["enabled"], false);
    }

    #[tokio::test]
    async fn the_first_enabled_run_starts_the_watermark_at_now_minus_the_lag() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, clock) = embedded(&dir);
        let settings = HieSettings {
            enabled: true,
            ..HieSettings::default()
        };
        let audit = AuditEntry::new(
            LogType::ConfigurationChanges,
            clock.now(),
            Actor::system("test"),
            "settings.changed",
            Outcome::Success,
        );
        ctx.settings.put(&settings, 0, &audit).await.unwrap();
        let report = handler(&ctx, event()).await.unwrap();
        assert!(report.enabled);
        assert_eq!(report.scanned, 0);
        assert_eq!(
            report.watermark_to,
            Some(clock.now() - chrono::Duration::minutes(2))
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["watermark_to"], "2026-11-21T15:03:00Z");
    }

    #[test]
    fn failures_map_to_named_diagnostics_without_their_causes() {
        let store = Diagnostic::from(RunFailed(CollectorError::Store(StoreError::Unavailable(
            "table clinic-consents: secret detail".into(),
        ))));
        assert_eq!(store.error_type, "CollectorStoreFailure");
        let queue = Diagnostic::from(RunFailed(CollectorError::Queue(QueueError::Unavailable(
            "queue https://sqs/123/hie: secret detail".into(),
        ))));
        assert_eq!(queue.error_type, "CollectorQueueFailure");
        for diagnostic in [&store, &queue] {
            assert!(!diagnostic.error_message.contains("secret"));
        }
        let failed = RunFailed(CollectorError::Store(StoreError::Corrupt("consent")));
        assert_eq!(format!("{failed:?}"), "CollectorStoreFailure");
    }
}
