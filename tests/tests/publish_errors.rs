//! Publish-time errors: nothing is sent, and the publisher stays usable.

use ncl::{
    AnyMessage, EnvelopeSerializer, EnvelopeVersion, NclPayload, PublishError, Publisher,
    SubjectError, Subscriber,
};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, Recorder, ServerOptions, connect, registry, wait_for_settled, within};

/// The server's `max_payload` in the size tests.
const MAX_PAYLOAD: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Blob {
    data: String,
}

/// A type whose wire name is not a valid subject token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
#[ncl(name = "Spaced Name")]
struct Spaced {
    value: u32,
}

fn blob(len: usize) -> Blob {
    Blob {
        data: "x".repeat(len),
    }
}

async fn recording_subscriber(
    client: &async_nats::Client,
    subject: &str,
) -> (Subscriber, Recorder<String>) {
    let seen = Recorder::new();
    let handler_log = seen.clone();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            handler_log.push(message.message_type().unwrap_or("<none>").to_owned());
            async { Ok(()) }
        }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe([subject]).await.expect("subscribe");
    // The server has processed the SUB once it replies to the PING sent after it.
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    (subscriber, seen)
}

#[tokio::test]
async fn invalid_type_name_subject_sends_nothing() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let (subscriber, seen) = recording_subscriber(&client, "events.>").await;
    let publisher = Publisher::builder(client.clone())
        .name("orchestrator")
        .destination_prefix("events")
        .registry(registry())
        .build()
        .expect("build publisher");

    let result = publisher.publish(&Spaced { value: 1 }).await;
    assert!(
        matches!(
            result,
            Err(PublishError::InvalidSubject(
                SubjectError::Whitespace { .. }
            ))
        ),
        "got {result:?}"
    );

    // Messages of one subscription are handled in order, so had the rejected message
    // been sent, it would be handled before this one.
    publisher
        .publish(&blob(8))
        .await
        .expect("publish after the rejected message");
    let stats = wait_for_settled(&subscriber, 1).await;

    assert_eq!(stats.received, 1, "received");
    assert_eq!(seen.items(), ["Blob"], "handled types");
}

#[tokio::test]
async fn oversized_envelope_is_rejected() {
    let server = NatsServer::start_with(ServerOptions {
        max_payload: Some(MAX_PAYLOAD),
        ..ServerOptions::default()
    });
    let client = connect(&server).await;
    assert_eq!(
        client.max_payload(),
        MAX_PAYLOAD,
        "the server's max_payload"
    );

    for version in [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1] {
        let subject = format!("big.{}", version.name());
        let (subscriber, seen) = recording_subscriber(&client, &subject).await;
        let publisher = Publisher::builder(client.clone())
            .name("orchestrator")
            .destination(subject.clone())
            .serializer(EnvelopeSerializer::new(version))
            .registry(registry())
            .build()
            .expect("build publisher");

        let result = publisher.publish(&blob(MAX_PAYLOAD + 1024)).await;
        let Err(PublishError::MaxPayloadExceeded {
            subject: error_subject,
            size,
            limit,
        }) = &result
        else {
            panic!("{version}: expected MaxPayloadExceeded, got {result:?}");
        };
        assert_eq!(error_subject, &subject, "{version}: subject in the error");
        assert_eq!(*limit, MAX_PAYLOAD, "{version}: limit in the error");
        assert!(
            *size > MAX_PAYLOAD + 1024,
            "{version}: size {size} in the error"
        );

        publisher
            .publish(&blob(16))
            .await
            .expect("publish after the rejected message");
        let stats = wait_for_settled(&subscriber, 1).await;

        assert_eq!(stats.received, 1, "{version}: received");
        assert_eq!(stats.processed, 1, "{version}: processed");
        assert_eq!(seen.items(), ["Blob"], "{version}: handled types");
        subscriber.close().await;
    }
}

#[tokio::test]
async fn envelope_under_max_payload_arrives() {
    let server = NatsServer::start_with(ServerOptions {
        max_payload: Some(MAX_PAYLOAD),
        ..ServerOptions::default()
    });
    let client = connect(&server).await;
    let (subscriber, seen) = recording_subscriber(&client, "big.fits").await;
    let publisher = Publisher::builder(client.clone())
        .name("orchestrator")
        .destination("big.fits")
        .registry(registry())
        .build()
        .expect("build publisher");

    // Metadata and JSON framing take well under 1 KiB.
    publisher
        .publish(&blob(MAX_PAYLOAD - 1024))
        .await
        .expect("publish a payload just under the limit");
    let stats = wait_for_settled(&subscriber, 1).await;

    assert_eq!(stats.processed, 1, "processed");
    assert_eq!(seen.items(), ["Blob"], "handled types");
}
