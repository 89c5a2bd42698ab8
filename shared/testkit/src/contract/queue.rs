//! `WorkQueue` + `QueueConsumer` cases. Standard-queue cases assert no ordering (SQS does not
//! promise any); FIFO cases assert per-group order, head-of-group blocking and deduplication.
//! Visibility is tested with 1-second timeouts and real sleeps (SQS counts in whole seconds).

use std::collections::BTreeSet;
use std::time::Duration;

use connector_domain::ports::{QueueConsumer, QueueMessage, ReceivedMessage};

use super::{Case, QueuePair, cases};
use crate::fixtures::{fifo_message, queue_message};

pub(super) fn standard_cases() -> Vec<Case<QueuePair>> {
    cases![
        queue_empty_receive_returns_nothing,
        queue_each_message_is_received_once,
        queue_hidden_until_visibility_timeout_then_redelivered,
        queue_release_makes_visible_after_delay,
        queue_wait_for_messages_ends_by_its_limit,
    ]
}

pub(super) fn fifo_cases() -> Vec<Case<QueuePair>> {
    cases![
        fifo_groups_keep_send_order,
        fifo_group_waits_while_its_head_is_in_flight,
        fifo_released_head_is_redelivered_before_the_rest,
        fifo_dedup_id_drops_repeats,
    ]
}

/// Long enough that nothing reappears during a case.
const LONG: Duration = Duration::from_secs(30);
/// The short visibility timeout the timing cases wait out.
const SHORT: Duration = Duration::from_secs(1);
/// Sleeping this long lets a `SHORT` timeout pass with margin.
const PAST_SHORT: Duration = Duration::from_millis(1_600);

/// Receives (up to 10 at a time) and deletes each message as it arrives, until `want` arrived
/// or 100 receives were made; `check` sees each message before its delete. Returns the bodies
/// in arrival order.
async fn drain(
    consumer: &dyn QueueConsumer,
    want: usize,
    check: impl Fn(&ReceivedMessage),
) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..100 {
        if seen.len() >= want {
            break;
        }
        let batch = consumer.receive(10, LONG).await.unwrap();
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for m in batch {
            check(&m);
            consumer.delete(&m.receipt).await.unwrap();
            seen.push(m.body);
        }
    }
    seen
}

/// Receives until `want` messages arrived or `attempts` receives were made (queues may return
/// fewer messages than are available on any one call).
async fn receive_up_to(
    consumer: &dyn QueueConsumer,
    want: usize,
    visibility: Duration,
    attempts: usize,
) -> Vec<ReceivedMessage> {
    let mut got = Vec::new();
    for _ in 0..attempts {
        if got.len() >= want {
            break;
        }
        let batch = consumer
            .receive((want - got.len()).min(10), visibility)
            .await
            .unwrap();
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        got.extend(batch);
    }
    got
}

/// Asserts that nothing can be received now.
async fn assert_nothing(consumer: &dyn QueueConsumer, why: &str) {
    let got = consumer.receive(10, LONG).await.unwrap();
    let bodies: Vec<_> = got.iter().map(|m| m.body.as_str()).collect();
    assert!(got.is_empty(), "{why}: received {bodies:?}");
}

async fn queue_empty_receive_returns_nothing(q: QueuePair) {
    assert_nothing(&*q.consumer, "empty queue").await;
    q.queue.send_batch(&[]).await.unwrap();
    assert_nothing(&*q.consumer, "an empty batch sends nothing").await;
}

