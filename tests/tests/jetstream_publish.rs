//! The JetStream publisher: stream acknowledgements, deduplication by `MessageID`, and
//! its errors.

mod jetstream_support;

use jetstream_support::{Work, jetstream_server, metadata_for};
use ncl::EnvelopeSerializer;
use ncl::jetstream::{PublishError, Publisher};
use tests::{connect, registry};

const STREAM: &str = "PUB";

async fn create_stream(client: &async_nats::Client) -> async_nats::jetstream::stream::Stream {
    async_nats::jetstream::new(client.clone())
        .create_stream(async_nats::jetstream::stream::Config {
            name: STREAM.to_owned(),
            subjects: vec!["pub.>".to_owned()],
            ..Default::default()
        })
        .await
        .expect("create stream")
}

fn publisher(client: &async_nats::Client) -> Publisher {
    Publisher::builder(client.clone())
        .name("producer")
        .destination("pub.orders")
        .registry(registry())
        .build()
        .expect("build publisher")
}

#[tokio::test]
async fn same_message_id_is_stored_once() {
    let server = jetstream_server();
    let client = connect(&server).await;
    let mut stream = create_stream(&client).await;
    let publisher = publisher(&client);

    let first = publisher
        .publish_with_metadata(metadata_for(1), &Work { n: 1 })
        .await
        .expect("first publish");
    let second = publisher
        .publish_with_metadata(metadata_for(1), &Work { n: 1 })
        .await
        .expect("second publish");

    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(second.sequence, first.sequence);
    assert_eq!(first.stream, STREAM);
    let info = stream.info().await.expect("stream info");
    assert_eq!(info.state.messages, 1);

    let stored = stream
        .get_raw_message(first.sequence)
        .await
        .expect("stored message");
    let header = stored
        .headers
        .get("Nats-Msg-Id")
        .map(|value| value.as_str());
    assert_eq!(header, Some("m-1"));
    let raw = EnvelopeSerializer::default()
        .deserialize_bytes(&stored.payload)
        .expect("stored message is an envelope");
    assert_eq!(raw.metadata.message_id(), Some("m-1"));
    assert_eq!(raw.metadata.source(), Some("producer"));
    assert_eq!(raw.metadata.message_type(), Some("Work"));
}

#[tokio::test]
async fn generated_message_id_is_the_dedup_header() {
    let server = jetstream_server();
    let client = connect(&server).await;
    let stream = create_stream(&client).await;
    let publisher = publisher(&client);

    let ack = publisher.publish(&Work { n: 7 }).await.expect("publish");

    let stored = stream
        .get_raw_message(ack.sequence)
        .await
        .expect("stored message");
    let header = stored
        .headers
        .get("Nats-Msg-Id")
        .map(|value| value.as_str().to_owned())
        .expect("Nats-Msg-Id header");
    let raw = EnvelopeSerializer::default()
        .deserialize_bytes(&stored.payload)
        .expect("stored message is an envelope");
    assert_eq!(raw.metadata.message_id(), Some(header.as_str()));
    assert_eq!(header.len(), 36, "a hyphenated UUID: {header:?}");
}

#[tokio::test]
async fn publish_without_stream_fails_with_stream_not_found() {
    let server = jetstream_server();
    let client = connect(&server).await;
    let publisher = publisher(&client);

    let error = publisher
        .publish(&Work { n: 1 })
        .await
        .expect_err("no stream stores pub.orders");

    match error {
        PublishError::StreamNotFound { subject } => assert_eq!(subject, "pub.orders"),
        other => panic!("expected StreamNotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn closed_publisher_rejects_publish() {
    let server = jetstream_server();
    let client = connect(&server).await;
    create_stream(&client).await;
    let publisher = publisher(&client);

    publisher.close().await.expect("close");
    let error = publisher
        .publish(&Work { n: 1 })
        .await
        .expect_err("publisher is closed");

    assert!(matches!(error, PublishError::Closed), "{error:?}");
}
