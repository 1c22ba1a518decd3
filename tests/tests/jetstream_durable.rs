//! Durable runs: a subscriber killed mid-stream and a server restarted mid-stream lose
//! no message, and with a file checkpoint no handler is called twice for one message.

mod jetstream_support;

use std::path::Path;
use std::time::{Duration, Instant};

use jetstream_support::{
    Work, assert_each_once, jetstream_server, metadata_for, publish_work, recording_handler,
    wait_for_idle_consumer, wait_until,
};
use ncl::jetstream::{FileCheckpointer, PublishError, Publisher, Subscriber};
use tests::{Recorder, connect, registry};

const STREAM: &str = "WORK";
const SUBJECT: &str = "work.items";
const DURABLE: &str = "worker";

fn publisher(client: &async_nats::Client) -> Publisher {
    Publisher::builder(client.clone())
        .name("producer")
        .destination(SUBJECT)
        .registry(registry())
        .publish_timeout(Duration::from_secs(2))
        .build()
        .expect("build publisher")
}

/// Builds the durable subscriber both runs use. The short ack wait bounds how long the
/// message a killed subscriber left unacknowledged blocks the consumer.
fn durable_subscriber(
    client: &async_nats::Client,
    seen: &Recorder<String>,
    checkpoint: &Path,
) -> Subscriber {
    Subscriber::builder(client.clone())
        .stream(STREAM)
        .subjects(["work.>"])
        .durable_name(DURABLE)
        .ack_wait(Duration::from_secs(1))
        .pull_expiry(Duration::from_millis(500))
        .registry(registry())
        .checkpointer(FileCheckpointer::open(checkpoint).expect("open checkpoint file"))
        .handler(recording_handler(seen.clone()))
        .build()
        .expect("build subscriber")
}

