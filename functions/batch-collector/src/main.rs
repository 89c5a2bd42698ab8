//! The batch-collector Lambda: builds the context once at INIT, then runs one collector batch per
//! scheduled EventBridge event and returns the run's report (counts and watermarks, no patient
//! data); see `connector_app::lambda::batch_collector`.

use connector_app::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::run_job(lambda::batch_collector).await
}

#[cfg(test)]
mod tests {
    use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
    use connector_domain::ports::QueueError;
    use connector_domain::settings::HieSettings;
    use connector_domain::{Actor, Clock, StoreError};

    use aws_lambda_events::event::eventbridge::EventBridgeEvent;
    use connector_app::hie::collector::{self, CollectorError, CollectorReport};
    use connector_app::lambda::{
        JobFailure, batch_collector as handler, local_context, local_invocation,
    };
    use lambda_runtime::{Diagnostic, LambdaEvent};

    const SCHEDULED: &str = include_str!("../../../events/batch-collector/scheduled.json");

    fn event() -> LambdaEvent<EventBridgeEvent> {
        local_invocation(SCHEDULED).expect("events/batch-collector/scheduled.json")
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
        let (ctx, _) = local_context(dir.path()).expect("context");
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
        let (ctx, clock) = local_context(dir.path()).expect("context");
        let settings = HieSettings {
            enabled: true,
            ..HieSettings::default()
        };
        let audit = AuditEntry::new(
            LogType::ConfigurationChanges,
            clock.now(),
            Actor::system("test"),
            "settings.changed",
            AuditOutcome::Success,
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
        let store = Diagnostic::from(JobFailure::collector_run(CollectorError::Store(
            StoreError::Unavailable("table clinic-consents: secret detail".into()),
        )));
        assert_eq!(store.error_type, "CollectorStoreFailure");
        let queue = Diagnostic::from(JobFailure::collector_run(CollectorError::Queue(
            QueueError::Unavailable("queue https://sqs/123/hie: secret detail".into()),
        )));
        assert_eq!(queue.error_type, "CollectorQueueFailure");
        for diagnostic in [&store, &queue] {
            assert!(!diagnostic.error_message.contains("secret"));
        }
        let failed =
            JobFailure::collector_run(CollectorError::Store(StoreError::Corrupt("consent")));
        assert_eq!(format!("{failed:?}"), "CollectorStoreFailure");
    }
}
