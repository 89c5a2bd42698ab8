//! The single-value checks every part of a flow or channel uses: names, enumerations,
//! numbers, secret references, HL7 paths and CRM field names.

use connector_hl7::Path;

use crate::flow::model::{
    ACTIVITY_DATE_TIME_FIELD, ACTIVITY_NOTE_FIELD, CrmFieldName, RESERVED_FIELDS, SyncBehaviour,
};
use crate::flow::secret::SecretRef;
use crate::{ValidationError, ValidationErrors};

pub(super) fn required(field: impl Into<String>) -> ValidationError {
    ValidationError::new(field, "is required")
}

/// A required single-line name: trimmed, 1 to 100 characters.
pub(super) fn name_field(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<String>,
) -> Option<String> {
    let Some(value) = value else {
        e.push(required(field));
        return None;
    };
    let value = value.trim();
    if value.is_empty() {
        e.push(required(field));
        None
    } else if value.chars().count() > 100 {
        e.refuse(field, "must be at most 100 characters")
    } else if value.chars().any(char::is_control) {
        e.refuse(field, "must be a single line")
    } else {
        Some(value.to_owned())
    }
}

/// An optional description: at most 1000 characters, default empty.
pub(super) fn description_field(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<String>,
) -> String {
    let value = value.unwrap_or_default();
    if value.chars().count() > 1000 {
        e.push(ValidationError::new(
            field,
            "must be at most 1000 characters",
        ));
        String::new()
    } else {
        value.trim().to_owned()
    }
}

/// A required enumeration given as text.
pub(super) fn enum_field<T>(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    rule: &str,
) -> Option<T> {
    match value {
        None => {
            e.push(required(field));
            None
        }
        Some(v) => one_of(e, field, v, parse, rule),
    }
}

/// An optional enumeration given as text: `default` when left out.
pub(super) fn enum_or<T>(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
    rule: &str,
) -> Option<T> {
    match value {
        None => Some(default),
        Some(v) => one_of(e, field, v, parse, rule),
    }
}

/// A value `parse` names (trimmed), or `None` with the `rule` as the field's error.
fn one_of<T>(
    e: &mut ValidationErrors,
    field: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
    rule: &str,
) -> Option<T> {
    let parsed = parse(value.trim());
    if parsed.is_none() {
        e.push(ValidationError::new(field, rule));
    }
    parsed
}

/// A required text, trimmed: `None` (and a `required` error) when left out or blank.
pub(super) fn present<'a>(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<&'a str>,
) -> Option<&'a str> {
    match value.map(str::trim) {
        None | Some("") => {
            e.push(required(field));
            None
        }
        Some(v) => Some(v),
    }
}

/// A whole-number setting: its input path, its range and its value when left out (`None`:
/// required).
pub(super) struct IntSetting {
    field: &'static str,
    default: Option<u32>,
    min: u32,
    max: u32,
}

impl IntSetting {
    /// `field`, required, from `min` to `max`.
    pub(super) const fn required(field: &'static str, min: u32, max: u32) -> Self {
        Self {
            field,
            default: None,
            min,
            max,
        }
    }

    /// `field`, from `min` to `max`, `default` when left out.
    pub(super) const fn or(field: &'static str, default: u32, min: u32, max: u32) -> Self {
        Self {
            field,
            default: Some(default),
            min,
            max,
        }
    }

    /// The setting's value: `value` when in range, the default when left out; `None` with the
    /// problem recorded otherwise.
    pub(super) fn parse(&self, e: &mut ValidationErrors, value: Option<i64>) -> Option<u32> {
        let Self {
            field,
            default,
            min,
            max,
        } = *self;
        match value {
            None if default.is_none() => {
                e.push(required(field));
                None
            }
            None => default,
            Some(v) => match u32::try_from(v) {
                Ok(n) if (min..=max).contains(&n) => Some(n),
                _ => e.refuse(field, format!("must be from {min} to {max}")),
            },
        }
    }
}

pub(super) fn secret_field(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
) -> Option<SecretRef> {
    match value {
        None => {
            e.push(required(field));
            None
        }
        Some(v) => SecretRef::parse(v.trim())
            .map_err(|err| e.push(ValidationError::new(field, err.to_string())))
            .ok(),
    }
}

pub(super) fn parse_path(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
) -> Option<Path> {
    present(e, field, value)?
        .parse::<Path>()
        .map_err(|err| {
            e.push(ValidationError::new(
                field,
                format!("is not an HL7 path such as PID-5.1: {err}"),
            ));
        })
        .ok()
}

pub(super) fn parse_crm_field(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
) -> Option<CrmFieldName> {
    let v = present(e, field, value)?;
    let name = e.check(CrmFieldName::parse_for(field, v))?;
    if RESERVED_FIELDS.contains(&name.as_str()) {
        e.push(ValidationError::new(
            field,
            "is reserved by the CRM and cannot be written",
        ));
        return None;
    }
    Some(name)
}

pub(super) fn is_activity_pseudo_field(name: &CrmFieldName) -> bool {
    name.as_str() == ACTIVITY_NOTE_FIELD || name.as_str() == ACTIVITY_DATE_TIME_FIELD
}

pub(super) fn sync_field(
    e: &mut ValidationErrors,
    field: &str,
    value: &str,
) -> Option<SyncBehaviour> {
    one_of(
        e,
        field,
        value,
        SyncBehaviour::parse,
        "must be capture, create_only, update_only or do_nothing",
    )
}
