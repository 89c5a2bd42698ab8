//! Errors shared by the domain and its ports.

use serde::Serialize;

/// What a store adapter may report. Adapters translate their driver errors into these variants
/// (a failed condition becomes `Conflict`, a missing row `NotFound`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// A conditional write lost: the record changed since it was read, or already exists.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A pagination cursor that this store did not produce (tampered, truncated, or from
    /// another query); the caller should start again without it.
    #[error("invalid pagination cursor")]
    InvalidCursor,
    /// The caller broke the port's contract (e.g. a consent `seq` that is not the expected one
    /// plus one). A bug in the caller, not a conflict: retrying cannot help.
    #[error("invalid call: {0}")]
    Invalid(&'static str),
    /// Stored data could not be decoded (a bug or a manual edit); the message names the record kind only.
    #[error("corrupt stored {0}")]
    Corrupt(&'static str),
    /// The backing store is not set up as the connector expects (a missing table or index, a
    /// key of another type, a role without the permission): retrying cannot help, an
    /// administrator must fix the deployment.
    #[error("store misconfigured")]
    Misconfigured(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backing service failed or could not be reached; retrying may help.
    #[error("store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a driver error as `Unavailable`, keeping it as the source.
    pub fn unavailable(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(err))
    }
}

/// One problem with one input field. Messages describe the rule, never the offending value
/// (values may be PHI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// The input field, as the API names it (`birth_date`, `address.postal_code`).
    pub field: String,
    /// What is wrong, in words a clinic's IT staff can act on.
    pub message: String,
}

impl ValidationError {
    /// Creates a problem for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same problem, with its field placed under `prefix` (`line1` -> `address.line1`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

/// Every problem found in one input, so a caller can fix them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{} invalid field(s)", .0.len())]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// Records the error of `result`, if any, and returns its value.
    pub fn check<T>(&mut self, result: Result<T, ValidationError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.0.push(err);
                None
            }
        }
    }

    /// Records a problem.
    pub fn push(&mut self, err: ValidationError) {
        self.0.push(err);
    }

    /// Records a problem with `field` and gives no value: the end of a check that refuses it.
    pub fn refuse<T>(&mut self, field: impl Into<String>, message: impl Into<String>) -> Option<T> {
        self.push(ValidationError::new(field, message));
        None
    }

    /// `Ok(value)` when no problem was recorded.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }

    /// True when no problem was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<ValidationError> for ValidationErrors {
    fn from(err: ValidationError) -> Self {
        Self(vec![err])
    }
}
