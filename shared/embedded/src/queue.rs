//! A durable work queue in the database file: [`SqliteQueue`] implements `WorkQueue` and
//! `QueueConsumer` with SQS's semantics where the ports rely on them:
//!
//! - a received message is hidden for the visibility timeout, then delivered again with a higher
//!   `receive_count`, unless deleted (or released) first;
//! - messages with a `group_id` come out in send order, one group member at a time: while a
//!   group's oldest undeleted message is in flight (or released with a delay), nothing later of
//!   that group is delivered; other groups and ungrouped messages flow;
//! - a `dedup_id` seen on the same queue within the deduplication window (5 minutes from its first
//!   send, as SQS FIFO) drops the repeat;
//! - with [`QueueOptions::max_receives`], a message received that many times without being
//!   deleted is moved to the dead-letter table by the next receive that would deliver it; list,
//!   redrive or delete dead letters with the methods of [`SqliteQueue`].
//!
//! Time comes from the queue's [`Clock`], so tests move a `FixedClock` instead of sleeping.
//! Every operation is one `BEGIN IMMEDIATE` transaction.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::ports::{
    QueueConsumer, QueueError, QueueMessage, ReceivedMessage, WorkQueue,
};
use connector_domain::{Clock, SystemClock};
use rusqlite::{Connection, Transaction, params};

use crate::SqliteDb;
use crate::error::queue_err;
use crate::sqlite::sql_limit;
use crate::time::{add_millis, millis};

/// The deduplication window of SQS FIFO queues.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(5 * 60);

/// How a [`SqliteQueue`] behaves.
#[derive(Clone)]
pub struct QueueOptions {
    /// Receives allowed before a message is dead-lettered instead of delivered again (SQS's
    /// `maxReceiveCount`); `None` keeps redelivering for ever.
    pub max_receives: Option<u32>,
    /// How long a `dedup_id` is remembered (default [`DEDUP_WINDOW`]).
    pub dedup_window: Duration,
    /// The source of time for visibility, delays and deduplication.
    pub clock: Arc<dyn Clock>,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            max_receives: None,
            dedup_window: DEDUP_WINDOW,
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for QueueOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueOptions")
            .field("max_receives", &self.max_receives)
            .field("dedup_window", &self.dedup_window)
            .finish_non_exhaustive()
    }
}

impl QueueOptions {
    /// These options with a dead-letter threshold.
    pub fn max_receives(mut self, max_receives: u32) -> Self {
        self.max_receives = Some(max_receives);
        self
    }

    /// These options with another clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// A message moved to the dead-letter table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The message's id (kept when it is redriven).
    pub message_id: String,
    /// The payload (ids only, by the queue's contract).
    pub body: String,
    /// Its FIFO group, if any.
    pub group_id: Option<String>,
    /// How many times it was received.
    pub receive_count: u32,
    /// When it was first sent.
    pub sent_at: DateTime<Utc>,
    /// When it was dead-lettered.
    pub dead_at: DateTime<Utc>,
}

/// How many messages a queue holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Deliverable now (FIFO groups aside).
    pub visible: u64,
    /// Hidden: received and not yet deleted, or released with a delay.
    pub hidden: u64,
    /// In the dead-letter table.
    pub dead: u64,
}

/// One named queue in a [`SqliteDb`]'s file. Get it with [`SqliteDb::queue`].
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: SqliteDb,
    name: Arc<str>,
    options: QueueOptions,
    /// Notified on every send that adds a message (see [`QueueConsumer::wait_for_messages`]).
    sent: Arc<tokio::sync::Notify>,
}

