//! A nats-server stopped and restarted on the same port under a running publisher and
//! subscriber, neither of which is rebuilt.
//!
//! Core NATS stores nothing, so a restart can lose messages that are in flight at the
//! moment of the outage:
//! - messages the client already wrote to the socket of the server that went away;
//! - messages the server had accepted but not yet delivered to the subscriber;
//! - messages a publisher's client sends after it reconnects but before the subscriber's
//!   client has re-subscribed, when the two use different connections.
//!
//! While disconnected, async-nats keeps up to `client_capacity` commands and sends them
//! after reconnecting. A publish beyond that waits for room, and the publisher's
//! `publish_timeout` bounds the wait.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use async_nats::connection::State;
use bytes::Bytes;
use futures_util::StreamExt;
use ncl::{AnyMessage, NclPayload, PublishError, Publisher, Subscriber};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, Recorder, connect_with, registry, wait_until, within};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Tick {
    seq: u32,
}

/// Commands the client keeps while disconnected; small, so the outage fills it.
const CLIENT_CAPACITY: usize = 8;
/// The publisher's bound on a publish waiting for room in the client.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(250);
/// Extra time allowed past [`PUBLISH_TIMEOUT`] before a publish counts as hung.
const MARGIN: Duration = Duration::from_secs(1);
/// Publishes attempted during the outage: more than [`CLIENT_CAPACITY`].
const OUTAGE_PUBLISHES: u32 = 12;

/// Returns options that retry a lost connection every 50 ms, without limit.
fn reconnecting() -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .reconnect_delay_callback(|_attempt| Duration::from_millis(50))
        .connection_timeout(Duration::from_secs(1))
        .client_capacity(CLIENT_CAPACITY)
}

/// Builds a subscriber on `client` that records the `seq` of every [`Tick`] it handles.
async fn tick_subscriber(
    client: &async_nats::Client,
    subject: &str,
) -> (Subscriber, Recorder<u32>) {
    let seen = Recorder::new();
    let handler_log = seen.clone();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            if let Some(tick) = message.payload::<Tick>() {
                handler_log.push(tick.seq);
            }
            async { Ok(()) }
        }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe([subject]).await.expect("subscribe");
    sync_with_server(client).await;
    (subscriber, seen)
}

fn tick_publisher(client: &async_nats::Client, subject: &str) -> Publisher {
    Publisher::builder(client.clone())
        .name("ticker")
        .destination(subject)
        .registry(registry())
        .publish_timeout(PUBLISH_TIMEOUT)
        .build()
        .expect("build publisher")
}

async fn publish_all(publisher: &Publisher, seqs: std::ops::Range<u32>) {
    for seq in seqs {
        publisher
            .publish(&Tick { seq })
            .await
            .unwrap_or_else(|error| panic!("publish {seq}: {error}"));
    }
}

/// Waits until the server has processed everything `client` sent so far, subscriptions
/// included, by sending a message to itself through the server.
///
/// `Client::flush` returns once the bytes are written to the socket. A message published
/// right after it on another connection can reach the server first and miss a new
/// subscription; one published after this returns cannot.
async fn sync_with_server(client: &async_nats::Client) {
    let inbox = client.new_inbox();
    let mut echo = client
        .subscribe(inbox.clone())
        .await
        .expect("subscribe to inbox");
    client
        .publish(inbox, Bytes::new())
        .await
        .expect("publish to inbox");
    within("a message to the client's own inbox", echo.next())
        .await
        .expect("inbox subscription ended");
    echo.unsubscribe().await.expect("unsubscribe from inbox");
}

async fn wait_for_state(client: &async_nats::Client, state: State) {
    let description = format!("connection state {state:?}");
    wait_until(&description, || client.connection_state() == state).await;
}

/// Publishes `seqs` while the server is down and returns the ones the client accepted.
///
/// # Panics
///
/// Panics when a publish does not finish within the publish timeout plus a margin, or
/// fails with anything but [`PublishError::Timeout`].
async fn publish_during_outage(publisher: &Publisher, seqs: std::ops::Range<u32>) -> Vec<u32> {
    let mut accepted = Vec::new();
    let mut timed_out = 0;
    for seq in seqs {
        let started = Instant::now();
        let result =
            tokio::time::timeout(PUBLISH_TIMEOUT + MARGIN, publisher.publish(&Tick { seq }))
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "publish {seq} during the outage hung for {:?}",
                        started.elapsed()
                    )
                });
        match result {
            Ok(()) => accepted.push(seq),
            Err(PublishError::Timeout { timeout, .. }) => {
                assert_eq!(timeout, PUBLISH_TIMEOUT, "timeout named in the error");
                timed_out += 1;
            }
            Err(error) => panic!("publish {seq} during the outage failed with {error:?}"),
        }
    }
    // The client keeps CLIENT_CAPACITY commands, so the publishes past it time out.
    assert!(
        !accepted.is_empty(),
        "no publish was buffered during the outage"
    );
    assert!(
        timed_out > 0,
        "no publish timed out although the buffer was full"
    );
    accepted
}

