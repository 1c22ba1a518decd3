//! Input that could inject into the NATS protocol or forge message fields.
//!
//! Subjects with whitespace, CR/LF, empty tokens or wildcards are rejected before anything
//! is sent. Metadata carrying CR/LF or JSON fragments travels byte-exact inside the
//! envelope. Foreign NATS headers on an incoming message change nothing.

use std::time::Duration;

use async_nats::HeaderMap;
use futures_util::StreamExt;
use ncl::metadata::keys;
use ncl::{
    AnyMessage, BuildError, EnvelopeSerializer, EnvelopeVersion, Metadata, NclPayload,
    PublishError, Publisher, SubjectError, SubscribeError, Subscriber,
};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, Recorder, connect, registry, wait_for_settled, within};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Order {
    id: u32,
}

/// A type whose wire name would smuggle a second protocol line into `PUB`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
#[ncl(name = "Evil\r\nPUB forged 5")]
struct CrLfName {
    id: u32,
}

/// A type whose wire name is a wildcard token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
#[ncl(name = ">")]
struct WildcardName {
    id: u32,
}

/// A type whose wire name adds an empty token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
#[ncl(name = "Orders.")]
struct TrailingDotName {
    id: u32,
}

/// A type whose wire name contains a tab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
#[ncl(name = "Tab\tName")]
struct TabName {
    id: u32,
}

/// The kind of [`SubjectError`] a subject should cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Empty,
    EmptyToken,
    Whitespace,
    Wildcard,
    MisplacedWildcard,
}

fn kind(error: &SubjectError) -> Option<Kind> {
    match error {
        SubjectError::Empty => Some(Kind::Empty),
        SubjectError::EmptyToken { .. } => Some(Kind::EmptyToken),
        SubjectError::Whitespace { .. } => Some(Kind::Whitespace),
        SubjectError::Wildcard { .. } => Some(Kind::Wildcard),
        SubjectError::MisplacedWildcard { .. } => Some(Kind::MisplacedWildcard),
        _ => None,
    }
}

/// Subjects that would change the meaning of a `PUB` or `SUB` line, or name no single
/// subject, with the error each should cause. Ordinary bad shapes (`a..b`, `a b`) are
/// covered by the builder tests.
const INJECTING_SUBJECTS: [(&str, Kind); 14] = [
    ("orders\r\nPUB forged 5\r\nhello", Kind::Whitespace),
    ("orders\r\n", Kind::Whitespace),
    ("orders\n", Kind::Whitespace),
    ("orders\r", Kind::Whitespace),
    ("orders 5\r\nhello", Kind::Whitespace),
    ("orders\tnew", Kind::Whitespace),
    ("orders\0new", Kind::Whitespace),
    ("orders\u{7f}", Kind::Whitespace),
    ("orders\u{a0}new", Kind::Whitespace),
    ("orders\u{2028}new", Kind::Whitespace),
    (".orders", Kind::EmptyToken),
    ("orders.", Kind::EmptyToken),
    ("orders..new", Kind::EmptyToken),
    ("", Kind::Empty),
];

#[tokio::test]
async fn publisher_rejects_injecting_destinations() {
    let server = NatsServer::start();
    let client = connect(&server).await;

    let wildcards = [("orders.*", Kind::Wildcard), ("orders.>", Kind::Wildcard)];
    for (subject, expected) in INJECTING_SUBJECTS.into_iter().chain(wildcards) {
        for as_prefix in [false, true] {
            let builder = Publisher::builder(client.clone()).name("orchestrator");
            let builder = if as_prefix {
                builder.destination_prefix(subject)
            } else {
                builder.destination(subject)
            };
            let result = builder.build();

            let Err(BuildError::InvalidSubject(error)) = &result else {
                panic!(
                    "{subject:?} (prefix: {as_prefix}): expected InvalidSubject, got {result:?}"
                );
            };
            assert_eq!(
                kind(error),
                Some(expected),
                "{subject:?} (prefix: {as_prefix})"
            );
        }
    }
}

