use std::collections::HashMap;
use std::time::Duration;

use connector_aws::{RequestCounter, create_queue, create_queue_with_dlq};
use connector_domain::ports::{QueueConsumer, QueueError, QueueMessage, WorkQueue};
use connector_testkit::fixtures;
use connector_testkit::local_aws::unique_name;

use crate::common;

#[tokio::test]
async fn send_batch_sends_tens() {
    let Some(aws) = common::local() else { return };
    let counter = RequestCounter::new();
    let a = common::fresh_counted(aws, &counter).await;
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
    let urls = create_queue_with_dlq(a.sqs_client(), &unique_name("hie-"), false, 2)
        .await
        .unwrap();
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
    let urls = create_queue_with_dlq(a.sqs_client(), &unique_name("crm-"), true, 3)
        .await
        .unwrap();
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
    let mut bodies = Vec::new();
    for _ in 0..5 {
        for m in queue.receive(10, Duration::from_secs(30)).await.unwrap() {
            queue.delete(&m.receipt).await.unwrap();
            bodies.push(m.body);
        }
    }
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
