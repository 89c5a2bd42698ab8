//! What the AWS adapter tests share: the local endpoints, and fresh tables and queues per test.

#![allow(dead_code)]

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveDescription};
use connector_aws::{AwsAdapters, AwsConfig, RequestCounter, TableNames};
use connector_testkit::local_aws::{LocalAws, unique_name};

/// The shared local endpoints, or `None` after a printed SKIPPED line (a panic when `CI` is set).
pub fn local() -> Option<&'static LocalAws> {
    LocalAws::shared()
}

/// The SDK configuration production would load, pointed at the local endpoints.
pub async fn sdk(aws: &LocalAws) -> SdkConfig {
    aws.sdk_config(connector_aws::sdk_config_loader()).await
}

/// Adapters over four new, empty tables (created with their indexes and TTL).
pub async fn fresh_adapters(aws: &LocalAws) -> AwsAdapters {
    let adapters = AwsAdapters::new(&sdk(aws).await, AwsConfig::for_tables(fresh_tables()));
    adapters.create_tables().await.expect("create tables");
    adapters
}

/// As [`fresh_adapters`], with every request counted by `counter`.
pub async fn fresh_counted(aws: &LocalAws, counter: &RequestCounter) -> AwsAdapters {
    let adapters = AwsAdapters::with_counter(
        &sdk(aws).await,
        AwsConfig::for_tables(fresh_tables()),
        counter,
    );
    adapters.create_tables().await.expect("create tables");
    counter.reset();
    adapters
}

/// Adapters over new tables with every request counted, and the counter (reset); `None`
/// after a printed SKIPPED line when the local endpoints are not installed.
pub async fn counted() -> Option<(AwsAdapters, RequestCounter)> {
    let aws = local()?;
    let counter = RequestCounter::new();
    let adapters = fresh_counted(aws, &counter).await;
    Some((adapters, counter))
}

/// The raw item at `key` (attribute name, string value) of `table`, read consistently.
pub async fn raw_item(
    a: &AwsAdapters,
    table: &str,
    key: &[(&str, &str)],
) -> Option<HashMap<String, AttributeValue>> {
    let mut get = a.dynamodb_client().get_item().table_name(table);
    for (name, value) in key {
        get = get.key(*name, AttributeValue::S(value.to_string()));
    }
    get.consistent_read(true).send().await.unwrap().item
}

/// The TTL setting of `table`.
pub async fn ttl_of(a: &AwsAdapters, table: &str) -> TimeToLiveDescription {
    a.dynamodb_client()
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap()
}

/// Table names no other test uses.
pub fn fresh_tables() -> TableNames {
    TableNames::with_prefix(&format!("{}-", unique_name("t")))
}
