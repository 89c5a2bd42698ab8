//! An appointment's transition fields (`transition_seq`, `transitioned_at`) as a small state
//! machine: `put` never changes them, `record_transition` moves them one step, compare-and-set
//! on the number. The stores load the appointment, call these and write the result only if the
//! stored number is still what they read, so both stores decide alike.

use chrono::{DateTime, Utc};

use super::Appointment;
use crate::StoreError;

/// `record_transition` at a `transition_seq` that is no longer the stored one.
pub const TRANSITION_CHANGED: StoreError = StoreError::Conflict("appointment transition changed");

impl Appointment {
    /// What `put` stores for `self` over `stored`: `self`'s scheduling data with the stored
    /// transition fields; a new appointment starts untransitioned (number 0, no time), whatever
    /// it carries (those fields change only through [`Appointment::transitioned`]).
    pub fn scheduled_over(&self, stored: Option<&Appointment>) -> Appointment {
        Appointment {
            transition_seq: stored.map_or(0, |s| s.transition_seq),
            transitioned_at: stored.and_then(|s| s.transitioned_at),
            ..self.clone()
        }
    }

    /// The transition number after `expected_seq` (`Conflict` when the numbers are exhausted).
    pub fn next_transition_seq(expected_seq: u32) -> Result<u32, StoreError> {
        expected_seq
            .checked_add(1)
            .ok_or(StoreError::Conflict("transition seq exhausted"))
    }

    /// `record_transition` over `stored` (read at `expected_seq`): the appointment transitioned
    /// at `at` with the next number; `NotFound` without an appointment, `Conflict` when its
    /// number is not `expected_seq` (or cannot grow).
    pub fn transitioned(
        stored: Option<Appointment>,
        expected_seq: u32,
        at: DateTime<Utc>,
    ) -> Result<Appointment, StoreError> {
        let stored = stored.ok_or(StoreError::NotFound)?;
        if stored.transition_seq != expected_seq {
            return Err(TRANSITION_CHANGED);
        }
        Ok(Appointment {
            transition_seq: Self::next_transition_seq(expected_seq)?,
            transitioned_at: Some(at),
            ..stored
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::appointment::Provider;
    use crate::phi::Phi;

    fn appointment(seq: u32, at: Option<DateTime<Utc>>) -> Appointment {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap();
        Appointment {
            appointment_id: "a-1".parse().unwrap(),
            patient_id: "p-1".parse().unwrap(),
            scheduled_start: t,
            provider: Provider {
                id: "d".into(),
                name: "D".into(),
            },
            location: "Room 1".into(),
            reason: Phi::new("checkup".into()),
            status: "booked".into(),
            transition_seq: seq,
            transitioned_at: at,
            updated_at: t,
        }
    }

    #[test]
    fn put_keeps_the_stored_transition_and_starts_new_ones_untransitioned() {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let stored = appointment(2, Some(t));
        let incoming = Appointment {
            status: "complete".into(),
            ..appointment(7, None)
        };
        let kept = incoming.scheduled_over(Some(&stored));
        assert_eq!((kept.transition_seq, kept.transitioned_at), (2, Some(t)));
        assert_eq!(kept.status, "complete");
        let new = appointment(7, Some(t)).scheduled_over(None);
        assert_eq!((new.transition_seq, new.transitioned_at), (0, None));
    }

    #[test]
    fn a_transition_moves_one_step_from_the_expected_number() {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let next = Appointment::transitioned(Some(appointment(1, None)), 1, t).unwrap();
        assert_eq!((next.transition_seq, next.transitioned_at), (2, Some(t)));
        for (stored, expected, want) in [
            (None, 0, StoreError::NotFound),
            (Some(appointment(2, None)), 1, TRANSITION_CHANGED),
            (
                Some(appointment(u32::MAX, None)),
                u32::MAX,
                StoreError::Conflict("transition seq exhausted"),
            ),
        ] {
            let got = Appointment::transitioned(stored, expected, t).unwrap_err();
            assert_eq!(format!("{got:?}"), format!("{want:?}"));
        }
    }
}
