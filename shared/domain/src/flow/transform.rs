//! Per-mapping value transforms.
//!
//! A mapping's transforms run in order on the value moving from the flow's source to its
//! destination (HL7 -> CRM in `ehr_to_crm` flows, CRM -> HL7 in `crm_to_ehr` flows). A value
//! is `Option<String>`: `None` is "nothing here" (absent or empty), and a transform that
//! produces an empty string produces `None`. The HL7 null `""` never reaches a transform (the
//! engine turns it into "clear the field").
//!
//! `date_time` and `date` describe the **CRM side** in both directions: in `ehr_to_crm` the
//! HL7 value is formatted with `to_format` (in `to_time_zone`, default the flow's zone); in
//! `crm_to_ehr` the CRM value is read with `to_format` (in that zone) and written as HL7 DTM in
//! the flow's zone. CRM -> EHR also accepts LeadSquared's own forms whatever `to_format` says:
//! `yyyy-MM-dd HH:mm:ss` and `yyyy-MM-dd` (a date field arrives as midnight,
//! `1987-04-12 00:00:00`; with `date`, or a `date_time` whose format has no time fields, it
//! becomes the HL7 date `19870412`, never shifted between zones).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use connector_hl7::{Hl7DateTime, Precision};
use serde::{Deserialize, Serialize};

use super::model::{CountryCode, Direction};
use super::phone::{self, PhoneError};

/// One transform. JSON: `{"type": "value_map", "map": {"F": "Female"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Transform {
    /// Removes surrounding white space.
    Trim,
    /// Upper case.
    Upper,
    /// Lower case.
    Lower,
    /// Supplies `value` when there is nothing.
    Default {
        /// The value to use.
        value: String,
    },
    /// Replaces a value found in `map`; other values become `otherwise`, or pass through when
    /// it is `None`. Matching is exact (add `trim`/`upper` before it to normalise). A value
    /// mapped to `""` is left out.
    ValueMap {
        /// From -> to.
        map: BTreeMap<String, String>,
        /// The value for anything not in `map`; `None` passes it through.
        #[serde(default)]
        otherwise: Option<String>,
    },
    /// An HL7 date/time and the CRM's text form of it (see the module documentation). An HL7
    /// value without an offset is local time in the flow's zone; one with day precision or
    /// less is a calendar date and is never shifted between zones.
    DateTime {
        /// A `chrono` format (`%Y-%m-%d %H:%M:%S`).
        to_format: String,
        /// The CRM side's zone; `None` is the flow's zone.
        #[serde(default, with = "super::opt_tz_serde")]
        to_time_zone: Option<Tz>,
    },
    /// An HL7 date (or the date part of a date/time, as sent) and the CRM's text form of it.
    Date {
        /// A `chrono` format with date fields only (`%m/%d/%Y`).
        to_format: String,
    },
    /// A phone number to E.164, using the flow's default country code
    /// (see [`crate::flow::phone`]).
    PhoneE164,
}

/// Why a transform failed. Never carries the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// The HL7 value is not a DTM/TS date/time.
    #[error("the value is not an HL7 date/time")]
    NotHl7DateTime,
    /// The CRM value does not match `to_format`.
    #[error("the value does not match to_format")]
    NotInFormat,
    /// A local time that does not exist in the zone (the hour skipped in spring).
    #[error("the local time does not exist in the time zone (daylight-saving gap)")]
    NonexistentLocalTime,
    /// `to_format` cannot format this value (e.g. time fields for a date).
    #[error("to_format cannot format the value")]
    Format,
    /// The phone number could not be normalised.
    #[error("{0}")]
    Phone(#[from] PhoneError),
}

/// What a transform needs from its flow.
#[derive(Debug, Clone, Copy)]
pub struct TransformContext {
    /// The flow's direction.
    pub direction: Direction,
    /// The flow's time zone.
    pub time_zone: Tz,
    /// The flow's default country code.
    pub default_country_code: Option<CountryCode>,
}

