//! Helpers shared by the `jetstream_*` test files: a JetStream server, a payload type,
//! publishing numbered messages and waiting for a durable consumer to go idle.

#![allow(dead_code, reason = "each test file uses a subset of the helpers")]

use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::time::Duration;

use ncl::jetstream::{DurableStats, PublishAck, Publisher, Subscriber};
use ncl::{AnyMessage, MessageHandler, Metadata, NclPayload};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, Recorder, ServerOptions};

/// The payload of every test message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
pub(crate) struct Work {
    pub(crate) n: u64,
}

/// Starts a server with JetStream enabled, storing in its own temporary directory.
pub(crate) fn jetstream_server() -> NatsServer {
    NatsServer::start_with(ServerOptions {
        jetstream: true,
        ..Default::default()
    })
}

/// Returns the `MessageID` of message `n`.
pub(crate) fn message_id(n: u64) -> String {
    format!("m-{n}")
}

/// Returns metadata whose `MessageID` is that of message `n`.
pub(crate) fn metadata_for(n: u64) -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert("MessageID", message_id(n));
    metadata
}

/// Publishes `Work { n }` for each `n` in `range` with `MessageID` `m-{n}` and returns
/// the acknowledgements. Sends up to 1,000 messages before awaiting their
/// acknowledgements, below the client's limit of 5,000 pending ones.
pub(crate) async fn publish_work(publisher: &Publisher, range: Range<u64>) -> Vec<PublishAck> {
    let numbers: Vec<u64> = range.collect();
    let mut acks = Vec::with_capacity(numbers.len());
    for window in numbers.chunks(1_000) {
        let mut pending = Vec::with_capacity(window.len());
        for &n in window {
            let work = Work { n };
            let send = publisher.send_publish(metadata_for(n), &work);
            let ack = within(&format!("send of message {n}"), send)
                .await
                .unwrap_or_else(|error| panic!("send message {n}: {error}"));
            pending.push(ack);
        }
        for ack in pending {
            let id = ack.message_id().to_owned();
            acks.push(
                within(&format!("ack of {id}"), ack.into_future())
                    .await
                    .expect("publish ack"),
            );
        }
    }
    acks
}

/// Returns a handler that records the `MessageID` of each message it is given.
pub(crate) fn recording_handler(seen: Recorder<String>) -> impl MessageHandler {
    ncl::handler_fn(move |message: &AnyMessage| {
        seen.push(message.id().unwrap_or("<none>").to_owned());
        async { Ok(()) }
    })
}

/// How long a test waits for one condition before it fails.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Awaits `future`, failing the test after [`WAIT`].
pub(crate) async fn within<F: Future>(description: &str, future: F) -> F::Output {
    match tokio::time::timeout(WAIT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {description}"),
    }
}

/// Polls `condition` every 10 ms until it is true, failing the test after `timeout`.
pub(crate) async fn wait_until(description: &str, timeout: Duration, condition: impl Fn() -> bool) {
    let poll = async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    if tokio::time::timeout(timeout, poll).await.is_err() {
        panic!("timed out after {timeout:?} waiting for {description}");
    }
}

/// Waits until the durable consumer has nothing pending and nothing unacknowledged, so
/// that no redelivery can still come.
pub(crate) async fn wait_for_idle_consumer(
    client: &async_nats::Client,
    stream: &str,
    durable: &str,
    subscriber: &Subscriber,
) {
    let js = async_nats::jetstream::new(client.clone());
    let poll = async {
        loop {
            let info = js
                .get_stream(stream)
                .await
                .expect("get stream")
                .consumer_info(durable)
                .await
                .expect("consumer info");
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(WAIT, poll).await.is_err() {
        panic!(
            "timed out after {WAIT:?} waiting for consumer {durable:?} to go idle; stats: {:?}",
            subscriber.stats()
        );
    }
}

/// Counts how often each id occurs in `ids`.
pub(crate) fn counts(ids: &[String]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(id.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Checks that `ids` contains `m-0` to `m-{count - 1}`, each exactly once.
pub(crate) fn assert_each_once(ids: &[String], count: u64, stats: &DurableStats) {
    let counts = counts(ids);
    let missing: Vec<String> = (0..count)
        .map(message_id)
        .filter(|id| !counts.contains_key(id.as_str()))
        .take(10)
        .collect();
    assert!(
        missing.is_empty(),
        "messages never handled (first 10): {missing:?}; {stats:?}"
    );
    let mut repeated: Vec<(&str, usize)> = counts
        .iter()
        .filter(|(_, seen)| **seen > 1)
        .map(|(id, seen)| (*id, *seen))
        .collect();
    repeated.sort_unstable();
    assert!(
        repeated.is_empty(),
        "messages handled more than once: {repeated:?}; {stats:?}"
    );
    assert_eq!(ids.len() as u64, count, "handled count; {stats:?}");
}
