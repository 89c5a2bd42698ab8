//! The batch collector (seed 000, "Additional Information"): appointments transitioned after the
//! Next Batch Start Time, without those whose patient has no valid consent now, go on the HIE
//! queue; the watermark then moves past what was enqueued.
//!
//! Exactly-once rests on two things: the watermark only moves (by a conditional write) past
//! appointments already enqueued, so a crash or time-out loses nothing and the next run resumes;
//! and the sender's ledger drops work it has already sent, so what a crashed run re-enqueues is
//! never sent twice.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use connector_domain::appointment::{Appointment, TransitionCursor};
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::consent::{ConsentStatus, status};
use connector_domain::hie::{Decision, HieWork, SendKey, SendState, decide};
use connector_domain::ports::{MAX_CHECKPOINT_AUDIT_ENTRIES, QueueMessage};
use connector_domain::settings::{HieSettings, current_settings};
use connector_domain::{Actor, AppointmentId, PatientId, StoreError};
use serde::Serialize;
use serde_json::json;

use crate::Context;

/// How the collector pages. How far behind "now" it stays is the settings' `safety_lag_seconds`.
#[derive(Debug, Clone, Copy)]
pub struct CollectorOptions {
    /// Appointments read per page (one page = one query, a BatchGetItem per 100 distinct
    /// patients, a SendMessageBatch per ten enqueued, one checkpoint per 99 skips). 2,000 keeps
    /// the collector under 12 DynamoDB requests per 1,000 appointments even when every patient
    /// is distinct (BENCHMARKS.md).
    pub page_size: usize,
    /// Stop after this many pages (a Lambda's time budget); the next run resumes.
    pub max_pages: usize,
}

impl Default for CollectorOptions {
    fn default() -> Self {
        Self {
            page_size: 2000,
            max_pages: 200,
        }
    }
}

/// Why a run read nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdleReason {
    /// HIE integration is disabled.
    Disabled,
    /// Next Batch Start Time was not set; this run set it to now minus the lag.
    WatermarkInitialised,
    /// No appointment was transitioned after Next Batch Start Time.
    NothingAfterWatermark,
    /// Every appointment transitioned after Next Batch Start Time is inside the safety lag
    /// (`first_eligible_at` says when the first becomes eligible).
    InsideSafetyLag,
}

/// What one run did (also written to the audit log, without patient data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CollectorReport {
    /// False when HIE integration is disabled (nothing was read).
    pub enabled: bool,
    /// Appointments read.
    pub scanned: usize,
    /// Work items enqueued.
    pub enqueued: usize,
    /// Appointments not enqueued, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// The watermark at the start.
    pub watermark_from: Option<DateTime<Utc>>,
    /// The watermark at the end.
    pub watermark_to: Option<DateTime<Utc>>,
    /// True when the run stopped because the watermark changed under it (an operator rewound it,
    /// or another run advanced it); the next run starts from the new value.
    pub watermark_conflict: bool,
    /// True when the run stopped at `max_pages` with more to read.
    pub more: bool,
    /// The safety lag the run kept behind now.
    pub safety_lag_seconds: u32,
    /// Why the run read nothing (`None` when it read something or stopped on a conflict).
    pub idle_reason: Option<IdleReason>,
    /// With `inside_safety_lag`: when the first waiting appointment becomes eligible.
    pub first_eligible_at: Option<DateTime<Utc>>,
}

impl CollectorReport {
    /// One line for a person: what the run did, or why it did nothing.
    pub fn summary(&self) -> String {
        let at = |t: Option<DateTime<Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                .unwrap_or_else(|| "unset".to_owned())
        };
        match self.idle_reason {
            Some(IdleReason::Disabled) => {
                "nothing collected: HIE integration is disabled (enable it with PUT /settings/hie)"
                    .to_owned()
            }
            Some(IdleReason::WatermarkInitialised) => format!(
                "nothing collected: Next Batch Start Time was not set; it now starts at {} \
                 (rewind it to collect earlier transitions)",
                at(self.watermark_to)
            ),
            Some(IdleReason::NothingAfterWatermark) => format!(
                "nothing collected: no appointment was transitioned after Next Batch Start Time \
                 ({})",
                at(self.watermark_from)
            ),
            Some(IdleReason::InsideSafetyLag) => format!(
                "nothing collected yet: the appointments transitioned after Next Batch Start Time \
                 ({}) are inside the {} s safety lag; the first becomes eligible at {}",
                at(self.watermark_from),
                self.safety_lag_seconds,
                at(self.first_eligible_at)
            ),
            None => {
                let skipped: usize = self.skipped.values().sum();
                let mut line = format!(
                    "collected: {} scanned, {} enqueued, {} skipped",
                    self.scanned, self.enqueued, skipped
                );
                if skipped > 0 {
                    let reasons: Vec<String> = self
                        .skipped
                        .iter()
                        .map(|(r, n)| format!("{r} {n}"))
                        .collect();
                    line.push_str(&format!(" ({})", reasons.join(", ")));
                }
                line.push_str(&format!(
                    "; Next Batch Start Time {}",
                    at(self.watermark_to)
                ));
                if self.watermark_conflict {
                    line.push_str(
                        "; stopped: the watermark changed during the run (the next run resumes)",
                    );
                }
                if self.more {
                    line.push_str("; more to read (the next run continues)");
                }
                line
            }
        }
    }
}

