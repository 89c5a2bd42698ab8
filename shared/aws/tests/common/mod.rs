//! What the AWS adapter tests share: the local endpoints, and fresh tables and queues per test.

#![allow(dead_code)]

use aws_config::SdkConfig;
use connector_aws::{AwsAdapters, AwsConfig, RequestCounter, TableNames};
use connector_testkit::local_aws::{LocalAws, unique_name};

/// The shared local endpoints, or `None` after a printed SKIPPED line (a panic when `CI` is set).
pub fn local() -> Option<&'static LocalAws> {
    LocalAws::shared()
}

/// The SDK configuration production would load, pointed at the local endpoints.
pub async fn sdk(aws: &LocalAws) -> SdkConfig {
    aws.sdk_config().await
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

/// Table names no other test uses.
pub fn fresh_tables() -> TableNames {
    TableNames::with_prefix(&format!("{}-", unique_name("t")))
}
