//! The [`SecretStore`] of AWS deployments: `env:` references from the process environment
//! (Lambda configuration), `secretsmanager:` references from AWS Secrets Manager, with a small
//! in-process cache so a warm Lambda does not call Secrets Manager on every request. `local:`
//! references belong to the embedded deployment and are refused.
//!
//! The cache keeps a value for [`DEFAULT_SECRET_CACHE_TTL`] (five minutes) after it was read: a
//! rotated secret is picked up within that time. Values are never logged; errors never carry a
//! value or the reference's location (Secrets Manager's messages may quote the ARN, so a service
//! error is kept as its code and HTTP status only).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use connector_domain::flow::secret::read_env;
use connector_domain::flow::{SecretRef, SecretValue};
use connector_domain::ports::{SecretError, SecretStatus, SecretStore};

/// How long a value read from Secrets Manager is reused.
pub const DEFAULT_SECRET_CACHE_TTL: Duration = Duration::from_secs(5 * 60);

/// At most this many cached secrets (a deployment has a few per channel); when full, expired
/// entries are dropped, and if none has expired the cache starts again empty.
const MAX_CACHED: usize = 256;

/// Secrets for AWS deployments. Cloning is cheap and clones share the cache.
#[derive(Clone)]
pub struct AwsSecrets {
    client: aws_sdk_secretsmanager::Client,
    cache: Arc<SecretCache>,
}

impl fmt::Debug for AwsSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSecrets")
            .field("cache_ttl", &self.cache.ttl)
            .finish_non_exhaustive()
    }
}

impl AwsSecrets {
    /// Secrets read with `client`, cached for [`DEFAULT_SECRET_CACHE_TTL`].
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self::with_cache_ttl(client, DEFAULT_SECRET_CACHE_TTL)
    }

    /// Secrets read with `client`, cached for `ttl` (zero: never cached).
    pub fn with_cache_ttl(client: aws_sdk_secretsmanager::Client, ttl: Duration) -> Self {
        Self {
            client,
            cache: Arc::new(SecretCache::new(ttl)),
        }
    }

    async fn secrets_manager(&self, arn: &str) -> Result<SecretValue, SecretError> {
        if let Some(value) = self.cache.get(arn, Instant::now()) {
            return Ok(value);
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(secrets_manager_error)?;
        let value = if let Some(text) = out.secret_string() {
            SecretValue::new(text.as_bytes())
        } else if let Some(blob) = out.secret_binary() {
            SecretValue::new(blob.as_ref())
        } else {
            return Err(SecretError::NotFound);
        };
        self.cache.put(arn, value.clone(), Instant::now());
        Ok(value)
    }
}

#[async_trait]
impl SecretStore for AwsSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError> {
        match reference {
            SecretRef::Env(_) => read_env(reference).ok_or(SecretError::NotFound),
            SecretRef::SecretsManager(arn) => self.secrets_manager(arn).await,
            SecretRef::Local(_) => Err(SecretError::Unsupported("local")),
        }
    }

    /// As the default, except that an `env:` reference this process lacks is `Unknown`: on
    /// AWS each function has its own environment, and the variable may be set on the
    /// function that uses it (hl7-inbound, ehr-delivery) but not on the one asking
    /// (consent-api). A Secrets Manager refusal such as `AccessDeniedException` is `Unknown`
    /// too (the consent-api may not be allowed to read the secret it is told about).
    async fn status(&self, reference: &SecretRef) -> SecretStatus {
        match reference {
            SecretRef::Env(_) if read_env(reference).is_none() => SecretStatus::Unknown,
            _ => match self.resolve(reference).await {
                Ok(_) => SecretStatus::Resolved,
                Err(SecretError::NotFound | SecretError::Unsupported(_)) => {
                    SecretStatus::Unresolvable
                }
                Err(SecretError::Unavailable(_)) => SecretStatus::Unknown,
            },
        }
    }
}

/// Secrets Manager refused a request. Only the error code and HTTP status are kept: the
/// service's message may quote the secret's ARN.
#[derive(Debug, thiserror::Error)]
#[error("Secrets Manager answered {status} {code}")]
pub struct SecretsManagerRefusal {
    /// The service's error code (`AccessDeniedException`, `DecryptionFailure`, ...).
    pub code: String,
    /// The HTTP status.
    pub status: u16,
}