struct Candidate {
    id: i64,
    message_id: String,
    body: String,
    receive_count: u32,
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl SqliteQueue {
    pub(crate) fn new(db: SqliteDb, name: &str, options: QueueOptions) -> Self {
        Self {
            sent: db.queue_waker(name),
            db,
            name: Arc::from(name),
            options,
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn now(&self) -> i64 {
        millis(self.options.clock.now())
    }

    /// Runs `f` in one write transaction with the queue's name and the time in milliseconds,
    /// read from the clock once the write lock is held (so no timer is set in the past).
    async fn write_at<T, F>(&self, f: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &str, i64) -> Result<T, QueueError> + Send + 'static,
    {
        let (queue, clock) = (Arc::clone(&self.name), Arc::clone(&self.options.clock));
        self.db
            .write(move |tx| f(tx, &queue, millis(clock.now())))
            .await
    }

    /// The oldest dead letters, at most `limit`.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let queue = Arc::clone(&self.name);
        self.db
            .read(move |tx| {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT message_id, body, group_id, receive_count, sent_at, dead_at \
                         FROM queue_dead_letters WHERE queue = ?1 ORDER BY id LIMIT ?2",
                    )
                    .map_err(queue_err)?;
                let rows = stmt
                    .query_map(params![&*queue, sql_limit(limit)], |row| {
                        Ok(DeadLetter {
                            message_id: row.get(0)?,
                            body: row.get(1)?,
                            group_id: row.get(2)?,
                            receive_count: row.get(3)?,
                            sent_at: from_millis(row.get(4)?),
                            dead_at: from_millis(row.get(5)?),
                        })
                    })
                    .map_err(queue_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(queue_err)
            })
            .await
    }

    /// Moves dead letters back onto the queue, behind the messages already there, visible at once
    /// and with their receive count reset: those in `message_ids`, or all when `None`. Returns
    /// how many moved.
    pub async fn redrive(&self, message_ids: Option<&[String]>) -> Result<usize, QueueError> {
        let ids = message_ids.map(<[String]>::to_vec);
        let moved = self
            .write_at(move |tx, queue, now| {
                let ids: Vec<String> = match ids {
                    Some(ids) => ids,
                    None => {
                        let mut stmt = tx
                            .prepare_cached("SELECT message_id FROM queue_dead_letters WHERE queue = ?1 ORDER BY id")
                            .map_err(queue_err)?;
                        let rows = stmt.query_map([queue], |row| row.get(0)).map_err(queue_err)?;
                        rows.collect::<Result<Vec<String>, _>>().map_err(queue_err)?
                    }
                };
                let mut moved = 0;
                for id in ids {
                    let inserted = tx
                        .prepare_cached(
                            "INSERT INTO queue_messages (queue, message_id, body, group_id, dedup_id, sent_at, visible_at) \
                             SELECT queue, message_id, body, group_id, dedup_id, sent_at, ?3 \
                             FROM queue_dead_letters WHERE queue = ?1 AND message_id = ?2",
                        )
                        .and_then(|mut stmt| stmt.execute(params![queue, id, now]))
                        .map_err(queue_err)?;
                    if inserted == 1 {
                        tx.prepare_cached("DELETE FROM queue_dead_letters WHERE queue = ?1 AND message_id = ?2")
                            .and_then(|mut stmt| stmt.execute(params![queue, id]))
                            .map_err(queue_err)?;
                        moved += 1;
                    }
                }
                Ok(moved)
            })
            .await?;
        tracing::info!(queue = %self.name, moved, "dead letters redriven");
        Ok(moved)
    }

    /// Deletes one dead letter for good; returns whether it existed.
    pub async fn delete_dead_letter(&self, message_id: &str) -> Result<bool, QueueError> {
        let queue = Arc::clone(&self.name);
        let message_id = message_id.to_owned();
        let deleted = self
            .db
            .write(move |tx| {
                tx.prepare_cached(
                    "DELETE FROM queue_dead_letters WHERE queue = ?1 AND message_id = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![&*queue, message_id]))
                .map_err(queue_err)
            })
            .await?;
        Ok(deleted > 0)
    }

    /// How many messages are visible, hidden and dead.
    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        let queue = Arc::clone(&self.name);
        let now = self.now();
        self.db
            .read(move |tx| {
                let (visible, hidden): (i64, i64) = tx
                    .prepare_cached(
                        "SELECT COALESCE(SUM(visible_at <= ?2), 0), COALESCE(SUM(visible_at > ?2), 0) \
                         FROM queue_messages WHERE queue = ?1",
                    )
                    .and_then(|mut stmt| stmt.query_row(params![&*queue, now], |row| Ok((row.get(0)?, row.get(1)?))))
                    .map_err(queue_err)?;
                let dead: i64 = tx
                    .prepare_cached("SELECT COUNT(*) FROM queue_dead_letters WHERE queue = ?1")
                    .and_then(|mut stmt| stmt.query_row([&*queue], |row| row.get(0)))
                    .map_err(queue_err)?;
                let count = |n: i64| u64::try_from(n).unwrap_or_default();
                Ok(QueueStats { visible: count(visible), hidden: count(hidden), dead: count(dead) })
            })
            .await
    }
}

/// Up to `limit` deliverable messages: visible, and either ungrouped or the oldest undeleted
/// message of their group.
fn candidates(
    conn: &Connection,
    queue: &str,
    now: i64,
    limit: usize,
) -> Result<Vec<Candidate>, QueueError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT m.id, m.message_id, m.body, m.receive_count FROM queue_messages AS m \
             WHERE m.queue = ?1 AND m.visible_at <= ?2 \
             AND (m.group_id IS NULL OR NOT EXISTS ( \
                 SELECT 1 FROM queue_messages AS o \
                 WHERE o.queue = m.queue AND o.group_id = m.group_id AND o.id < m.id)) \
             ORDER BY m.id LIMIT ?3",
        )
        .map_err(queue_err)?;
    let rows = stmt
        .query_map(params![queue, now, sql_limit(limit)], |row| {
            Ok(Candidate {
                id: row.get(0)?,
                message_id: row.get(1)?,
                body: row.get(2)?,
                receive_count: row.get(3)?,
            })
        })
        .map_err(queue_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(queue_err)
}

fn dead_letter(conn: &Connection, id: i64, now: i64) -> Result<(), QueueError> {
    conn.prepare_cached(
        "INSERT INTO queue_dead_letters \
         (queue, message_id, body, group_id, dedup_id, sent_at, receive_count, dead_at) \
         SELECT queue, message_id, body, group_id, dedup_id, sent_at, receive_count, ?2 \
         FROM queue_messages WHERE id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![id, now]))
    .map_err(queue_err)?;
    conn.prepare_cached("DELETE FROM queue_messages WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([id]))
        .map_err(queue_err)?;
    Ok(())
}

#[async_trait]
impl WorkQueue for SqliteQueue {
    async fn send_batch(&self, messages: &[QueueMessage]) -> Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        let messages = messages.to_vec();
        let window = self.options.dedup_window;
        let (sent, dropped) = self
            .write_at(move |tx, queue, now| {
                let dedup_until = add_millis(now, window);
                tx.prepare_cached("DELETE FROM queue_dedup WHERE queue = ?1 AND expires_at <= ?2")
                    .and_then(|mut stmt| stmt.execute(params![queue, now]))
                    .map_err(queue_err)?;
                let (mut sent, mut dropped) = (0usize, 0usize);
                for message in messages {
                    if let Some(dedup_id) = &message.dedup_id {
                        let fresh = tx
                            .prepare_cached(
                                "INSERT INTO queue_dedup (queue, dedup_id, expires_at) VALUES (?1, ?2, ?3) \
                                 ON CONFLICT (queue, dedup_id) DO NOTHING",
                            )
                            .and_then(|mut stmt| stmt.execute(params![queue, dedup_id, dedup_until]))
                            .map_err(queue_err)?;
                        if fresh == 0 {
                            dropped += 1;
                            continue;
                        }
                    }
                    tx.prepare_cached(
                        "INSERT INTO queue_messages (queue, message_id, body, group_id, dedup_id, sent_at, visible_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    )
                    .and_then(|mut stmt| {
                        stmt.execute(params![
                            queue,
                            uuid::Uuid::now_v7().to_string(),
                            message.body,
                            message.group_id,
                            message.dedup_id,
                            now
                        ])
                    })
                    .map_err(queue_err)?;
                    sent += 1;
                }
                Ok((sent, dropped))
            })
            .await?;
        tracing::debug!(queue = %self.name, sent, dropped, "messages sent");
        if sent > 0 {
            // Wakes one idle consumer now, or the next one to wait (a stored permit).
            self.sent.notify_one();
        }
        Ok(())
    }
}

#[async_trait]
impl QueueConsumer for SqliteQueue {
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let max_receives = self.options.max_receives;
        let (received, dead) = self
            .write_at(move |tx, queue, now| {
                let hidden_until = add_millis(now, visibility);
                let mut received = Vec::new();
                let mut dead = 0usize;
                loop {
                    let batch = candidates(tx, queue, now, max - received.len())?;
                    let mut moved = false;
                    for c in batch {
                        if max_receives.is_some_and(|limit| c.receive_count >= limit) {
                            dead_letter(tx, c.id, now)?;
                            dead += 1;
                            moved = true;
                            continue;
                        }
                        let receipt = uuid::Uuid::new_v4().to_string();
                        tx.prepare_cached(
                            "UPDATE queue_messages SET visible_at = ?2, receive_count = receive_count + 1, \
                             receipt = ?3 WHERE id = ?1",
                        )
                        .and_then(|mut stmt| stmt.execute(params![c.id, hidden_until, receipt]))
                        .map_err(queue_err)?;
                        received.push(ReceivedMessage {
                            message_id: c.message_id,
                            receipt,
                            body: c.body,
                            receive_count: c.receive_count.saturating_add(1),
                        });
                    }
                    // Dead-lettering freed room in this receive and may have unblocked a group:
                    // look again. Otherwise the query already returned every candidate it could.
                    if !moved || received.len() == max {
                        break;
                    }
                }
                Ok((received, dead))
            })
            .await?;
        if dead > 0 {
            tracing::warn!(queue = %self.name, dead, "messages moved to the dead-letter table");
        }
        tracing::debug!(queue = %self.name, count = received.len(), "messages received");
        Ok(received)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let queue = Arc::clone(&self.name);
        let receipt = receipt.to_owned();
        let deleted = self
            .db
            .write(move |tx| {
                tx.prepare_cached("DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2")
                    .and_then(|mut stmt| stmt.execute(params![&*queue, receipt]))
                    .map_err(queue_err)
            })
            .await?;
        tracing::debug!(queue = %self.name, deleted, "message deleted");
        Ok(())
    }

    async fn release(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        let receipt = receipt.to_owned();
        let released = self
            .write_at(move |tx, queue, now| {
                let visible_at = add_millis(now, delay);
                tx.prepare_cached(
                    "UPDATE queue_messages SET visible_at = ?3, receipt = NULL WHERE queue = ?1 AND receipt = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![queue, receipt, visible_at]))
                .map_err(queue_err)
            })
            .await?;
        tracing::debug!(queue = %self.name, released, "message released");
        Ok(())
    }

    /// Returns when a send to this queue (through any `SqliteQueue` of this name on this
    /// database handle) added a message, or after `at_most`.
    async fn wait_for_messages(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.sent.notified()).await;
    }
}
