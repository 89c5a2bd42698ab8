//! One issuer's signing keys, cached. Keys are fetched on first use, again when older than the
//! maximum age, and again when a token names a key the cache does not hold (a rotation) — but
//! at most once per refresh interval, so tokens with invented key ids cannot make the connector
//! hammer the identity provider. One fetch runs at a time; requests arriving meanwhile wait for
//! its result instead of fetching too. When a fetch fails, keys already held are still used.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use tokio::sync::Mutex;

use super::discovery::FetchError;

/// At most one fetch per issuer in this interval (by default; `connector serve
/// --oidc-refresh-seconds`).
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Keys older than this are fetched again before use (still used if that fails).
pub const MAX_AGE: Duration = Duration::from_secs(3600);

/// Where keys come from (the identity provider over HTTP; a stand-in in unit tests).
#[async_trait::async_trait]
pub trait KeySource: Send + Sync {
    /// The current key set.
    async fn fetch(&self) -> Result<JwkSet, FetchError>;
}

/// Why no key could be found for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The key set holds no key with the token's `kid` (also after a refetch, or a refetch was
    /// made too recently to try again).
    Unknown,
    /// The token names no `kid` and the key set holds more than one key.
    NoKeyId,
    /// No key set could be fetched and none is cached.
    Unavailable,
}

struct Cached {
    keys: JwkSet,
    fetched: Instant,
}

/// The cached key set of one issuer.
pub struct KeyCache {
    source: Box<dyn KeySource>,
    cached: RwLock<Option<Cached>>,
    /// When the last fetch started; held while fetching, so fetches never overlap.
    last_fetch: Mutex<Option<Instant>>,
    refresh_interval: Duration,
    max_age: Duration,
}

impl KeyCache {
    /// A cache over `source` with the default interval and maximum age.
    pub fn new(source: Box<dyn KeySource>) -> Self {
        Self::with_timing(source, REFRESH_INTERVAL, MAX_AGE)
    }

    /// A cache with its own refresh interval and maximum age.
    pub fn with_timing(
        source: Box<dyn KeySource>,
        refresh_interval: Duration,
        max_age: Duration,
    ) -> Self {
        Self {
            source,
            cached: RwLock::new(None),
            last_fetch: Mutex::new(None),
            refresh_interval,
            max_age,
        }
    }

