//! `connector collect`: one batch collector run on the embedded store, then the sender drains
//! the queue, and a summary is printed.

use std::path::PathBuf;

use anyhow::Context as _;
use connector_app::jobs::collector::CollectorOptions;
use connector_app::jobs::sender;
use connector_app::{Context, telemetry};

/// Options of `connector collect`.
#[derive(Debug, clap::Args)]
pub struct CollectArgs {
    /// The SQLite database file.
    #[arg(long, default_value = "connector.db", env = "CONNECTOR_DB")]
    db: PathBuf,
    /// Where mail for the HIE is written.
    #[arg(long, default_value = "outbox", env = "CONNECTOR_OUTBOX")]
    outbox: PathBuf,
    /// Only enqueue; leave sending to a running `connector serve`.
    #[arg(long)]
    no_send: bool,
}

/// Runs one batch (and, unless --no-send, sends what it enqueued).
pub fn run(args: CollectArgs) -> anyhow::Result<()> {
    telemetry::init(std::io::stderr);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let ctx = Context::embedded(&args.db, &args.outbox)
            .with_context(|| format!("cannot open {}", args.db.display()))?;
        let report = connector_app::jobs::batch_run::run(&ctx, CollectorOptions::default()).await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        println!("{}", report.summary());
        if !args.no_send {
            let mut handled = 0;
            loop {
                let n = sender::drain_once(&ctx).await?;
                if n == 0 {
                    break;
                }
                handled += n;
            }
            println!(
                "sender handled {handled} queue message(s); mail is in {}",
                args.outbox.display()
            );
        }
        Ok(())
    })
}
