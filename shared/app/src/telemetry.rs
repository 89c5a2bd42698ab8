//! Logging: JSON lines through `tracing`, level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else
//! INFO (the Lambda runtime's semantics). The runtime crates are capped at INFO whatever the
//! level, because at TRACE they dump whole events, which carry PHI.
//!
//! What may be logged: ids, outcomes, counts, route templates, error kinds. Never names, birth
//! dates, addresses, phones, e-mails, MRNs or HL7 payloads; the domain's PHI types print a
//! redaction marker even if someone tries. Errors are logged as their cause chain
//! ([`error_chain`]): error texts name kinds, ids and fields, never values.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Crates whose verbose levels would log payloads; always capped at INFO.
const PAYLOAD_LOGGING_CRATES: [&str; 4] = [
    "lambda_runtime",
    "lambda_http",
    "aws_smithy_runtime",
    "hyper",
];

fn filter() -> EnvFilter {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let mut filter =
        EnvFilter::try_new(level.to_ascii_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"));
    for name in PAYLOAD_LOGGING_CRATES {
        if let Ok(directive) = format!("{name}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// A JSON subscriber writing to `writer` (stdout in production, a buffer in tests).
pub fn subscriber<W>(writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        .with_target(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(writer)
        .finish()
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