/// An idle worker's pause ends by its limit whether or not anything is sent (a send may end it
/// sooner; only the embedded queue promises that, see its own tests), and what was sent
/// meanwhile is then received.
async fn queue_wait_for_messages_ends_by_its_limit(q: QueuePair) {
    let limit = Duration::from_millis(300);
    let started = std::time::Instant::now();
    q.consumer.wait_for_messages(limit).await;
    let waited = started.elapsed();
    assert!(
        waited <= limit + Duration::from_secs(2),
        "waited {waited:?}"
    );

    q.queue
        .send_batch(&[queue_message("during-the-wait")])
        .await
        .unwrap();
    let started = std::time::Instant::now();
    q.consumer.wait_for_messages(limit).await;
    assert!(started.elapsed() <= limit + Duration::from_secs(2));
    let got = receive_up_to(&*q.consumer, 1, LONG, 20).await;
    assert_eq!(got.len(), 1, "the message sent around the wait");
    q.consumer.delete(&got[0].receipt).await.unwrap();
}

async fn queue_each_message_is_received_once(q: QueuePair) {
    let sent: Vec<String> = (0..25).map(|i| format!("{{\"n\":{i}}}")).collect();
    let messages: Vec<QueueMessage> = sent.iter().map(|b| queue_message(b)).collect();
    q.queue.send_batch(&messages).await.unwrap();

    let seen = drain(&*q.consumer, 25, |m| {
        assert_eq!(m.receive_count, 1, "first delivery of {}", m.body);
    })
    .await;
    let distinct: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 25, "every message once, none twice");
    assert_eq!(distinct, sent.into_iter().collect::<BTreeSet<_>>());
    assert_nothing(&*q.consumer, "all deleted").await;
}

async fn queue_hidden_until_visibility_timeout_then_redelivered(q: QueuePair) {
    q.queue
        .send_batch(&[queue_message("keep"), queue_message("drop")])
        .await
        .unwrap();
    let first = receive_up_to(&*q.consumer, 2, SHORT, 20).await;
    assert_eq!(first.len(), 2);
    let keep = first
        .iter()
        .find(|m| m.body == "keep")
        .expect("keep received")
        .clone();
    let drop = first
        .iter()
        .find(|m| m.body == "drop")
        .expect("drop received");
    q.consumer.delete(&drop.receipt).await.unwrap();
    assert_nothing(&*q.consumer, "in flight").await;

    tokio::time::sleep(PAST_SHORT).await;
    let again = receive_up_to(&*q.consumer, 1, LONG, 20).await;
    assert_eq!(again.len(), 1, "only the undeleted message comes back");
    let again = &again[0];
    assert_eq!(
        (again.body.as_str(), again.message_id.as_str()),
        ("keep", keep.message_id.as_str())
    );
    assert_eq!(again.receive_count, 2);
    assert_ne!(
        again.receipt, keep.receipt,
        "each delivery has its own receipt"
    );
    q.consumer.delete(&again.receipt).await.unwrap();
    tokio::time::sleep(PAST_SHORT).await;
    assert_nothing(&*q.consumer, "deleted for good").await;
}

async fn queue_release_makes_visible_after_delay(q: QueuePair) {
    q.queue
        .send_batch(&[queue_message("retry-me")])
        .await
        .unwrap();
    let first = receive_up_to(&*q.consumer, 1, LONG, 20).await.remove(0);
    q.consumer
        .release(&first.receipt, Duration::ZERO)
        .await
        .unwrap();
    let second = receive_up_to(&*q.consumer, 1, LONG, 20).await;
    assert_eq!(second.len(), 1, "released without delay: visible at once");
    let second = &second[0];
    assert_eq!(
        (second.message_id.as_str(), second.receive_count),
        (first.message_id.as_str(), 2)
    );

    q.consumer.release(&second.receipt, SHORT).await.unwrap();
    assert_nothing(&*q.consumer, "released with a delay").await;
    tokio::time::sleep(PAST_SHORT).await;
    let third = receive_up_to(&*q.consumer, 1, LONG, 20).await;
    assert_eq!(third.len(), 1, "visible after the delay");
    assert_eq!(third[0].receive_count, 3);
    q.consumer.delete(&third[0].receipt).await.unwrap();
}

fn group_of(body: &str) -> &str {
    body.split('-').next().unwrap_or_default()
}