#[tokio::test]
async fn injecting_type_names_send_nothing() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut everything = client.subscribe(">").await.expect("subscribe to >");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    let publisher = Publisher::builder(client.clone())
        .name("orchestrator")
        .destination_prefix("orders")
        .registry(registry())
        .build()
        .expect("build publisher");

    let results = [
        (
            "CR/LF",
            publisher.publish(&CrLfName { id: 1 }).await,
            Kind::Whitespace,
        ),
        (
            ">",
            publisher.publish(&WildcardName { id: 2 }).await,
            Kind::Wildcard,
        ),
        (
            "trailing dot",
            publisher.publish(&TrailingDotName { id: 3 }).await,
            Kind::EmptyToken,
        ),
        (
            "tab",
            publisher.publish(&TabName { id: 4 }).await,
            Kind::Whitespace,
        ),
    ];
    for (name, result, expected) in results {
        let Err(PublishError::InvalidSubject(error)) = &result else {
            panic!("{name}: expected InvalidSubject, got {result:?}");
        };
        assert_eq!(kind(error), Some(expected), "{name}");
    }
    // The cached subject of a valid type is unaffected by the rejected ones.
    publisher
        .publish(&Order { id: 5 })
        .await
        .expect("publish a valid type");

    // The server delivers one connection's messages in order, so had a rejected message
    // (or a line smuggled in a type name) been sent, it would arrive first.
    let first = within("the valid message", everything.next())
        .await
        .expect("subscription ended");
    assert_eq!(
        first.subject.as_str(),
        "orders.Order",
        "first subject delivered"
    );
    let next = tokio::time::timeout(Duration::from_millis(200), everything.next()).await;
    assert!(
        next.is_err(),
        "unexpected message after the valid one: {next:?}"
    );
}

#[tokio::test]
async fn subscribe_rejects_injecting_subjects() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let subscriber = Subscriber::builder(client)
        .registry(registry())
        .handler(ncl::handler_fn(|_: &AnyMessage| async { Ok(()) }))
        .build()
        .expect("build subscriber");

    let misplaced = [
        ("orders.>.new", Kind::MisplacedWildcard),
        (">.orders", Kind::MisplacedWildcard),
    ];
    for (subject, expected) in INJECTING_SUBJECTS.into_iter().chain(misplaced) {
        let result = subscriber.subscribe([subject]).await;

        let Err(SubscribeError::InvalidSubject(error)) = &result else {
            panic!("{subject:?}: expected InvalidSubject, got {result:?}");
        };
        assert_eq!(kind(error), Some(expected), "{subject:?}");
    }
}

/// Metadata pairs that would forge a header block, a protocol line or a JSON field if
/// they were written anywhere but inside the envelope's escaped strings.
fn hostile_metadata() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Crlf-Value", "line one\r\nline two\r\n"),
        ("Header-Block", "NATS/1.0\r\nNats-Msg-Id: forged\r\n\r\n"),
        ("Protocol-Line", "x\r\nPUB orders.Order 2\r\n{}\r\n"),
        ("Key\r\nNats-Msg-Id: forged", "value"),
        ("Json-Break", r#"x","Type":"Forged","y":""#),
        (r#"Json","Type":"Forged"#, "value"),
        ("Nul", "a\0b"),
        (
            "Unicode",
            "l\u{2028}s\u{2029}p <script>&amp;</script> \u{1F600}",
        ),
        ("Backslashes", "\\\"\\u0000\\"),
        ("Empty", ""),
    ]
}

