//! HL7 DTM / TS values: `YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]`, to and from `chrono`,
//! keeping the precision the sender gave.
//!
//! [`Hl7DateTime::to_timezone`] converts a value with an offset to any `chrono` time zone, and
//! reads a value without one as local time in a zone the caller names (the sending site's).

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike,
};

use crate::error::DateTimeError;

/// How much of a date/time the value gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    /// `YYYY`
    Year,
    /// `YYYYMM`
    Month,
    /// `YYYYMMDD`
    Day,
    /// `YYYYMMDDHH`
    Hour,
    /// `YYYYMMDDHHMM`
    Minute,
    /// `YYYYMMDDHHMMSS`
    Second,
    /// `YYYYMMDDHHMMSS.S...` with this many fraction digits (1 to 9).
    Fraction(u8),
}

/// An HL7 date/time: the local date and time as sent, its precision, and the offset if the
/// value carried one. Missing parts are the earliest (month 1, day 1, 00:00:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hl7DateTime {
    naive: NaiveDateTime,
    offset: Option<FixedOffset>,
    precision: Precision,
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

fn part(b: &[u8], at: usize, len: usize, default: u32) -> Result<u32, DateTimeError> {
    match b.get(at..at + len) {
        None => Ok(default),
        Some(x) => digits(x).ok_or(DateTimeError::Format),
    }
}

impl Hl7DateTime {
    /// A value from its parts.
    pub fn new(naive: NaiveDateTime, offset: Option<FixedOffset>, precision: Precision) -> Self {
        Self {
            naive,
            offset,
            precision,
        }
    }

    /// The value of a `chrono` date/time, with its offset, at a precision.
    pub fn from_datetime<Tz: TimeZone>(at: &DateTime<Tz>, precision: Precision) -> Self {
        Self {
            naive: at.naive_local(),
            offset: Some(at.offset().fix()),
            precision,
        }
    }

    /// Parses `YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]`.
    ///
    /// # Errors
    /// [`DateTimeError`] for a malformed or out-of-range value.
    pub fn parse(s: &str) -> Result<Self, DateTimeError> {
        if s.is_empty() {
            return Err(DateTimeError::Empty);
        }
        let b = s.as_bytes();
        let (main, off) = match b.iter().position(|&c| c == b'+' || c == b'-') {
            Some(i) => (b.get(..i).unwrap_or_default(), b.get(i..)),
            None => (b, None),
        };
        let (whole, frac) = match main.iter().position(|&c| c == b'.') {
            Some(i) => (
                main.get(..i).unwrap_or_default(),
                Some(main.get(i + 1..).unwrap_or_default()),
            ),
            None => (main, None),
        };
        let precision = match (whole.len(), frac) {
            (4, None) => Precision::Year,
            (6, None) => Precision::Month,
            (8, None) => Precision::Day,
            (10, None) => Precision::Hour,
            (12, None) => Precision::Minute,
            (14, None) => Precision::Second,
            (14, Some(f)) if (1..=9).contains(&f.len()) => Precision::Fraction(f.len() as u8),
            _ => return Err(DateTimeError::Format),
        };
        let year = part(whole, 0, 4, 0)?;
        let month = part(whole, 4, 2, 1)?;
        let day = part(whole, 6, 2, 1)?;
        let hour = part(whole, 8, 2, 0)?;
        let minute = part(whole, 10, 2, 0)?;
        let second = part(whole, 12, 2, 0)?;
        let nanos = match frac {
            Some(f) => {
                let v = digits(f).ok_or(DateTimeError::Format)?;
                let scale = 10u32.pow(9u32.saturating_sub(f.len() as u32));
                v.saturating_mul(scale)
            }
            None => 0,
        };
        if !(1..=12).contains(&month) {
            return Err(DateTimeError::OutOfRange { part: "month" });
        }
        let year = i32::try_from(year).map_err(|_| DateTimeError::Format)?;
        let date = NaiveDate::from_ymd_opt(year, month, day)
            .ok_or(DateTimeError::OutOfRange { part: "day" })?;
        if hour > 23 {
            return Err(DateTimeError::OutOfRange { part: "hour" });
        }
        if minute > 59 {
            return Err(DateTimeError::OutOfRange { part: "minute" });
        }
        if second > 59 {
            return Err(DateTimeError::OutOfRange { part: "second" });
        }
        let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
            .ok_or(DateTimeError::Format)?;
        let offset = match off {
            None => None,
            Some(o) => Some(parse_offset(o)?),
        };
        Ok(Self {
            naive: NaiveDateTime::new(date, time),
            offset,
            precision,
        })
    }

    /// The local date and time as sent.
    pub fn naive(&self) -> NaiveDateTime {
        self.naive
    }

    /// The offset the value carried, if any.
    pub fn offset(&self) -> Option<FixedOffset> {
        self.offset
    }

    /// How much the value gives.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The instant, when the value carried an offset.
    pub fn to_fixed(&self) -> Option<DateTime<FixedOffset>> {
        self.offset?.from_local_datetime(&self.naive).single()
    }

    /// The instant in `tz`. A value with an offset is converted; one without is read as local
    /// time in `assumed` (the sender's zone) first. `None` when that local time does not exist
    /// in `assumed` (a daylight-saving gap); an ambiguous one (the hour repeated in autumn)
    /// takes the earlier instant.
    pub fn to_timezone<Tz: TimeZone, A: TimeZone>(
        &self,
        assumed: &A,
        tz: &Tz,
    ) -> Option<DateTime<Tz>> {
        match self.to_fixed() {
            Some(dt) => Some(dt.with_timezone(tz)),
            None => assumed
                .from_local_datetime(&self.naive)
                .earliest()
                .map(|dt| dt.with_timezone(tz)),
        }
    }
}

