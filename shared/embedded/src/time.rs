//! Instants as SQLite integers: nanoseconds since the Unix epoch for stored values (ordered
//! columns), milliseconds for queue timers.

use chrono::{DateTime, Utc};
use connector_domain::StoreError;

use crate::error::UnsupportedValue;

/// The instant as nanoseconds since the epoch; instants outside 1677..2262 cannot be stored.
pub(crate) fn nanos(at: DateTime<Utc>) -> Result<i64, StoreError> {
    at.timestamp_nanos_opt()
        .ok_or_else(|| StoreError::unavailable(UnsupportedValue("timestamp")))
}

/// The instant stored as `nanos` nanoseconds since the epoch (the inverse of [`nanos`]).
pub(crate) fn from_nanos(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

/// The instant as nanoseconds since the epoch, clamped to the representable range (for query
/// bounds, where clamping keeps the meaning).
pub(crate) fn nanos_clamped(at: DateTime<Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// The instant as milliseconds since the epoch.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// `start` plus `by`, in milliseconds, saturating.
pub(crate) fn add_millis(start: i64, by: std::time::Duration) -> i64 {
    start.saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn nanos_keep_order_and_refuse_out_of_range() {
        let a = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let b = a + chrono::Duration::nanoseconds(1);
        assert!(nanos(a).unwrap() < nanos(b).unwrap());
        assert_eq!(from_nanos(nanos(b).unwrap()), b);
        let far = Utc.with_ymd_and_hms(3000, 1, 1, 0, 0, 0).unwrap();
        assert!(nanos(far).is_err());
        assert_eq!(nanos_clamped(far), i64::MAX);
        let early = Utc.with_ymd_and_hms(1000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(nanos_clamped(early), i64::MIN);
    }
}