/// Why a run failed (a store, or the HIE queue). What was enqueued before the failure is safe:
/// the watermark was not moved past anything that was not enqueued.
pub type CollectorError = crate::jobs::EnqueueError;

/// What the next batch would do with one appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Enqueued and sent (the patient's latest consent is Active; the send ledger has no
    /// record of it, or one waiting for a retry).
    Send,
    /// Not sent: no valid consent (`reason` says why); audited as `appointment.skipped`.
    Skip,
    /// Inside the safety lag: collected by the first run at or after `eligible_at`.
    Pending,
    /// Enqueued again after a rewind, but the send ledger has it as sent: not sent again.
    AlreadySent,
    /// A sender holds it right now.
    InProgress,
    /// Ended for good (a permanent failure, or skipped at send time): not sent again; an
    /// administrator's resend sends it deliberately.
    Closed,
}

/// One appointment the next batch would handle, and what it would do with it.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// The appointment.
    pub appointment_id: String,
    /// Its patient.
    pub patient_id: PatientId,
    /// When it was transitioned.
    pub transitioned_at: DateTime<Utc>,
    /// Which transition.
    pub transition_seq: u32,
    /// What the batch would do, taking the send ledger and the safety lag into account.
    pub status: PlanStatus,
    /// With `pending`: when it becomes eligible (transitioned_at + the safety lag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eligible_at: Option<DateTime<Utc>>,
    /// The latest consent's status today, if the patient has one.
    pub consent_status: Option<ConsentStatus>,
    /// The consent decision, and why.
    #[serde(flatten)]
    pub decision: Decision,
}

/// Who the collector's audit entries name.
pub(crate) fn actor() -> Actor {
    Actor::system("batch-collector")
}

/// A bare `appointment.skipped` entry of the collector at `at` (its subjects and detail are
/// added by the caller).
fn skipped_entry(at: DateTime<Utc>) -> AuditEntry {
    AuditEntry::new(
        LogType::HieSentAppointments,
        at,
        actor(),
        "appointment.skipped",
        AuditOutcome::Skipped,
    )
}

impl Planned {
    /// The `appointment.skipped` audit entry of a skip (`None` for a send).
    fn skip_audit(&self, now: DateTime<Utc>) -> Result<Option<AuditEntry>, StoreError> {
        let Decision::Skip { reason, consent_id } = &self.decision else {
            return Ok(None);
        };
        let appointment_id: AppointmentId = self
            .appointment_id
            .parse()
            .map_err(|_| StoreError::Corrupt("appointment id"))?;
        let entry = skipped_entry(now)
            .with_appointment(&appointment_id)
            .with_patient(&self.patient_id)
            .with_detail(json!({
                "reason": reason.as_str(),
                "consent_id": consent_id.as_ref().map(ToString::to_string),
                "consent_status": self.consent_status.map(ConsentStatus::as_str),
                "transition_seq": self.transition_seq,
                "transitioned_at": self.transitioned_at,
                "stage": "collect",
            }));
        Ok(Some(match consent_id {
            Some(id) => entry.with_consent(id),
            None => entry,
        }))
    }
}

