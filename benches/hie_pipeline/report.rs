//! Markdown tables on stdout (progress goes to stderr).

use std::collections::BTreeMap;
use std::time::Duration;

use connector_benches::{ConsentKind, Dataset, PageShape, predicted_collector_dynamodb};

use crate::Args;
use crate::aws::AwsResult;
use crate::embedded::EmbeddedResult;

/// The goal for the collector, per 1,000 appointments.
const GOAL_DYNAMODB: f64 = 12.0;
const GOAL_SQS: f64 = 101.0;

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn per_1000(requests: u64, appointments: usize) -> f64 {
    requests as f64 * 1000.0 / appointments.max(1) as f64
}

fn service_total(requests: &BTreeMap<String, u64>, service: &str) -> u64 {
    requests
        .iter()
        .filter(|(op, _)| op.split('.').next() == Some(service))
        .map(|(_, n)| n)
        .sum()
}

fn skipped(skipped: &BTreeMap<String, usize>) -> String {
    tally(skipped, String::clone)
}

/// `name n, name n, ...` of counted things, `label` naming each.
fn tally<K>(counts: &BTreeMap<K, usize>, label: impl Fn(&K) -> String) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{} {n}", label(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn dataset(args: &Args, data: &Dataset) {
    let mut kinds: BTreeMap<ConsentKind, usize> = BTreeMap::new();
    for p in &data.patients {
        *kinds.entry(p.kind).or_default() += 1;
    }
    let (sends, skips) = data.expected();
    let pages = data.pages(args.page_size);
    let mean_patients =
        pages.iter().map(|p| p.patients).sum::<usize>() as f64 / pages.len().max(1) as f64;
    println!("# HIE pipeline benchmark\n");
    println!(
        "{} appointments for {} patients (seed {:#x}), transitioned over the day after {}; \
         now {}; collector page size {}.",
        data.appointments.len(),
        data.patients.len(),
        args.seed,
        data.watermark.to_rfc3339(),
        data.now.to_rfc3339(),
        args.page_size
    );
    let kinds = tally(&kinds, |k| format!("{k:?}"));
    println!("Patients by latest consent: {kinds}.");
    let skips = tally(&skips, |r| r.to_string());
    println!("Expected: {sends} enqueued, skipped {skips}.");
    println!(
        "Collector pages: {} (mean {mean_patients:.0} distinct patients per page).\n",
        pages.len()
    );
}

fn checks(data: &Dataset, collected: &crate::Collected, sent: usize) -> Vec<String> {
    let (sends, skips) = data.expected();
    let mut problems = Vec::new();
    if collected.scanned != data.appointments.len() {
        problems.push(format!(
            "scanned {} of {}",
            collected.scanned,
            data.appointments.len()
        ));
    }
    if collected.enqueued != sends {
        problems.push(format!(
            "enqueued {} instead of {sends}",
            collected.enqueued
        ));
    }
    let skips: BTreeMap<String, usize> = skips.into_iter().map(|(k, v)| (k.into(), v)).collect();
    if collected.skipped != skips {
        problems.push(format!(
            "skipped {:?} instead of {skips:?}",
            collected.skipped
        ));
    }
    if sent != collected.enqueued {
        problems.push(format!(
            "{sent} mails sent for {} enqueued",
            collected.enqueued
        ));
    }
    problems
}

/// One row of the embedded table: `count` appointments through `stage` in `elapsed`, the rate,
/// and `notes`.
fn stage_row(stage: &str, count: usize, elapsed: Duration, notes: &str) {
    println!(
        "| {stage} | {count} | {:.2} | {:.0} | {notes} |",
        elapsed.as_secs_f64(),
        rate(count, elapsed)
    );
}

fn print_checks(problems: &[String]) {
    if problems.is_empty() {
        println!(
            "Checks: every appointment scanned, the expected ones enqueued and skipped, one mail per enqueued item, queue empty.\n"
        );
    } else {
        println!("CHECKS FAILED: {}\n", problems.join("; "));
    }
}