fn parse_offset(o: &[u8]) -> Result<FixedOffset, DateTimeError> {
    let bad = DateTimeError::OutOfRange { part: "offset" };
    let [sign, h1, h2, m1, m2] = *o else {
        return Err(DateTimeError::Format);
    };
    let h = digits(&[h1, h2]).ok_or(DateTimeError::Format)?;
    let m = digits(&[m1, m2]).ok_or(DateTimeError::Format)?;
    if h > 23 || m > 59 {
        return Err(bad);
    }
    let secs = i32::try_from(h * 3600 + m * 60).map_err(|_| bad)?;
    let secs = if sign == b'-' { -secs } else { secs };
    FixedOffset::east_opt(secs).ok_or(bad)
}

fn write_offset(f: &mut impl fmt::Write, offset: FixedOffset) -> fmt::Result {
    let secs = offset.local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let mins = secs.unsigned_abs() / 60;
    write!(f, "{sign}{:02}{:02}", mins / 60, mins % 60)
}

impl fmt::Display for Hl7DateTime {
    /// Writes the value at its precision, with its offset if it has one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = &self.naive;
        write!(f, "{:04}", n.year())?;
        let p = self.precision;
        if p >= Precision::Month {
            write!(f, "{:02}", n.month())?;
        }
        if p >= Precision::Day {
            write!(f, "{:02}", n.day())?;
        }
        if p >= Precision::Hour {
            write!(f, "{:02}", n.hour())?;
        }
        if p >= Precision::Minute {
            write!(f, "{:02}", n.minute())?;
        }
        if p >= Precision::Second {
            write!(f, "{:02}", n.second())?;
        }
        if let Precision::Fraction(d) = p {
            let d = usize::from(d.clamp(1, 9));
            let nanos = format!("{:09}", n.nanosecond() % 1_000_000_000);
            write!(f, ".{}", nanos.get(..d).unwrap_or_default())?;
        }
        if let Some(o) = self.offset {
            write_offset(f, o)?;
        }
        Ok(())
    }
}

impl FromStr for Hl7DateTime {
    type Err = DateTimeError;
    fn from_str(s: &str) -> Result<Self, DateTimeError> {
        Hl7DateTime::parse(s)
    }
}

/// MSH-7 style timestamp of a `chrono` date/time in its own offset: `YYYYMMDDHHMMSS+ZZZZ`.
pub fn format_timestamp<Tz: TimeZone>(at: &DateTime<Tz>) -> String {
    Hl7DateTime::from_datetime(at, Precision::Second).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn parses_every_precision() {
        for (s, p) in [
            ("2024", Precision::Year),
            ("202403", Precision::Month),
            ("20240309", Precision::Day),
            ("2024030914", Precision::Hour),
            ("202403091405", Precision::Minute),
            ("20240309140506", Precision::Second),
            ("20240309140506.1234", Precision::Fraction(4)),
            ("20240309140506.5-0500", Precision::Fraction(1)),
            ("202403091405+0130", Precision::Minute),
        ] {
            let v = Hl7DateTime::parse(s).unwrap();
            assert_eq!(v.precision(), p, "{s}");
            assert_eq!(v.to_string(), s, "round trip {s}");
        }
        let v = Hl7DateTime::parse("20240309140506.25-0500").unwrap();
        assert_eq!(v.naive().nanosecond(), 250_000_000);
        assert_eq!(v.offset(), FixedOffset::west_opt(5 * 3600));
        assert_eq!(
            v.to_fixed().unwrap().with_timezone(&Utc).to_rfc3339(),
            "2024-03-09T19:05:06.250+00:00"
        );
    }

    #[test]
    fn rejects_bad_values() {
        for (s, e) in [
            ("", DateTimeError::Empty),
            ("202", DateTimeError::Format),
            ("2024031", DateTimeError::Format),
            ("2024x309", DateTimeError::Format),
            ("20241301", DateTimeError::OutOfRange { part: "month" }),
            ("20230229", DateTimeError::OutOfRange { part: "day" }),
            ("2024030924", DateTimeError::OutOfRange { part: "hour" }),
            ("202403091460", DateTimeError::OutOfRange { part: "minute" }),
            (
                "20240309140560",
                DateTimeError::OutOfRange { part: "second" },
            ),
            ("20240309+05", DateTimeError::Format),
            (
                "20240309+2500",
                DateTimeError::OutOfRange { part: "offset" },
            ),
            ("2024030914.5", DateTimeError::Format),
            ("20240309140506.", DateTimeError::Format),
            ("20240309140506.1234567890", DateTimeError::Format),
        ] {
            assert_eq!(Hl7DateTime::parse(s), Err(e), "{s}");
        }
    }

    #[test]
    fn converts_time_zones() {
        let est = FixedOffset::west_opt(5 * 3600).unwrap();
        let cet = FixedOffset::east_opt(3600).unwrap();
        let no_offset = Hl7DateTime::parse("202403091405").unwrap();
        let in_cet = no_offset.to_timezone(&est, &cet).unwrap();
        assert_eq!(in_cet.to_rfc3339(), "2024-03-09T20:05:00+01:00");
        let with_offset = Hl7DateTime::parse("202403091405+0000").unwrap();
        assert_eq!(
            with_offset.to_timezone(&est, &cet).unwrap().to_rfc3339(),
            "2024-03-09T15:05:00+01:00"
        );
        let at = est.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format_timestamp(&at), "20240102030405-0500");
        assert_eq!(
            format_timestamp(&at.with_timezone(&Utc)),
            "20240102080405+0000"
        );
    }
}