/// The decisions for one page: latest consents for its patients read in as few requests as the
/// store allows. Every appointment is planned as send or skip; callers refine the status.
async fn plan_page(
    ctx: &Context,
    page: &[Appointment],
    settings: &HieSettings,
    now: DateTime<Utc>,
) -> Result<Vec<Planned>, StoreError> {
    let patients: Vec<PatientId> = page
        .iter()
        .map(|a| a.patient_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let latest: BTreeMap<PatientId, _> = ctx
        .consents
        .latest_many(&patients)
        .await?
        .into_iter()
        .map(|c| (c.patient_id.clone(), c))
        .collect();
    let today = settings.today(now);
    Ok(page
        .iter()
        .filter_map(|a| {
            let consent = latest.get(&a.patient_id);
            let decision = decide(consent, today);
            Some(Planned {
                appointment_id: a.appointment_id.to_string(),
                patient_id: a.patient_id.clone(),
                transitioned_at: a.transitioned_at?,
                transition_seq: a.transition_seq,
                status: if decision.is_send() {
                    PlanStatus::Send
                } else {
                    PlanStatus::Skip
                },
                eligible_at: None,
                consent_status: consent.map(|c| status(c, true, today)),
                decision,
            })
        })
        .collect())
}

/// The latest watermark that lies past only enqueued appointments: after a full page, the last
/// instant may continue on the next page, so stop before it.
fn safe_watermark(page: &[Appointment], page_full: bool) -> Option<DateTime<Utc>> {
    let last = page.last()?.transitioned_at?;
    if !page_full {
        return Some(last);
    }
    page.iter()
        .rev()
        .filter_map(|a| a.transitioned_at)
        .find(|t| *t < last)
}

/// Where a scan after `watermark` starts: strictly after that instant.
fn start_after(watermark: DateTime<Utc>) -> TransitionCursor {
    TransitionCursor::starting_at(watermark + Duration::nanoseconds(1))
}

/// Skips read but not yet passed by the watermark, oldest first, with their instants.
type PendingSkips = VecDeque<(DateTime<Utc>, AuditEntry)>;

/// Where to cut `due` (ascending by instant) for one checkpoint of at most
/// [`MAX_CHECKPOINT_AUDIT_ENTRIES`]: the longest prefix that ends between two instants. `None`
/// when the first instant alone holds more.
fn chunk_end(due: &[(DateTime<Utc>, AuditEntry)]) -> Option<usize> {
    if due.len() <= MAX_CHECKPOINT_AUDIT_ENTRIES {
        return Some(due.len());
    }
    (1..=MAX_CHECKPOINT_AUDIT_ENTRIES)
        .rev()
        .find(|&k| due[k - 1].0 < due[k].0)
}

/// Moves the watermark to `next`, each move carrying the `appointment.skipped` entries of the
/// skips it passes (at most [`MAX_CHECKPOINT_AUDIT_ENTRIES`] per write, so a page with many skips
/// takes several moves, each ending between two instants). Should one instant hold more skips
/// than one write takes, the excess entries are appended just before the move that passes that
/// instant (a crash between the two would audit them again on the next run).
async fn checkpoint(
    ctx: &Context,
    watermark: &mut DateTime<Utc>,
    next: DateTime<Utc>,
    pending: &mut PendingSkips,
) -> Result<(), StoreError> {
    let due_count = pending.iter().take_while(|(t, _)| *t <= next).count();
    let mut due: Vec<(DateTime<Utc>, AuditEntry)> = pending.drain(..due_count).collect();
    while !due.is_empty() {
        let (end, target) = match chunk_end(&due) {
            Some(end) if end == due.len() => (end, next),
            Some(end) => (end, due[end - 1].0),
            None => {
                let instant = due[0].0;
                let group = due.iter().take_while(|(t, _)| *t == instant).count();
                for (_, entry) in due.drain(..group - MAX_CHECKPOINT_AUDIT_ENTRIES) {
                    ctx.audit.append(&entry).await?;
                }
                (MAX_CHECKPOINT_AUDIT_ENTRIES, instant)
            }
        };
        let entries: Vec<AuditEntry> = due.drain(..end).map(|(_, e)| e).collect();
        ctx.settings
            .advance_watermark(Some(*watermark), target, &entries)
            .await?;
        *watermark = target;
    }
    if next > *watermark {
        ctx.settings
            .advance_watermark(Some(*watermark), next, &[])
            .await?;
        *watermark = next;
    }
    Ok(())
}

/// Runs one batch.
pub async fn run(
    ctx: &Context,
    options: CollectorOptions,
) -> Result<CollectorReport, CollectorError> {
    let settings = current_settings(ctx.settings.as_ref()).await?.value;
    let mut report = CollectorReport {
        enabled: settings.enabled,
        safety_lag_seconds: settings.safety_lag_seconds,
        ..CollectorReport::default()
    };
    if !settings.enabled {
        tracing::info!("HIE integration disabled; collector idle");
        report.idle_reason = Some(IdleReason::Disabled);
        return Ok(report);
    }
    let now = ctx.clock.now();
    let lag = settings.safety_lag();
    let until = now - lag;
    let Some(start) = settings.next_batch_start_time else {
        // Never set: start from now rather than sending the whole history.
        match ctx.settings.advance_watermark(None, until, &[]).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
        report.watermark_to = Some(until);
        report.idle_reason = Some(IdleReason::WatermarkInitialised);
        tracing::info!("Next Batch Start Time was not set; initialised to now minus the lag");
        audit_run(ctx, &report, now).await?;
        return Ok(report);
    };
    report.watermark_from = Some(start);
    report.watermark_to = Some(start);
    let mut watermark = start;
    let mut cursor = start_after(start);
    let mut pending = PendingSkips::new();
    for page_no in 0..options.max_pages {
        let page = ctx
            .appointments
            .transitioned(Some(&cursor), until, options.page_size)
            .await?;
        if page.is_empty() {
            break;
        }
        let page_full = page.len() >= options.page_size;
        let planned = plan_page(ctx, &page, &settings, now).await?;
        let mut messages: Vec<QueueMessage> = Vec::new();
        for p in &planned {
            match &p.decision {
                Decision::Send { .. } => messages.push(
                    HieWork {
                        appointment_id: p
                            .appointment_id
                            .parse()
                            .map_err(|_| StoreError::Corrupt("appointment id"))?,
                        transition_seq: p.transition_seq,
                        resend: 0,
                    }
                    .to_message(),
                ),
                Decision::Skip { reason, .. } => {
                    *report
                        .skipped
                        .entry(reason.as_str().to_owned())
                        .or_default() += 1;
                    if let Some(entry) = p.skip_audit(now)? {
                        pending.push_back((p.transitioned_at, entry));
                    }
                }
            }
        }
        ctx.hie_queue.send_batch(&messages).await?;
        report.scanned += page.len();
        report.enqueued += messages.len();
        if let Some(next) = safe_watermark(&page, page_full).filter(|t| *t > watermark) {
            let moved = checkpoint(ctx, &mut watermark, next, &mut pending).await;
            report.watermark_to = Some(watermark);
            match moved {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    report.watermark_conflict = true;
                    tracing::warn!(
                        "watermark changed during the run; stopping; the next run resumes from it"
                    );
                    break;
                }
                Err(err) => return Err(err.into()),
            }
        }
        match page.last().and_then(TransitionCursor::after) {
            Some(next) => cursor = next,
            None => break,
        }
        if !page_full {
            break;
        }
        if page_no + 1 == options.max_pages {
            report.more = true;
        }
    }
    if report.scanned == 0 && !report.watermark_conflict {
        let waiting = ctx
            .appointments
            .transitioned(Some(&start_after(watermark)), now, 1)
            .await?;
        match waiting.first().and_then(|a| a.transitioned_at) {
            Some(t) => {
                report.idle_reason = Some(IdleReason::InsideSafetyLag);
                report.first_eligible_at = Some(t + lag);
            }
            None => report.idle_reason = Some(IdleReason::NothingAfterWatermark),
        }
    }
    tracing::info!(
        scanned = report.scanned,
        enqueued = report.enqueued,
        skipped = report.skipped.values().sum::<usize>(),
        more = report.more,
        idle_reason = ?report.idle_reason,
        "collector run finished"
    );
    // A run that found nothing leaves no audit entry: at one run a minute, empty entries would
    // bury the ones that matter.
    if report.scanned > 0 || report.watermark_conflict {
        audit_run(ctx, &report, now).await?;
    }
    Ok(report)
}

