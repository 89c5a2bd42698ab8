//! Client-side pacing so one process stays under LeadSquared's per-account request limit.
//!
//! LeadSquared limits API calls per 5-second window by subscription plan
//! (<https://apidocs.leadsquared.com/rate-limits/>; current page: Pro 10 and Super 20 calls every
//! 5 seconds; an older revision lists Lite 2, Pro 5, Super/Basic 10, Standard 15, Enterprise 25; the
//! endpoint pages' 429 row reads "API calls exceeded the limit of 25 in 5 second(s)"). The limit is
//! per account, so several processes sharing the keys share it: this limiter only paces its own
//! process, and the server's 429 (handled by [`crate::retry`]) remains the authority.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// At most `requests` request starts in any sliding window of `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window (at least 1).
    pub requests: u32,
    /// The window.
    pub window: Duration,
}

impl RateLimit {
    /// `requests` calls every 5 seconds, the unit LeadSquared documents its plans in.
    pub fn per_5_seconds(requests: u32) -> Self {
        Self {
            requests,
            window: Duration::from_secs(5),
        }
    }
}

impl Default for RateLimit {
    /// LeadSquared's Pro plan: 10 calls every 5 seconds.
    fn default() -> Self {
        Self::per_5_seconds(10)
    }
}

/// A sliding-window limiter: it remembers the start times (possibly in the future, for callers
/// still waiting) of the last `requests` admitted calls; a new call starts no earlier than one
/// window after the oldest of them. Exact for "N per any window", fair in arrival order.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: RateLimit,
    starts: Mutex<VecDeque<Instant>>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let capacity = limit.requests.max(1) as usize;
        Self {
            limit,
            starts: Mutex::new(VecDeque::with_capacity(capacity)),
        }
    }

    /// Waits until a request may start, and accounts for it. Returns how long it waited.
    pub(crate) async fn acquire(&self) -> Duration {
        let now = Instant::now();
        let start = {
            let mut starts = self.starts.lock().await;
            let capacity = self.limit.requests.max(1) as usize;
            let start = if starts.len() < capacity {
                now
            } else {
                let oldest = starts.pop_front().unwrap_or(now);
                (oldest + self.limit.window).max(now)
            };
            starts.push_back(start);
            start
        };
        tokio::time::sleep_until(start).await;
        start.saturating_duration_since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn admits_n_per_window_then_paces() {
        let limiter = Limiter::new(RateLimit {
            requests: 3,
            window: Duration::from_secs(5),
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.acquire().await, Duration::ZERO);
        }
        limiter.acquire().await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(5));
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(5));
        limiter.acquire().await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_never_exceed_the_window() {
        let limiter = std::sync::Arc::new(Limiter::new(RateLimit::per_5_seconds(2)));
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                limiter.acquire().await;
                Instant::now() - t0
            }));
        }
        let mut starts = Vec::new();
        for task in tasks {
            starts.push(task.await.unwrap());
        }
        starts.sort();
        for (i, start) in starts.iter().enumerate().skip(2) {
            assert!(
                *start >= starts[i - 2] + Duration::from_secs(5),
                "{starts:?}"
            );
        }
    }
}