impl Transform {
    /// The wire name of the transform (`value_map`), for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Transform::Trim => "trim",
            Transform::Upper => "upper",
            Transform::Lower => "lower",
            Transform::Default { .. } => "default",
            Transform::ValueMap { .. } => "value_map",
            Transform::DateTime { .. } => "date_time",
            Transform::Date { .. } => "date",
            Transform::PhoneE164 => "phone_e164",
        }
    }

    /// Applies the transform to a value (`None` = nothing).
    ///
    /// # Errors
    /// [`TransformError`]; only `date_time`, `date` and `phone_e164` can fail.
    pub fn apply(
        &self,
        value: Option<String>,
        ctx: &TransformContext,
    ) -> Result<Option<String>, TransformError> {
        let out = match (self, value) {
            (Transform::Default { value: default }, None) => Some(default.clone()),
            (_, None) => None,
            (Transform::Trim, Some(v)) => Some(v.trim().to_owned()),
            (Transform::Upper, Some(v)) => Some(v.to_uppercase()),
            (Transform::Lower, Some(v)) => Some(v.to_lowercase()),
            (Transform::Default { .. }, Some(v)) => Some(v),
            (Transform::ValueMap { map, otherwise }, Some(v)) => Some(match map.get(&v) {
                Some(to) => to.clone(),
                None => otherwise.clone().unwrap_or(v),
            }),
            (
                Transform::DateTime {
                    to_format,
                    to_time_zone,
                },
                Some(v),
            ) => {
                let crm_zone = to_time_zone.unwrap_or(ctx.time_zone);
                Some(match ctx.direction {
                    Direction::EhrToCrm => hl7_to_text(&v, to_format, ctx.time_zone, crm_zone)?,
                    Direction::CrmToEhr => text_to_hl7(&v, to_format, crm_zone, ctx.time_zone)?,
                })
            }
            (Transform::Date { to_format }, Some(v)) => Some(match ctx.direction {
                Direction::EhrToCrm => {
                    let dt =
                        Hl7DateTime::parse(v.trim()).map_err(|_| TransformError::NotHl7DateTime)?;
                    format_with(to_format, &dt.naive().date())?
                }
                Direction::CrmToEhr => {
                    let date = parse_crm_date(v.trim(), to_format)?;
                    format_with("%Y%m%d", &date)?
                }
            }),
            (Transform::PhoneE164, Some(v)) => Some(phone::to_e164(&v, ctx.default_country_code)?),
        };
        Ok(out.filter(|v| !v.is_empty()))
    }
}

/// Applies transforms in order.
///
/// # Errors
/// The first failure, with the index of the transform that failed.
pub fn apply_all(
    transforms: &[Transform],
    value: Option<String>,
    ctx: &TransformContext,
) -> Result<Option<String>, (usize, TransformError)> {
    let start = value.filter(|v| !v.is_empty());
    transforms
        .iter()
        .enumerate()
        .try_fold(start, |v, (i, t)| t.apply(v, ctx).map_err(|e| (i, e)))
}

/// Formats a value with a `chrono` format, returning an error (not panicking) when the format
/// does not fit the value.
fn format_with<T: FormatWith>(format: &str, value: &T) -> Result<String, TransformError> {
    let mut out = String::new();
    value
        .write_formatted(&mut out, format)
        .map_err(|_| TransformError::Format)?;
    Ok(out)
}

/// Something `chrono` can format.
trait FormatWith {
    fn write_formatted(&self, out: &mut String, format: &str) -> std::fmt::Result;
}

impl FormatWith for NaiveDate {
    fn write_formatted(&self, out: &mut String, format: &str) -> std::fmt::Result {
        write!(out, "{}", self.format(format))
    }
}

impl FormatWith for NaiveDateTime {
    fn write_formatted(&self, out: &mut String, format: &str) -> std::fmt::Result {
        write!(out, "{}", self.format(format))
    }
}

impl FormatWith for DateTime<Tz> {
    fn write_formatted(&self, out: &mut String, format: &str) -> std::fmt::Result {
        write!(out, "{}", self.format(format))
    }
}

/// Whether a `chrono` format is well formed.
pub(crate) fn format_is_valid(format: &str) -> bool {
    chrono::format::StrftimeItems::new(format).parse().is_ok()
}

