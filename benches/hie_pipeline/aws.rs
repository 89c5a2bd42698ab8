//! The pipeline on the local AWS endpoints (DynamoDB Local; moto's SQS and SES v2), every SDK
//! request counted: seeding is counted and then the counter is reset, so the collector's and the
//! sender's requests are theirs alone.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use connector_app::Context;
use connector_app::config::HIE_MAX_RECEIVES;
use connector_aws::{AwsAdapters, AwsConfig, RequestCounter, TableNames, create_queue_with_dlq};
use connector_benches::Dataset;
use connector_domain::FixedClock;
use connector_testkit::local_aws::{LocalAws, unique_name};

use crate::{Args, BoxError, Collected, Drained, collect_all, drain_all, seed};

/// What the AWS run measured.
#[derive(Debug)]
pub struct AwsResult {
    /// Until DynamoDB Local and moto answered.
    pub started_in: Duration,
    pub seed: Duration,
    /// Requests the seeding made (before the reset).
    pub seed_requests: u64,
    pub collected: Collected,
    /// `service.Operation` -> requests, collector runs only.
    pub collector_requests: BTreeMap<String, u64>,
    pub drained: Drained,
    /// `service.Operation` -> requests, sender loops only.
    pub sender_requests: BTreeMap<String, u64>,
    /// Messages left on the HIE queue (visible, in flight) and on its dead-letter queue.
    pub queue_left: (u64, u64),
    pub dlq_left: u64,
    /// Work items received only after the sender loops had first stopped (redeliveries after
    /// the visibility timeout).
    pub late_items: usize,
}

/// How long to wait after the sender loops stop for messages still in flight: the sender's
/// visibility timeout (the claim lease plus a minute) and a margin.
const SETTLE_LIMIT: Duration = Duration::from_secs(6 * 60 + 30);

async fn queue_depth(client: &aws_sdk_sqs::Client, url: &str) -> Result<(u64, u64), BoxError> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?;
    let attributes = out.attributes.unwrap_or_default();
    let get = |name: &QueueAttributeName| {
        attributes
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((
        get(&QueueAttributeName::ApproximateNumberOfMessages),
        get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}

pub async fn run(args: &Args, data: &Dataset) -> Result<AwsResult, BoxError> {
    eprintln!("aws: starting DynamoDB Local and moto...");
    let local = LocalAws::start()?;
    let sdk = local.sdk_config(connector_aws::sdk_config_loader()).await;
    let tables = TableNames::with_prefix(&format!("{}-", unique_name("bench")));
    // Uncounted adapters for setup and the final checks.
    let setup = AwsAdapters::new(&sdk, AwsConfig::for_tables(tables.clone()));
    setup.create_tables().await?;
    let urls = create_queue_with_dlq(
        setup.sqs_client(),
        &unique_name("bench-hie-"),
        false,
        HIE_MAX_RECEIVES,
    )
    .await?;
    let from_domain = data
        .settings
        .default_from_address
        .as_ref()
        .and_then(|a| a.expose().split_once('@'))
        .map(|(_, domain)| domain.to_owned())
        .ok_or("settings without a from address")?;
    setup
        .ses_client()
        .create_email_identity()
        .email_identity(from_domain)
        .send()
        .await?;

    let counter = RequestCounter::new();
    let config = AwsConfig {
        hie_queue_url: Some(urls.queue_url.clone()),
        ..AwsConfig::for_tables(tables)
    };
    let adapters = AwsAdapters::with_counter(&sdk, config, &counter);
    let clock = Arc::new(FixedClock::at(data.now));
    let ctx = Context::from_aws(&adapters, clock)?;

    eprintln!(
        "aws: seeding {} appointments ({} at a time)...",
        data.appointments.len(),
        args.seed_concurrency
    );
    let seed = seed(&ctx, data, args.seed_concurrency).await?;
    let seed_requests = counter.total("");
    counter.reset();
    eprintln!("aws: seeded in {seed:.1?} ({seed_requests} requests); collecting...");

    let collected = collect_all(&ctx, args.options()).await?;
    let collector_requests = counter.by_operation();
    counter.reset();

    let mut result = AwsResult {
        started_in: local.started_in(),
        seed,
        seed_requests,
        collected,
        collector_requests,
        drained: Drained::default(),
        sender_requests: BTreeMap::new(),
        queue_left: (0, 0),
        dlq_left: 0,
        late_items: 0,
    };
    crate::report::aws_collector(args, data, &result);
    if args.collector_only {
        return Ok(result);
    }

    // The sender as `connector serve` runs it, with the SQS queue as its consumer: receive up to
    // ten, `handle_batch`, delete (or release) each.
    let queue = adapters.hie_queue().ok_or("no HIE queue")?;
    let ctx = Arc::new(Context {
        hie_consumer: Some(Arc::new(queue)),
        ..ctx
    });
    eprintln!(
        "aws: collected in {:.1?}; sending with {} loop(s)...",
        result.collected.elapsed, args.senders
    );
    let mut drained = drain_all(&ctx, args.senders).await?;
    eprintln!("aws: sent in {:.1?}", drained.elapsed);
    // A loop stops at its first empty receive, possibly while messages are still in flight
    // (another loop's, or a delivery whose delete did not take): wait for them to be deleted or
    // to become visible again (the visibility timeout), and drain what comes back.
    let deadline = std::time::Instant::now() + SETTLE_LIMIT;
    loop {
        let (visible, in_flight) = queue_depth(setup.sqs_client(), &urls.queue_url).await?;
        if visible + in_flight == 0 || std::time::Instant::now() >= deadline {
            break;
        }
        if visible == 0 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        }
        eprintln!("aws: {visible} message(s) visible again; draining them...");
        let late = drain_all(&ctx, args.senders).await?;
        drained.received += late.received;
        drained.drains += late.drains;
        result.late_items += late.received;
    }
    let sender_requests = counter.by_operation();

    result.queue_left = queue_depth(setup.sqs_client(), &urls.queue_url).await?;
    let dlq = queue_depth(setup.sqs_client(), &urls.dlq_url).await?;
    result.dlq_left = dlq.0 + dlq.1;
    result.drained = drained;
    result.sender_requests = sender_requests;
    Ok(result)
}
