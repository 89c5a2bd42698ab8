//! The queue worker of hosts that pull their own work (`connector serve`), generic over the job:
//! receive a batch, hand it to the job, delete what it is done with and release what it keeps
//! (with the delay it asks for), and when the queue has nothing visible, wait on the queue
//! itself ([`QueueConsumer::wait_for_messages`]) so a send wakes it. On Lambda, the SQS trigger
//! receives and `crate::lambda` reports what the job keeps.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_domain::ports::{QueueConsumer, QueueError, ReceivedMessage};

use crate::Context;

/// How many messages one receive asks for (SQS's maximum).
pub const BATCH_SIZE: usize = 10;

/// One queue message as a job sees it, whichever host delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// The queue's id for the message (reported back when it is kept).
    pub message_id: String,
    /// The body (ids only).
    pub body: String,
    /// How many times it has been delivered, this time included.
    pub receive_count: u32,
    /// Its FIFO group, when the host knows it (SQS events do; the embedded queue hands out one
    /// message per group at a time, so it need not say).
    pub group: Option<String>,
}

impl From<&ReceivedMessage> for QueuedMessage {
    fn from(message: &ReceivedMessage) -> Self {
        Self {
            message_id: message.message_id.clone(),
            body: message.body.clone(),
            receive_count: message.receive_count,
            group: None,
        }
    }
}

/// A message the job keeps for a later delivery, and how long it stays hidden first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The queue's id for the message.
    pub message_id: String,
    /// The backoff before it is delivered again.
    pub delay: Duration,
}

/// A job that works a queue in batches (the HIE sender, the EHR delivery).
#[async_trait]
pub trait BatchJob: Send + Sync {
    /// For logs: what the queue is.
    fn queue_name(&self) -> &'static str;

    /// The queue's consumer side in `ctx` (`None`: this host does not pull this queue).
    fn consumer<'c>(&self, ctx: &'c Context) -> Option<&'c Arc<dyn QueueConsumer>>;

    /// How long a received message stays hidden while the job works on it.
    fn visibility(&self) -> Duration;

    /// Handles a batch in order; returns the messages to keep. Every other one is done.
    async fn handle_batch(&self, ctx: &Context, batch: &[QueuedMessage]) -> Vec<Kept>;
}

/// Receives one batch for `job`, handles it, deletes what is done and releases what is kept
/// with its delay. Returns how many messages it received (0 when the queue had nothing
/// visible, or this host has no consumer for it).
///
/// # Errors
/// The queue failed.
pub async fn drain_once(ctx: &Context, job: &dyn BatchJob) -> Result<usize, QueueError> {
    let Some(consumer) = job.consumer(ctx) else {
        return Ok(0);
    };
    let received = consumer.receive(BATCH_SIZE, job.visibility()).await?;
    let batch: Vec<QueuedMessage> = received.iter().map(QueuedMessage::from).collect();
    let kept = job.handle_batch(ctx, &batch).await;
    for message in &received {
        match kept.iter().find(|k| k.message_id == message.message_id) {
            Some(kept) => consumer.release(&message.receipt, kept.delay).await?,
            None => consumer.delete(&message.receipt).await?,
        }
    }
    Ok(received.len())
}

/// Runs [`drain_once`] until `stop` turns true. When the queue has nothing visible (or fails),
/// it waits `idle`, or less: until a message is sent to the queue in this process.
pub async fn run(
    ctx: Arc<Context>,
    job: impl BatchJob,
    idle: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let pause = match drain_once(&ctx, &job).await {
            Ok(0) => idle,
            Ok(_) => Duration::ZERO,
            Err(err) => {
                tracing::error!(queue = job.queue_name(), error.chain = %crate::telemetry::error_chain(&err), "queue unavailable");
                idle
            }
        };
        if pause.is_zero() {
            continue;
        }
        let Some(consumer) = job.consumer(&ctx) else {
            // Nothing to pull on this host: only the stop signal matters.
            let _ = stop.changed().await;
            return;
        };
        tokio::select! {
            () = consumer.wait_for_messages(pause) => {}
            _ = stop.changed() => {}
        }
    }
}
