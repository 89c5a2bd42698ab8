//! Client-side pacing so one process stays under LeadSquared's per-account request limit.
//!
//! LeadSquared limits API calls per 5-second window by subscription plan
//! (<https://apidocs.leadsquared.com/rate-limits/>: one revision lists Lite 2, Pro 5,
//! Super/Basic 10, Standard 15, Enterprise 25 requests per 5 seconds, another Pro 10 and Super 20;
//! the endpoint pages' 429 row reads "API calls exceeded the limit of 25 in 5 second(s)"). The
//! default is those 25 calls per 5 seconds; set the account's own plan with
//! `LEADSQUARED_RATE_LIMIT` (`"10/5s"`, see [`RateLimit`]'s `FromStr`). The limit is per
//! account, so several processes sharing the keys share it: this limiter only paces its own
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
    /// LeadSquared's documented 25 calls every 5 seconds.
    fn default() -> Self {
        Self::per_5_seconds(25)
    }
}

/// Why a rate limit setting was refused (it never holds the setting's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a rate limit is written <calls>/<seconds>s with both at least 1, e.g. 25/5s")]
pub struct RateLimitParseError;

impl std::str::FromStr for RateLimit {
    type Err = RateLimitParseError;

    /// `"25/5s"`: 25 calls in any 5 seconds (`"25/5"` too; white space is ignored).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let (calls, window) = text.split_once('/').ok_or(RateLimitParseError)?;
        let window = window.strip_suffix(['s', 'S']).unwrap_or(window);
        let requests: u32 = calls.parse().map_err(|_| RateLimitParseError)?;
        let seconds: u64 = window.parse().map_err(|_| RateLimitParseError)?;
        if requests == 0 || seconds == 0 || seconds > 3600 {
            return Err(RateLimitParseError);
        }
        Ok(Self {
            requests,
            window: Duration::from_secs(seconds),
        })
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}s", self.requests, self.window.as_secs())
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

    #[test]
    fn the_setting_reads_calls_per_seconds() {
        assert_eq!(RateLimit::default(), RateLimit::per_5_seconds(25));
        assert_eq!("25/5s".parse(), Ok(RateLimit::per_5_seconds(25)));
        assert_eq!(" 10 / 5 ".parse(), Ok(RateLimit::per_5_seconds(10)));
        assert_eq!(
            "2/1s".parse(),
            Ok(RateLimit {
                requests: 2,
                window: Duration::from_secs(1)
            })
        );
        for bad in ["", "25", "0/5s", "25/0s", "x/5s", "25/5m", "-1/5s"] {
            assert_eq!(bad.parse::<RateLimit>(), Err(RateLimitParseError), "{bad}");
        }
        assert_eq!(RateLimit::per_5_seconds(25).to_string(), "25/5s");
    }

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
