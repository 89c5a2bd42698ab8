//! Query-string parsing that reports every bad parameter as a validation problem.

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use connector_domain::{ValidationError, ValidationErrors};

use crate::http::problem::Problem;

/// The decoded parameters of a query string; a repeated parameter is an error.
pub(crate) struct QueryParams {
    values: HashMap<String, String>,
    allowed: &'static [&'static str],
}

impl QueryParams {
    /// Parses `raw`, accepting only the `allowed` names.
    pub(crate) fn parse(
        raw: Option<&str>,
        allowed: &'static [&'static str],
    ) -> Result<Self, Problem> {
        let mut values = HashMap::new();
        let mut errors = ValidationErrors::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if !allowed.contains(&key.as_ref()) {
                errors.push(ValidationError::new(
                    key.as_ref(),
                    format!("is not a parameter; use {}", allowed.join(", ")),
                ));
            } else if values
                .insert(key.clone().into_owned(), value.into_owned())
                .is_some()
            {
                errors.push(ValidationError::new(
                    key.as_ref(),
                    "is given more than once",
                ));
            }
        }
        if errors.is_empty() {
            Ok(Self { values, allowed })
        } else {
            Err(Problem::validation(errors))
        }
    }

    /// The raw value of a parameter, if present and not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        debug_assert!(self.allowed.contains(&name));
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `limit`: a whole number from 1 to `max`, `default` when absent; a bad value is recorded
    /// in `errors` (and `default` returned, for the caller to refuse with the other errors).
    pub(crate) fn limit(&self, default: usize, max: usize, errors: &mut ValidationErrors) -> usize {
        let refusal = format!("must be a whole number from 1 to {max}");
        self.limit_or(default, max, refusal, errors)
    }

    /// [`QueryParams::limit`] refusing a bad value with the route's own `refusal` text.
    pub(crate) fn limit_or(
        &self,
        default: usize,
        max: usize,
        refusal: impl Into<String>,
        errors: &mut ValidationErrors,
    ) -> usize {
        let Some(value) = self.get("limit") else {
            return default;
        };
        let limit = value
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n));
        errors
            .check(limit.ok_or_else(|| ValidationError::new("limit", refusal.into())))
            .unwrap_or(default)
    }

    /// A parameter naming one of a set of values: `parse` reads it, `None` when absent; a value
    /// `parse` refuses is recorded in `errors` with the `refusal` text.
    pub(crate) fn choice<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Option<T>,
        refusal: &str,
        errors: &mut ValidationErrors,
    ) -> Option<T> {
        let value = self.get(name)?;
        errors.check(parse(value).ok_or_else(|| ValidationError::new(name, refusal)))
    }
}

/// Reads an instant: RFC 3339, or a date `YYYY-MM-DD` meaning the start of that day in `tz`
/// (the end of it when `end_of_day`, for inclusive "to" dates).
pub(crate) fn instant(
    field: &str,
    value: &str,
    tz: Tz,
    end_of_day: bool,
) -> Result<DateTime<Utc>, ValidationError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    let invalid =
        || ValidationError::new(field, "must be an RFC 3339 timestamp or a date YYYY-MM-DD");
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| invalid())?;
    let date = if end_of_day {
        date.checked_add_days(Days::new(1)).ok_or_else(invalid)?
    } else {
        date
    };
    let midnight = date.and_hms_opt(0, 0, 0).ok_or_else(invalid)?;
    midnight
        .and_local_timezone(tz)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(invalid)
}
