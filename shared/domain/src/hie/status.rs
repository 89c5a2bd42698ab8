//! An appointment's HIE status as the front desk sees it, from what the connector already
//! recorded: the send ledger's record of the appointment's current transition and the
//! appointment's newest `hie_sent_appointments` audit entries (both read by key, never a scan).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ledger::{SendRecord, SendState};
use crate::appointment::Appointment;
use crate::audit::AuditEntry;

/// Where an appointment's current transition stands with the HIE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HieStatus {
    /// Never transitioned to billing: nothing to send.
    NotEligible,
    /// Transitioned; waiting for the batch (or for a retry, or for a requested resend).
    Pending,
    /// A sender holds it right now.
    InProgress,
    /// Sent to the HIE.
    Sent {
        /// When it was sent.
        sent_at: DateTime<Utc>,
        /// The HL7 message control id (MSH-10), when the audit log still has it.
        #[serde(skip_serializing_if = "Option::is_none")]
        control_id: Option<String>,
    },
    /// Not sent, and not sent later unless an administrator resends it.
    Skipped {
        /// Why (`no_consent`, `revoked`, `expired`, `superseded`, `rejected`, ...).
        reason: String,
    },
}

/// The status of `appointment`'s current transition: the newest audit entry that decided it
/// (sent, skipped, failed, or a resend request) wins; without one, the send ledger's record of
/// the transition (`ledger`, resend 0) says whether it is in progress, sent or closed.
/// `audit` is the appointment's `hie_sent_appointments` entries, newest first.
pub fn hie_status(
    appointment: &Appointment,
    ledger: Option<&SendRecord>,
    audit: &[AuditEntry],
) -> HieStatus {
    if appointment.transition_seq == 0 {
        return HieStatus::NotEligible;
    }
    let text = |e: &AuditEntry, field: &str| {
        e.detail
            .get(field)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let this_transition = |e: &&AuditEntry| {
        e.detail
            .get("transition_seq")
            .and_then(serde_json::Value::as_u64)
            == Some(u64::from(appointment.transition_seq))
    };
    for entry in audit.iter().filter(this_transition) {
        match entry.action.as_str() {
            "appointment.sent" => {
                return HieStatus::Sent {
                    sent_at: entry.occurred_at,
                    control_id: text(entry, "control_id"),
                };
            }
            "appointment.skipped" => {
                return HieStatus::Skipped {
                    reason: text(entry, "reason").unwrap_or_else(|| "skipped".into()),
                };
            }
            "appointment.failed" => {
                return HieStatus::Skipped {
                    reason: text(entry, "error").unwrap_or_else(|| "failed".into()),
                };
            }
            "appointment.resend_requested" => return HieStatus::Pending,
            _ => {}
        }
    }
    match ledger.map(|r| (r.state, r)) {
        Some((SendState::Sending, _)) => HieStatus::InProgress,
        Some((SendState::Sent, r)) => HieStatus::Sent {
            sent_at: r.updated_at,
            control_id: None,
        },
        Some((SendState::Failed, _)) => HieStatus::Skipped {
            reason: "failed".into(),
        },
        Some((SendState::RetryPending, _)) | None => HieStatus::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::Actor;
    use crate::audit::{LogType, Outcome};
    use crate::hie::SendKey;
    use crate::phi::Phi;
    use serde_json::json;

    fn appointment(seq: u32) -> Appointment {
        Appointment {
            appointment_id: "a-1".parse().unwrap(),
            patient_id: "p-1".parse().unwrap(),
            scheduled_start: DateTime::UNIX_EPOCH,
            provider: crate::appointment::Provider {
                id: "prov".into(),
                name: "Dr. Example".into(),
            },
            location: "Room 1".into(),
            reason: Phi::new("checkup".into()),
            status: "complete".into(),
            transition_seq: seq,
            transitioned_at: (seq > 0).then_some(DateTime::UNIX_EPOCH),
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    fn entry(action: &str, detail: serde_json::Value) -> AuditEntry {
        AuditEntry::new(
            LogType::HieSentAppointments,
            DateTime::UNIX_EPOCH,
            Actor::system("hie-sender"),
            action,
            Outcome::Success,
        )
        .with_detail(detail)
    }

    #[test]
    fn the_newest_deciding_entry_of_the_current_transition_wins() {
        assert_eq!(
            hie_status(&appointment(0), None, &[]),
            HieStatus::NotEligible
        );
        assert_eq!(hie_status(&appointment(1), None, &[]), HieStatus::Pending);
        let sent = entry(
            "appointment.sent",
            json!({"transition_seq": 2, "control_id": "CID-1"}),
        );
        let old_skip = entry(
            "appointment.skipped",
            json!({"transition_seq": 1, "reason": "no_consent"}),
        );
        let retry = entry("appointment.retry", json!({"transition_seq": 2}));
        assert_eq!(
            hie_status(&appointment(2), None, &[retry, sent, old_skip.clone()]),
            HieStatus::Sent {
                sent_at: DateTime::UNIX_EPOCH,
                control_id: Some("CID-1".into())
            }
        );
        assert_eq!(
            hie_status(&appointment(1), None, &[old_skip]),
            HieStatus::Skipped {
                reason: "no_consent".into()
            }
        );
        let record = SendRecord {
            key: SendKey {
                appointment_id: "a-1".parse().unwrap(),
                transition_seq: 3,
                resend: 0,
            },
            state: SendState::Sending,
            attempts: 1,
            lease_until: Some(DateTime::UNIX_EPOCH),
            message_id: None,
            updated_at: DateTime::UNIX_EPOCH,
        };
        assert_eq!(
            hie_status(&appointment(3), Some(&record), &[]),
            HieStatus::InProgress
        );
    }
}
