//! Identifiers. None of them is PHI: they are opaque keys chosen by the EHR or by us, and they
//! are what logs and queues carry instead of patient data.

use serde::{Deserialize, Serialize};

/// The longest identifier, in characters.
pub const ID_MAX_LEN: usize = 128;

/// The grammar of every client-chosen identifier (patient, appointment, channel, flow, and the
/// ids we generate): 1 to [`ID_MAX_LEN`] characters of ASCII letters, digits and `-_.:@`, and
/// never `.` or `..` (path segments URL-normalizing clients cannot address). Ids are used as URL
/// path segments and store keys as they are, so nothing else is allowed.
pub const ID_GRAMMAR: &str = "must be 1 to 128 characters of letters, digits, '-', '_', '.', ':' and '@', and not '.' or '..'";

/// The grammar as a regular expression without look-around (infra/openapi.yaml's `Id` pattern).
pub const ID_PATTERN: &str = "^([A-Za-z0-9_:@-][A-Za-z0-9._:@-]{0,127}|\\.[A-Za-z0-9_:@-][A-Za-z0-9._:@-]{0,126}|\\.\\.[A-Za-z0-9._:@-]{1,126})$";

/// Whether `value` follows [`ID_GRAMMAR`].
pub fn is_valid_id(value: &str) -> bool {
    is_ascii_word(value, ID_MAX_LEN, b"-_.:@") && value != "." && value != ".."
}

/// Whether `value` is 1 to `max` bytes of ASCII letters, digits and the `punctuation` bytes.
pub(crate) fn is_ascii_word(value: &str, max: usize, punctuation: &[u8]) -> bool {
    (1..=max).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || punctuation.contains(&b))
}

/// Declares an opaque, externally chosen identifier following [`ID_GRAMMAR`].
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
                if !$crate::ids::is_valid_id(&value) {
                    return Err($crate::ValidationError::new($field, $crate::ids::ID_GRAMMAR));
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

        $crate::string_form::string_form!($name, $crate::ValidationError);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_grammar() {
        let longest = "a".repeat(ID_MAX_LEN);
        for ok in [
            "p1",
            "urn:ehr:1",
            "dana@north",
            "a.b_c-d",
            ".a",
            "..a",
            "...",
            longest.as_str(),
        ] {
            assert!(PatientId::parse(ok).is_ok(), "{ok}");
        }
        let too_long = "a".repeat(ID_MAX_LEN + 1);
        for bad in [
            "",
            ".",
            "..",
            "a b",
            "a/b",
            "a#b",
            "a|b",
            "é",
            "a%2e",
            too_long.as_str(),
        ] {
            let err = PatientId::parse(bad).unwrap_err();
            assert_eq!(err.field, "patient_id", "{bad}");
            assert_eq!(err.message, ID_GRAMMAR);
        }
    }
}