pub fn embedded(_args: &Args, data: &Dataset, r: &EmbeddedResult) {
    let n = data.appointments.len();
    let c = &r.collected;
    let d = &r.drained;
    println!("## Embedded store (SQLite temp file, OutboxMailer)\n");
    println!("| stage | appointments | seconds | appointments/s | notes |");
    println!("|---|---:|---:|---:|---|");
    stage_row(
        "seed (not timed below)",
        n,
        r.seed,
        &format!(
            "{} patients with consents, settings, put + record_transition per appointment",
            data.patients.len()
        ),
    );
    stage_row(
        "collector",
        c.scanned,
        c.elapsed,
        &format!(
            "{} run(s); {} enqueued; skipped {}",
            c.runs,
            c.enqueued,
            skipped(&c.skipped)
        ),
    );
    stage_row(
        "sender",
        d.received,
        d.elapsed,
        &format!(
            "{} work items, {} mails written (fsynced), {} drain_once calls",
            d.received, r.mails, d.drains
        ),
    );
    let total = c.elapsed + d.elapsed;
    stage_row(
        "end to end",
        n,
        total,
        &format!(
            "collector + sender; {:.0} sent mails/s",
            rate(r.mails, total)
        ),
    );
    println!();
    println!(
        "Database file afterwards: {:.1} MB (with WAL).",
        r.db_bytes as f64 / 1e6
    );
    let mut problems = checks(data, c, r.mails);
    if r.queue_left.visible + r.queue_left.hidden + r.queue_left.dead > 0 {
        problems.push(format!("queue not empty: {:?}", r.queue_left));
    }
    print_checks(&problems);
}

/// DynamoDB requests per 1,000 appointments the model gives for a run over `pages`, with the
/// watermark written per page or once, and LATEST consents read per page or once per run.
fn model_per_1000(
    pages: &[PageShape],
    page_size: usize,
    appointments: usize,
    watermark_once: bool,
    cache_consents: bool,
) -> f64 {
    let mut p = predicted_collector_dynamodb(pages, page_size);
    if watermark_once {
        p.update_item = 1;
    }
    if cache_consents {
        p.batch_get_item = pages.iter().map(|p| p.new_patients.div_ceil(100)).sum();
    }
    per_1000(p.total() as u64, appointments)
}