/// Whether a `chrono` format can format a date (no time fields).
pub(crate) fn format_fits_date(format: &str) -> bool {
    NaiveDate::from_ymd_opt(2024, 3, 10).is_some_and(|d| format_with(format, &d).is_ok())
}

/// Whether a `chrono` format can format a zoned date/time.
pub(crate) fn format_fits_date_time(format: &str) -> bool {
    Tz::UTC
        .with_ymd_and_hms(2024, 3, 10, 7, 30, 0)
        .single()
        .is_some_and(|d| format_with(format, &d).is_ok())
}

/// HL7 DTM -> CRM text.
fn hl7_to_text(
    value: &str,
    format: &str,
    flow_zone: Tz,
    crm_zone: Tz,
) -> Result<String, TransformError> {
    let dt = Hl7DateTime::parse(value.trim()).map_err(|_| TransformError::NotHl7DateTime)?;
    if dt.precision() <= Precision::Day {
        // A calendar date: shifting it between zones would change the day.
        return format_with(format, &dt.naive());
    }
    let at = dt
        .to_timezone(&flow_zone, &crm_zone)
        .ok_or(TransformError::NonexistentLocalTime)?;
    format_with(format, &at)
}

/// CRM text -> HL7 DTM (seconds, with the offset of the flow's zone), or `YYYYMMDD` for a
/// date-only format.
fn text_to_hl7(
    value: &str,
    format: &str,
    crm_zone: Tz,
    flow_zone: Tz,
) -> Result<String, TransformError> {
    let value = value.trim();
    // A date field read with a date-only format: LeadSquared hands it out as midnight
    // (`1987-04-12 00:00:00`); the day is taken as it is, never shifted between zones.
    if format_fits_date(format)
        && let Ok(naive) = NaiveDateTime::parse_from_str(value, LEADSQUARED_DATE_TIME)
    {
        return format_with("%Y%m%d", &naive.date());
    }
    let at = if let Ok(fixed) = DateTime::parse_from_str(value, format) {
        fixed.with_timezone(&flow_zone)
    } else if let Ok(naive) = NaiveDateTime::parse_from_str(value, format) {
        local(crm_zone, &naive)?.with_timezone(&flow_zone)
    } else if let Ok(date) = NaiveDate::parse_from_str(value, format) {
        return format_with("%Y%m%d", &date);
    } else if let Ok(fixed) = DateTime::parse_from_rfc3339(value) {
        fixed.with_timezone(&flow_zone)
    } else if let Ok(naive) = NaiveDateTime::parse_from_str(value, LEADSQUARED_DATE_TIME) {
        local(crm_zone, &naive)?.with_timezone(&flow_zone)
    } else if let Ok(date) = NaiveDate::parse_from_str(value, LEADSQUARED_DATE) {
        return format_with("%Y%m%d", &date);
    } else {
        return Err(TransformError::NotInFormat);
    };
    Ok(Hl7DateTime::from_datetime(&at, Precision::Second).to_string())
}

fn local(zone: Tz, naive: &NaiveDateTime) -> Result<DateTime<Tz>, TransformError> {
    zone.from_local_datetime(naive)
        .earliest()
        .ok_or(TransformError::NonexistentLocalTime)
}

/// LeadSquared's date/time form (`yyyy-MM-dd HH:mm:ss`, fractions of a second accepted): how
/// its API and webhooks carry date/time fields, and date fields as midnight.
const LEADSQUARED_DATE_TIME: &str = "%Y-%m-%d %H:%M:%S%.f";
/// LeadSquared's date form (`yyyy-MM-dd`).
const LEADSQUARED_DATE: &str = "%Y-%m-%d";