    /// The key named `kid` (or the only key, for a token without `kid`).
    pub async fn key(&self, kid: Option<&str>) -> Result<Jwk, KeyError> {
        if let Some(found) = self.lookup(kid, true) {
            return found;
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(found) = self.lookup(kid, true) {
            return found;
        }
        let now = Instant::now();
        let may_fetch = last_fetch.is_none_or(|at| now.duration_since(at) >= self.refresh_interval);
        if may_fetch {
            *last_fetch = Some(now);
            match self.source.fetch().await {
                Ok(keys) => {
                    let mut cached = self.cached.write().unwrap_or_else(|e| e.into_inner());
                    *cached = Some(Cached {
                        keys,
                        fetched: Instant::now(),
                    });
                }
                Err(error) => {
                    tracing::warn!(
                        error.chain = %crate::telemetry::error_chain(&error),
                        "cannot fetch the identity provider's keys"
                    );
                    // Stale keys still verify tokens signed before a rotation.
                    return match self.lookup(kid, false) {
                        Some(Ok(key)) => Ok(key),
                        _ => Err(KeyError::Unavailable),
                    };
                }
            }
        }
        match self.lookup(kid, false) {
            Some(found) => found,
            None => Err(KeyError::Unavailable),
        }
    }

    /// The answer the cached keys give, if any: `None` when nothing is cached (or, with
    /// `fresh_only`, when the keys are too old or lack `kid`, so a fetch should be tried).
    fn lookup(&self, kid: Option<&str>, fresh_only: bool) -> Option<Result<Jwk, KeyError>> {
        let cached = self.cached.read().unwrap_or_else(|e| e.into_inner());
        let cached = cached.as_ref()?;
        if fresh_only && cached.fetched.elapsed() >= self.max_age {
            return None;
        }
        let found = match kid {
            Some(kid) => cached.keys.find(kid).cloned().ok_or(KeyError::Unknown),
            None => match cached.keys.keys.as_slice() {
                [only] => Ok(only.clone()),
                _ => Err(KeyError::NoKeyId),
            },
        };
        match found {
            Err(KeyError::Unknown) if fresh_only => None,
            found => Some(found),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Serves the key ids in `kids` (changeable), counting fetches; fails while `down`.
    struct Counting {
        fetches: Arc<AtomicUsize>,
        kids: Arc<std::sync::Mutex<Vec<&'static str>>>,
        down: Arc<std::sync::atomic::AtomicBool>,
    }

    #[async_trait::async_trait]
    impl KeySource for Counting {
        async fn fetch(&self) -> Result<JwkSet, FetchError> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.down.load(Ordering::SeqCst) {
                return Err(FetchError::Status(503));
            }
            let keys = self
                .kids
                .lock()
                .unwrap()
                .iter()
                .map(|kid| {
                    serde_json::from_value(serde_json::json!({
                        "kty": "EC", "crv": "P-256", "kid": kid,
                        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
                    }))
                    .unwrap()
                })
                .collect();
            Ok(JwkSet { keys })
        }
    }

    struct Fixture {
        cache: Arc<KeyCache>,
        fetches: Arc<AtomicUsize>,
        kids: Arc<std::sync::Mutex<Vec<&'static str>>>,
        down: Arc<std::sync::atomic::AtomicBool>,
    }

    fn fixture(kids: Vec<&'static str>, interval: Duration, max_age: Duration) -> Fixture {
        let fetches = Arc::new(AtomicUsize::new(0));
        let kids = Arc::new(std::sync::Mutex::new(kids));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let source = Counting {
            fetches: Arc::clone(&fetches),
            kids: Arc::clone(&kids),
            down: Arc::clone(&down),
        };
        Fixture {
            cache: Arc::new(KeyCache::with_timing(Box::new(source), interval, max_age)),
            fetches,
            kids,
            down,
        }
    }

    #[tokio::test]
    async fn concurrent_first_requests_fetch_once() {
        let f = fixture(vec!["a"], REFRESH_INTERVAL, MAX_AGE);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let cache = Arc::clone(&f.cache);
                tokio::spawn(async move { cache.key(Some("a")).await })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().is_ok());
        }
        assert_eq!(f.fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn unknown_kids_refetch_at_most_once_per_interval() {
        let f = fixture(vec!["a"], Duration::from_millis(300), MAX_AGE);
        assert!(f.cache.key(Some("a")).await.is_ok());
        // A rotation: the first unknown kid refetches and finds the new key.
        f.kids.lock().unwrap().push("b");
        // ...but not within the interval of the first fetch.
        assert_eq!(f.cache.key(Some("b")).await, Err(KeyError::Unknown));
        assert_eq!(f.fetches.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(f.cache.key(Some("b")).await.is_ok());
        assert_eq!(f.fetches.load(Ordering::SeqCst), 2);
        // Invented kids, many times: no fetch within the interval.
        for _ in 0..10 {
            assert_eq!(f.cache.key(Some("zz")).await, Err(KeyError::Unknown));
        }
        assert_eq!(f.fetches.load(Ordering::SeqCst), 2);
        // Known keys are answered from the cache meanwhile.
        assert!(f.cache.key(Some("a")).await.is_ok());
        assert_eq!(f.fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_down_provider_is_unavailable_without_keys_and_stale_keys_still_serve() {
        let f = fixture(
            vec!["a"],
            Duration::from_millis(100),
            Duration::from_millis(100),
        );
        f.down.store(true, Ordering::SeqCst);
        assert_eq!(f.cache.key(Some("a")).await, Err(KeyError::Unavailable));
        // Rate-limited: no second request to a provider that just failed.
        assert_eq!(f.cache.key(Some("a")).await, Err(KeyError::Unavailable));
        assert_eq!(f.fetches.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        f.down.store(false, Ordering::SeqCst);
        assert!(f.cache.key(Some("a")).await.is_ok());
        // Keys past their age are fetched again; when that fails they are still used.
        tokio::time::sleep(Duration::from_millis(150)).await;
        f.down.store(true, Ordering::SeqCst);
        assert!(f.cache.key(Some("a")).await.is_ok());
        assert_eq!(f.fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_token_without_kid_uses_the_only_key() {
        let f = fixture(vec!["a"], REFRESH_INTERVAL, MAX_AGE);
        assert!(f.cache.key(None).await.is_ok());
        let f = fixture(vec!["a", "b"], REFRESH_INTERVAL, MAX_AGE);
        assert_eq!(f.cache.key(None).await, Err(KeyError::NoKeyId));
    }
}