/// Publishes `count` messages, runs a subscriber on its own runtime until it handled
/// `kill_after`, shuts that runtime down without closing anything, then finishes with a
/// second subscriber and checks that each message was handled exactly once.
async fn kill_and_restart(count: u64, kill_after: usize) {
    let server = jetstream_server();
    let client = connect(&server).await;
    let checkpoint = server.dir().join("worker.checkpoint");
    let seen = Recorder::<String>::new();

    // The first subscriber creates the stream, so it must start before publishing.
    let first_run = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("build the first run's runtime");
    let (started, started_rx) = tokio::sync::oneshot::channel();
    let (url, first_seen, first_checkpoint) = (server.url(), seen.clone(), checkpoint.clone());
    first_run.spawn(async move {
        let client = async_nats::connect(url)
            .await
            .expect("connect the first run");
        let subscriber = durable_subscriber(&client, &first_seen, &first_checkpoint);
        subscriber.start().await.expect("start the first run");
        let _ = started.send(());
        // Keeps the subscriber alive until the runtime is shut down.
        std::future::pending::<()>().await;
    });
    jetstream_support::within("the first run to start", started_rx)
        .await
        .expect("first run started");

    let started_at = Instant::now();
    publish_work(&publisher(&client), 0..count).await;
    let published_in = started_at.elapsed();

    wait_until(
        "the first run to handle its share",
        Duration::from_secs(60),
        || seen.len() >= kill_after,
    )
    .await;
    // Drops every task of the first run at its next await point: no close, no ack for
    // the message in flight, and the connection goes away.
    first_run.shutdown_background();
    let handled_before_kill = seen.len();
    assert!(
        (handled_before_kill as u64) < count,
        "the first run handled everything before it was killed"
    );

    let subscriber = durable_subscriber(&client, &seen, &checkpoint);
    subscriber.start().await.expect("start the second run");
    wait_until(
        "every message to be handled",
        Duration::from_secs(60),
        || seen.len() as u64 >= count,
    )
    .await;
    wait_for_idle_consumer(&client, STREAM, DURABLE, &subscriber).await;
    let stats = subscriber.stats();
    subscriber.close().await;

    eprintln!(
        "published {count} in {published_in:?}; killed after {handled_before_kill}; \
         all handled after {:?}; second run: {stats:?}",
        started_at.elapsed()
    );
    assert_each_once(&seen.items(), count, &stats);
    assert_eq!(stats.dead_lettered, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_subscriber_resumes_without_loss_or_repeat() {
    kill_and_restart(1_000, 300).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow (about 15 s: one fsync per message); run with --ignored"]
async fn killed_subscriber_resumes_ten_thousand_messages() {
    kill_and_restart(10_000, 3_000).await;
}

/// Publishes `Work { n }` with `MessageID` `m-{n}`, retrying while the server restarts.
/// Retrying with the same `MessageID` is safe: the stream stores the message once.
async fn publish_retrying(publisher: &Publisher, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match publisher
            .publish_with_metadata(metadata_for(n), &Work { n })
            .await
        {
            Ok(_) => return,
            Err(error) if Instant::now() < deadline => {
                let retryable = matches!(
                    error,
                    PublishError::AckTimeout { .. }
                        | PublishError::StreamNotFound { .. }
                        | PublishError::Nats { .. }
                );
                assert!(retryable, "unexpected publish error: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("publishing message {n} kept failing: {error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_loses_nothing() {
    const BEFORE: u64 = 600;
    const AFTER: u64 = 200;
    let mut server = jetstream_server();
    let client = connect(&server).await;
    let checkpoint = server.dir().join("worker.checkpoint");
    let seen = Recorder::<String>::new();
    let subscriber = durable_subscriber(&client, &seen, &checkpoint);
    subscriber.start().await.expect("start subscriber");
    let publisher = publisher(&client);
    publish_work(&publisher, 0..BEFORE).await;

    wait_until(
        "some messages to be handled",
        Duration::from_secs(20),
        || seen.len() >= 200,
    )
    .await;
    // Kills the server (SIGKILL) and starts it on the same port and store directory;
    // the client reconnects on its own.
    tokio::task::block_in_place(|| server.restart());
    let handled_at_restart = seen.len();
    for n in BEFORE..BEFORE + AFTER {
        publish_retrying(&publisher, n).await;
    }

    wait_until(
        "every message to be handled",
        Duration::from_secs(30),
        || seen.len() as u64 >= BEFORE + AFTER,
    )
    .await;
    wait_for_idle_consumer(&client, STREAM, DURABLE, &subscriber).await;
    let stats = subscriber.stats();
    subscriber.close().await;

    eprintln!("restarted after {handled_at_restart} handled; {stats:?}");
    assert!(
        (handled_at_restart as u64) < BEFORE,
        "restart came after the last message"
    );
    assert_each_once(&seen.items(), BEFORE + AFTER, &stats);
}

#[tokio::test]
async fn slow_handler_is_not_redelivered() {
    let server = jetstream_server();
    let client = connect(&server).await;
    let seen = Recorder::<String>::new();
    let handler_seen = seen.clone();
    // Runs for 2.5 ack waits, and the subscriber's in-progress notices keep the server from
    // delivering the message again meanwhile.
    let slow = ncl::handler_fn(move |message: &ncl::AnyMessage| {
        handler_seen.push(message.id().unwrap_or("<none>").to_owned());
        async {
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            Ok(())
        }
    });
    let subscriber = Subscriber::builder(client.clone())
        .stream(STREAM)
        .subjects(["work.>"])
        .durable_name(DURABLE)
        .ack_wait(Duration::from_secs(1))
        // A free slot keeps a pull request waiting on the server, to which it would
        // deliver the message again if the ack wait ran out.
        .concurrency(2)
        .registry(registry())
        .handler(slow)
        .build()
        .expect("build subscriber");
    subscriber.start().await.expect("start subscriber");

    publish_work(&publisher(&client), 0..1).await;
    wait_until("the message to be handled", Duration::from_secs(10), || {
        subscriber.stats().acked == 1
    })
    .await;
    let stats = subscriber.stats();
    subscriber.close().await;

    assert_eq!(seen.items(), ["m-0"]);
    assert_eq!(stats.pipeline.received, 1, "delivered again: {stats:?}");
}
