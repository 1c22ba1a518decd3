//! Failing messages: retries with growing delays, dead letters with the reason attached,
//! and no retries for messages that can never decode.

mod jetstream_support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use jetstream_support::{
    jetstream_server, message_id, publish_work, wait_for_idle_consumer, wait_until, within,
};
use ncl::jetstream::{Backoff, Publisher, Subscriber, dead_letter_keys};
use ncl::{AnyMessage, EnvelopeSerializer, Metadata, RawMessage};
use tests::{Recorder, connect, registry};

const STREAM: &str = "POISON";
const SUBJECT: &str = "poison.work";
const DURABLE: &str = "poison-worker";
/// The default dead-letter subject of [`STREAM`].
const DEAD_LETTER_SUBJECT: &str = "POISON.dead-letter";

fn publisher(client: &async_nats::Client) -> Publisher {
    Publisher::builder(client.clone())
        .name("producer")
        .destination(SUBJECT)
        .registry(registry())
        .build()
        .expect("build publisher")
}

/// A handler call: the message id and when it happened.
type Attempt = (String, Instant);

/// Returns a handler that records every call and fails for message `poison`.
fn failing_handler(attempts: Recorder<Attempt>, poison: String) -> impl ncl::MessageHandler {
    ncl::handler_fn(move |message: &AnyMessage| {
        let id = message.id().unwrap_or("<none>").to_owned();
        attempts.push((id.clone(), Instant::now()));
        let fails = id == poison;
        async move {
            if fails {
                Err(format!("poison pill {id}").into())
            } else {
                Ok(())
            }
        }
    })
}

fn header<'a>(message: &'a async_nats::Message, key: &str) -> Option<&'a str> {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(key))
        .map(|value| value.as_str())
}

