//! `AwsSecrets` on moto's Secrets Manager: string and binary secrets by ARN, the five-minute
//! cache (one request per secret, not per resolve), missing secrets, and references AWS
//! deployments do not serve.

use std::time::Duration;

use aws_sdk_secretsmanager::primitives::Blob;
use connector_aws::{AwsAdapters, AwsConfig, AwsSecrets, RequestCounter};
use connector_domain::flow::SecretRef;
use connector_domain::ports::{SecretError, SecretStore};
use connector_testkit::local_aws::unique_name;

use crate::common;

async fn counted(
    aws: &connector_testkit::local_aws::LocalAws,
    counter: &RequestCounter,
) -> AwsAdapters {
    AwsAdapters::with_counter(
        &common::sdk(aws).await,
        AwsConfig::for_tables(common::fresh_tables()),
        counter,
    )
}

/// Creates a secret holding `text`; returns its reference.
async fn string_secret(a: &AwsAdapters, text: &str) -> SecretRef {
    let out = a
        .secretsmanager_client()
        .create_secret()
        .name(unique_name("clinic/ehr-hmac-"))
        .secret_string(text)
        .send()
        .await
        .expect("create a secret on moto");
    SecretRef::parse(&format!("secretsmanager:{}", out.arn().unwrap())).expect("a secret ARN")
}

#[tokio::test]
async fn secrets_manager_values_are_read_once_per_cache_period() {
    let Some(aws) = common::local() else { return };
    let counter = RequestCounter::new();
    let a = counted(aws, &counter).await;
    let reference = string_secret(&a, "s3cr3t-hmac-key").await;
    counter.reset();

    let secrets = a.secrets();
    for _ in 0..3 {
        let value = secrets.resolve(&reference).await.unwrap();
        assert_eq!(value.expose(), b"s3cr3t-hmac-key");
    }
    // Every `secrets()` (and clone) shares the cache.
    a.secrets().resolve(&reference).await.unwrap();
    assert_eq!(
        counter.by_operation().get("secretsmanager.GetSecretValue"),
        Some(&1),
        "{:?}",
        counter.by_operation()
    );

    // A rotated value is served once the cached one is older than the TTL (zero here).
    a.secretsmanager_client()
        .put_secret_value()
        .secret_id(reference.location())
        .secret_string("rotated")
        .send()
        .await
        .unwrap();
    assert_eq!(
        secrets.resolve(&reference).await.unwrap().expose(),
        b"s3cr3t-hmac-key"
    );
    let uncached = AwsSecrets::with_cache_ttl(a.secretsmanager_client().clone(), Duration::ZERO);
    assert_eq!(
        uncached.resolve(&reference).await.unwrap().expose(),
        b"rotated"
    );
}

#[tokio::test]
async fn binary_secrets_are_returned_as_bytes() {
    let Some(aws) = common::local() else { return };
    let a = counted(aws, &RequestCounter::new()).await;
    let bytes = vec![0u8, 159, 146, 150, 255];
    let out = a
        .secretsmanager_client()
        .create_secret()
        .name(unique_name("clinic/ca-pem-"))
        .secret_binary(Blob::new(bytes.clone()))
        .send()
        .await
        .unwrap();
    let reference = SecretRef::parse(&format!("secretsmanager:{}", out.arn().unwrap())).unwrap();
    assert_eq!(
        a.secrets().resolve(&reference).await.unwrap().expose(),
        &bytes[..]
    );
}

#[tokio::test]
async fn missing_and_unsupported_references_are_told_apart() {
    let Some(aws) = common::local() else { return };
    let a = counted(aws, &RequestCounter::new()).await;
    let secrets = a.secrets();

    let missing = SecretRef::parse(
        "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:clinic/none-AbCdEf",
    )
    .unwrap();
    let err = secrets.resolve(&missing).await.unwrap_err();
    assert!(matches!(err, SecretError::NotFound), "{err:?}");
    assert!(!format!("{err:?} {err}").contains("clinic/none"));

    let local = SecretRef::parse("local:ehr-hmac").unwrap();
    assert!(matches!(
        secrets.resolve(&local).await,
        Err(SecretError::Unsupported("local"))
    ));
    // An unset `env:` reference (NotFound without a request) is the unit test's case
    // (`secrets::tests`): it never reaches Secrets Manager.
}
