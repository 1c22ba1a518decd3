//! Shutting down under faults: a subscriber's close is bounded by its close timeout even
//! with a handler that never finishes, a publisher's close delivers what was published
//! before it, and a closed publisher sends nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use ncl::{AnyMessage, Metadata, NclPayload, PublishError, Publisher, Subscriber};
use serde::{Deserialize, Serialize};
use tests::{
    NatsServer, RecordingCheckpointer, connect, registry, wait_for_settled, wait_until, within,
};
use tokio::sync::Notify;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Event {
    seq: u32,
}

fn event_publisher(client: &async_nats::Client, subject: &str) -> Publisher {
    Publisher::builder(client.clone())
        .name("emitter")
        .destination(subject)
        .registry(registry())
        .build()
        .expect("build publisher")
}

/// Sets its flag when dropped, which shows that a cancelled future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn close_timeout_bounds_stuck_handler() {
    const CLOSE_TIMEOUT: Duration = Duration::from_millis(200);
    const MARGIN: Duration = Duration::from_secs(2);
    let server = NatsServer::start();
    let client = connect(&server).await;
    let started = Arc::new(Notify::new());
    let cancelled = Arc::new(AtomicBool::new(false));
    let checkpointer = RecordingCheckpointer::default();
    let handler = {
        let (started, cancelled) = (started.clone(), cancelled.clone());
        ncl::handler_fn(move |_: &AnyMessage| {
            let flag = DropFlag(cancelled.clone());
            let started = started.clone();
            async move {
                let _flag = flag;
                started.notify_one();
                std::future::pending::<()>().await;
                Ok(())
            }
        })
    };
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        // Far longer than the test, so only the close timeout can end the handler.
        .handler_timeout(Duration::from_secs(3600))
        .close_timeout(CLOSE_TIMEOUT)
        .handler(handler)
        .checkpointer(checkpointer.clone())
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["stuck"]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");

    event_publisher(&client, "stuck")
        .publish(&Event { seq: 0 })
        .await
        .expect("publish");
    within("the handler to start", started.notified()).await;
    let closing = Instant::now();
    tokio::time::timeout(CLOSE_TIMEOUT + MARGIN, subscriber.close())
        .await
        .expect("close() did not return within the close timeout and margin");
    let elapsed = closing.elapsed();

    assert!(
        elapsed >= CLOSE_TIMEOUT,
        "close() returned after {elapsed:?}, before the close timeout"
    );
    // close() aborts the task; the runtime drops its future on a later poll.
    wait_until("the stuck handler's future to be dropped", || {
        cancelled.load(Ordering::SeqCst)
    })
    .await;
    let stats = subscriber.stats();
    assert_eq!(stats.received, 1, "received; stats: {stats:?}");
    assert_eq!(stats.processed, 0, "processed; stats: {stats:?}");
    assert!(
        checkpointer.ids.is_empty(),
        "a cancelled message was checkpointed"
    );
}

#[tokio::test]
async fn closing_publisher_delivers_every_message() {
    const COUNT: u32 = 2_000;
    let server = NatsServer::start();
    let client = connect(&server).await;
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(|_: &AnyMessage| async { Ok(()) }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["events"]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");

    // The program runs on a runtime of its own, dropped right after close() as at the end
    // of `main`. The client's connection task dies with the runtime, so whatever close()
    // did not flush is lost.
    let url = server.url();
    let program = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build runtime");
        runtime.block_on(async {
            let client = async_nats::connect(url).await.expect("connect");
            let publisher = event_publisher(&client, "events");
            for seq in 0..COUNT {
                publisher.publish(&Event { seq }).await.expect("publish");
            }
            publisher.close().await.expect("close publisher");
        });
    });
    within(
        "the program to exit",
        tokio::task::spawn_blocking(move || program.join()),
    )
    .await
    .expect("join task")
    .expect("program thread panicked");
    let stats = wait_for_settled(&subscriber, u64::from(COUNT)).await;

    assert_eq!(
        stats.processed,
        u64::from(COUNT),
        "processed; stats: {stats:?}"
    );
}

#[tokio::test]
async fn publish_after_close_is_rejected() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut everything = client.subscribe(">").await.expect("subscribe to >");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    let publisher = event_publisher(&client, "events");
    let clone = publisher.clone();

    publisher
        .publish(&Event { seq: 0 })
        .await
        .expect("publish before close");
    within("close", publisher.close()).await.expect("close");
    within("second close", publisher.close())
        .await
        .expect("second close");

    assert!(publisher.is_closed(), "is_closed() after close()");
    assert!(clone.is_closed(), "a clone's is_closed() after close()");
    let results = [
        ("publish", publisher.publish(&Event { seq: 1 }).await),
        (
            "publish_with_metadata",
            publisher
                .publish_with_metadata(Metadata::new(), &Event { seq: 2 })
                .await,
        ),
        ("publish on a clone", clone.publish(&Event { seq: 3 }).await),
    ];
    for (name, result) in results {
        assert!(
            matches!(result, Err(PublishError::Closed)),
            "{name}: got {result:?}"
        );
    }

    // The connection stays open for other users, and the server delivers its messages in
    // order: the message before close, then this marker, with nothing in between.
    client
        .publish("marker", Bytes::from_static(b"end"))
        .await
        .expect("publish marker");
    let first = within("first message", everything.next())
        .await
        .expect("subscription ended");
    let second = within("second message", everything.next())
        .await
        .expect("subscription ended");
    assert_eq!(first.subject.as_str(), "events", "first subject");
    assert_eq!(second.subject.as_str(), "marker", "second subject");
}
