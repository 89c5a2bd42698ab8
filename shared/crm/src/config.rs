//! How to reach a LeadSquared account: regional host, API keys, timeouts, retries, rate limit.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::limiter::RateLimit;
use crate::retry::CrmRetryPolicy;

/// What `Debug` prints in place of a key.
const REDACTED: &str = "[redacted]";

/// A LeadSquared API key of one kind `K` ([`Access`] or [`Secret`]). Its `Debug` is redacted and
/// it has no `Display`: with the other key it grants the integration user's full API access.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey<K> {
    key: String,
    kind: PhantomData<K>,
}

/// A kind of LeadSquared API key.
pub trait KeyKind {
    /// The type name `Debug` prints (`AccessKey`, `SecretKey`).
    const NAME: &'static str;
}

/// The kind of the access key (sent as the `x-LSQ-AccessKey` header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {}

/// The kind of the secret key (sent as the `x-LSQ-SecretKey` header, never in the query string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {}

impl KeyKind for Access {
    const NAME: &'static str = "AccessKey";
}

impl KeyKind for Secret {
    const NAME: &'static str = "SecretKey";
}

/// A LeadSquared access key (sent as the `x-LSQ-AccessKey` header).
pub type AccessKey = ApiKey<Access>;

/// A LeadSquared secret key (sent as the `x-LSQ-SecretKey` header, never in the query string).
pub type SecretKey = ApiKey<Secret>;

impl<K> ApiKey<K> {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            kind: PhantomData,
        }
    }

    /// The key itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.key
    }
}

impl<K: KeyKind> fmt::Debug for ApiKey<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({REDACTED})", K::NAME)
    }
}

/// Settings of a [`LeadSquaredClient`](crate::LeadSquaredClient).
///
/// [`LeadSquaredConfig::new`] fills in production defaults; adjust the public fields (or use the
/// `with_*` helpers) for anything else.
#[derive(Debug, Clone)]
pub struct LeadSquaredConfig {
    /// The account's regional API host with scheme and no path, e.g.
    /// `https://api-us11.leadsquared.com` (US), `https://api.leadsquared.com` (SG),
    /// `https://api-in21.leadsquared.com` (IN). A wrong region answers 401.
    pub base_url: String,
    /// The integration user's access key.
    pub access_key: AccessKey,
    /// The integration user's secret key.
    pub secret_key: SecretKey,
    /// Limit for one HTTP attempt, from connecting until the response body is read.
    pub request_timeout: Duration,
    /// Limit for establishing the connection.
    pub connect_timeout: Duration,
    /// Retries of rate-limited and failed attempts.
    pub retry: CrmRetryPolicy,
    /// Client-side pacing of requests, or `None` to rely on the server's 429s alone.
    pub rate_limit: Option<RateLimit>,
    /// `RowCount` of each `ProspectActivity.svc/Retrieve` page when searching a lead's activities.
    pub activity_page_size: u32,
    /// Upper bound on pages read by one activity search; reaching it is an error, never a silent
    /// "not found" (which would make the caller create a duplicate).
    pub max_activity_pages: u32,
}

impl LeadSquaredConfig {
    /// Production defaults: 15 s per attempt, 5 s to connect, [`CrmRetryPolicy::default`],
    /// [`RateLimit::default`] (LeadSquared's documented 25 calls every 5 seconds), activity
    /// pages of 100 rows and at most 50 of them.
    pub fn new(base_url: impl Into<String>, access_key: AccessKey, secret_key: SecretKey) -> Self {
        Self {
            base_url: base_url.into(),
            access_key,
            secret_key,
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            retry: CrmRetryPolicy::default(),
            rate_limit: Some(RateLimit::default()),
            activity_page_size: 100,
            max_activity_pages: 50,
        }
    }

    /// The same settings with another per-attempt timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The same settings with another retry policy.
    pub fn with_retry(mut self, retry: CrmRetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The same settings with another client-side rate limit (`None`: none).
    pub fn with_rate_limit(mut self, rate_limit: Option<RateLimit>) -> Self {
        self.rate_limit = rate_limit;
        self
    }
}
