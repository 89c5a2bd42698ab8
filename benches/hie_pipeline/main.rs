//! HIE pipeline benchmark (issue 5): N transitioned appointments for N/2 invented patients are
//! written through the real stores (not timed), then the batch collector runs until everything is
//! enqueued and the HIE sender drains the queue to the mailer, timed, on
//!
//! - the embedded store (SQLite temp file, embedded queue, `OutboxMailer` into a temp dir), and
//! - the local AWS endpoints (`LocalAws`: DynamoDB Local, moto's SQS and SES v2) with every SDK
//!   request counted (`AwsAdapters::with_counter`).
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p connector-benches --bench hie_pipeline -- \
//!     --appointments 10000
//! ```
//!
//! Options: `--appointments N` (10000), `--patients P` (N/2), `--store embedded|aws|both`
//! (both), `--page-size S` (the collector's default), `--senders K` (concurrent sender loops on
//! AWS, as concurrent Lambda invocations, default 1; the embedded sender is always one loop, as
//! in `connector serve`), `--seed-concurrency C` (AWS seeding, 16), `--seed X`,
//! `--collector-only` (AWS: stop after the collector, e.g. to compare page sizes).

mod aws;
mod embedded;
mod report;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_app::Context;
use connector_app::hie::collector::{self, CollectorOptions};
use connector_app::hie::sender;
use connector_benches::harness::{self, BoxError};
use connector_benches::{ConsentKind, Dataset};
use connector_domain::StoreError;
use connector_testkit::fixtures;
use futures::{StreamExt, TryStreamExt, stream};

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Args {
    appointments: usize,
    patients: usize,
    store: String,
    page_size: usize,
    senders: usize,
    seed_concurrency: usize,
    seed: u64,
    collector_only: bool,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Self {
            appointments: 10_000,
            patients: 0,
            store: "both".into(),
            page_size: CollectorOptions::default().page_size,
            senders: 1,
            seed_concurrency: 16,
            seed: 0x5eed_0005,
            collector_only: false,
        };
        harness::parse_options(
            "options: --appointments N --patients P --store embedded|aws|both \
             --page-size S --senders K --seed-concurrency C --seed X --collector-only",
            |arg, value| {
                let mut number = || harness::number(arg, value()?);
                match arg {
                    "--appointments" | "-n" => args.appointments = number()? as usize,
                    "--patients" => args.patients = number()? as usize,
                    "--store" => args.store = value()?,
                    "--page-size" => args.page_size = number()? as usize,
                    "--senders" => args.senders = (number()? as usize).max(1),
                    "--seed-concurrency" => args.seed_concurrency = (number()? as usize).max(1),
                    "--seed" => args.seed = number()?,
                    "--collector-only" => args.collector_only = true,
                    other => return Err(format!("unknown option {other}")),
                }
                Ok(())
            },
        )?;
        if args.patients == 0 {
            args.patients = (args.appointments / 2).max(1);
        }
        if !matches!(args.store.as_str(), "embedded" | "aws" | "both") {
            return Err("--store must be embedded, aws or both".into());
        }
        Ok(args)
    }

    fn options(&self) -> CollectorOptions {
        CollectorOptions {
            page_size: self.page_size,
            ..CollectorOptions::default()
        }
    }
}

/// Writes `data` through the context's stores: settings, patients with their consent (revoked
/// afterwards for the revoked ones), appointments and their transitions.
async fn seed(ctx: &Context, data: &Dataset, concurrency: usize) -> Result<Duration, StoreError> {
    let began = Instant::now();
    let settings_audit = fixtures::settings_audit(data.now - chrono::Duration::days(30));
    ctx.settings.put(&data.settings, 0, &settings_audit).await?;
    let revoked_at = data.now - chrono::Duration::days(10);
    stream::iter(data.patients.iter().map(Ok))
        .try_for_each_concurrent(concurrency, |p| async move {
            let audit = p
                .consent
                .as_ref()
                .map(|c| fixtures::consent_audit(c, "consent.created"));
            ctx.patients
                .insert(&p.patient, p.consent.as_ref().zip(audit.as_ref()))
                .await?;
            if let (ConsentKind::Revoked, Some(consent)) = (p.kind, &p.consent) {
                let revoked = fixtures::revoked(consent, revoked_at);
                ctx.consents
                    .revoke(
                        &revoked,
                        &fixtures::consent_audit(&revoked, "consent.revoked"),
                    )
                    .await?;
            }
            Ok(())
        })
        .await?;
    stream::iter(data.appointments.iter().map(Ok))
        .try_for_each_concurrent(concurrency, |a| async move {
            ctx.appointments.put(&a.appointment).await?;
            ctx.appointments
                .record_transition(&a.appointment.appointment_id, 0, a.transitioned_at)
                .await?;
            Ok(())
        })
        .await?;
    Ok(began.elapsed())
}

/// What the collector runs did, summed.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    runs: usize,
    scanned: usize,
    enqueued: usize,
    skipped: BTreeMap<String, usize>,
    elapsed: Duration,
}

/// Runs the collector until a run ends with nothing more to read.
async fn collect_all(ctx: &Context, options: CollectorOptions) -> Result<Collected, BoxError> {
    let began = Instant::now();
    let mut total = Collected::default();
    loop {
        let report = collector::run(ctx, options).await?;
        total.runs += 1;
        total.scanned += report.scanned;
        total.enqueued += report.enqueued;
        for (reason, n) in report.skipped {
            *total.skipped.entry(reason).or_default() += n;
        }
        if report.watermark_conflict {
            return Err("the watermark moved during the benchmark".into());
        }
        if !report.more {
            break;
        }
    }
    total.elapsed = began.elapsed();
    Ok(total)
}

/// What the sender loops did.
#[derive(Debug, Clone, Default)]
pub struct Drained {
    /// Queue messages received (and handled).
    received: usize,
    /// `drain_once` calls, the final empty ones included.
    drains: usize,
    elapsed: Duration,
}

/// Runs `loops` sender loops (`drain_once` until the queue has nothing visible) at once.
async fn drain_all(ctx: &Arc<Context>, loops: usize) -> Result<Drained, BoxError> {
    let began = Instant::now();
    let results = stream::iter(0..loops)
        .map(|_| {
            let ctx = Arc::clone(ctx);
            tokio::spawn(async move {
                let (mut received, mut drains) = (0, 0);
                loop {
                    drains += 1;
                    match sender::drain_once(&ctx).await? {
                        0 => {
                            return Ok::<_, connector_domain::ports::QueueError>((
                                received, drains,
                            ));
                        }
                        n => received += n,
                    }
                }
            })
        })
        .buffer_unordered(loops)
        .collect::<Vec<_>>()
        .await;
    let mut total = Drained::default();
    for result in results {
        let (received, drains) = result??;
        total.received += received;
        total.drains += drains;
    }
    total.elapsed = began.elapsed();
    Ok(total)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = harness::or_usage_exit(Args::parse());
    let data = Dataset::generate(args.appointments, args.patients, args.seed);
    report::dataset(&args, &data);
    if matches!(args.store.as_str(), "embedded" | "both") {
        let result = embedded::run(&args, &data).await?;
        report::embedded(&args, &data, &result);
    }
    if matches!(args.store.as_str(), "aws" | "both") {
        let result = aws::run(&args, &data).await?;
        if !args.collector_only {
            report::aws_sender(&args, &data, &result);
        }
    }
    Ok(())
}
