//! The admin dashboard's counts, kept as they happen instead of counted from the audit log on
//! each load: every audit entry that records a dashboard event carries [`tallies`], which the
//! adapters apply in the same transaction as the entry itself (an entry written once is counted
//! once, however often its write is retried).

use chrono::{DateTime, DurationRound, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::audit::{AuditEntry, AuditOutcome, LogType};

/// The HL7 acknowledgment codes the inbound chart counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AckCount {
    /// Application Accept.
    Aa,
    /// Application Error.
    Ae,
    /// Application Reject.
    Ar,
}

impl AckCount {
    /// Every counted code.
    pub const ALL: [AckCount; 3] = [Self::Aa, Self::Ae, Self::Ar];

    /// The MSA-1 code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aa => "AA",
            Self::Ae => "AE",
            Self::Ar => "AR",
        }
    }

    /// Parses an MSA-1 code (only the three counted ones).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

/// A counter bucket: the series and the UTC hour it counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counter {
    /// An HIE message sent (`appointment.sent`).
    HieSent,
    /// An HIE send given up on (`appointment.failed`).
    HieError,
    /// An inbound HL7 message answered with this code.
    Hl7(AckCount),
}

impl Counter {
    /// The series the counter belongs to: `hie` or `hl7`.
    pub fn series(self) -> &'static str {
        match self {
            Self::HieSent | Self::HieError => "hie",
            Self::Hl7(_) => "hl7",
        }
    }

    /// The counter `series` and `name` name (as stored), or `None`.
    pub fn parse(series: &str, name: &str) -> Option<Self> {
        match (series, name) {
            ("hie", "sent") => Some(Self::HieSent),
            ("hie", "errors") => Some(Self::HieError),
            ("hl7", code) => AckCount::parse(code).map(Self::Hl7),
            _ => None,
        }
    }

    /// The counter's name inside its series: `sent`, `errors`, `AA`, `AE`, `AR`.
    pub fn name(self) -> &'static str {
        match self {
            Self::HieSent => "sent",
            Self::HieError => "errors",
            Self::Hl7(code) => code.as_str(),
        }
    }
}

/// One CRM error for the dashboard's list: ids and an error kind, never PHI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CrmErrorEntry {
    /// When the message was processed.
    pub at: DateTime<Utc>,
    /// The channel the message came in on.
    pub channel_id: String,
    /// The flow that failed, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// What went wrong, as an error kind (`crm_rejected`, `crm_unavailable`, ...).
    pub summary: String,
    /// The audit entry that recorded it (orders errors of one instant; not shown).
    #[serde(skip_serializing, default)]
    pub entry_id: String,
}

/// What one batch collector run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BatchRunSummary {
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// Work items enqueued.
    pub queued: u64,
    /// Appointments skipped.
    pub skipped: u64,
    /// Errors that stopped the run (0 or 1).
    pub errors: u64,
}

/// What one audit entry adds to the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Counters to increment by one, in the hour of `hour`.
    pub counters: Vec<Counter>,
    /// The UTC hour the counters count in (the entry's `occurred_at`, truncated).
    pub hour: Option<DateTime<Utc>>,
    /// CRM errors to list.
    pub crm_errors: Vec<CrmErrorEntry>,
    /// A batch run to remember (the newest by `finished_at` is the last run).
    pub batch_run: Option<BatchRunSummary>,
}

impl Tally {
    /// True when the entry adds nothing.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty() && self.crm_errors.is_empty() && self.batch_run.is_none()
    }
}

/// The start of `at`'s UTC hour.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(chrono::Duration::hours(1)).unwrap_or(at)
}

/// What `entry` adds to the dashboard (nothing for most entries):
/// - `hie_sent_appointments`: `appointment.sent` counts as sent, `appointment.failed` as an
///   error (retries are not errors yet); `batch.collected` and `batch.failed` are batch runs;
/// - `hl7_inbound`: the `ack` of the detail (AA, AE, AR) is counted; each flow of the detail
///   whose `error` is a CRM error (`crm_*`) is a CRM error.
pub fn tallies(entry: &AuditEntry) -> Tally {
    let mut tally = Tally::default();
    let detail = &entry.detail;
    match entry.log_type {
        LogType::HieSentAppointments => match (entry.action.as_str(), entry.outcome) {
            ("appointment.sent", AuditOutcome::Success) => tally.counters.push(Counter::HieSent),
            ("appointment.failed", AuditOutcome::Error) => tally.counters.push(Counter::HieError),
            ("batch.collected" | "batch.failed", _) => {
                tally.batch_run = Some(batch_run(entry));
            }
            _ => {}
        },
        LogType::Hl7Inbound => {
            if let Some(code) = detail
                .get("ack")
                .and_then(Value::as_str)
                .and_then(AckCount::parse)
            {
                tally.counters.push(Counter::Hl7(code));
            }
            let channel_id = detail.get("channel_id").and_then(Value::as_str);
            let flows = detail.get("flows").and_then(Value::as_array);
            if let (Some(channel_id), Some(flows)) = (channel_id, flows) {
                for flow in flows {
                    let Some(error) = flow.get("error").and_then(Value::as_str) else {
                        continue;
                    };
                    if error.starts_with("crm_") {
                        tally.crm_errors.push(CrmErrorEntry {
                            at: entry.occurred_at,
                            channel_id: channel_id.to_owned(),
                            flow_id: flow
                                .get("flow_id")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                            summary: error.to_owned(),
                            entry_id: entry.entry_id.clone(),
                        });
                    }
                }
            }
        }
        _ => {}
    }
    if !tally.counters.is_empty() {
        tally.hour = Some(hour_of(entry.occurred_at));
    }
    tally
}

