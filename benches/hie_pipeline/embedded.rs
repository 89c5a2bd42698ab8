//! The pipeline on the embedded store: one SQLite temp file, its durable queue, and an
//! `OutboxMailer` writing `.eml` files into a temp dir (each one fsynced, as in production).

use std::sync::Arc;
use std::time::Duration;

use connector_app::Context;
use connector_app::config::{HIE_MAX_RECEIVES, HIE_QUEUE_NAME};
use connector_benches::Dataset;
use connector_domain::FixedClock;
use connector_embedded::{OutboxMailer, QueueOptions, QueueStats, SqliteDb};

use crate::{Args, BoxError, Collected, Drained, collect_all, drain_all, seed};

/// What the embedded run measured.
#[derive(Debug)]
pub struct EmbeddedResult {
    pub seed: Duration,
    pub collected: Collected,
    pub drained: Drained,
    /// `.eml` files in the outbox afterwards.
    pub mails: usize,
    /// The HIE queue afterwards.
    pub queue_left: QueueStats,
    /// The database file and its WAL, in bytes.
    pub db_bytes: u64,
}

pub async fn run(args: &Args, data: &Dataset) -> Result<EmbeddedResult, BoxError> {
    let dir = tempfile::tempdir()?;
    let db_path = dir.path().join("bench.db");
    let db = SqliteDb::open(&db_path)?;
    let outbox = dir.path().join("outbox");
    let clock = Arc::new(FixedClock::at(data.now));
    let ctx = Arc::new(Context::from_embedded(
        &db,
        Arc::new(OutboxMailer::new(&outbox)?),
        clock.clone(),
    ));
    eprintln!(
        "embedded: seeding {} appointments...",
        data.appointments.len()
    );
    let seed = seed(&ctx, data, 1).await?;
    eprintln!("embedded: seeded in {seed:.1?}; collecting...");
    let collected = collect_all(&ctx, args.options()).await?;
    eprintln!(
        "embedded: collected in {:.1?}; sending...",
        collected.elapsed
    );
    let drained = drain_all(&ctx, 1).await?;
    eprintln!("embedded: sent in {:.1?}", drained.elapsed);
    let mails = std::fs::read_dir(&outbox)?
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .count();
    let queue_left = db
        .queue(
            HIE_QUEUE_NAME,
            QueueOptions::default()
                .max_receives(HIE_MAX_RECEIVES)
                .clock(clock),
        )
        .stats()
        .await?;
    let db_bytes = ["bench.db", "bench.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    Ok(EmbeddedResult {
        seed,
        collected,
        drained,
        mails,
        queue_left,
        db_bytes,
    })
}
