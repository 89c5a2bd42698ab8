//! The transforms of a mapping.

use chrono_tz::Tz;

use super::fields::required;
use crate::flow::input::TransformInput;
use crate::flow::transform::{self, Transform};
use crate::{ValidationError, ValidationErrors};

const TRANSFORM_KINDS: &str =
    "must be one of trim, upper, lower, default, value_map, date_time, date, phone_e164";

/// One transform of a mapping (`p` is its input path), or `None` with the problems recorded.
pub(super) fn parse_transform(
    e: &mut ValidationErrors,
    p: &str,
    t: &TransformInput,
) -> Option<Transform> {
    let Some(kind) = t.kind.as_deref().map(str::trim) else {
        e.push(required(format!("{p}.type")));
        return None;
    };
    let Some(allowed) = allowed_options(kind) else {
        e.push(ValidationError::new(format!("{p}.type"), TRANSFORM_KINDS));
        return None;
    };
    let misplaced = misplaced_options(e, p, t, kind, allowed);
    let out = match kind {
        "trim" => Some(Transform::Trim),
        "upper" => Some(Transform::Upper),
        "lower" => Some(Transform::Lower),
        "phone_e164" => Some(Transform::PhoneE164),
        "default" => default_value(e, p, t),
        "value_map" => value_map(e, p, t),
        "date_time" => date_time(e, p, t),
        "date" => format_field(e, p, t.to_format.as_deref(), true)
            .map(|to_format| Transform::Date { to_format }),
        _ => None,
    };
    out.filter(|_| !misplaced)
}

/// The options a transform kind takes; `None` for an unknown kind.
fn allowed_options(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "trim" | "upper" | "lower" | "phone_e164" => Some(&[]),
        "default" => Some(&["value"]),
        "value_map" => Some(&["map", "otherwise"]),
        "date_time" => Some(&["to_format", "to_time_zone"]),
        "date" => Some(&["to_format"]),
        _ => None,
    }
}

/// Records every option given that a `kind` transform does not take; true when there was one.
fn misplaced_options(
    e: &mut ValidationErrors,
    p: &str,
    t: &TransformInput,
    kind: &str,
    allowed: &[&str],
) -> bool {
    let mut misplaced = false;
    for (name, present) in [
        ("value", t.value.is_some()),
        ("map", t.map.is_some()),
        ("otherwise", t.otherwise.is_some()),
        ("to_format", t.to_format.is_some()),
        ("to_time_zone", t.to_time_zone.is_some()),
    ] {
        if present && !allowed.contains(&name) {
            e.push(ValidationError::new(
                format!("{p}.{name}"),
                format!("does not apply to {kind} transforms"),
            ));
            misplaced = true;
        }
    }
    misplaced
}

/// A `default` transform: a value of 1 to 1000 characters.
fn default_value(e: &mut ValidationErrors, p: &str, t: &TransformInput) -> Option<Transform> {
    match t.value.as_deref() {
        None | Some("") => {
            e.push(required(format!("{p}.value")));
            None
        }
        Some(v) if v.chars().count() > 1000 => {
            e.refuse(format!("{p}.value"), "must be at most 1000 characters")
        }
        Some(v) => Some(Transform::Default {
            value: v.to_owned(),
        }),
    }
}

/// A `date_time` transform: a date/time format and an optional IANA time zone.
fn date_time(e: &mut ValidationErrors, p: &str, t: &TransformInput) -> Option<Transform> {
    let to_format = format_field(e, p, t.to_format.as_deref(), false);
    let to_time_zone = match t.to_time_zone.as_deref().map(str::trim) {
        None => Some(None),
        Some(z) => match z.parse::<Tz>() {
            Ok(tz) => Some(Some(tz)),
            Err(_) => e.refuse(
                format!("{p}.to_time_zone"),
                "must be an IANA time zone name such as America/New_York",
            ),
        },
    };
    Some(Transform::DateTime {
        to_format: to_format?,
        to_time_zone: to_time_zone?,
    })
}

/// A `value_map` transform: 1 to 500 entries of at most 200 characters each way.
fn value_map(e: &mut ValidationErrors, p: &str, t: &TransformInput) -> Option<Transform> {
    let field = format!("{p}.map");
    let Some(map) = t.map.as_ref().filter(|m| !m.is_empty()) else {
        e.push(required(field));
        return None;
    };
    if map.len() > 500 {
        e.push(ValidationError::new(field, "must have at most 500 entries"));
        return None;
    }
    if map
        .iter()
        .any(|(k, v)| k.chars().count() > 200 || v.chars().count() > 200)
    {
        e.push(ValidationError::new(
            field,
            "keys and values must be at most 200 characters",
        ));
        return None;
    }
    if t.otherwise
        .as_ref()
        .is_some_and(|o| o.chars().count() > 200)
    {
        e.push(ValidationError::new(
            format!("{p}.otherwise"),
            "must be at most 200 characters",
        ));
        return None;
    }
    Some(Transform::ValueMap {
        map: map.clone(),
        otherwise: t.otherwise.clone(),
    })
}

/// The `to_format` of a date or date/time transform: a chrono format that fits.
fn format_field(
    e: &mut ValidationErrors,
    p: &str,
    value: Option<&str>,
    date_only: bool,
) -> Option<String> {
    let field = format!("{p}.to_format");
    let Some(f) = value.filter(|f| !f.trim().is_empty()) else {
        e.push(required(field));
        return None;
    };
    if f.chars().count() > 100 {
        e.refuse(field, "must be at most 100 characters")
    } else if !transform::format_is_valid(f) {
        e.refuse(field, "must be a chrono format such as %Y-%m-%d %H:%M:%S")
    } else if date_only && !transform::format_fits_date(f) {
        e.refuse(
            field,
            "may use date fields only (%Y %m %d %b ...), not time fields",
        )
    } else if !date_only && !transform::format_fits_date_time(f) {
        e.refuse(field, "cannot format a date/time")
    } else {
        Some(f.to_owned())
    }
}
