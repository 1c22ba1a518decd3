//! A handler slower than the publish rate: the subscriber keeps at most `max_pending`
//! messages waiting, drops and counts the rest, and keeps going.

use std::sync::Arc;
use std::time::Duration;

use ncl::{AnyMessage, NclPayload, Publisher, Subscriber, SubscriberStats};
use serde::{Deserialize, Serialize};
use tests::{
    NatsServer, Recorder, RecordingCheckpointer, connect, registry, wait_for_stats, within,
};
use tokio::sync::Semaphore;

const MAX_PENDING: usize = 16;
const BURST: u64 = 500;
/// How long the handler takes per message.
const HANDLER_DELAY: Duration = Duration::from_millis(20);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Sample {
    seq: u64,
}

/// A subscriber whose handler waits [`HANDLER_DELAY`] per message, and before the first
/// one also until `gate` has a permit.
struct SlowSubscriber {
    subscriber: Subscriber,
    handled: Recorder<u64>,
    checkpointer: RecordingCheckpointer,
}

async fn slow_subscriber(client: &async_nats::Client, gate: Arc<Semaphore>) -> SlowSubscriber {
    let handled = Recorder::new();
    let checkpointer = RecordingCheckpointer::default();
    let handler_log = handled.clone();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .max_pending(MAX_PENDING)
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            let seq = message.payload::<Sample>().map(|sample| sample.seq);
            let (handler_log, gate) = (handler_log.clone(), gate.clone());
            async move {
                if seq == Some(0) {
                    let permit = gate.acquire().await.expect("gate is never closed");
                    permit.forget();
                }
                tokio::time::sleep(HANDLER_DELAY).await;
                handler_log.push(seq.unwrap_or(u64::MAX));
                Ok(())
            }
        }))
        .checkpointer(checkpointer.clone())
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["samples"]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    SlowSubscriber {
        subscriber,
        handled,
        checkpointer,
    }
}

/// Publishes `seqs` from a client of its own, as fast as the client accepts them.
async fn burst(server: &NatsServer, seqs: std::ops::Range<u64>) {
    let client = connect(server).await;
    let publisher = Publisher::builder(client)
        .name("sampler")
        .destination("samples")
        .registry(registry())
        .build()
        .expect("build publisher");
    for seq in seqs {
        publisher
            .publish(&Sample { seq })
            .await
            .expect("publish sample");
    }
    within("publisher close", publisher.close())
        .await
        .expect("flush the burst");
}

/// Waits until every one of `sent` messages was either dropped or finished.
async fn wait_for_burst_to_settle(subscriber: &Subscriber, sent: u64) -> SubscriberStats {
    let description = format!("{sent} messages to be handled or dropped");
    wait_for_stats(subscriber, &description, |stats| {
        stats.dropped + stats.processed + stats.failed() == sent
    })
    .await
}

#[tokio::test]
async fn blocked_handler_bounds_pending_queue() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let gate = Arc::new(Semaphore::new(0));
    let slow = slow_subscriber(&client, gate.clone()).await;

    burst(&server, 0..BURST).await;
    // The first message blocks the handler, so of the other 499 exactly MAX_PENDING wait
    // and the rest are dropped once they have all arrived.
    let expected_drops = BURST - 1 - MAX_PENDING as u64;
    let blocked = wait_for_stats(
        &slow.subscriber,
        "the queue to fill and drops to stop",
        |stats| stats.dropped == expected_drops,
    )
    .await;
    assert_eq!(
        blocked.received, 1,
        "messages taken while the handler is blocked"
    );

    gate.add_permits(1);
    let stats = wait_for_burst_to_settle(&slow.subscriber, BURST).await;

    assert_eq!(stats.dropped, expected_drops, "dropped; stats: {stats:?}");
    assert_eq!(
        stats.processed,
        1 + MAX_PENDING as u64,
        "processed; stats: {stats:?}"
    );
    assert_eq!(
        stats.received, stats.processed,
        "received; stats: {stats:?}"
    );
    // The queue is first in, first out, so the waiting messages are the first 16 after
    // the blocked one.
    let expected: Vec<u64> = (0..=MAX_PENDING as u64).collect();
    assert_eq!(slow.handled.items(), expected, "handled seqs");
    assert_eq!(
        slow.checkpointer.ids.len() as u64,
        stats.processed,
        "checkpoints"
    );
}

#[tokio::test]
async fn slow_handler_counts_burst_drops() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let gate = Arc::new(Semaphore::new(1));
    let slow = slow_subscriber(&client, gate).await;

    burst(&server, 0..BURST).await;
    let stats = wait_for_burst_to_settle(&slow.subscriber, BURST).await;

    assert!(stats.dropped > 0, "nothing dropped; stats: {stats:?}");
    assert_eq!(
        stats.processed + stats.dropped,
        BURST,
        "handled + dropped; stats: {stats:?}"
    );
    assert_eq!(
        stats.received, stats.processed,
        "received; stats: {stats:?}"
    );
    assert_eq!(stats.failed(), 0, "failures; stats: {stats:?}");
    assert_eq!(slow.handled.len() as u64, stats.processed, "handler calls");
    assert_eq!(
        slow.checkpointer.ids.len() as u64,
        stats.processed,
        "checkpoints"
    );
    let handled = slow.handled.items();
    assert!(
        handled.windows(2).all(|pair| pair[0] < pair[1]),
        "handled out of order: {handled:?}"
    );

    // The subscriber does not stall: a message sent after the burst is handled.
    burst(&server, BURST..BURST + 1).await;
    let after = wait_for_burst_to_settle(&slow.subscriber, BURST + 1).await;
    assert_eq!(
        after.processed,
        stats.processed + 1,
        "processed after the burst"
    );
    assert_eq!(after.dropped, stats.dropped, "dropped after the burst");
    assert_eq!(
        slow.handled.items().last(),
        Some(&BURST),
        "last handled seq"
    );
}
