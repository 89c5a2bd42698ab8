//! What a failed invocation reports to Lambda: a named `errorType` and a generic message. The
//! cause chain (IDs and outcomes only) is logged where the failure is made, never reported:
//! the runtime may log the error, and SDK errors carry raw responses.

use lambda_runtime::Diagnostic;

use crate::hie::collector::CollectorError;

/// A failed invocation: the error type and message Lambda shows, nothing of the cause.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JobFailure {
    /// The `errorType` (e.g. `CollectorStoreFailure`).
    pub error_type: &'static str,
    /// The `errorMessage`: what happened and what happens next, without details.
    pub error_message: &'static str,
}

/// Only the type: the runtime may log this.
impl std::fmt::Debug for JobFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.error_type)
    }
}

impl From<&JobFailure> for Diagnostic {
    fn from(failure: &JobFailure) -> Self {
        Diagnostic {
            error_type: failure.error_type.to_owned(),
            error_message: failure.error_message.to_owned(),
        }
    }
}

impl From<JobFailure> for Diagnostic {
    fn from(failure: JobFailure) -> Self {
        Self::from(&failure)
    }
}

impl JobFailure {
    /// A failed collector run; its cause chain is logged here. What it enqueued is safe: the
    /// watermark never moves past work that was not enqueued, so the next scheduled run resumes.
    /// A named constructor, not `From`: [`CollectorError`] is the shared `EnqueueError`, and
    /// these words are the collector's alone.
    pub fn collector_run(err: CollectorError) -> Self {
        tracing::error!(
            error.chain = %crate::telemetry::error_chain(&err),
            "collector run failed; the next scheduled run resumes from the watermark"
        );
        match err {
            CollectorError::Store(_) => Self {
                error_type: "CollectorStoreFailure",
                error_message: "the collector could not read or write its stores; the next run resumes",
            },
            CollectorError::Queue(_) => Self {
                error_type: "CollectorQueueFailure",
                error_message: "the collector could not enqueue work; the next run resumes",
            },
        }
    }
}