/// A CRM date in the mapping's format, or else in one of LeadSquared's own forms.
fn parse_crm_date(value: &str, format: &str) -> Result<NaiveDate, TransformError> {
    NaiveDate::parse_from_str(value, format)
        .or_else(|_| NaiveDateTime::parse_from_str(value, format).map(|d| d.date()))
        .or_else(|_| NaiveDate::parse_from_str(value, LEADSQUARED_DATE))
        .or_else(|_| NaiveDateTime::parse_from_str(value, LEADSQUARED_DATE_TIME).map(|d| d.date()))
        .map_err(|_| TransformError::NotInFormat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What applying a transform gives.
    type Outcome = Result<Option<String>, TransformError>;

    fn ctx(direction: Direction, zone: &str) -> TransformContext {
        TransformContext {
            direction,
            time_zone: zone.parse().unwrap(),
            default_country_code: Some(CountryCode::parse("1").unwrap()),
        }
    }

    fn run(t: &Transform, v: Option<&str>, c: &TransformContext) -> Outcome {
        t.apply(v.map(str::to_owned), c)
    }

    fn some(s: &str) -> Outcome {
        Ok(Some(s.to_owned()))
    }

    /// Runs each case (transform, input, expected result) in `c`.
    fn check(c: &TransformContext, cases: &[(&Transform, &str, Outcome)]) {
        for (t, input, want) in cases {
            assert_eq!(&run(t, Some(input), c), want, "{input}");
        }
    }

    fn date(format: &str) -> Transform {
        Transform::Date {
            to_format: format.to_owned(),
        }
    }

    fn dt(format: &str, zone: Option<&str>) -> Transform {
        Transform::DateTime {
            to_format: format.to_owned(),
            to_time_zone: zone.map(|z| z.parse().unwrap()),
        }
    }

    #[test]
    fn text_transforms() {
        let c = ctx(Direction::EhrToCrm, "UTC");
        assert_eq!(
            run(&Transform::Trim, Some("  Jane "), &c),
            Ok(Some("Jane".into()))
        );
        assert_eq!(run(&Transform::Trim, Some("   "), &c), Ok(None));
        assert_eq!(
            run(&Transform::Upper, Some("doe"), &c),
            Ok(Some("DOE".into()))
        );
        assert_eq!(
            run(&Transform::Lower, Some("A@B.ORG"), &c),
            Ok(Some("a@b.org".into()))
        );
        let d = Transform::Default {
            value: "Unknown".into(),
        };
        assert_eq!(run(&d, None, &c), Ok(Some("Unknown".into())));
        assert_eq!(run(&d, Some("x"), &c), Ok(Some("x".into())));
        assert_eq!(run(&Transform::Upper, None, &c), Ok(None));
    }

    #[test]
    fn value_maps() {
        let c = ctx(Direction::EhrToCrm, "UTC");
        let map: BTreeMap<String, String> = [("F", "Female"), ("M", "Male"), ("U", "")]
            .map(|(a, b)| (a.into(), b.into()))
            .into();
        let pass = Transform::ValueMap {
            map: map.clone(),
            otherwise: None,
        };
        let other = Transform::ValueMap {
            map,
            otherwise: Some("Other".into()),
        };
        assert_eq!(run(&pass, Some("F"), &c), Ok(Some("Female".into())));
        assert_eq!(run(&pass, Some("X"), &c), Ok(Some("X".into())));
        assert_eq!(run(&other, Some("X"), &c), Ok(Some("Other".into())));
        assert_eq!(run(&other, Some("U"), &c), Ok(None));
        assert_eq!(run(&other, None, &c), Ok(None));
    }

    #[test]
    fn date_times_convert_across_daylight_saving() {
        let ny = ctx(Direction::EhrToCrm, "America/New_York");
        let utc = dt("%Y-%m-%d %H:%M:%S", Some("UTC"));
        for (hl7, want) in [
            // 2024-03-10: clocks go 02:00 EST -> 03:00 EDT.
            ("20240310013000", "2024-03-10 06:30:00"),
            ("20240310033000", "2024-03-10 07:30:00"),
            // 2024-11-03: 01:00-02:00 happens twice; the earlier (EDT) is taken.
            ("20241103013000", "2024-11-03 05:30:00"),
            ("20241103013000-0500", "2024-11-03 06:30:00"),
            ("202407040915+0000", "2024-07-04 09:15:00"),
            // Date precision: a calendar date, not shifted.
            ("19800102", "1980-01-02 00:00:00"),
        ] {
            assert_eq!(run(&utc, Some(hl7), &ny), some(want), "{hl7}");
        }
        let local = dt("%m/%d/%Y %I:%M %p %Z", None);
        check(
            &ny,
            &[
                (
                    &utc,
                    "20240310023000",
                    Err(TransformError::NonexistentLocalTime),
                ),
                (&utc, "tomorrow", Err(TransformError::NotHl7DateTime)),
                (
                    &local,
                    "20240310073000+0000",
                    some("03/10/2024 03:30 AM EDT"),
                ),
            ],
        );
    }

    #[test]
    fn dates() {
        let c = ctx(Direction::EhrToCrm, "America/Chicago");
        let d = date("%m/%d/%Y");
        let bad = date("%H:%M");
        check(
            &c,
            &[
                (&d, "19800102", some("01/02/1980")),
                (&d, "198001022359-0600", some("01/02/1980")),
                (&d, "1980-01-02", Err(TransformError::NotHl7DateTime)),
                (&bad, "19800102", Err(TransformError::Format)),
            ],
        );
    }

    #[test]
    fn crm_to_ehr_dates_become_hl7() {
        let c = ctx(Direction::CrmToEhr, "America/New_York");
        let from_utc = dt("%Y-%m-%d %H:%M:%S", Some("UTC"));
        let date_only = dt("%Y-%m-%d", None);
        let local = dt("%Y-%m-%d %H:%M", None);
        let d = date("%m/%d/%Y");
        check(
            &c,
            &[
                (
                    &from_utc,
                    "2024-03-10 07:30:00",
                    some("20240310033000-0400"),
                ),
                (
                    &from_utc,
                    "2024-01-10T12:00:00Z",
                    some("20240110070000-0500"),
                ),
                (
                    &from_utc,
                    "2024-01-10 12:00:00.000",
                    some("20240110070000-0500"),
                ),
                (&date_only, "1980-01-02", some("19800102")),
                (&from_utc, "soon", Err(TransformError::NotInFormat)),
                (
                    &local,
                    "2024-03-10 02:30",
                    Err(TransformError::NonexistentLocalTime),
                ),
                (&d, "01/02/1980", some("19800102")),
            ],
        );
    }

    #[test]
    fn crm_to_ehr_dates_accept_leadsquareds_stored_forms() {
        // LeadSquared stores a date field as `yyyy-MM-dd` and hands it out, in webhooks and
        // reads, as `yyyy-MM-dd HH:mm:ss` (midnight); a date_time field as `yyyy-MM-dd HH:mm:ss`.
        let c = ctx(Direction::CrmToEhr, "America/New_York");
        let iso_date = date("%Y-%m-%d");
        let us_date = date("%m/%d/%Y");
        // A date_time mapping on a date field (a date-only format): the day, never shifted.
        let date_only = dt("%Y-%m-%d", Some("UTC"));
        let us_date_time = dt("%m/%d/%Y %H:%M", Some("UTC"));
        check(
            &c,
            &[
                (&iso_date, "1987-04-12 00:00:00", some("19870412")),
                (&iso_date, "1987-04-12", some("19870412")),
                (&us_date, "1987-04-12 00:00:00", some("19870412")),
                (&date_only, "1987-04-12 00:00:00", some("19870412")),
                (
                    &us_date_time,
                    "2024-01-10 12:00:00",
                    some("20240110070000-0500"),
                ),
                (&us_date_time, "2024-01-10", some("20240110")),
                (
                    &iso_date,
                    "1987-13-12 00:00:00",
                    Err(TransformError::NotInFormat),
                ),
            ],
        );
    }

    #[test]
    fn phones() {
        let c = ctx(Direction::EhrToCrm, "UTC");
        assert_eq!(
            run(&Transform::PhoneE164, Some("(555) 201-3344"), &c),
            some("+15552013344")
        );
        let none = TransformContext {
            default_country_code: None,
            ..c
        };
        assert_eq!(
            run(&Transform::PhoneE164, Some("555 201 3344"), &none),
            Err(TransformError::Phone(PhoneError::NoCountryCode))
        );
        assert_eq!(
            run(&Transform::PhoneE164, Some("+44 20 7946 0958"), &none),
            some("+442079460958")
        );
    }

    #[test]
    fn chains_and_reports_the_failing_index() {
        let c = ctx(Direction::EhrToCrm, "UTC");
        let chain = [
            Transform::Trim,
            Transform::Upper,
            Transform::ValueMap {
                map: [("F".to_owned(), "Female".to_owned())].into(),
                otherwise: None,
            },
        ];
        assert_eq!(
            apply_all(&chain, Some(" f ".into()), &c),
            Ok(Some("Female".into()))
        );
        let failing = [Transform::Trim, Transform::PhoneE164];
        assert_eq!(
            apply_all(&failing, Some("n/a".into()), &c),
            Err((1, TransformError::Phone(PhoneError::NotAPhoneNumber)))
        );
        assert_eq!(apply_all(&failing, Some(String::new()), &c), Ok(None));
    }

    #[test]
    fn format_checks() {
        assert!(format_is_valid("%Y-%m-%d %H:%M:%S"));
        assert!(!format_is_valid("%Y-%Q"));
        assert!(format_fits_date("%d.%m.%Y"));
        assert!(!format_fits_date("%Y %H"));
        assert!(format_fits_date_time("%Y-%m-%dT%H:%M:%S%:z %Z"));
    }

    fn any_transform() -> impl Strategy<Value = Transform> {
        prop_oneof![
            Just(Transform::Trim),
            Just(Transform::Upper),
            Just(Transform::Lower),
            Just(Transform::PhoneE164),
            ".{0,8}".prop_map(|value| Transform::Default { value }),
            (".{0,4}", ".{0,4}", proptest::option::of(".{0,4}")).prop_map(|(k, v, otherwise)| {
                Transform::ValueMap {
                    map: [(k, v)].into(),
                    otherwise,
                }
            }),
            "[%a-zA-Z :./-]{0,12}".prop_map(|to_format| Transform::DateTime {
                to_format,
                to_time_zone: Some(Tz::Asia__Kolkata),
            }),
            "[%a-zA-Z :./-]{0,12}".prop_map(|to_format| Transform::Date { to_format }),
        ]
    }

    proptest! {
        #[test]
        fn transforms_never_panic(
            t in any_transform(),
            value in proptest::option::of(".{0,40}"),
            digits in "[0-9+() -]{0,24}",
            crm_to_ehr in any::<bool>(),
        ) {
            let direction = if crm_to_ehr { Direction::CrmToEhr } else { Direction::EhrToCrm };
            let c = ctx(direction, "America/New_York");
            let _ = t.apply(value.clone(), &c);
            let _ = t.apply(Some(digits.clone()), &c);
            if let Ok(Some(out)) = Transform::PhoneE164.apply(Some(digits), &c) {
                prop_assert!(out.starts_with('+'));
                prop_assert!((8..=16).contains(&out.len()));
                prop_assert!(out[1..].bytes().all(|b| b.is_ascii_digit()));
            }
        }

        #[test]
        fn hl7_date_times_format_without_panicking(
            y in 1900u32..2100, mo in 1u32..13, d in 1u32..29, h in 0u32..24, mi in 0u32..60,
            offset in proptest::option::of(-1200i32..1400),
            format in "[%a-zA-Z :]{0,10}",
        ) {
            let mut v = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}");
            if let Some(o) = offset {
                v.push_str(&format!("{}{:04}", if o < 0 { '-' } else { '+' }, (o.abs() / 100) * 100 % 2400));
            }
            let c = ctx(Direction::EhrToCrm, "Europe/London");
            let t = dt(&format, Some("Pacific/Auckland"));
            let r = t.apply(Some(v), &c);
            prop_assert!(!matches!(r, Err(TransformError::NotHl7DateTime)));
        }

        #[test]
        fn trim_is_idempotent(s in ".{0,30}") {
            let c = ctx(Direction::EhrToCrm, "UTC");
            let once = Transform::Trim.apply(Some(s), &c).unwrap();
            let twice = Transform::Trim.apply(once.clone(), &c).unwrap();
            prop_assert_eq!(once, twice);
        }
    }
}
