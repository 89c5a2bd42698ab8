//! The batch collector (seed 000, "Additional Information"): appointments transitioned after the
//! Next Batch Start Time, without those whose patient has no valid consent now, go on the HIE
//! queue; the watermark then moves past what was enqueued.
//!
//! Exactly-once rests on two things: the watermark only moves (by a conditional write) past
//! appointments already enqueued, so a crash or time-out loses nothing and the next run resumes;
//! and the sender's ledger drops work it has already sent, so what a crashed run re-enqueues is
//! never sent twice.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use connector_domain::appointment::{Appointment, TransitionCursor};
use connector_domain::audit::{AuditEntry, LogType, Outcome};
use connector_domain::hie::{Decision, HieWork, decide};
use connector_domain::ports::{QueueError, QueueMessage};
use connector_domain::settings::{HieSettings, current_settings};
use connector_domain::{Actor, PatientId, StoreError};
use serde::Serialize;

use crate::Context;

/// How the collector pages and how far behind "now" it stays.
#[derive(Debug, Clone, Copy)]
pub struct CollectorOptions {
    /// Appointments transitioned in the last `lag` are left for the next run, so a transition
    /// committed late with an earlier timestamp is not skipped.
    pub lag: Duration,
    /// Appointments read per page (one page = one query, a BatchGetItem per 100 distinct
    /// patients, a SendMessageBatch per ten enqueued, one checkpoint). 2,000 keeps the collector
    /// under 12 DynamoDB requests per 1,000 appointments even when every patient is distinct
    /// (BENCHMARKS.md).
    pub page_size: usize,
    /// Stop after this many pages (a Lambda's time budget); the next run resumes.
    pub max_pages: usize,
}

impl Default for CollectorOptions {
    fn default() -> Self {
        Self {
            lag: Duration::minutes(2),
            page_size: 2000,
            max_pages: 200,
        }
    }
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
}

/// Why a run failed. What was enqueued before the failure is safe: the watermark was not moved
/// past anything that was not enqueued.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// A store failed.
    #[error("store failure")]
    Store(#[from] StoreError),
    /// The queue failed.
    #[error("queue failure")]
    Queue(#[from] QueueError),
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
    /// Send or skip, and why.
    #[serde(flatten)]
    pub decision: Decision,
}

/// The decisions for one page: latest consents for its patients read in as few requests as the
/// store allows.
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
            Some(Planned {
                appointment_id: a.appointment_id.to_string(),
                patient_id: a.patient_id.clone(),
                transitioned_at: a.transitioned_at?,
                transition_seq: a.transition_seq,
                decision: decide(latest.get(&a.patient_id), today),
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

/// Runs one batch.
pub async fn run(
    ctx: &Context,
    options: CollectorOptions,
) -> Result<CollectorReport, CollectorError> {
    let settings = current_settings(ctx.settings.as_ref()).await?.value;
    let mut report = CollectorReport {
        enabled: settings.enabled,
        ..CollectorReport::default()
    };
    if !settings.enabled {
        tracing::info!("HIE integration disabled; collector idle");
        return Ok(report);
    }
    let now = ctx.clock.now();
    let until = now - options.lag;
    let Some(start) = settings.next_batch_start_time else {
        // Never set: start from now rather than sending the whole history.
        match ctx.settings.advance_watermark(None, until).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
        report.watermark_to = Some(until);
        tracing::info!("Next Batch Start Time was not set; initialised to now minus the lag");
        audit_run(ctx, &report, now).await?;
        return Ok(report);
    };
    report.watermark_from = Some(start);
    report.watermark_to = Some(start);
    let mut watermark = start;
    let mut cursor = start_after(start);
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
                        .or_default() += 1
                }
            }
        }
        ctx.hie_queue.send_batch(&messages).await?;
        report.scanned += page.len();
        report.enqueued += messages.len();
        if let Some(next) = safe_watermark(&page, page_full).filter(|t| *t > watermark) {
            match ctx.settings.advance_watermark(Some(watermark), next).await {
                Ok(()) => {
                    watermark = next;
                    report.watermark_to = Some(next);
                }
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
    tracing::info!(
        scanned = report.scanned,
        enqueued = report.enqueued,
        skipped = report.skipped.values().sum::<usize>(),
        more = report.more,
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
        Outcome::Skipped
    } else {
        Outcome::Success
    };
    let entry = AuditEntry::new(
        LogType::HieSentAppointments,
        now,
        Actor::system("batch-collector"),
        "batch.collected",
        outcome,
    )
    .with_detail(serde_json::to_value(report).unwrap_or_default());
    ctx.audit.append(&entry).await
}

/// What the next batch would send and skip, and why, writing nothing: at most `limit`
/// appointments after the watermark, and whether more remain.
pub async fn preview(
    ctx: &Context,
    options: CollectorOptions,
    limit: usize,
) -> Result<(Vec<Planned>, bool), StoreError> {
    let settings = current_settings(ctx.settings.as_ref()).await?.value;
    let now = ctx.clock.now();
    let until = now - options.lag;
    let Some(start) = settings.next_batch_start_time else {
        return Ok((Vec::new(), false));
    };
    let page = ctx
        .appointments
        .transitioned(Some(&start_after(start)), until, limit + 1)
        .await?;
    let more = page.len() > limit;
    let page = &page[..page.len().min(limit)];
    Ok((plan_page(ctx, page, &settings, now).await?, more))
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
        if let Err(err) = run(&ctx, options).await {
            tracing::error!(error.chain = %crate::http::problem::error_chain(&err), "collector run failed; the next run resumes");
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

    #[test]
    fn a_full_page_stops_before_its_last_instant() {
        let page = [appt("a", 1), appt("b", 2), appt("c", 2)];
        assert_eq!(safe_watermark(&page, true), page[0].transitioned_at);
        let same = [appt("a", 2), appt("b", 2)];
        assert_eq!(safe_watermark(&same, true), None);
    }
}
