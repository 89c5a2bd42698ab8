//! One lease rule for every claim the connector takes: a CRM -> EHR delivery attempt, an HIE
//! send, an inbound HL7 message's handling and a search-key lock. A lease is taken at `now`
//! for a positive length and holds while `now < until`; at `until` it has lapsed, and the next
//! claim may take the work over (its holder crashed or stalled). The stores write a claim
//! with a condition repeating this rule (compare-and-set), so two claims are never both
//! granted.
//!
//! The lease lengths live here, in one place:
//!
//! | constant | length | what it covers |
//! |---|---|---|
//! | [`DELIVERY_CLAIM`] | 5 min | one CRM -> EHR delivery attempt (MLLP send and ACK wait) |
//! | [`HIE_SEND_CLAIM`] | 5 min | one HIE send (render, SES send) |
//! | [`INBOUND_CLAIM`] | 2 min | one inbound HL7 message's handling (its CRM steps) |
//! | [`KEY_LOCK`] | 60 s | one search-key lock, held around a CRM lookup-or-create |
//!
//! A queue message whose work holds a lease stays hidden for the lease and
//! [`QUEUE_VISIBILITY_MARGIN`] more ([`queue_visibility`]), so a redelivery finds the lease
//! lapsed rather than busy.

use chrono::{DateTime, Duration, Utc};

use crate::StoreError;

/// The lease of one CRM -> EHR delivery attempt.
pub const DELIVERY_CLAIM: Duration = Duration::minutes(5);
/// The lease of one HIE send.
pub const HIE_SEND_CLAIM: Duration = Duration::minutes(5);
/// The lease of one inbound HL7 message's handling.
pub const INBOUND_CLAIM: Duration = Duration::minutes(2);
/// The lease of a search-key lock.
pub const KEY_LOCK: Duration = Duration::seconds(60);
/// How much longer than its lease a leased job's queue message stays hidden.
pub const QUEUE_VISIBILITY_MARGIN: Duration = Duration::minutes(1);

/// A lease: held by `holder` until `until` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease<H = ()> {
    /// Who holds it (`()` where the record's attempt number says who).
    pub holder: H,
    /// When it lapses.
    pub until: DateTime<Utc>,
}

impl Lease {
    /// A lease taken at `now` for `length`: `Invalid` unless `length` is positive and the end
    /// is a representable instant.
    pub fn claim(now: DateTime<Utc>, length: Duration) -> Result<Self, StoreError> {
        Lease::claim_for((), now, length)
    }

    /// The lease a record's `lease_until` describes, if it has one.
    pub fn of(until: Option<DateTime<Utc>>) -> Option<Self> {
        until.map(|until| Lease { holder: (), until })
    }

    /// When a lease that is still live at `now` lapses (`None`: no lease, or lapsed).
    pub fn live_until(until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        Lease::of(until)
            .filter(|lease| !lease.is_free_at(now))
            .map(|lease| lease.until)
    }
}

impl<H: PartialEq> Lease<H> {
    /// A lease taken by `holder` at `now` for `length` (see [`Lease::claim`]).
    pub fn claim_for(holder: H, now: DateTime<Utc>, length: Duration) -> Result<Self, StoreError> {
        if length <= Duration::zero() {
            return Err(StoreError::Invalid("a lease must be positive"));
        }
        let until = now
            .checked_add_signed(length)
            .ok_or(StoreError::Invalid("the lease ends out of range"))?;
        Ok(Lease { holder, until })
    }

    /// Whether the lease has lapsed at `now` (a new claim may take it).
    pub fn is_free_at(&self, now: DateTime<Utc>) -> bool {
        self.until <= now
    }

    /// Whether `holder` may take this lease at `now`: it has lapsed, or `holder` holds it
    /// already (a renewal).
    pub fn is_free_for(&self, holder: &H, now: DateTime<Utc>) -> bool {
        self.is_free_at(now) || self.holder == *holder
    }
}

/// How long a queue message stays hidden while its job holds a lease of `lease`.
pub fn queue_visibility(lease: Duration) -> std::time::Duration {
    (lease + QUEUE_VISIBILITY_MARGIN)
        .to_std()
        .unwrap_or(std::time::Duration::ZERO)
}

/// Instants and leases for the transitions' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use super::Lease;

    /// `seconds` after a fixed instant.
    pub fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0).unwrap()
    }

    /// A minute's lease taken at `now`.
    pub fn lease(now: DateTime<Utc>) -> Lease {
        Lease::claim(now, Duration::seconds(60)).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::at;
    use super::*;

    #[test]
    fn a_lease_holds_until_its_end_and_lapses_there() {
        let lease = Lease::claim(at(0), Duration::seconds(60)).unwrap();
        assert_eq!(lease.until, at(60));
        assert!(!lease.is_free_at(at(59)));
        assert!(lease.is_free_at(at(60)), "`until <= now` has lapsed");
        assert_eq!(Lease::live_until(Some(at(60)), at(59)), Some(at(60)));
        assert_eq!(Lease::live_until(Some(at(60)), at(60)), None);
        assert_eq!(Lease::live_until(None, at(0)), None);
    }

    #[test]
    fn a_lease_must_be_positive_and_end_in_range() {
        for length in [Duration::zero(), Duration::seconds(-1)] {
            assert!(matches!(
                Lease::claim(at(0), length),
                Err(StoreError::Invalid(_))
            ));
        }
        assert!(matches!(
            Lease::claim(DateTime::<Utc>::MAX_UTC, Duration::seconds(1)),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn its_holder_may_renew_a_live_lease_and_others_wait() {
        let lease = Lease::claim_for("a", at(0), KEY_LOCK).unwrap();
        assert!(lease.is_free_for(&"a", at(1)));
        assert!(!lease.is_free_for(&"b", at(1)));
        assert!(lease.is_free_for(&"b", at(60)));
    }

    #[test]
    fn the_lengths_and_the_visibility_margin() {
        assert_eq!(DELIVERY_CLAIM, Duration::minutes(5));
        assert_eq!(HIE_SEND_CLAIM, Duration::minutes(5));
        assert_eq!(INBOUND_CLAIM, Duration::minutes(2));
        assert_eq!(KEY_LOCK, Duration::seconds(60));
        assert_eq!(
            queue_visibility(DELIVERY_CLAIM),
            std::time::Duration::from_secs(360)
        );
    }
}