/// The summary a `batch.collected` (or `batch.failed`) entry records.
fn batch_run(entry: &AuditEntry) -> BatchRunSummary {
    let detail = &entry.detail;
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    let skipped = match detail.get("skipped") {
        Some(Value::Object(by_reason)) => by_reason.values().map(count).sum(),
        Some(other) => count(other),
        None => 0,
    };
    let started_at = detail
        .get("started_at")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or(entry.occurred_at);
    BatchRunSummary {
        started_at,
        finished_at: entry.occurred_at,
        queued: detail.get("enqueued").map(count).unwrap_or(0),
        skipped,
        errors: match entry.action.as_str() {
            "batch.failed" => 1,
            _ => detail.get("errors").map(count).unwrap_or(0),
        },
    }
}

/// One hour's counts of a series (hours without events are absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourCounts {
    /// The hour's start (UTC).
    pub hour: DateTime<Utc>,
    /// Each counter of the series that counted something, with its count.
    pub counts: Vec<(Counter, u64)>,
}

impl HourCounts {
    /// The count of `counter` (0 when absent).
    pub fn get(&self, counter: Counter) -> u64 {
        self.counts
            .iter()
            .find(|(c, _)| *c == counter)
            .map_or(0, |(_, n)| *n)
    }
}

/// How many outbound deliveries wait, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCounts {
    /// Given up on, waiting for a redrive.
    pub parked: u64,
    /// Waiting behind a parked delivery.
    pub held: u64,
    /// Queued, delivering or retrying.
    pub pending: u64,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::Actor;

    fn entry(log_type: LogType, action: &str, outcome: AuditOutcome, detail: Value) -> AuditEntry {
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 10, 42, 7).unwrap();
        AuditEntry::new(log_type, at, Actor::system("t"), action, outcome).with_detail(detail)
    }

    /// An appointment-send entry of the HIE log, without detail.
    fn hie_send(action: &str, outcome: AuditOutcome) -> AuditEntry {
        entry(LogType::HieSentAppointments, action, outcome, json!({}))
    }

    #[test]
    fn sends_and_final_failures_count_retries_do_not() {
        let sent = tallies(&hie_send("appointment.sent", AuditOutcome::Success));
        assert_eq!(sent.counters, [Counter::HieSent]);
        assert_eq!(
            sent.hour,
            Some(Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap())
        );
        let failed = hie_send("appointment.failed", AuditOutcome::Error);
        assert_eq!(tallies(&failed).counters, [Counter::HieError]);
        let retry = hie_send("appointment.retry", AuditOutcome::Error);
        assert!(tallies(&retry).is_empty());
    }

    #[test]
    fn inbound_acks_and_crm_errors() {
        let processed = entry(
            LogType::Hl7Inbound,
            "hl7.processed",
            AuditOutcome::Error,
            json!({"channel_id": "ch1", "ack": "AE", "flows": [
                {"flow_id": "f1", "error": "crm_rejected"},
                {"flow_id": "f2", "error": "mapping"},
                {"flow_id": "f3", "error": null},
            ]}),
        );
        let tally = tallies(&processed);
        assert_eq!(tally.counters, [Counter::Hl7(AckCount::Ae)]);
        assert_eq!(tally.crm_errors.len(), 1);
        assert_eq!(tally.crm_errors[0].flow_id.as_deref(), Some("f1"));
        assert_eq!(tally.crm_errors[0].summary, "crm_rejected");
        let consent = entry(
            LogType::HieConsentChanges,
            "consent.created",
            AuditOutcome::Success,
            json!({"ack": "AA"}),
        );
        assert!(tallies(&consent).is_empty());
    }

    #[test]
    fn batch_runs_sum_their_skips() {
        let run = entry(
            LogType::HieSentAppointments,
            "batch.collected",
            AuditOutcome::Success,
            json!({"enqueued": 3, "skipped": {"no_consent": 2, "expired": 1},
                   "started_at": "2026-12-03T10:42:00Z"}),
        );
        let summary = tallies(&run).batch_run.unwrap();
        assert_eq!((summary.queued, summary.skipped, summary.errors), (3, 3, 0));
        assert_eq!(
            summary.started_at,
            Utc.with_ymd_and_hms(2026, 12, 3, 10, 42, 0).unwrap()
        );
        assert_eq!(summary.finished_at, run.occurred_at);
    }
}
