use std::collections::HashMap;
use std::time::Duration;

use connector_aws::{AwsAdapters, QueueUrls, SqsQueue, create_queue, create_queue_with_dlq};
use connector_domain::ports::{QueueConsumer, QueueError, QueueMessage, WorkQueue};
use connector_testkit::fixtures;
use connector_testkit::local_aws::unique_name;

use crate::common;

/// A queue named `prefix` and something unique (FIFO when `fifo`) with its dead-letter queue
/// after `max_receives` receives.
async fn with_dlq(a: &AwsAdapters, prefix: &str, fifo: bool, max_receives: u32) -> QueueUrls {
    create_queue_with_dlq(a.sqs_client(), &unique_name(prefix), fifo, max_receives)
        .await
        .unwrap()
}

/// The bodies of what `rounds` receives of up to ten messages (each at `visibility`) return,
/// in the order received; each message is deleted once received.
async fn take_bodies(queue: &SqsQueue, rounds: usize, visibility: Duration) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..rounds {
        for m in queue.receive(10, visibility).await.unwrap() {
            queue.delete(&m.receipt).await.unwrap();
            bodies.push(m.body);
        }
    }
    bodies
}

#[tokio::test]
async fn send_batch_sends_tens() {
    let Some((a, counter)) = common::counted().await else {
        return;
    };
    let url = create_queue(a.sqs_client(), &unique_name("q-"), false, HashMap::new())
        .await
        .unwrap();
    let queue = a.queue(&url);
    let messages: Vec<_> = (0..25)
        .map(|i| fixtures::queue_message(&format!("{{\"n\":{i}}}")))
        .collect();
    counter.reset();
    queue.send_batch(&messages).await.unwrap();
    assert_eq!(
        counter.by_operation().get("sqs.SendMessageBatch"),
        Some(&3),
        "10 + 10 + 5"
    );
    queue.send_batch(&[]).await.unwrap();
    assert_eq!(counter.total("sqs"), 3, "an empty batch sends nothing");
}

#[tokio::test]
async fn messages_move_to_the_dead_letter_queue_after_max_receives() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let urls = with_dlq(&a, "hie-", false, 2).await;
    let (queue, dlq) = (a.queue(&urls.queue_url), a.queue(&urls.dlq_url));
    queue
        .send_batch(&[fixtures::queue_message("poison")])
        .await
        .unwrap();
    for attempt in 1..=2 {
        let got = queue.receive(10, Duration::from_secs(30)).await.unwrap();
        assert_eq!(got.len(), 1, "delivery {attempt}");
        assert_eq!(got[0].receive_count, attempt);
        queue
            .release(&got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(
        queue
            .receive(10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "moved on the third receive"
    );
    let dead = dlq.receive(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        dead.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["poison"]
    );
    dlq.delete(&dead[0].receipt).await.unwrap();
}

#[tokio::test]
async fn fifo_queues_take_group_and_dedup_ids() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    // Content-based deduplication (what create_queue_with_dlq sets up for FIFO queues): messages
    // without a dedup id are accepted and deduplicated by body.
    let urls = with_dlq(&a, "crm-", true, 3).await;
    assert!(urls.queue_url.ends_with(".fifo") && urls.dlq_url.ends_with("-dlq.fifo"));
    let queue = a.queue(&urls.queue_url);
    assert!(queue.is_fifo());
    let plain = |body: &str| QueueMessage {
        body: body.into(),
        group_id: Some("p-1".into()),
        dedup_id: None,
    };
    queue
        .send_batch(&[
            plain("one"),
            plain("one"),
            plain("two"),
            fixtures::fifo_message("p-2", "three"),
        ])
        .await
        .unwrap();
    let mut bodies = take_bodies(&queue, 5, Duration::from_secs(30)).await;
    bodies.sort();
    assert_eq!(bodies, ["one", "three", "two"]);

    // Without content-based deduplication a message needs its own id: SQS refuses it.
    let strict = a.queue(
        &create_queue(
            a.sqs_client(),
            &unique_name("strict-"),
            true,
            HashMap::new(),
        )
        .await
        .unwrap(),
    );
    let result = strict.send_batch(&[plain("no-id")]).await;
    assert!(
        matches!(result, Err(QueueError::Unavailable(_))),
        "{result:?}"
    );
}

/// The delivery queue's ordering on SQS FIFO: a group whose message is released with a delay
/// (a delivery's retry backoff, ChangeMessageVisibility) holds back that group's later messages
/// until the delay passes, while another group's messages flow. Waits about two seconds.
#[tokio::test]
async fn a_delayed_fifo_message_holds_back_only_its_own_group() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let urls = with_dlq(&a, "dlv-", true, 10).await;
    let queue = a.queue(&urls.queue_url);
    queue
        .send_batch(&[
            fixtures::fifo_message("lead-a", "a1"),
            fixtures::fifo_message("lead-a", "a2"),
            fixtures::fifo_message("lead-b", "b1"),
            fixtures::fifo_message("lead-b", "b2"),
        ])
        .await
        .unwrap();
    let visibility = Duration::from_secs(30);
    // One message at a time, as a worker that stops a group at its first retry.
    let first = queue.receive(1, visibility).await.unwrap().remove(0);
    let (held, flowing) = match first.body.as_str() {
        "a1" => (["a1", "a2"], ["b1", "b2"]),
        "b1" => (["b1", "b2"], ["a1", "a2"]),
        other => panic!("a group's first message comes first, got {other}"),
    };
    let delay = Duration::from_secs(2);
    queue.release(&first.receipt, delay).await.unwrap();
    let released_at = std::time::Instant::now();

    // The other group flows, in order; nothing of the delayed group comes meanwhile.
    let seen = take_bodies(&queue, 4, visibility).await;
    assert!(
        released_at.elapsed() < delay,
        "the checks above ran within the delay"
    );
    assert_eq!(seen, flowing, "only the other group, in order");

    // After the delay, the delayed message comes again, before its group's later one.
    let mut rest = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while rest.len() < 2 && std::time::Instant::now() < deadline {
        match queue.receive(1, visibility).await.unwrap().pop() {
            Some(m) => {
                assert!(
                    released_at.elapsed() >= delay,
                    "{} came before the delay passed",
                    m.body
                );
                queue.delete(&m.receipt).await.unwrap();
                rest.push(m.body);
            }
            None => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert_eq!(rest, held, "the delayed group resumes in order");
}
