//! The string form of validated newtypes: what `#[serde(try_from = "String", into = "String")]`
//! needs, written once.

/// Implements `TryFrom<String>` for a newtype through its `parse` (taking `&str` or
/// `impl Into<String>`, failing with `$error`), and `From<$name> for String`: the inner `String`
/// by default, its `Display` text with `display`.
macro_rules! string_form {
    ($name:ident, $error:ty) => {
        $crate::string_form::string_form!(@parse $name, $error);
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
    ($name:ident, $error:ty, display) => {
        $crate::string_form::string_form!(@parse $name, $error);
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.to_string()
            }
        }
    };
    (@parse $name:ident, $error:ty) => {
        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(value: String) -> Result<Self, $error> {
                Self::parse(value.as_str())
            }
        }
    };
}

pub(crate) use string_form;
