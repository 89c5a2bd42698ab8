//! Retrying LeadSquared calls: exponential backoff with jitter, `Retry-After`, an attempt cap and a
//! time budget.
//!
//! What may be retried depends on what the server may already have done:
//! - **429** means LeadSquared refused the call without processing it ("will throw an API rate
//!   limit exception and will stop processing any more requests", rate-limits page): every call
//!   is retried, honouring `Retry-After` when present (LeadSquared does not document one; proxies
//!   in front of it may send one).
//! - **Connection failures** mean nothing was sent: every call is retried.
//! - **5xx, timeouts and broken exchanges** may come after the request was applied. Only
//!   idempotent calls (searches, and updates that set fields to given values) are retried. Creates are **never** retried then: creating a lead or an activity twice is worse
//!   than failing, and the caller's next run searches before it creates.

use std::future::Future;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use connector_domain::crm::CrmError;
use tokio::time::Instant;

/// How hard to retry one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrmRetryPolicy {
    /// Attempts in total, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubled for each further retry.
    pub initial_backoff: Duration,
    /// Ceiling of the computed backoff (a server's `Retry-After` may exceed it).
    pub max_backoff: Duration,
    /// Total time a call may spend, waits included: a retry whose wait would end past the budget
    /// is not made, and the last error is returned instead.
    pub budget: Duration,
}

impl Default for CrmRetryPolicy {
    /// 4 attempts, 1 s initial backoff doubling to at most 8 s, within 30 s. LeadSquared counts
    /// limits per 5-second window, so waiting a few seconds is what clears a 429.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            budget: Duration::from_secs(30),
        }
    }
}

impl CrmRetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff before retry number `retry` (1-based): `initial * 2^(retry-1)`, capped, then
    /// "equal jitter" (a random point in its upper half) so concurrent callers spread out.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let full = self
            .initial_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff);
        let half = full / 2;
        half + half.mul_f64(jitter_fraction())
    }
}

/// Whether repeating a call after it may have been applied is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Searches, and updates that set fields to given values.
    Idempotent,
    /// Creates.
    NonIdempotent,
}

/// The outcome of one failed attempt, as the retry loop sees it.
#[derive(Debug)]
pub(crate) enum Failure {
    /// LeadSquared answered 429; `retry_after` is its `Retry-After`, if any.
    RateLimited { retry_after: Option<Duration> },
    /// Nothing was sent (connection failure): always safe to retry.
    NotSent(CrmError),
    /// The request may have been applied (5xx, timeout, broken exchange): retried only when
    /// idempotent.
    MaybeApplied(CrmError),
    /// Retrying cannot help (4xx, `Status: Error`, unparseable answer).
    Permanent(CrmError),
}

/// Runs `attempt` (given the 1-based attempt number) until it succeeds, fails permanently, or the
/// policy's attempts or budget run out. `endpoint` names the call in logs.
pub(crate) async fn run<T, F, Fut>(
    policy: &CrmRetryPolicy,
    idempotency: Idempotency,
    endpoint: &'static str,
    mut attempt: F,
) -> Result<T, CrmError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let started = Instant::now();
    let max_attempts = policy.max_attempts.max(1);
    let mut number = 1;
    loop {
        let failure = match attempt(number).await {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        let (error, wait) = match failure {
            Failure::RateLimited { retry_after } => (
                CrmError::RateLimited,
                retry_after.unwrap_or_else(|| policy.backoff(number)),
            ),
            Failure::NotSent(error) => (error, policy.backoff(number)),
            Failure::MaybeApplied(error) if idempotency == Idempotency::Idempotent => {
                (error, policy.backoff(number))
            }
            Failure::MaybeApplied(error) => {
                tracing::warn!(
                    endpoint,
                    attempt = number,
                    "LeadSquared call failed after it may have been applied; not retried (not idempotent)"
                );
                return Err(error);
            }
            Failure::Permanent(error) => return Err(error),
        };
        if number >= max_attempts {
            tracing::warn!(
                endpoint,
                attempts = number,
                "LeadSquared call failed; attempts exhausted"
            );
            return Err(error);
        }
        if started.elapsed() + wait > policy.budget {
            tracing::warn!(
                endpoint,
                attempts = number,
                wait_ms = wait.as_millis() as u64,
                "LeadSquared call failed; retry would exceed the time budget"
            );
            return Err(error);
        }
        tracing::info!(
            endpoint,
            attempt = number,
            wait_ms = wait.as_millis() as u64,
            rate_limited = matches!(error, CrmError::RateLimited),
            "retrying LeadSquared call"
        );
        tokio::time::sleep(wait).await;
        number += 1;
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). A date in the
/// past means "now".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    let now: DateTime<Utc> = now.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// A pseudo-random fraction in [0, 1) for jitter; quality is irrelevant, independence across
/// callers is all that matters.
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy() -> CrmRetryPolicy {
        CrmRetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            budget: Duration::from_secs(10),
        }
    }

    #[test]
    fn backoff_doubles_within_jitter_and_cap() {
        let p = policy();
        for (retry, full) in [(1, 100), (2, 200), (3, 400), (4, 400), (30, 400)] {
            let b = p.backoff(retry);
            assert!(
                b >= Duration::from_millis(full / 2) && b <= Duration::from_millis(full),
                "{retry}: {b:?}"
            );
        }
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[tokio::test(start_paused = true)]
    async fn maybe_applied_is_retried_only_when_idempotent() {
        for (idempotency, expected) in [
            (Idempotency::Idempotent, 4),
            (Idempotency::NonIdempotent, 1),
        ] {
            let calls = AtomicU32::new(0);
            let result: Result<(), _> = run(&policy(), idempotency, "test", |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(Failure::MaybeApplied(CrmError::InvalidResponse)) }
            })
            .await;
            assert!(result.is_err());
            assert_eq!(calls.load(Ordering::SeqCst), expected);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_honours_retry_after_and_budget() {
        let start = Instant::now();
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = run(&policy(), Idempotency::NonIdempotent, "test", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err(Failure::RateLimited {
                    retry_after: Some(Duration::from_secs(4)),
                })
            }
        })
        .await;
        assert!(matches!(result, Err(CrmError::RateLimited)));
        // 0 s, 4 s, 8 s; a third wait would end at 12 s > 10 s budget.
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(start.elapsed(), Duration::from_secs(8));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = run(&policy(), Idempotency::Idempotent, "test", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Failure::Permanent(CrmError::InvalidResponse)) }
        })
        .await;
        assert!(matches!(result, Err(CrmError::InvalidResponse)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