/// `ResourceNotFoundException` is `NotFound`; any other service error is `Unavailable` with a
/// [`SecretsManagerRefusal`] as its source; timeouts and connection failures are `Unavailable`
/// with the SDK error as the source.
fn secrets_manager_error(
    err: SdkError<GetSecretValueError, aws_sdk_secretsmanager::config::http::HttpResponse>,
) -> SecretError {
    match &err {
        SdkError::ServiceError(ctx) => {
            if matches!(ctx.err(), GetSecretValueError::ResourceNotFoundException(_)) {
                return SecretError::NotFound;
            }
            SecretError::Unavailable(Box::new(SecretsManagerRefusal {
                code: ctx.err().code().unwrap_or("Unknown").to_owned(),
                status: ctx.raw().status().as_u16(),
            }))
        }
        _ => SecretError::Unavailable(Box::new(err)),
    }
}

/// Values by ARN, each with the instant it was read.
struct SecretCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, SecretValue)>>,
}

impl SecretCache {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn fresh(&self, read_at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(read_at) < self.ttl
    }

    /// The value read for `key` less than the TTL before `now`.
    fn get(&self, key: &str, now: Instant) -> Option<SecretValue> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(read_at, _)| self.fresh(*read_at, now))
            .map(|(_, value)| value.clone())
    }

    /// Remembers `value`, read for `key` at `now`.
    fn put(&self, key: &str, value: SecretValue, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_CACHED && !entries.contains_key(key) {
            entries.retain(|_, (read_at, _)| self.fresh(*read_at, now));
            if entries.len() >= MAX_CACHED {
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), (now, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_serves_values_until_the_ttl_passes() {
        let cache = SecretCache::new(Duration::from_secs(300));
        let t0 = Instant::now();
        assert!(cache.get("a", t0).is_none());
        cache.put("a", SecretValue::new("one"), t0);
        let hit = cache.get("a", t0 + Duration::from_secs(299)).unwrap();
        assert_eq!(hit.expose(), b"one");
        assert!(cache.get("a", t0 + Duration::from_secs(300)).is_none());
        cache.put("a", SecretValue::new("two"), t0 + Duration::from_secs(300));
        let hit = cache.get("a", t0 + Duration::from_secs(301)).unwrap();
        assert_eq!(hit.expose(), b"two");
    }

    #[test]
    fn cache_stays_bounded_and_zero_ttl_caches_nothing() {
        let cache = SecretCache::new(Duration::from_secs(300));
        let t0 = Instant::now();
        for i in 0..MAX_CACHED {
            cache.put(&format!("k{i}"), SecretValue::new("v"), t0);
        }
        let later = t0 + Duration::from_secs(10);
        cache.put("new", SecretValue::new("v"), later);
        assert!(cache.entries.lock().unwrap().len() <= MAX_CACHED);
        assert!(cache.get("new", later).is_some());

        let off = SecretCache::new(Duration::ZERO);
        off.put("a", SecretValue::new("v"), t0);
        assert!(off.get("a", t0).is_none());
    }

    #[tokio::test]
    async fn local_references_are_unsupported_and_env_ones_need_the_variable() {
        let sdk = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .build();
        let secrets = AwsSecrets::new(aws_sdk_secretsmanager::Client::from_conf(sdk));
        let local = SecretRef::parse("local:ehr-hmac").unwrap();
        assert!(matches!(
            secrets.resolve(&local).await,
            Err(SecretError::Unsupported("local"))
        ));
        // A name no test sets.
        let unset = SecretRef::parse("env:CONNECTOR_SECRET_AWS_UNIT_TEST_UNSET_9F2C").unwrap();
        assert!(matches!(
            secrets.resolve(&unset).await,
            Err(SecretError::NotFound)
        ));
        assert!(!format!("{secrets:?}").contains("SecretValue"));
    }

    #[test]
    fn refusals_keep_code_and_status_only() {
        let refusal = SecretsManagerRefusal {
            code: "AccessDeniedException".into(),
            status: 400,
        };
        assert_eq!(
            refusal.to_string(),
            "Secrets Manager answered 400 AccessDeniedException"
        );
    }
}
