//! Identifiers. None of them is PHI: they are opaque keys chosen by the EHR or by us, and they
//! are what logs and queues carry instead of patient data.

use serde::{Deserialize, Serialize};

/// Declares an opaque, externally chosen identifier: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
macro_rules! external_id {
    ($(#[$doc:meta])* $name:ident, $field:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates an identifier.
            pub fn parse(value: impl Into<String>) -> Result<Self, $crate::ValidationError> {
                let value = value.into();
                if value.is_empty() || value.len() > 64 {
                    return Err($crate::ValidationError::new($field, "must be 1 to 64 characters"));
                }
                if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
                    return Err($crate::ValidationError::new(
                        $field,
                        "may contain only letters, digits, '.', '_' and '-'",
                    ));
                }
                Ok(Self(value))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// A new, time-ordered identifier (a UUIDv7).
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::ValidationError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }
    };
}

pub(crate) use external_id;

external_id!(
    /// The clinic's identifier for a patient (the EHR's internal id, not the MRN).
    PatientId,
    "patient_id"
);
external_id!(
    /// The clinic's identifier for an appointment.
    AppointmentId,
    "appointment_id"
);
external_id!(
    /// A consent record's identifier (we generate UUIDv7s; the API accepts any valid id).
    ConsentId,
    "consent_id"
);