#[tokio::test]
async fn separate_connections_survive_server_restart() {
    let mut server = NatsServer::start();
    let subscriber_client = connect_with(&server, reconnecting).await;
    let publisher_client = connect_with(&server, reconnecting).await;
    let (subscriber, seen) = tick_subscriber(&subscriber_client, "ticks").await;
    let publisher = tick_publisher(&publisher_client, "ticks");

    publish_all(&publisher, 0..10).await;
    wait_until("the ticks before the outage", || seen.len() == 10).await;

    server.stop();
    wait_for_state(&subscriber_client, State::Disconnected).await;
    wait_for_state(&publisher_client, State::Disconnected).await;
    let accepted = publish_during_outage(&publisher, 100..100 + OUTAGE_PUBLISHES).await;

    server.restart();
    wait_for_state(&subscriber_client, State::Connected).await;
    wait_for_state(&publisher_client, State::Connected).await;
    // The client re-subscribes before anything else it sends after reconnecting.
    sync_with_server(&subscriber_client).await;
    publish_all(&publisher, 200..210).await;
    wait_until("the ticks after the restart", || {
        seen.items().iter().filter(|seq| **seq >= 200).count() == 10
    })
    .await;

    let handled = seen.items();
    let before: Vec<u32> = handled.iter().copied().filter(|seq| *seq < 100).collect();
    let after: Vec<u32> = handled.iter().copied().filter(|seq| *seq >= 200).collect();
    assert_eq!(
        before,
        (0..10).collect::<Vec<_>>(),
        "ticks before the outage"
    );
    assert_eq!(
        after,
        (200..210).collect::<Vec<_>>(),
        "ticks after the restart"
    );
    // Outage messages may be lost on separate connections (see the file comment), but
    // none may arrive that the client did not accept, and none may arrive twice.
    let unique: BTreeSet<u32> = handled.iter().copied().collect();
    assert_eq!(unique.len(), handled.len(), "duplicates in {handled:?}");
    for seq in handled.iter().filter(|seq| (100..200).contains(*seq)) {
        assert!(
            accepted.contains(seq),
            "tick {seq} arrived but its publish timed out"
        );
    }
    let stats = subscriber.stats();
    assert_eq!(stats.failed(), 0, "failures; stats: {stats:?}");
    assert_eq!(stats.dropped, 0, "dropped; stats: {stats:?}");
}

#[tokio::test]
async fn shared_connection_delivers_buffered_publishes_after_restart() {
    let mut server = NatsServer::start();
    let client = connect_with(&server, reconnecting).await;
    let (subscriber, seen) = tick_subscriber(&client, "ticks").await;
    let publisher = tick_publisher(&client, "ticks");

    publish_all(&publisher, 0..10).await;
    wait_until("the ticks before the outage", || seen.len() == 10).await;

    server.stop();
    // Once the client reports the disconnect, nothing more is written to the old socket,
    // so every publish it accepts from here on waits in its buffer.
    wait_for_state(&client, State::Disconnected).await;
    let accepted = publish_during_outage(&publisher, 100..100 + OUTAGE_PUBLISHES).await;

    server.restart();
    wait_for_state(&client, State::Connected).await;
    publish_all(&publisher, 200..210).await;
    let expected: Vec<u32> = (0..10)
        .chain(accepted.iter().copied())
        .chain(200..210)
        .collect();
    wait_until("every accepted tick", || seen.len() >= expected.len()).await;

    // After reconnecting, the client re-subscribes before it sends the buffered
    // publishes, so on one connection none of them is lost.
    assert_eq!(seen.items(), expected, "handled ticks, in order");
    let stats = subscriber.stats();
    assert_eq!(
        stats.processed,
        expected.len() as u64,
        "processed; stats: {stats:?}"
    );
    assert_eq!(stats.failed(), 0, "failures; stats: {stats:?}");
    assert_eq!(
        client
            .statistics()
            .connects
            .load(std::sync::atomic::Ordering::Relaxed),
        2,
        "connects"
    );
}