#[tokio::test]
async fn hostile_metadata_round_trips_byte_exact() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut raw = client.subscribe("orders.>").await.expect("raw subscribe");
    let received = Recorder::new();
    let handler_log = received.clone();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            handler_log.push((
                message.metadata().clone(),
                message.payload::<Order>().cloned(),
            ));
            async { Ok(()) }
        }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["orders.>"]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");

    let versions = [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1];
    for (id, version) in (1..).zip(versions) {
        let publisher = Publisher::builder(client.clone())
            .name("orchestrator")
            .destination(format!("orders.{}", version.name()))
            .serializer(EnvelopeSerializer::new(version))
            .registry(registry())
            .build()
            .expect("build publisher");
        let mut metadata = Metadata::new();
        for (key, value) in hostile_metadata() {
            metadata.insert(key, value);
        }
        publisher
            .publish_with_metadata(metadata, &Order { id })
            .await
            .expect("publish");

        // NCL writes metadata only inside the envelope, never as NATS headers, and the
        // server receives one message per publish.
        let message = within("raw message", raw.next())
            .await
            .expect("raw subscription ended");
        assert_eq!(message.headers, None, "{version}: NATS headers");
        assert_eq!(
            message.subject.as_str(),
            format!("orders.{}", version.name()),
            "{version}: subject"
        );
    }
    let stats = wait_for_settled(&subscriber, 2).await;
    assert_eq!(stats.processed, 2, "processed; stats: {stats:?}");
    let next = tokio::time::timeout(Duration::from_millis(200), raw.next()).await;
    assert!(next.is_err(), "a third message arrived: {next:?}");

    for ((metadata, payload), id) in received.items().into_iter().zip(1..) {
        for (key, value) in hostile_metadata() {
            assert_eq!(metadata.get(key), Some(value), "message {id}: key {key:?}");
        }
        assert_eq!(metadata.message_type(), Some("Order"), "message {id}: Type");
        assert_eq!(
            metadata.source(),
            Some("orchestrator"),
            "message {id}: Source"
        );
        assert_eq!(payload, Some(Order { id }), "message {id}: payload");
    }
}

#[tokio::test]
async fn foreign_nats_headers_are_ignored() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let received = Recorder::new();
    let handler_log = received.clone();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            handler_log.push((
                message.metadata().clone(),
                message.payload::<Order>().cloned(),
            ));
            async { Ok(()) }
        }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["orders.>"]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");

    let mut metadata = Metadata::new();
    metadata.insert(keys::MESSAGE_ID, "real-id");
    metadata.insert(keys::TYPE, "Order");
    metadata.insert(keys::PAYLOAD_ENCODING, "json");
    let envelope = EnvelopeSerializer::default()
        .serialize(&ncl::RawMessage::new(metadata, &br#"{"id":7}"#[..]))
        .expect("encode envelope");
    let long_value = "v".repeat(4096);
    let header_sets: [&[(&str, &str)]; 3] = [
        &[
            ("Nats-Msg-Id", "forged-id"),
            ("Nats-Expected-Stream", "\u{1}\u{2}garbage"),
            ("Nats-Expected-Last-Sequence", "-1"),
        ],
        &[
            (keys::MESSAGE_ID, "forged-id"),
            (keys::TYPE, "NoSuchType"),
            (keys::PAYLOAD_ENCODING, "protobuf"),
            ("Bacalhau-Type", "NoSuchType"),
        ],
        &[
            ("Garbage", "\u{fffd}\u{0}\u{7f} ünïcödé 😀"),
            ("Empty", ""),
            ("Long", &long_value),
            ("Status", "503"),
        ],
    ];
    for headers in header_sets {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, *value);
        }
        client
            .publish_with_headers("orders.Order", map, envelope.clone())
            .await
            .expect("publish with headers");
    }
    let stats = wait_for_settled(&subscriber, 3).await;

    assert_eq!(stats.processed, 3, "processed; stats: {stats:?}");
    for (index, (metadata, payload)) in received.items().into_iter().enumerate() {
        assert_eq!(
            metadata.message_id(),
            Some("real-id"),
            "message {index}: MessageID"
        );
        assert_eq!(
            metadata.message_type(),
            Some("Order"),
            "message {index}: Type"
        );
        assert_eq!(metadata.len(), 3, "message {index}: metadata {metadata:?}");
        assert_eq!(payload, Some(Order { id: 7 }), "message {index}: payload");
    }
}