async fn fifo_groups_keep_send_order(q: QueuePair) {
    let sent: Vec<QueueMessage> = (1..=5)
        .flat_map(|i| {
            [
                fifo_message("A", &format!("A-{i}")),
                fifo_message("B", &format!("B-{i}")),
            ]
        })
        .collect();
    q.queue.send_batch(&sent).await.unwrap();
    let seen = drain(&*q.consumer, 10, |_| {}).await;
    for group in ["A", "B"] {
        let order: Vec<_> = seen
            .iter()
            .filter(|b| group_of(b) == group)
            .cloned()
            .collect();
        let expected: Vec<_> = (1..=5).map(|i| format!("{group}-{i}")).collect();
        assert_eq!(order, expected, "group {group} in send order, each once");
    }
}

async fn fifo_group_waits_while_its_head_is_in_flight(q: QueuePair) {
    let sent = ["A-1", "A-2", "B-1", "B-2"].map(|b| fifo_message(group_of(b), b));
    q.queue.send_batch(&sent).await.unwrap();
    let head = receive_up_to(&*q.consumer, 1, LONG, 20).await.remove(0);
    let blocked = group_of(&head.body).to_owned();
    assert!(
        head.body.ends_with("-1"),
        "a group's first message comes first, got {}",
        head.body
    );

    // The other group flows while `head` is in flight; nothing more of `blocked` is delivered.
    let mut other = Vec::new();
    for _ in 0..10 {
        for m in q.consumer.receive(10, LONG).await.unwrap() {
            assert_ne!(
                group_of(&m.body),
                blocked,
                "group {blocked} must wait for {}",
                head.body
            );
            q.consumer.delete(&m.receipt).await.unwrap();
            other.push(m.body);
        }
        if other.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let other_group = if blocked == "A" { "B" } else { "A" };
    assert_eq!(
        other,
        [format!("{other_group}-1"), format!("{other_group}-2")]
    );
    assert_nothing(&*q.consumer, "the blocked group's head is still in flight").await;

    q.consumer.delete(&head.receipt).await.unwrap();
    let next = receive_up_to(&*q.consumer, 1, LONG, 20).await;
    assert_eq!(
        next.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        [format!("{blocked}-2")]
    );
    q.consumer.delete(&next[0].receipt).await.unwrap();
}

async fn fifo_released_head_is_redelivered_before_the_rest(q: QueuePair) {
    q.queue
        .send_batch(&[fifo_message("A", "A-1"), fifo_message("A", "A-2")])
        .await
        .unwrap();
    let first = receive_up_to(&*q.consumer, 1, LONG, 20).await.remove(0);
    assert_eq!(first.body, "A-1");
    q.consumer
        .release(&first.receipt, Duration::ZERO)
        .await
        .unwrap();
    let again = receive_up_to(&*q.consumer, 1, LONG, 20).await;
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].body.as_str(), again[0].receive_count),
        ("A-1", 2),
        "the failed head comes back first"
    );
}

async fn fifo_dedup_id_drops_repeats(q: QueuePair) {
    let repeat = QueueMessage {
        body: "repeat".into(),
        group_id: Some("G".into()),
        dedup_id: Some("first".into()),
    };
    q.queue
        .send_batch(&[
            fifo_message("G", "first"),
            repeat,
            fifo_message("G", "second"),
        ])
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..20 {
        let batch = q.consumer.receive(10, LONG).await.unwrap();
        for m in &batch {
            q.consumer.delete(&m.receipt).await.unwrap();
            seen.push(m.body.clone());
        }
        if seen.len() >= 2 && batch.is_empty() {
            break;
        }
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(
        seen,
        ["first", "second"],
        "the repeat within one batch is dropped"
    );

    let later = QueueMessage {
        body: "again".into(),
        group_id: Some("G".into()),
        dedup_id: Some("second".into()),
    };
    q.queue.send_batch(&[later]).await.unwrap();
    assert_nothing(
        &*q.consumer,
        "a repeat sent later, within the window, is dropped",
    )
    .await;
}