/// The collector part, printed as soon as the collector is done (the sender is slow on moto).
pub fn aws_collector(args: &Args, data: &Dataset, r: &AwsResult) {
    let n = r.collected.scanned.max(1);
    let pages = data.pages(args.page_size);
    let predicted = predicted_collector_dynamodb(&pages, args.page_size);
    let model = |op: &str| match op {
        "dynamodb.GetItem" => Some(predicted.get_item),
        "dynamodb.Query" => Some(predicted.query),
        "dynamodb.BatchGetItem" => Some(predicted.batch_get_item),
        "dynamodb.UpdateItem" => Some(predicted.update_item),
        "dynamodb.PutItem" => Some(predicted.put_item),
        _ => None,
    };
    println!("## Local AWS endpoints (DynamoDB Local, moto SQS + SES v2)\n");
    println!(
        "Endpoints up in {:.1} s; seeding took {:.1} s and {} requests (then the counter was reset).\n",
        r.started_in.as_secs_f64(),
        r.seed.as_secs_f64(),
        r.seed_requests
    );
    println!(
        "### Collector: {} run(s), {} appointments scanned, {} enqueued, skipped {} ({:.2} s on the emulators)\n",
        r.collected.runs,
        r.collected.scanned,
        r.collected.enqueued,
        skipped(&r.collected.skipped),
        r.collected.elapsed.as_secs_f64()
    );
    println!(
        "| request | count | per 1,000 appointments | model (no 1 MB cut, no unprocessed keys) |"
    );
    println!("|---|---:|---:|---:|");
    for (op, count) in &r.collector_requests {
        println!(
            "| {op} | {count} | {:.2} | {} |",
            per_1000(*count, n),
            model(op).map_or("-".into(), |m| m.to_string())
        );
    }
    let ddb = service_total(&r.collector_requests, "dynamodb");
    let sqs = service_total(&r.collector_requests, "sqs");
    let ddb_1000 = per_1000(ddb, n);
    let sqs_1000 = per_1000(sqs, n);
    let verdict = |v: f64, goal: f64| if v <= goal { "met" } else { "NOT met" };
    println!(
        "| **DynamoDB total** | {ddb} | **{ddb_1000:.2}** (goal <= {GOAL_DYNAMODB}: {}) | {} |",
        verdict(ddb_1000, GOAL_DYNAMODB),
        predicted.total()
    );
    println!(
        "| **SQS total** | {sqs} | **{sqs_1000:.2}** (goal <= {GOAL_SQS}: {}) | - |",
        verdict(sqs_1000, GOAL_SQS)
    );
    println!();
    let mean_patients =
        pages.iter().map(|p| p.patients).sum::<usize>() as f64 / pages.len().max(1) as f64;
    println!(
        "Per full page of {}: 1 Query + ceil({mean_patients:.0} patients / 100) BatchGetItem + 1 UpdateItem (watermark); \
         per run: 1 GetItem (settings), 1 final empty Query, 1 PutItem (run audit).\n",
        args.page_size
    );
    println!(
        "DynamoDB requests per 1,000 appointments for this data set, by the model above (what-if, not measured):\n"
    );
    println!("| collector variant | page 1000 | page 2000 | page 5000 |");
    println!("|---|---:|---:|---:|");
    let variants = [
        ("as is", false, false),
        ("watermark written once per run", true, false),
        ("LATEST consents cached across the run's pages", false, true),
        ("both", true, true),
    ];
    for (name, once, cache) in variants {
        let cells: Vec<String> = [1000, 2000, 5000]
            .iter()
            .map(|&size| {
                format!(
                    "{:.2}",
                    model_per_1000(
                        &data.pages(size),
                        size,
                        data.appointments.len(),
                        once,
                        cache
                    )
                )
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    println!();

    if args.collector_only {
        println!("(--collector-only: the sender was not run.)\n");
    }
    let _ = std::io::Write::flush(&mut std::io::stdout());
}

/// The sender part, and the checks of the whole run.
pub fn aws_sender(args: &Args, data: &Dataset, r: &AwsResult) {
    // Per enqueued work item (= per appointment sent): duplicate deliveries, if any, are part
    // of the cost.
    let items = r.collected.enqueued.max(1);
    println!(
        "### Sender: {} work items enqueued, {} deliveries handled, {} loop(s) ({:.2} s on the emulators, {:.0} deliveries/s)\n",
        r.collected.enqueued,
        r.drained.received,
        args.senders,
        r.drained.elapsed.as_secs_f64(),
        rate(r.drained.received, r.drained.elapsed)
    );
    if r.late_items > 0 {
        println!(
            "{} of them were received only after the loops first stopped (in flight until the visibility timeout, then redelivered).\n",
            r.late_items
        );
    }
    println!("| request | count | per enqueued work item |");
    println!("|---|---:|---:|");
    for (op, count) in &r.sender_requests {
        println!("| {op} | {count} | {:.3} |", *count as f64 / items as f64);
    }
    for service in ["dynamodb", "sqs", "sesv2"] {
        let total = service_total(&r.sender_requests, service);
        println!(
            "| **{service} total** | {total} | **{:.3}** |",
            total as f64 / items as f64
        );
    }
    println!();
    let sent = r
        .sender_requests
        .get("sesv2.SendEmail")
        .copied()
        .unwrap_or(0) as usize;
    let mut problems = checks(data, &r.collected, sent);
    if r.queue_left != (0, 0) || r.dlq_left != 0 {
        problems.push(format!(
            "queue not empty: {:?} (visible, in flight), DLQ {}",
            r.queue_left, r.dlq_left
        ));
    }
    print_checks(&problems);
}
