//! Malformed messages sent with the plain NATS client: each is counted and skipped, no
//! handler receives it, and the subscriber goes on handling good messages.

use bytes::Bytes;
use ncl::metadata::keys;
use ncl::{
    AnyMessage, EnvelopeSerializer, EnvelopeVersion, Metadata, NclPayload, Publisher, RawMessage,
    Subscriber, SubscriberStats,
};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, Recorder, connect, registry, wait_for_settled, within};

const SUBJECT: &str = "bad.input";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

/// The counter a malformed message should land in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    EnvelopeError,
    PayloadError,
}

/// Returns an envelope of `version_byte` around `body`, with a correct CRC.
fn envelope(version_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![version_byte];
    out.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Returns a well-formed envelope of `version` with the given metadata and payload bytes.
fn valid_envelope(version: EnvelopeVersion, pairs: &[(&str, &str)], payload: &str) -> Vec<u8> {
    let mut metadata = Metadata::new();
    for (key, value) in pairs {
        metadata.insert(*key, *value);
    }
    let raw = RawMessage::new(metadata, payload.as_bytes().to_vec());
    EnvelopeSerializer::new(version)
        .serialize(&raw)
        .expect("encode envelope")
        .to_vec()
}

/// Lists malformed messages, each with a name for failure output and the counter it
/// should increase.
fn bad_messages() -> Vec<(String, Vec<u8>, Expected)> {
    let good_job = r#"{"job_id":"j-1"}"#;
    let json_type = [
        (keys::TYPE, "JobAssigned"),
        (keys::PAYLOAD_ENCODING, "json"),
    ];

    let mut bad_crc = valid_envelope(EnvelopeVersion::JsonV1, &json_type, good_job);
    bad_crc[1] ^= 0xff;

    let mut cases = vec![
        ("empty".to_owned(), Vec::new(), Expected::EnvelopeError),
        (
            "too short".to_owned(),
            vec![1, 0, 0, 0],
            Expected::EnvelopeError,
        ),
        ("bad CRC".to_owned(), bad_crc, Expected::EnvelopeError),
        (
            "version 0".to_owned(),
            envelope(0, b"{}"),
            Expected::EnvelopeError,
        ),
        (
            "version 3".to_owned(),
            envelope(3, b"{}"),
            Expected::EnvelopeError,
        ),
        (
            "broken JSON body".to_owned(),
            envelope(1, br#"{"metadata":{"Type":"#),
            Expected::EnvelopeError,
        ),
        (
            "JSON body with trailing data".to_owned(),
            envelope(1, br#"{"metadata":{},"payload":{}} x"#),
            Expected::EnvelopeError,
        ),
        (
            "broken protobuf body".to_owned(),
            envelope(2, &[0x0a, 0xff, 0xff]),
            Expected::EnvelopeError,
        ),
        (
            "bare JSON without envelope".to_owned(),
            good_job.as_bytes().to_vec(),
            Expected::EnvelopeError,
        ),
    ];

    for version in [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1] {
        let payload_cases = [
            (
                "unknown type",
                vec![(keys::TYPE, "NoSuchType"), (keys::PAYLOAD_ENCODING, "json")],
                good_job,
            ),
            (
                "missing type",
                vec![(keys::PAYLOAD_ENCODING, "json")],
                good_job,
            ),
            (
                "missing encoding",
                vec![(keys::TYPE, "JobAssigned")],
                good_job,
            ),
            (
                "unsupported encoding",
                vec![
                    (keys::TYPE, "JobAssigned"),
                    (keys::PAYLOAD_ENCODING, "protobuf"),
                ],
                good_job,
            ),
            (
                "payload of the wrong shape",
                json_type.to_vec(),
                r#"{"job_id":5}"#,
            ),
        ];
        for (name, pairs, payload) in payload_cases {
            cases.push((
                format!("{name} ({version})"),
                valid_envelope(version, &pairs, payload),
                Expected::PayloadError,
            ));
        }
    }
    cases.push((
        "payload that is not JSON (protobuf-v1)".to_owned(),
        valid_envelope(EnvelopeVersion::ProtobufV1, &json_type, "not json"),
        Expected::PayloadError,
    ));
    cases
}

#[tokio::test]
async fn malformed_messages_are_counted_and_skipped() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let handled = Recorder::new();
    let handler_log = handled.clone();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            handler_log.push(message.payload::<JobAssigned>().cloned());
            async { Ok(()) }
        }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe([SUBJECT]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");

    let mut previous = SubscriberStats::default();
    for (count, (name, bytes, expected)) in (1..).zip(bad_messages()) {
        client
            .publish(SUBJECT, Bytes::from(bytes))
            .await
            .expect("publish raw bytes");
        let stats = wait_for_settled(&subscriber, count).await;

        assert_eq!(stats.received, count, "{name}: received");
        let envelope_errors = stats.envelope_errors - previous.envelope_errors;
        let payload_errors = stats.payload_errors - previous.payload_errors;
        match expected {
            Expected::EnvelopeError => {
                assert_eq!(
                    envelope_errors, 1,
                    "{name}: envelope_errors; stats: {stats:?}"
                );
                assert_eq!(
                    payload_errors, 0,
                    "{name}: payload_errors; stats: {stats:?}"
                );
            }
            Expected::PayloadError => {
                assert_eq!(
                    envelope_errors, 0,
                    "{name}: envelope_errors; stats: {stats:?}"
                );
                assert_eq!(
                    payload_errors, 1,
                    "{name}: payload_errors; stats: {stats:?}"
                );
            }
        }
        assert_eq!(stats.processed, 0, "{name}: processed");
        assert!(
            handled.is_empty(),
            "{name}: a handler saw a malformed message"
        );
        previous = stats;
    }

    let publisher = Publisher::builder(client.clone())
        .name("orchestrator")
        .destination(SUBJECT)
        .registry(registry())
        .build()
        .expect("build publisher");
    let good = JobAssigned {
        job_id: "j-good".to_owned(),
    };
    publisher
        .publish(&good)
        .await
        .expect("publish good message");
    let stats = wait_for_settled(&subscriber, previous.received + 1).await;

    assert_eq!(stats.processed, 1, "good message after malformed ones");
    assert_eq!(handled.items(), [Some(good)]);
}
