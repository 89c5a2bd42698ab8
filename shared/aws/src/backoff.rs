//! The doubling wait between the attempts at a batch request that AWS partly refused
//! (BatchGetItem's unprocessed keys, SendMessageBatch's failed entries).

use std::time::Duration;

/// Doubling waits, from a first one; one per batch request.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    /// Waits of `first`, then twice as long each time.
    pub fn starting_at(first: Duration) -> Self {
        Self { next: first }
    }

    /// Logs (at debug: `what`, the `attempt` that just ended and how many entries it left
    /// `remaining`, no data) and waits before the next attempt; the wait after it is twice as
    /// long.
    pub async fn wait(&mut self, what: &'static str, attempt: u32, remaining: usize) {
        tracing::debug!(remaining, attempt, "{what}");
        tokio::time::sleep(self.next).await;
        self.next *= 2;
    }
}
