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

/// An item (or key) of string attributes: attribute name, string value.
pub fn strings(attributes: &[(&str, &str)]) -> HashMap<String, AttributeValue> {
    attributes
        .iter()
        .map(|(name, value)| (name.to_string(), AttributeValue::S(value.to_string())))
        .collect()
}

/// The raw item at `key` (attribute name, string value) of `table`, read consistently.
pub async fn raw_item(
    a: &AwsAdapters,
    table: &str,
    key: &[(&str, &str)],
) -> Option<HashMap<String, AttributeValue>> {
    let get = a.dynamodb_client().get_item().table_name(table);
    get.set_key(Some(strings(key)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// Writes the raw item `attributes` (attribute name, string value) to `table`, as a manual
/// edit would: no adapter code and no condition.
pub async fn raw_put(a: &AwsAdapters, table: &str, attributes: &[(&str, &str)]) {
    let put = a.dynamodb_client().put_item().table_name(table);
    put.set_item(Some(strings(attributes)))
        .send()
        .await
        .unwrap();
}

/// Applies `update` to the raw item at `key` (attribute name, string value) of `table`, with
/// the placeholders `names` (`#p`, attribute) and `values` (`:p`, value): what another process
/// (or a manual edit) leaves, written without adapter code.
pub async fn raw_update(
    a: &AwsAdapters,
    table: &str,
    key: &[(&str, &str)],
    update: &str,
    names: &[(&str, &str)],
    values: &[(&str, AttributeValue)],
) {
    let names = names.iter().map(|(p, n)| (p.to_string(), n.to_string()));
    let values = values.iter().map(|(p, v)| (p.to_string(), v.clone()));
    a.dynamodb_client()
        .update_item()
        .table_name(table)
        .set_key(Some(strings(key)))
        .update_expression(update)
        .set_expression_attribute_names(Some(names.collect()))
        .set_expression_attribute_values(Some(values.collect()))
        .send()
        .await
        .unwrap();
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