#[tokio::test]
async fn poison_message_is_retried_then_dead_lettered() {
    const COUNT: u64 = 10;
    const MAX_DELIVERIES: usize = 4;
    let backoff = Backoff {
        initial: Duration::from_millis(100),
        factor: 2.0,
        max: Duration::from_secs(1),
    };
    let server = jetstream_server();
    let client = connect(&server).await;
    let mut dead_letters = client
        .subscribe(DEAD_LETTER_SUBJECT)
        .await
        .expect("subscribe to dead letters");
    let attempts = Recorder::<Attempt>::new();
    let poison = message_id(2);
    let subscriber = Subscriber::builder(client.clone())
        .stream(STREAM)
        .subjects(["poison.>"])
        .durable_name(DURABLE)
        .max_deliveries(MAX_DELIVERIES as u32)
        .backoff(backoff)
        .pull_expiry(Duration::from_millis(500))
        .registry(registry())
        .handler(failing_handler(attempts.clone(), poison.clone()))
        .build()
        .expect("build subscriber");
    subscriber.start().await.expect("start subscriber");
    assert_eq!(subscriber.dead_letter_subject(), DEAD_LETTER_SUBJECT);

    publish_work(&publisher(&client), 0..COUNT).await;
    let dead_letter = within("the dead letter", dead_letters.next())
        .await
        .expect("dead-letter subscription open");
    let handled = || {
        let ids: Vec<String> = attempts.items().into_iter().map(|(id, _)| id).collect();
        ids.iter().filter(|id| **id != poison).count()
    };
    wait_until(
        "the other messages to be handled",
        Duration::from_secs(10),
        || handled() == COUNT as usize - 1,
    )
    .await;
    wait_for_idle_consumer(&client, STREAM, DURABLE, &subscriber).await;
    let stats = subscriber.stats();
    subscriber.close().await;

    // The poison message was tried max_deliveries times, with growing gaps.
    let attempts = attempts.items();
    let poison_times: Vec<Instant> = attempts
        .iter()
        .filter(|(id, _)| *id == poison)
        .map(|(_, at)| *at)
        .collect();
    assert_eq!(
        poison_times.len(),
        MAX_DELIVERIES,
        "poison attempts; {stats:?}"
    );
    let gaps: Vec<Duration> = poison_times
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .collect();
    for (i, gap) in gaps.iter().enumerate() {
        let delay = backoff.delay(i as u32 + 1);
        assert!(
            *gap >= delay,
            "gap {i} is {gap:?}, shorter than the backoff {delay:?}"
        );
    }
    for pair in gaps.windows(2) {
        assert!(pair[1] > pair[0], "gaps do not grow: {gaps:?}");
    }

    // Every other message was handled once, in order, the later ones only after the
    // poison message was dead-lettered (concurrency 1 keeps stream order).
    let others: Vec<&str> = attempts
        .iter()
        .filter(|(id, _)| *id != poison)
        .map(|(id, _)| id.as_str())
        .collect();
    let expected: Vec<String> = (0..COUNT)
        .map(message_id)
        .filter(|id| *id != poison)
        .collect();
    assert_eq!(others, expected);
    let last_poison = poison_times.last().copied().expect("poison attempts");
    let next = attempts
        .iter()
        .find(|(id, _)| *id == message_id(3))
        .map(|(_, at)| *at)
        .expect("message 3 handled");
    assert!(next > last_poison, "message 3 overtook the poison message");

    // The dead letter is the original envelope with the reason added.
    assert_eq!(
        header(&dead_letter, dead_letter_keys::DELIVERIES),
        Some("4")
    );
    assert_eq!(
        header(&dead_letter, dead_letter_keys::STAGE),
        Some("handler")
    );
    let raw = EnvelopeSerializer::default()
        .deserialize_bytes(&dead_letter.payload)
        .expect("dead letter is an envelope");
    let metadata = &raw.metadata;
    assert_eq!(metadata.message_id(), Some(poison.as_str()));
    assert_eq!(metadata.message_type(), Some("Work"));
    assert_eq!(metadata.get(dead_letter_keys::DELIVERIES), Some("4"));
    assert_eq!(metadata.get(dead_letter_keys::SUBJECT), Some(SUBJECT));
    assert_eq!(metadata.get(dead_letter_keys::STREAM), Some(STREAM));
    assert_eq!(metadata.get(dead_letter_keys::STREAM_SEQUENCE), Some("3"));
    assert_eq!(metadata.get(dead_letter_keys::CONSUMER), Some(DURABLE));
    let error = metadata.get(dead_letter_keys::ERROR).unwrap_or_default();
    assert!(error.contains("poison pill m-2"), "error text: {error:?}");
    assert_eq!(&raw.payload[..], br#"{"n":2}"#);

    assert_eq!(stats.dead_lettered, 1);
    assert_eq!(stats.retried, MAX_DELIVERIES as u64 - 1);
    assert_eq!(stats.pipeline.handler_errors, MAX_DELIVERIES as u64);
}

#[tokio::test]
async fn undecodable_messages_are_dead_lettered_at_once() {
    let server = jetstream_server();
    let client = connect(&server).await;
    let mut dead_letters = client
        .subscribe(DEAD_LETTER_SUBJECT)
        .await
        .expect("subscribe to dead letters");
    let attempts = Recorder::<Attempt>::new();
    let subscriber = Subscriber::builder(client.clone())
        .stream(STREAM)
        .subjects(["poison.>"])
        .durable_name(DURABLE)
        .registry(registry())
        .handler(failing_handler(attempts.clone(), String::new()))
        .build()
        .expect("build subscriber");
    subscriber.start().await.expect("start subscriber");

    let js = async_nats::jetstream::new(client.clone());
    let garbage = Bytes::from_static(b"\x07garbage, not an envelope");
    js.publish("poison.raw", garbage.clone())
        .await
        .expect("send garbage")
        .await
        .expect("garbage stored");
    let mut metadata = Metadata::new();
    metadata.insert("MessageID", "unknown-1");
    metadata.insert("Type", "NoSuchType");
    metadata.insert("PayloadEncoding", "json");
    let unknown = EnvelopeSerializer::default()
        .serialize(&RawMessage::new(metadata, &b"{}"[..]))
        .expect("encode envelope of an unknown type");
    js.publish("poison.unknown", unknown)
        .await
        .expect("send unknown type")
        .await
        .expect("unknown type stored");
    publish_work(&publisher(&client), 0..1).await;

    let mut received = Vec::new();
    for _ in 0..2 {
        let dead_letter = within("a dead letter", dead_letters.next())
            .await
            .expect("dead-letter subscription open");
        received.push(dead_letter);
    }
    wait_for_idle_consumer(&client, STREAM, DURABLE, &subscriber).await;
    let stats = subscriber.stats();
    subscriber.close().await;

    let by_stage = |stage: &str| {
        received
            .iter()
            .find(|message| header(message, dead_letter_keys::STAGE) == Some(stage))
            .unwrap_or_else(|| panic!("no dead letter with stage {stage:?}"))
    };
    // A broken envelope is forwarded unchanged, described by headers only.
    let broken = by_stage("envelope");
    assert_eq!(broken.payload, garbage);
    assert_eq!(header(broken, dead_letter_keys::DELIVERIES), Some("1"));
    assert_eq!(
        header(broken, dead_letter_keys::SUBJECT),
        Some("poison.raw")
    );
    let error = header(broken, dead_letter_keys::ERROR).unwrap_or_default();
    assert!(error.contains("version"), "error text: {error:?}");

    // An unknown type keeps its envelope, with the reason in its metadata.
    let unknown = by_stage("payload");
    let raw = EnvelopeSerializer::default()
        .deserialize_bytes(&unknown.payload)
        .expect("dead letter is an envelope");
    assert_eq!(raw.metadata.message_id(), Some("unknown-1"));
    assert_eq!(raw.metadata.get(dead_letter_keys::DELIVERIES), Some("1"));
    assert_eq!(raw.metadata.get(dead_letter_keys::STAGE), Some("payload"));
    let error = raw
        .metadata
        .get(dead_letter_keys::ERROR)
        .unwrap_or_default();
    assert!(error.contains("NoSuchType"), "error text: {error:?}");

    let handled: Vec<String> = attempts.items().into_iter().map(|(id, _)| id).collect();
    assert_eq!(handled, [message_id(0)]);
    assert_eq!(stats.retried, 0, "{stats:?}");
    assert_eq!(stats.dead_lettered, 2, "{stats:?}");
}

#[tokio::test]
async fn dead_letter_stored_by_other_stream() {
    let server = jetstream_server();
    let client = connect(&server).await;
    let js = async_nats::jetstream::new(client.clone());
    let dead_letter_stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "DLQ".to_owned(),
            subjects: vec!["dlq.>".to_owned()],
            ..Default::default()
        })
        .await
        .expect("create the dead-letter stream");
    let attempts = Recorder::<Attempt>::new();
    let subscriber = Subscriber::builder(client.clone())
        .stream(STREAM)
        .subjects(["poison.>"])
        .durable_name(DURABLE)
        .dead_letter_subject("dlq.poison")
        .max_deliveries(1)
        .registry(registry())
        .handler(failing_handler(attempts.clone(), message_id(0)))
        .build()
        .expect("build subscriber");
    subscriber.start().await.expect("start subscriber");

    publish_work(&publisher(&client), 0..1).await;
    wait_until("the dead letter", Duration::from_secs(10), || {
        subscriber.stats().dead_lettered == 1
    })
    .await;
    wait_for_idle_consumer(&client, STREAM, DURABLE, &subscriber).await;
    subscriber.close().await;

    let stored = dead_letter_stream
        .get_raw_message(1)
        .await
        .expect("dead letter stored in DLQ");
    assert_eq!(stored.subject.as_str(), "dlq.poison");
    let message_id = stored
        .headers
        .get("Nats-Msg-Id")
        .map(|value| value.as_str().to_owned());
    assert_eq!(
        message_id.as_deref(),
        Some("dead-letter:POISON:poison-worker:1")
    );
    let raw = EnvelopeSerializer::default()
        .deserialize_bytes(&stored.payload)
        .expect("dead letter is an envelope");
    assert_eq!(raw.metadata.get(dead_letter_keys::DELIVERIES), Some("1"));
    assert_eq!(attempts.len(), 1);
}