async fn audit_run(
    ctx: &Context,
    report: &CollectorReport,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let outcome = if report.watermark_conflict {
        AuditOutcome::Skipped
    } else {
        AuditOutcome::Success
    };
    let mut detail = serde_json::to_value(report).unwrap_or_default();
    if let Some(fields) = detail.as_object_mut() {
        fields.insert("started_at".into(), serde_json::json!(now));
    }
    // At the run's end: the dashboard's last batch run shows when it started and finished.
    let entry = AuditEntry::new(
        LogType::HieSentAppointments,
        ctx.clock.now(),
        actor(),
        "batch.collected",
        outcome,
    )
    .with_detail(detail);
    ctx.audit.append(&entry).await
}

/// What the next batch would do, writing nothing: at most `limit` appointments transitioned
/// after the watermark (those inside the safety lag too, as `pending`), each with its status
/// after the send ledger is consulted; and whether more remain.
pub async fn preview(ctx: &Context, limit: usize) -> Result<(Vec<Planned>, bool), StoreError> {
    let settings = current_settings(ctx.settings.as_ref()).await?.value;
    let now = ctx.clock.now();
    let lag = settings.safety_lag();
    let until = now - lag;
    let Some(start) = settings.next_batch_start_time else {
        return Ok((Vec::new(), false));
    };
    let page = ctx
        .appointments
        .transitioned(Some(&start_after(start)), now, limit + 1)
        .await?;
    let more = page.len() > limit;
    let page = &page[..page.len().min(limit)];
    let mut planned = plan_page(ctx, page, &settings, now).await?;
    for p in &mut planned {
        if p.transitioned_at > until {
            p.status = PlanStatus::Pending;
            p.eligible_at = Some(p.transitioned_at + lag);
        }
    }
    let keys: Vec<SendKey> = planned
        .iter()
        .filter(|p| p.status == PlanStatus::Send)
        .filter_map(|p| {
            Some(SendKey {
                appointment_id: p.appointment_id.parse().ok()?,
                transition_seq: p.transition_seq,
                resend: 0,
            })
        })
        .collect();
    let ledger: BTreeMap<SendKey, SendState> = if keys.is_empty() {
        BTreeMap::new()
    } else {
        ctx.send_ledger
            .get_many(&keys)
            .await?
            .into_iter()
            .map(|r| (r.key, r.state))
            .collect()
    };
    for p in &mut planned {
        if p.status != PlanStatus::Send {
            continue;
        }
        let Ok(appointment_id) = p.appointment_id.parse() else {
            continue;
        };
        let key = SendKey {
            appointment_id,
            transition_seq: p.transition_seq,
            resend: 0,
        };
        p.status = match ledger.get(&key) {
            None | Some(SendState::RetryPending) => PlanStatus::Send,
            Some(SendState::Sent) => PlanStatus::AlreadySent,
            Some(SendState::Sending) => PlanStatus::InProgress,
            Some(SendState::Failed) => PlanStatus::Closed,
        };
    }
    Ok((planned, more))
}

