//! Protected health information (PHI) types.
//!
//! Every value that identifies a patient lives in a type whose `Debug` prints a redaction marker
//! and that has no `Display`, so a careless `{:?}` or a tracing field cannot leak it. Read the value
//! with `expose()`, which makes the intent visible at the call site.

use serde::{Deserialize, Serialize};

/// What `Debug` prints in place of a PHI value.
pub const REDACTED: &str = "[redacted]";

/// Declares a PHI string newtype: trimmed on parse, bounded length, redacted `Debug`.
macro_rules! phi_string {
    ($(#[$doc:meta])* $name:ident, max = $max:expr, field = $field:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps a value: surrounding spaces are removed; it must not be empty
            /// and must not exceed the maximum length.
            pub fn parse(value: impl Into<String>) -> Result<Self, $crate::ValidationError> {
                let value: String = value.into();
                let trimmed = value.trim();
                if trimmed.is_empty() {
                    return Err($crate::ValidationError::new($field, "must not be empty"));
                }
                if trimmed.chars().count() > $max {
                    return Err($crate::ValidationError::new(
                        $field,
                        concat!("must be at most ", stringify!($max), " characters"),
                    ));
                }
                if trimmed.chars().any(char::is_control) {
                    return Err($crate::ValidationError::new($field, "must not contain control characters"));
                }
                Ok(Self(trimmed.to_owned()))
            }

            /// The value itself. Never log it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), $crate::phi::REDACTED)
            }
        }

        $crate::string_form::string_form!($name, $crate::ValidationError);
    };
}

pub(crate) use phi_string;

/// A wrapper for any PHI value that is not a string newtype (dates of birth, whole addresses).
/// Serialises as the inner value; `Debug` is redacted.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phi<T>(T);

impl<T> Phi<T> {
    /// Wraps a PHI value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself. Never log it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value. Never log it.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::fmt::Debug for Phi<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}
