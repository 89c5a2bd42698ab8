//! Logging: JSON lines through `tracing`, level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else
//! INFO (the Lambda runtime's semantics). The runtime crates are capped at INFO whatever the
//! level, because at TRACE they dump whole events, which carry PHI.
//!
//! What may be logged: ids, outcomes, counts, route templates, error kinds. Never names, birth
//! dates, addresses, phones, e-mails, MRNs or HL7 payloads; the domain's PHI types print a
//! redaction marker even if someone tries. Errors are logged as their cause chain
//! ([`error_chain`]): error texts name kinds, ids and fields, never values.

use tracing::Subscriber;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

/// Crates whose verbose levels would log payloads; always capped at INFO.
const PAYLOAD_LOGGING_CRATES: [&str; 4] = [
    "lambda_runtime",
    "lambda_http",
    "aws_smithy_runtime",
    "hyper",
];

/// The filter for `level` (`AWS_LAMBDA_LOG_LEVEL` / `RUST_LOG` syntax: `debug`,
/// `connector_app=debug,info`; anything else is INFO), with the payload-logging crates capped at
/// INFO. A `Targets` filter, not `EnvFilter`: the same directives without a regex engine, which
/// is about 0.3 MB of every Lambda binary (BENCHMARKS.md).
fn filter_for(level: &str) -> Targets {
    let info = || Targets::new().with_default(tracing::Level::INFO);
    let mut filter = match level.trim().to_ascii_lowercase().as_str() {
        "" => info(),
        // Lambda's log levels include FATAL, which tracing calls ERROR.
        "fatal" => Targets::new().with_default(tracing::Level::ERROR),
        text => match text.parse::<Targets>() {
            // Something that names no level at all (`=,=`) would silence every log line.
            Ok(parsed) if parsed.default_level().is_some() || parsed.iter().next().is_some() => {
                parsed
            }
            _ => info(),
        },
    };
    for name in PAYLOAD_LOGGING_CRATES {
        // The most verbose of INFO, WARN, ERROR it already allows (a quieter setting is kept).
        let capped = [
            tracing::Level::INFO,
            tracing::Level::WARN,
            tracing::Level::ERROR,
        ]
        .into_iter()
        .find(|level| filter.would_enable(name, level))
        .map_or(LevelFilter::OFF, LevelFilter::from_level);
        filter = filter.with_target(name, capped);
    }
    filter
}

fn filter() -> Targets {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    filter_for(&level)
}

/// A JSON subscriber writing to `writer` (stdout in production, a buffer in tests).
pub fn subscriber<W>(writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_target(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .with_filter(filter()),
    )
}

/// Installs the JSON subscriber as the global default. Call once, first thing in `main`.
/// Returns false when a subscriber was already installed.
pub fn init<W>(writer: W) -> bool
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing::subscriber::set_global_default(subscriber(writer)).is_ok()
}

/// `error: cause: cause` for an error and its sources.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod filter_tests {
    use super::*;
    use tracing::Level;

    fn allows(filter: &Targets, target: &str, level: Level) -> bool {
        filter.would_enable(target, &level)
    }

    #[test]
    fn the_level_applies_to_our_crates() {
        let filter = filter_for("debug");
        assert!(allows(&filter, "connector_app::hie", Level::DEBUG));
        assert!(!allows(&filter, "connector_app::hie", Level::TRACE));
        let filter = filter_for("connector_app=trace,warn");
        assert!(allows(&filter, "connector_app::http", Level::TRACE));
        assert!(!allows(&filter, "connector_aws", Level::INFO));
    }

    #[test]
    fn crates_that_log_payloads_stay_at_info_whatever_the_level() {
        for level in [
            "trace",
            "debug",
            "hyper=trace,trace",
            "lambda_runtime=debug",
        ] {
            let filter = filter_for(level);
            for name in PAYLOAD_LOGGING_CRATES {
                assert!(!allows(&filter, name, Level::DEBUG), "{name} at {level}");
            }
        }
        assert!(allows(&filter_for("trace"), "hyper", Level::INFO));
        // A quieter setting for them is kept.
        assert!(!allows(&filter_for("warn"), "hyper", Level::INFO));
    }

    #[test]
    fn unreadable_or_empty_levels_are_info_and_fatal_is_error() {
        for level in ["", "  ", "connector_app=loud"] {
            let filter = filter_for(level);
            assert!(allows(&filter, "connector_app", Level::INFO), "{level:?}");
            assert!(!allows(&filter, "connector_app", Level::DEBUG), "{level:?}");
        }
        let filter = filter_for("FATAL");
        assert!(allows(&filter, "connector_app", Level::ERROR));
        assert!(!allows(&filter, "connector_app", Level::WARN));
        assert!(!allows(&filter_for("INFO"), "connector_app", Level::DEBUG));
    }
}