/// Runs the collector every `every` until `stop` turns true (`connector serve`; on AWS an
/// EventBridge schedule invokes [`run`]).
pub async fn run_every(
    ctx: std::sync::Arc<Context>,
    every: std::time::Duration,
    options: CollectorOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(err) = super::batch_run::run(&ctx, options).await {
            tracing::error!(error.chain = %crate::telemetry::error_chain(&err), "collector run failed; the next run resumes");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use connector_domain::appointment::Provider;
    use connector_domain::phi::Phi;

    use super::*;

    fn appt(id: &str, secs: i64) -> Appointment {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap() + Duration::seconds(secs);
        Appointment {
            appointment_id: id.parse().unwrap(),
            patient_id: "p".parse().unwrap(),
            scheduled_start: t,
            provider: Provider {
                id: "d".into(),
                name: "D".into(),
            },
            location: String::new(),
            reason: Phi::new(String::new()),
            status: "complete".into(),
            transition_seq: 1,
            transitioned_at: Some(t),
            updated_at: t,
        }
    }

    #[test]
    fn a_partial_page_is_safe_up_to_its_last_instant() {
        let page = [appt("a", 1), appt("b", 2), appt("c", 2)];
        assert_eq!(safe_watermark(&page, false), page[2].transitioned_at);
    }

    fn skips(instants: &[i64]) -> Vec<(DateTime<Utc>, AuditEntry)> {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap();
        instants
            .iter()
            .map(|s| {
                let at = t0 + Duration::seconds(*s);
                (at, skipped_entry(at))
            })
            .collect()
    }

    #[test]
    fn checkpoint_chunks_end_between_instants_and_hold_at_most_99() {
        assert_eq!(chunk_end(&skips(&[1; 99])), Some(99));
        // 100 distinct instants: the first 99 fit.
        let distinct: Vec<i64> = (0..100).collect();
        assert_eq!(chunk_end(&skips(&distinct)), Some(99));
        // 60 at one instant then 60 at the next: the cut falls between them.
        let two: Vec<i64> = [vec![1; 60], vec![2; 60]].concat();
        assert_eq!(chunk_end(&skips(&two)), Some(60));
        // 100 at one instant cannot be cut.
        assert_eq!(chunk_end(&skips(&[1; 100])), None);
    }

    #[test]
    fn a_full_page_stops_before_its_last_instant() {
        let page = [appt("a", 1), appt("b", 2), appt("c", 2)];
        assert_eq!(safe_watermark(&page, true), page[0].transitioned_at);
        let same = [appt("a", 2), appt("b", 2)];
        assert_eq!(safe_watermark(&same, true), None);
    }
}
