//! Envelopes at and just over the server's `max_payload`: the limit itself passes, one
//! byte more is rejected before anything is written, and the connection stays up.

use std::sync::atomic::Ordering;

use ncl::metadata::keys;
use ncl::{
    AnyMessage, Encoder, EnvelopeSerializer, EnvelopeVersion, Metadata, NclPayload, PublishError,
    Publisher, Subscriber,
};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, Recorder, ServerOptions, connect, registry, wait_for_settled, within};

/// The server's `max_payload`: 1 MiB.
const MAX_PAYLOAD: usize = 1_048_576;
const PUBLISHER_NAME: &str = "uploader";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Chunk {
    data: String,
}

fn chunk(len: usize) -> Chunk {
    Chunk {
        data: "x".repeat(len),
    }
}

/// Returns metadata with the keys the publisher would otherwise fill with fresh values,
/// so that every encoding of a chunk has the same length.
fn fixed_metadata() -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert(keys::MESSAGE_ID, "00000000-0000-4000-8000-000000000000");
    metadata.insert(keys::EVENT_TIME, "1700000000000000000");
    metadata
}

/// Returns the length of the envelope the publisher writes for a chunk of `len` bytes.
fn envelope_len(encoder: &Encoder, len: usize) -> usize {
    encoder
        .encode(&mut fixed_metadata(), &chunk(len))
        .expect("encode chunk")
        .len()
}

/// Returns the chunk length whose envelope is exactly `target` bytes long.
fn chunk_len_for(encoder: &Encoder, target: usize) -> usize {
    let mut len = target / 2;
    // Framing grows by a byte when a protobuf length varint does, so a step can land one
    // byte off; a few rounds settle it.
    for _ in 0..4 {
        let envelope = envelope_len(encoder, len);
        if envelope == target {
            return len;
        }
        len = (len + target)
            .checked_sub(envelope)
            .expect("framing fits in the limit");
    }
    panic!("no chunk length gives an envelope of exactly {target} bytes");
}

fn connects(client: &async_nats::Client) -> u64 {
    client.statistics().connects.load(Ordering::Relaxed)
}

fn out_messages(client: &async_nats::Client) -> u64 {
    client.statistics().out_messages.load(Ordering::Relaxed)
}

fn out_bytes(client: &async_nats::Client) -> u64 {
    client.statistics().out_bytes.load(Ordering::Relaxed)
}

#[tokio::test]
async fn max_payload_boundary_is_exact() {
    let server = NatsServer::start_with(ServerOptions {
        max_payload: Some(MAX_PAYLOAD),
        ..ServerOptions::default()
    });
    let client = connect(&server).await;
    assert_eq!(
        client.max_payload(),
        MAX_PAYLOAD,
        "max_payload from the server"
    );
    let subscriber_client = connect(&server).await;
    let sizes = Recorder::new();
    let handler_log = sizes.clone();
    let subscriber = Subscriber::builder(subscriber_client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            handler_log.push(
                message
                    .payload::<Chunk>()
                    .map_or(0, |chunk| chunk.data.len()),
            );
            async { Ok(()) }
        }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["chunks.>"]).await.expect("subscribe");
    within("flush after subscribe", subscriber_client.flush())
        .await
        .expect("flush");

    let mut expected_sizes = Vec::new();
    for version in [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1] {
        let subject = format!("chunks.{}", version.name());
        let serializer = EnvelopeSerializer::new(version);
        let publisher = Publisher::builder(client.clone())
            .name(PUBLISHER_NAME)
            .destination(subject.clone())
            .serializer(serializer)
            .registry(registry())
            .build()
            .expect("build publisher");
        let encoder = Encoder::new(PUBLISHER_NAME, serializer, registry());
        let fitting = chunk_len_for(&encoder, MAX_PAYLOAD);
        assert_eq!(envelope_len(&encoder, fitting), MAX_PAYLOAD, "{version}");
        assert_eq!(
            envelope_len(&encoder, fitting + 1),
            MAX_PAYLOAD + 1,
            "{version}"
        );

        publisher
            .publish_with_metadata(fixed_metadata(), &chunk(fitting))
            .await
            .unwrap_or_else(|error| panic!("{version}: envelope of exactly the limit: {error}"));
        expected_sizes.push(fitting);
        // The client counts bytes as it writes them, so the counters settle only once the
        // earlier message is flushed.
        within("flush", client.flush()).await.expect("flush");

        let (messages, bytes) = (out_messages(&client), out_bytes(&client));
        let result = publisher
            .publish_with_metadata(fixed_metadata(), &chunk(fitting + 1))
            .await;
        let Err(PublishError::MaxPayloadExceeded {
            subject: error_subject,
            size,
            limit,
        }) = &result
        else {
            panic!("{version}: expected MaxPayloadExceeded, got {result:?}");
        };
        assert_eq!(*size, MAX_PAYLOAD + 1, "{version}: size in the error");
        assert_eq!(*limit, MAX_PAYLOAD, "{version}: limit in the error");
        assert_eq!(error_subject, &subject, "{version}: subject in the error");
        assert_eq!(
            out_messages(&client),
            messages,
            "{version}: messages written"
        );
        assert_eq!(out_bytes(&client), bytes, "{version}: bytes written");

        publisher.publish(&chunk(16)).await.unwrap_or_else(|error| {
            panic!("{version}: small publish after the rejection: {error}")
        });
        expected_sizes.push(16);
    }
    let stats = wait_for_settled(&subscriber, 4).await;

    assert_eq!(stats.processed, 4, "processed; stats: {stats:?}");
    assert_eq!(sizes.items(), expected_sizes, "handled chunk sizes");
    assert_eq!(connects(&client), 1, "publisher client connects");
    assert_eq!(
        connects(&subscriber_client),
        1,
        "subscriber client connects"
    );
}
