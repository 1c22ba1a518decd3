//! Closing a subscriber: intake stops, the message in flight finishes, and later
//! subscriptions are rejected.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use ncl::metadata::keys;
use ncl::{AnyMessage, Metadata, NclPayload, Publisher, SubscribeError, Subscriber};
use serde::{Deserialize, Serialize};
use tests::{
    NatsServer, Recorder, RecordingCheckpointer, connect, registry, wait_for_settled, within,
};
use tokio::sync::{Notify, Semaphore};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Step {
    seq: u32,
}

fn publisher(client: &async_nats::Client, subject: &str) -> Publisher {
    Publisher::builder(client.clone())
        .name("orchestrator")
        .destination(subject)
        .registry(registry())
        .build()
        .expect("build publisher")
}

async fn publish_with_id(publisher: &Publisher, id: &str, seq: u32) {
    let mut metadata = Metadata::new();
    metadata.insert(keys::MESSAGE_ID, id);
    publisher
        .publish_with_metadata(metadata, &Step { seq })
        .await
        .expect("publish");
}

#[tokio::test]
async fn close_waits_for_the_handler_in_flight() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut raw = client.subscribe("slow").await.expect("raw subscribe");
    let started = Arc::new(Notify::new());
    let gate = Arc::new(Semaphore::new(0));
    let seen = Recorder::new();
    let checkpointer = RecordingCheckpointer::default();

    let handler = {
        let (started, gate, seen) = (started.clone(), gate.clone(), seen.clone());
        ncl::handler_fn(move |message: &AnyMessage| {
            seen.push(message.id().unwrap_or("<none>").to_owned());
            let (started, gate) = (started.clone(), gate.clone());
            async move {
                started.notify_one();
                let permit = gate.acquire().await.expect("gate is never closed");
                permit.forget();
                Ok(())
            }
        })
    };
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(handler)
        .checkpointer(checkpointer.clone())
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["slow"]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    let subscriber = Arc::new(subscriber);
    let publisher = publisher(&client, "slow");

    publish_with_id(&publisher, "slow-0", 0).await;
    publish_with_id(&publisher, "queued-1", 1).await;
    within("the slow handler to start", started.notified()).await;
    // Both messages have reached this client, so the second one is queued behind the first.
    for _ in 0..2 {
        within("raw message", raw.next())
            .await
            .expect("raw message");
    }

    let closing = tokio::spawn({
        let subscriber = subscriber.clone();
        async move { subscriber.close().await }
    });
    // NOTE: a fixed pause, because only the absence of progress shows that close() waits.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !closing.is_finished(),
        "close() returned while a handler was running"
    );
    assert!(
        checkpointer.ids.is_empty(),
        "checkpoint recorded before the handler finished"
    );

    gate.add_permits(1);
    within("close() to return", closing)
        .await
        .expect("close task");

    assert_eq!(
        checkpointer.ids.items(),
        ["slow-0"],
        "checkpointed ids when close() returned"
    );
    assert_eq!(seen.items(), ["slow-0"], "handled ids");
    let stats = subscriber.stats();
    assert_eq!(
        stats.received, 1,
        "the queued message should not be taken after close()"
    );
    assert_eq!(stats.processed, 1, "processed");
}

#[tokio::test]
async fn close_stops_intake() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut raw = client.subscribe("intake").await.expect("raw subscribe");
    let seen = Recorder::new();
    let handler_log = seen.clone();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            handler_log.push(message.id().unwrap_or("<none>").to_owned());
            async { Ok(()) }
        }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["intake"]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    let publisher = publisher(&client, "intake");

    publish_with_id(&publisher, "before-close", 0).await;
    wait_for_settled(&subscriber, 1).await;
    within("close()", subscriber.close()).await;
    for seq in 1..=3 {
        publish_with_id(&publisher, &format!("after-close-{seq}"), seq).await;
    }
    // The raw subscription on the same connection receives the later messages, so they were
    // delivered to this client after close() returned.
    for _ in 0..4 {
        within("raw message", raw.next())
            .await
            .expect("raw message");
    }

    assert_eq!(seen.items(), ["before-close"], "handled ids");
    let stats = subscriber.stats();
    assert_eq!(stats.received, 1, "received");
    assert_eq!(stats.processed, 1, "processed");
    within("second close()", subscriber.close()).await;
}

#[tokio::test]
async fn subscribe_after_close_is_rejected() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(|_: &AnyMessage| async { Ok(()) }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["open"]).await.expect("subscribe");

    within("close()", subscriber.close()).await;
    let result = subscriber.subscribe(["later"]).await;

    assert!(
        matches!(result, Err(SubscribeError::Closed)),
        "got {result:?}"
    );
}
