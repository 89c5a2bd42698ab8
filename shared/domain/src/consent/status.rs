use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Consent;
use crate::ConsentId;

/// A record's status, computed from the record, whether it is the latest, and today's date.
/// Statuses are never stored: they change with the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    /// The latest record, unrevoked, and in force today: the patient's data may be shared.
    Active,
    /// Overridden by a newer record, or not yet in force (future-dated).
    Inactive,
    /// Past its Expires On date.
    Expired,
    /// Revoked.
    Revoked,
}

impl ConsentStatus {
    /// The status's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// The status of `consent` on `today`. Precedence: Revoked, then Expired, then Inactive
/// (not the latest, or future-dated), else Active.
pub fn status(consent: &Consent, is_latest: bool, today: NaiveDate) -> ConsentStatus {
    if consent.is_revoked() {
        ConsentStatus::Revoked
    } else if today >= consent.expires_on {
        ConsentStatus::Expired
    } else if !is_latest || today < consent.given_on {
        ConsentStatus::Inactive
    } else {
        ConsentStatus::Active
    }
}

/// Whether a patient's data may be shared today, and if not, why. Decided by the latest record alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Validity {
    /// The latest record is Active.
    Valid {
        /// The record that allows sharing.
        consent_id: ConsentId,
    },
    /// The patient has no consent record.
    NoConsent,
    /// The latest record was revoked.
    Revoked {
        /// The revoked record.
        consent_id: ConsentId,
    },
    /// The latest record has expired.
    Expired {
        /// The expired record.
        consent_id: ConsentId,
    },
    /// The latest record is not in force yet.
    FutureDated {
        /// The future-dated record.
        consent_id: ConsentId,
    },
}

impl Validity {
    /// True when the patient's data may be shared.
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }

    /// A short machine-readable reason (`valid`, `no_consent`, `revoked`, `expired`, `future_dated`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Valid { .. } => "valid",
            Self::NoConsent => "no_consent",
            Self::Revoked { .. } => "revoked",
            Self::Expired { .. } => "expired",
            Self::FutureDated { .. } => "future_dated",
        }
    }
}

/// The validity of a patient's consent on `today`, given their latest record.
pub fn validity(latest: Option<&Consent>, today: NaiveDate) -> Validity {
    let Some(consent) = latest else {
        return Validity::NoConsent;
    };
    let consent_id = consent.consent_id.clone();
    match status(consent, true, today) {
        ConsentStatus::Active => Validity::Valid { consent_id },
        ConsentStatus::Revoked => Validity::Revoked { consent_id },
        ConsentStatus::Expired => Validity::Expired { consent_id },
        ConsentStatus::Inactive => Validity::FutureDated { consent_id },
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Days, TimeZone, Utc};
    use proptest::prelude::*;

    use super::*;
    use crate::consent::{ConsentSource, Revocation};
    use crate::{Actor, PatientId, Role};

    fn day(offset: i64) -> NaiveDate {
        let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        if offset >= 0 {
            base.checked_add_days(Days::new(offset as u64)).unwrap()
        } else {
            base.checked_sub_days(Days::new((-offset) as u64)).unwrap()
        }
    }

    fn consent(given: i64, expires: i64, revoked: bool) -> Consent {
        Consent {
            consent_id: ConsentId::generate(),
            patient_id: PatientId::parse("p-1").unwrap(),
            seq: 1,
            given_on: day(given),
            expires_on: day(expires),
            source: ConsentSource::Staff,
            created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            created_by: Actor::new("alice", Role::Staff),
            revocation: revoked.then(|| Revocation {
                at: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
                by: Actor::new("alice", Role::Staff),
                reason: None,
            }),
        }
    }

    #[test]
    fn in_force_from_given_on_until_the_day_before_expires_on() {
        let c = consent(10, 20, false);
        assert_eq!(status(&c, true, day(9)), ConsentStatus::Inactive);
        assert_eq!(status(&c, true, day(10)), ConsentStatus::Active);
        assert_eq!(status(&c, true, day(19)), ConsentStatus::Active);
        assert_eq!(status(&c, true, day(20)), ConsentStatus::Expired);
    }

    #[test]
    fn superseded_record_is_inactive_until_it_expires() {
        let c = consent(0, 20, false);
        assert_eq!(status(&c, false, day(5)), ConsentStatus::Inactive);
        assert_eq!(status(&c, false, day(25)), ConsentStatus::Expired);
    }

    #[test]
    fn revoked_wins_over_everything() {
        let c = consent(0, 20, true);
        assert_eq!(status(&c, true, day(25)), ConsentStatus::Revoked);
        assert_eq!(status(&c, false, day(5)), ConsentStatus::Revoked);
    }

    #[test]
    fn validity_reasons() {
        assert_eq!(validity(None, day(0)), Validity::NoConsent);
        assert_eq!(
            validity(Some(&consent(5, 9, false)), day(0)).reason(),
            "future_dated"
        );
        assert_eq!(
            validity(Some(&consent(0, 9, false)), day(9)).reason(),
            "expired"
        );
        assert_eq!(
            validity(Some(&consent(0, 9, true)), day(3)).reason(),
            "revoked"
        );
        assert!(validity(Some(&consent(0, 9, false)), day(3)).is_valid());
    }

    proptest! {
        /// Exactly the documented precedence holds for any dates.
        #[test]
        fn status_follows_precedence(given in -400i64..400, len in 1i64..800, today in -800i64..800,
                                     revoked: bool, latest: bool) {
            let c = consent(given, given + len, revoked);
            let s = status(&c, latest, day(today));
            let expected = if revoked { ConsentStatus::Revoked }
                else if today >= given + len { ConsentStatus::Expired }
                else if !latest || today < given { ConsentStatus::Inactive }
                else { ConsentStatus::Active };
            prop_assert_eq!(s, expected);
        }

        /// Only the latest record can ever be Active; in a history at most one record is Active.
        #[test]
        fn at_most_one_active(records in prop::collection::vec((-50i64..50, 1i64..100, any::<bool>()), 1..8),
                              today in -100i64..150) {
            let history: Vec<Consent> = records.iter().enumerate()
                .map(|(i, (g, l, r))| Consent { seq: i as u64 + 1, ..consent(*g, g + l, *r) })
                .collect();
            let latest_seq = history.len() as u64;
            let active: Vec<_> = history.iter()
                .filter(|c| status(c, c.seq == latest_seq, day(today)) == ConsentStatus::Active)
                .collect();
            prop_assert!(active.len() <= 1);
            if let Some(a) = active.first() { prop_assert_eq!(a.seq, latest_seq); }
            let last = history.last().unwrap();
            prop_assert_eq!(validity(Some(last), day(today)).is_valid(), active.len() == 1);
        }

        /// Active implies in force; in force, latest and unrevoked implies Active.
        #[test]
        fn active_iff_in_force(given in -400i64..400, len in 1i64..800, today in -800i64..800) {
            let c = consent(given, given + len, false);
            let in_force = c.given_on <= day(today) && day(today) < c.expires_on;
            prop_assert_eq!(status(&c, true, day(today)) == ConsentStatus::Active, in_force);
        }
    }
}
