//! Envelopes framed almost right: a CRC computed with the Castagnoli polynomial or
//! written little-endian, and messages shorter than the header. The decoder must name
//! each as an envelope error, and a subscriber must count and skip it. The other malformed
//! headers and bodies are covered in `bad_input.rs`.

use bytes::Bytes;
use ncl::metadata::keys;
use ncl::{
    AnyMessage, EnvelopeError, EnvelopeSerializer, EnvelopeVersion, Metadata, NclPayload,
    Publisher, RawMessage, Subscriber,
};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, Recorder, connect, registry, wait_for_settled, within};

const SUBJECT: &str = "wrong.format";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Reading {
    value: i32,
}

/// Computes CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) bit by bit.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Returns the body of a valid envelope of `version` carrying a [`Reading`].
fn valid_body(version: EnvelopeVersion) -> Vec<u8> {
    let mut metadata = Metadata::new();
    metadata.insert(keys::TYPE, "Reading");
    metadata.insert(keys::PAYLOAD_ENCODING, "json");
    let raw = RawMessage::new(metadata, &br#"{"value":1}"#[..]);
    let envelope = EnvelopeSerializer::new(version)
        .serialize(&raw)
        .expect("encode envelope");
    envelope[ncl::envelope::HEADER_LEN..].to_vec()
}

/// Returns the version byte, the 4 CRC bytes and the body.
fn framed(version: EnvelopeVersion, crc_bytes: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = vec![version.byte()];
    out.extend_from_slice(&crc_bytes);
    out.extend_from_slice(body);
    out
}

/// Lists envelopes whose CRC is computed or written the wrong way, each with its name and
/// the CRC the header then holds, read big-endian.
fn wrong_crc_envelopes() -> Vec<(String, Vec<u8>, u32)> {
    let mut cases = Vec::new();
    for version in [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1] {
        let body = valid_body(version);
        let ieee = crc32fast::hash(&body);
        let castagnoli = crc32c(&body);
        assert_ne!(castagnoli, ieee, "{version}: both polynomials give one CRC");
        assert_ne!(
            ieee.swap_bytes(),
            ieee,
            "{version}: the CRC reads the same both ways"
        );
        let wrong = [
            ("CRC-32C big-endian", castagnoli.to_be_bytes()),
            ("CRC-32C little-endian", castagnoli.to_le_bytes()),
            ("CRC-32 little-endian", ieee.to_le_bytes()),
        ];
        for (name, crc_bytes) in wrong {
            cases.push((
                format!("{version} with {name}"),
                framed(version, crc_bytes, &body),
                u32::from_be_bytes(crc_bytes),
            ));
        }
    }
    cases
}

#[test]
fn crc32c_matches_its_check_value() {
    // The check value of CRC-32C over "123456789", from the catalogue of parametrised
    // CRC algorithms (reveng.sourceforge.io, CRC-32/ISCSI).
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
}

#[test]
fn wrong_crc_is_a_crc_mismatch() {
    for (name, envelope, header_crc) in wrong_crc_envelopes() {
        let result = EnvelopeSerializer::default().deserialize(&envelope);

        let Err(EnvelopeError::CrcMismatch { expected, actual }) = result else {
            panic!("{name}: expected CrcMismatch, got {result:?}");
        };
        assert_eq!(expected, header_crc, "{name}: CRC read from the header");
        assert_eq!(
            actual,
            crc32fast::hash(&envelope[ncl::envelope::HEADER_LEN..]),
            "{name}: CRC of the body"
        );
    }
}

#[test]
fn three_byte_message_is_too_short() {
    for bytes in [[1, 0, 0], [2, 0xff, 0xff], *b"{}\n"] {
        let result = EnvelopeSerializer::default().deserialize(&bytes);

        assert!(
            matches!(result, Err(EnvelopeError::TooShort { len: 3 })),
            "{bytes:?}: got {result:?}"
        );
    }
}

#[tokio::test]
async fn subscriber_skips_misframed_messages() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let handled = Recorder::new();
    let handler_log = handled.clone();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            handler_log.push(message.payload::<Reading>().cloned());
            async { Ok(()) }
        }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe([SUBJECT]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    let publisher = Publisher::builder(client.clone())
        .name("sensor")
        .destination(SUBJECT)
        .registry(registry())
        .build()
        .expect("build publisher");

    let mut bad: Vec<(String, Vec<u8>)> = wrong_crc_envelopes()
        .into_iter()
        .map(|(name, envelope, _)| (name, envelope))
        .collect();
    bad.push(("3 bytes, version 1".to_owned(), vec![1, 0, 0]));
    bad.push(("3 bytes, version 2".to_owned(), vec![2, 0, 0]));
    let mut sent = 0;
    for (value, (name, bytes)) in (1..).zip(bad) {
        client
            .publish(SUBJECT, Bytes::from(bytes))
            .await
            .expect("publish raw bytes");
        publisher
            .publish(&Reading { value })
            .await
            .expect("publish good reading");
        sent += 2;
        let stats = wait_for_settled(&subscriber, sent).await;

        assert_eq!(
            stats.envelope_errors,
            sent / 2,
            "{name}: envelope_errors; stats: {stats:?}"
        );
        assert_eq!(
            stats.processed,
            sent / 2,
            "{name}: processed; stats: {stats:?}"
        );
        assert_eq!(
            handled.items().last(),
            Some(&Some(Reading { value })),
            "{name}: the good message after it"
        );
    }
    assert_eq!(handled.len() as u64, sent / 2, "handler calls");
}
