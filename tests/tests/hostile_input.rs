//! Hostile bytes against the decoders: a corpus of malformed envelopes with the error
//! kind each must produce, property tests over random and mutated input, and random bytes
//! published on a subscribed subject.
//!
//! The property tests run the bodies of the cargo-fuzz targets in `ncl/fuzz`, which this
//! file includes as a module, so the suite checks the same properties a fuzzer does.

#[path = "../../ncl/fuzz/src/lib.rs"]
pub mod fuzz_bodies;

use bytes::Bytes;
use fuzz_bodies::{JSON_VALUE, PROBE, Probe, UNKNOWN};
use ncl::envelope::HEADER_LEN;
use ncl::metadata::keys;
use ncl::{
    AnyMessage, EnvelopeError, EnvelopeSerializer, EnvelopeVersion, Metadata, NclPayload,
    Publisher, RawMessage, RegistryError, Subscriber,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, Recorder, connect, registry, wait_for_settled, within};

/// What decoding one corpus entry must produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    TooShort,
    UnsupportedVersion,
    CrcMismatch,
    MalformedBody(EnvelopeVersion),
    /// The envelope decodes and the registry returns this error.
    PayloadError(PayloadErrorKind),
    /// The header is valid, so the body parser decides: the envelope either decodes or
    /// fails as a malformed body of this version.
    BodyParserDecides(EnvelopeVersion),
}

/// The kind of a [`RegistryError`] returned while decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PayloadErrorKind {
    UnsupportedEncoding,
    MissingType,
    UnknownType,
    Deserialize,
}

/// One malformed input, with a name for failure output.
struct Case {
    name: String,
    bytes: Vec<u8>,
    expected: Expected,
}

impl Case {
    fn new(name: impl Into<String>, bytes: Vec<u8>, expected: Expected) -> Self {
        Self {
            name: name.into(),
            bytes,
            expected,
        }
    }
}

fn probe() -> Probe {
    Probe {
        seq: 7,
        note: "héllo <world> \"quoted\"".to_owned(),
        values: vec![-1, 0, i64::MAX],
        flag: Some(true),
        children: vec![Probe {
            seq: 8,
            note: String::new(),
            values: Vec::new(),
            flag: None,
            children: Vec::new(),
        }],
    }
}

/// Returns metadata naming `type_name` as a JSON payload, plus an application key.
fn metadata_for(type_name: &str) -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert(keys::MESSAGE_ID, "m-1");
    metadata.insert(keys::TYPE, type_name);
    metadata.insert(keys::PAYLOAD_ENCODING, "json");
    metadata.insert("Region", "eu-west");
    metadata
}

/// Returns a well-formed envelope of `version` carrying [`probe`].
fn valid_envelope(version: EnvelopeVersion) -> Vec<u8> {
    let payload = serde_json::to_vec(&probe()).expect("serialize Probe");
    envelope_of(version, metadata_for(PROBE), &payload)
}

fn envelope_of(version: EnvelopeVersion, metadata: Metadata, payload: &[u8]) -> Vec<u8> {
    let raw = RawMessage::new(metadata, payload.to_vec());
    EnvelopeSerializer::new(version)
        .serialize(&raw)
        .expect("encode envelope")
        .to_vec()
}

/// Returns `version_byte`, then `crc` big-endian, then `body`.
fn framed(version_byte: u8, crc: u32, body: &[u8]) -> Vec<u8> {
    let mut out = vec![version_byte];
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Returns an envelope of `version_byte` around `body` with a correct CRC.
fn with_good_crc(version_byte: u8, body: &[u8]) -> Vec<u8> {
    framed(version_byte, crc32fast::hash(body), body)
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

/// Appends a protobuf varint.
fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Returns a protobuf length-delimited field: key, length, bytes.
fn proto_field(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![(tag << 3) | 2];
    varint(bytes.len() as u64, &mut out);
    out.extend_from_slice(bytes);
    out
}

/// Returns a protobuf body with one metadata entry and the payload `data`.
fn proto_body(key: &[u8], value: &[u8], data: &[u8]) -> Vec<u8> {
    let entry = [proto_field(1, key), proto_field(2, value)].concat();
    let metadata = proto_field(1, &proto_field(1, &entry));
    let payload = proto_field(2, &proto_field(1, data));
    [metadata, payload].concat()
}

/// Truncations of both valid envelopes at every length, as sent and with the CRC fixed.
fn truncations(cases: &mut Vec<Case>) {
    for version in [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1] {
        let valid = valid_envelope(version);
        for len in 0..valid.len() {
            let prefix = valid[..len].to_vec();
            if len < HEADER_LEN {
                cases.push(Case::new(
                    format!("{version} truncated to {len}"),
                    prefix,
                    Expected::TooShort,
                ));
                continue;
            }
            // Both bodies end with the payload, so every proper prefix lacks part of it.
            cases.push(Case::new(
                format!("{version} truncated to {len}, CRC fixed"),
                fuzz_bodies::with_crc_fixed(&prefix),
                Expected::MalformedBody(version),
            ));
            cases.push(Case::new(
                format!("{version} truncated to {len}"),
                prefix,
                Expected::CrcMismatch,
            ));
        }
    }
}

/// Single-bit flips of both valid envelopes: in the header, and in the body with and
/// without the CRC fixed.
fn bit_flips(cases: &mut Vec<Case>) {
    for version in [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1] {
        let valid = valid_envelope(version);
        for bit in 0..8 {
            let mut flipped = valid.clone();
            flipped[0] ^= 1 << bit;
            // Neither 1 nor 2 is one bit away from the other.
            cases.push(Case::new(
                format!("{version} version byte bit {bit} flipped"),
                flipped,
                Expected::UnsupportedVersion,
            ));
        }
        for position in 1..HEADER_LEN {
            let mut flipped = valid.clone();
            flipped[position] ^= 0x10;
            cases.push(Case::new(
                format!("{version} CRC byte {position} flipped"),
                flipped,
                Expected::CrcMismatch,
            ));
        }
        for position in HEADER_LEN..valid.len() {
            let mut flipped = valid.clone();
            flipped[position] ^= 1 << (position % 8);
            // CRC-32 detects every single-bit error.
            cases.push(Case::new(
                format!("{version} body byte {position} flipped"),
                flipped.clone(),
                Expected::CrcMismatch,
            ));
            cases.push(Case::new(
                format!("{version} body byte {position} flipped, CRC fixed"),
                fuzz_bodies::with_crc_fixed(&flipped),
                Expected::BodyParserDecides(version),
            ));
        }
    }
}

/// Wrong versions and CRCs computed the wrong way.
fn header_cases(cases: &mut Vec<Case>) {
    let json = valid_envelope(EnvelopeVersion::JsonV1);
    let body = &json[HEADER_LEN..];
    for version_byte in [0, 3, 0x7f, 0xff, b'{'] {
        cases.push(Case::new(
            format!("version byte {version_byte:#04x}"),
            with_good_crc(version_byte, body),
            Expected::UnsupportedVersion,
        ));
    }
    let ieee = crc32fast::hash(body);
    let wrong_crcs = [
        ("CRC-32C", crc32c(body)),
        ("little-endian CRC-32", ieee.swap_bytes()),
        ("zero CRC", 0),
        ("CRC over version and body", {
            let mut hashed = vec![1];
            hashed.extend_from_slice(body);
            crc32fast::hash(&hashed)
        }),
    ];
    for (name, crc) in wrong_crcs {
        assert_ne!(crc, ieee, "{name} equals the correct CRC for this body");
        cases.push(Case::new(name, framed(1, crc, body), Expected::CrcMismatch));
    }
}

/// Well-framed json-v1 bodies that do not parse.
fn malformed_json_cases(cases: &mut Vec<Case>) {
    let deep_open = "[".repeat(100_000);
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty body", Vec::new()),
        ("whitespace body", b"  \n ".to_vec()),
        ("unclosed object", br#"{"metadata":{}"#.to_vec()),
        ("array body", b"[]".to_vec()),
        ("null body", b"null".to_vec()),
        ("string body", br#""metadata""#.to_vec()),
        (
            "number metadata value",
            br#"{"metadata":{"Type":1},"payload":{}}"#.to_vec(),
        ),
        (
            "metadata is a string",
            br#"{"metadata":"Type","payload":{}}"#.to_vec(),
        ),
        (
            "missing payload value",
            br#"{"metadata":{},"payload":}"#.to_vec(),
        ),
        (
            "trailing garbage",
            br#"{"metadata":{},"payload":{}}}"#.to_vec(),
        ),
        (
            "trailing comma",
            br#"{"metadata":{},"payload":{},}"#.to_vec(),
        ),
        ("single quotes", br#"{'metadata':{},'payload':{}}"#.to_vec()),
        (
            "raw newline in string",
            b"{\"metadata\":{\"a\":\"x\ny\"},\"payload\":{}}".to_vec(),
        ),
        (
            "bad escape",
            br#"{"metadata":{"a":"\x"},"payload":{}}"#.to_vec(),
        ),
        (
            "short unicode escape",
            br#"{"metadata":{"a":"\u12"},"payload":{}}"#.to_vec(),
        ),
        (
            "lone surrogate in metadata",
            br#"{"metadata":{"a":"\ud800"},"payload":{}}"#.to_vec(),
        ),
        (
            "invalid UTF-8 in metadata value",
            b"{\"metadata\":{\"a\":\"\xff\"},\"payload\":{}}".to_vec(),
        ),
        (
            "invalid UTF-8 in metadata key",
            b"{\"metadata\":{\"\xc3\x28\":\"a\"},\"payload\":{}}".to_vec(),
        ),
        (
            "overlong UTF-8 in payload string",
            b"{\"metadata\":{},\"payload\":{\"note\":\"\xc0\x80\"}}".to_vec(),
        ),
        (
            "UTF-8 surrogate bytes in payload string",
            b"{\"metadata\":{},\"payload\":\"\xed\xa0\x80\"}".to_vec(),
        ),
        (
            "100,000 open brackets as body",
            deep_open.clone().into_bytes(),
        ),
        (
            "100,000 open brackets as payload",
            format!(r#"{{"metadata":{{}},"payload":{deep_open}"#).into_bytes(),
        ),
        (
            "100,000 nested objects as metadata",
            format!(r#"{{"metadata":{}"#, r#"{"a":"#.repeat(100_000)).into_bytes(),
        ),
        ("NaN payload", br#"{"metadata":{},"payload":NaN}"#.to_vec()),
        (
            "leading zero payload",
            br#"{"metadata":{},"payload":01}"#.to_vec(),
        ),
    ];
    for (name, body) in bodies {
        cases.push(Case::new(
            format!("json-v1 {name}"),
            with_good_crc(1, &body),
            Expected::MalformedBody(EnvelopeVersion::JsonV1),
        ));
    }
}

/// Well-framed json-v1 bodies that parse, whose payload the registry then rejects.
fn payload_error_cases(cases: &mut Vec<Case>) {
    let typed = |type_name: &str| {
        format!(r#"{{"metadata":{{"Type":"{type_name}","PayloadEncoding":"json"}},"payload":"#)
    };
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies = [
        (
            "deeply nested payload as Probe",
            format!("{}{deep}}}", typed(PROBE)),
            PayloadErrorKind::Deserialize,
        ),
        (
            "deeply nested payload as a JSON value",
            format!("{}{deep}}}", typed(JSON_VALUE)),
            PayloadErrorKind::Deserialize,
        ),
        (
            "lone surrogate in payload string",
            format!(
                r#"{}{{"seq":1,"note":"\ud800","values":[],"children":[]}}}}"#,
                typed(PROBE)
            ),
            PayloadErrorKind::Deserialize,
        ),
        (
            "u64 overflow",
            format!(
                r#"{}{{"seq":18446744073709551616,"note":"","values":[],"children":[]}}}}"#,
                typed(PROBE)
            ),
            PayloadErrorKind::Deserialize,
        ),
        (
            "missing payload",
            format!(r#"{{"metadata":{{"Type":"{PROBE}","PayloadEncoding":"json"}}}}"#),
            PayloadErrorKind::Deserialize,
        ),
        (
            "unknown type",
            format!("{}{{}}}}", typed(UNKNOWN)),
            PayloadErrorKind::UnknownType,
        ),
        (
            "no type",
            r#"{"metadata":{"PayloadEncoding":"json"},"payload":{}}"#.to_owned(),
            PayloadErrorKind::MissingType,
        ),
        (
            "protobuf encoding",
            r#"{"metadata":{"Type":"Probe","PayloadEncoding":"protobuf"},"payload":{}}"#.to_owned(),
            PayloadErrorKind::UnsupportedEncoding,
        ),
        (
            "null metadata",
            r#"{"metadata":null,"payload":{}}"#.to_owned(),
            PayloadErrorKind::UnsupportedEncoding,
        ),
    ];
    for (name, body, kind) in bodies {
        cases.push(Case::new(
            format!("json-v1 {name}"),
            with_good_crc(1, body.as_bytes()),
            Expected::PayloadError(kind),
        ));
    }
}

/// Well-framed protobuf-v1 bodies that do not parse.
fn malformed_protobuf_cases(cases: &mut Vec<Case>) {
    let huge_length = |tag: u8, length: u64| {
        let mut out = vec![(tag << 3) | 2];
        varint(length, &mut out);
        out.extend_from_slice(b"short");
        out
    };
    let good_payload = proto_field(2, &proto_field(1, b"{}"));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty body (no payload field)", Vec::new()),
        ("metadata only", proto_field(1, &[])),
        ("metadata length 2^62", huge_length(1, 1 << 62)),
        ("payload length 2^62", huge_length(2, 1 << 62)),
        ("payload length 2^64 - 1", huge_length(2, u64::MAX)),
        (
            "payload data length 2^62",
            [vec![0x12, 0x0f], huge_length(1, 1 << 62)].concat(),
        ),
        (
            "map entry length 2^62",
            [
                vec![0x0a, 0x0f],
                huge_length(1, 1 << 62),
                good_payload.clone(),
            ]
            .concat(),
        ),
        (
            "eleven-byte varint",
            [vec![0x0a], vec![0xff; 10], vec![0x01]].concat(),
        ),
        ("truncated varint", vec![0x0a, 0xff, 0xff]),
        (
            "field number 0",
            [vec![0x02, 0x00], good_payload.clone()].concat(),
        ),
        (
            "metadata as varint",
            [vec![0x08, 0x01], good_payload.clone()].concat(),
        ),
        (
            "start group without end",
            [good_payload.clone(), vec![0x1b]].concat(),
        ),
        (
            "end group without start",
            [good_payload.clone(), vec![0x1c]].concat(),
        ),
        ("wire type 6", [good_payload.clone(), vec![0x1e]].concat()),
        ("wire type 7", [good_payload.clone(), vec![0x1f]].concat()),
        (
            "100,000 nested groups",
            [good_payload.clone(), vec![0x1b; 100_000]].concat(),
        ),
        (
            "invalid UTF-8 in metadata value",
            proto_body(b"Type", b"\xff\xfe", b"{}"),
        ),
        (
            "invalid UTF-8 in metadata key",
            proto_body(b"\xc3\x28", b"Probe", b"{}"),
        ),
        (
            "UTF-8 surrogate bytes in metadata value",
            proto_body(b"Type", b"\xed\xa0\x80", b"{}"),
        ),
    ];
    for (name, body) in bodies {
        cases.push(Case::new(
            format!("protobuf-v1 {name}"),
            with_good_crc(2, &body),
            Expected::MalformedBody(EnvelopeVersion::ProtobufV1),
        ));
    }
    cases.push(Case::new(
        "protobuf-v1 payload that is not JSON",
        envelope_of(
            EnvelopeVersion::ProtobufV1,
            metadata_for(PROBE),
            b"\xff\x00not json",
        ),
        Expected::PayloadError(PayloadErrorKind::Deserialize),
    ));
    cases.push(Case::new(
        "protobuf-v1 payload with invalid UTF-8 in a JSON string",
        envelope_of(
            EnvelopeVersion::ProtobufV1,
            metadata_for(PROBE),
            b"{\"seq\":1,\"note\":\"\xff\",\"values\":[],\"children\":[]}",
        ),
        Expected::PayloadError(PayloadErrorKind::Deserialize),
    ));
}

/// Lists every corpus entry.
fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.push(Case::new("3 bytes", vec![1, 0, 0], Expected::TooShort));
    cases.push(Case::new(
        "bare JSON",
        br#"{"seq":1}"#.to_vec(),
        Expected::UnsupportedVersion,
    ));
    truncations(&mut cases);
    bit_flips(&mut cases);
    header_cases(&mut cases);
    malformed_json_cases(&mut cases);
    payload_error_cases(&mut cases);
    malformed_protobuf_cases(&mut cases);
    cases
}

fn payload_error_kind(error: &RegistryError) -> Option<PayloadErrorKind> {
    match error {
        RegistryError::UnsupportedEncoding { .. } => Some(PayloadErrorKind::UnsupportedEncoding),
        RegistryError::MissingType => Some(PayloadErrorKind::MissingType),
        RegistryError::UnknownType { .. } => Some(PayloadErrorKind::UnknownType),
        RegistryError::Deserialize { .. } => Some(PayloadErrorKind::Deserialize),
        _ => None,
    }
}

/// Decodes `case` and checks the outcome against its expectation.
fn check_case(case: &Case) {
    let name = &case.name;
    let decoded = EnvelopeSerializer::default().deserialize(&case.bytes);
    match (&decoded, case.expected) {
        (Err(EnvelopeError::TooShort { .. }), Expected::TooShort)
        | (Err(EnvelopeError::UnsupportedVersion { .. }), Expected::UnsupportedVersion)
        | (Err(EnvelopeError::CrcMismatch { .. }), Expected::CrcMismatch) => {}
        (Err(EnvelopeError::MalformedBody { version, .. }), Expected::MalformedBody(expected))
        | (
            Err(EnvelopeError::MalformedBody { version, .. }),
            Expected::BodyParserDecides(expected),
        ) => {
            assert_eq!(*version, expected, "{name}: version in MalformedBody");
        }
        (Ok(raw), Expected::PayloadError(expected)) => {
            let result = fuzz_bodies::registry().deserialize(raw.clone());
            let kind = result.as_ref().err().and_then(payload_error_kind);
            assert_eq!(kind, Some(expected), "{name}: registry returned {result:?}");
        }
        (Ok(raw), Expected::BodyParserDecides(_)) => {
            let result = fuzz_bodies::registry().deserialize(raw.clone());
            if let Err(error) = &result {
                assert!(
                    payload_error_kind(error).is_some(),
                    "{name}: registry returned {error:?}"
                );
            }
        }
        (other, expected) => panic!("{name}: expected {expected:?}, got {other:?}"),
    }
    // The fuzz target checks that each error's fields match the input, and that what
    // decodes re-encodes to itself.
    fuzz_bodies::envelope_decode(&case.bytes);
}

#[test]
fn malformed_corpus_returns_typed_errors() {
    let cases = corpus();
    assert!(cases.len() >= 50, "corpus has only {} entries", cases.len());

    for case in &cases {
        check_case(case);
    }
}

#[test]
fn crc32c_matches_its_check_value() {
    // The check value of CRC-32C over "123456789", from the catalogue of parametrised
    // CRC algorithms (reveng.sourceforge.io, CRC-32/ISCSI).
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
}

#[test]
fn valid_envelopes_pass_the_fuzz_checks() {
    // The fuzz bodies must accept what ncl writes, or every property below is vacuous.
    for version in [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1] {
        let envelope = valid_envelope(version);
        let raw = EnvelopeSerializer::default()
            .deserialize(&envelope)
            .expect("decode valid envelope");
        let message = fuzz_bodies::registry()
            .deserialize(raw)
            .expect("decode valid payload");
        assert_eq!(message.payload::<Probe>(), Some(&probe()), "{version}");
        fuzz_bodies::envelope_decode(&envelope);
    }
    let payload = serde_json::to_vec(&probe()).expect("serialize Probe");
    fuzz_bodies::payload_decode(&[[0].as_slice(), &payload].concat());
}

/// Returns the proptest configuration: `cases` cases, no regression files written.
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// One change to a valid envelope.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit { index: usize, bit: u8 },
    SetByte { index: usize, byte: u8 },
    Insert { index: usize, bytes: Vec<u8> },
    Remove { index: usize, len: usize },
    Truncate { len: usize },
}

impl Mutation {
    /// Applies the mutation; indexes wrap around the current length.
    fn apply(&self, data: &mut Vec<u8>) {
        let wrap = |index: usize, len: usize| if len == 0 { 0 } else { index % len };
        match self {
            Self::FlipBit { index, bit } => {
                if !data.is_empty() {
                    let index = wrap(*index, data.len());
                    data[index] ^= 1 << (bit % 8);
                }
            }
            Self::SetByte { index, byte } => {
                if !data.is_empty() {
                    let index = wrap(*index, data.len());
                    data[index] = *byte;
                }
            }
            Self::Insert { index, bytes } => {
                let index = wrap(*index, data.len() + 1);
                data.splice(index..index, bytes.iter().copied());
            }
            Self::Remove { index, len } => {
                let start = wrap(*index, data.len() + 1);
                let end = (start + len).min(data.len());
                data.drain(start..end);
            }
            Self::Truncate { len } => data.truncate(wrap(*len, data.len() + 1)),
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(index, bit)| Mutation::FlipBit { index, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(index, byte)| Mutation::SetByte { index, byte }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(index, bytes)| Mutation::Insert { index, bytes }),
        (any::<usize>(), 1usize..16).prop_map(|(index, len)| Mutation::Remove { index, len }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
    ]
}

/// Returns valid envelopes of both versions around several payloads.
fn seed_envelopes() -> Vec<Vec<u8>> {
    let probe_json = serde_json::to_vec(&probe()).expect("serialize Probe");
    let value = br#"{"a":[1,2.5,-3e-7,true,null,"x\u00e9<>&"],"b":{"c":{}}}"#;
    let mut seeds = Vec::new();
    for version in [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1] {
        seeds.push(envelope_of(version, metadata_for(PROBE), &probe_json));
        seeds.push(envelope_of(version, metadata_for(JSON_VALUE), value));
        seeds.push(envelope_of(version, Metadata::new(), b"{}"));
    }
    seeds
}

/// Returns arbitrary JSON values, nested up to a few levels.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

fn probe_strategy() -> impl Strategy<Value = Probe> {
    let leaf = (
        any::<u64>(),
        any::<String>(),
        prop::collection::vec(any::<i64>(), 0..4),
        any::<Option<bool>>(),
    )
        .prop_map(|(seq, note, values, flag)| Probe {
            seq,
            note,
            values,
            flag,
            children: Vec::new(),
        });
    leaf.prop_recursive(3, 16, 3, |inner| {
        (inner.clone(), prop::collection::vec(inner, 0..3)).prop_map(|(mut probe, children)| {
            probe.children = children;
            probe
        })
    })
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn random_bytes_never_panic_decoder(
        data in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        fuzz_bodies::envelope_decode(&data);
    }

    #[test]
    fn random_bodies_never_panic_decoder(
        version in 1u8..=2,
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        fuzz_bodies::envelope_decode(&with_good_crc(version, &body));
    }

    #[test]
    fn mutated_envelopes_never_panic_decoder(
        seed in 0usize..6,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut data = seed_envelopes()[seed].clone();
        for mutation in &mutations {
            mutation.apply(&mut data);
        }
        fuzz_bodies::envelope_decode(&data);
    }

    #[test]
    fn random_payloads_never_panic_registry(
        data in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        fuzz_bodies::payload_decode(&data);
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn mutated_json_never_panics_registry(
        selector in any::<u8>(),
        value in json_value(),
        mutations in prop::collection::vec(mutation(), 0..3),
    ) {
        let mut payload = serde_json::to_vec(&value).expect("serialize JSON value");
        for mutation in &mutations {
            mutation.apply(&mut payload);
        }
        fuzz_bodies::payload_decode(&[[selector].as_slice(), &payload].concat());
    }

    #[test]
    fn generated_probes_survive_both_envelopes(probe in probe_strategy()) {
        let mut metadata = metadata_for(PROBE);
        let payload = fuzz_bodies::registry()
            .serialize_payload(&mut metadata, &probe)
            .expect("serialize Probe");
        for version in [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1] {
            let envelope = envelope_of(version, metadata.clone(), &payload);
            let raw = EnvelopeSerializer::default()
                .deserialize(&envelope)
                .expect("decode envelope");
            let message = fuzz_bodies::registry()
                .deserialize(raw)
                .expect("decode payload");
            prop_assert_eq!(message.payload::<Probe>(), Some(&probe), "{}", version);
            fuzz_bodies::envelope_decode(&envelope);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Beacon {
    seq: u32,
}

#[tokio::test]
async fn random_bytes_never_stop_subscriber() {
    const COUNT: u64 = 200;
    const SUBJECT: &str = "hostile.bytes";
    let server = NatsServer::start();
    let client = connect(&server).await;
    let handled = Recorder::new();
    let handler_log = handled.clone();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            handler_log.push(message.payload::<Beacon>().cloned());
            async { Ok(()) }
        }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe([SUBJECT]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");

    // A fixed seed, so a failure replays with the same bytes.
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    for i in 0..COUNT {
        let len = rng.random_range(0..300);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // Every other message gets a known version and a correct CRC, so that the body
        // parsers, not the header checks, reject it.
        if i % 2 == 1 && bytes.len() >= HEADER_LEN {
            bytes[0] = if i % 4 == 1 { 1 } else { 2 };
            bytes = fuzz_bodies::with_crc_fixed(&bytes);
        }
        client
            .publish(SUBJECT, Bytes::from(bytes))
            .await
            .expect("publish random bytes");
    }
    let publisher = Publisher::builder(client.clone())
        .name("orchestrator")
        .destination(SUBJECT)
        .registry(registry())
        .build()
        .expect("build publisher");
    publisher
        .publish(&Beacon { seq: 1 })
        .await
        .expect("publish good message");
    let stats = wait_for_settled(&subscriber, COUNT + 1).await;

    assert_eq!(stats.received, COUNT + 1, "received; stats: {stats:?}");
    assert_eq!(stats.processed, 1, "processed; stats: {stats:?}");
    assert_eq!(
        stats.envelope_errors + stats.payload_errors,
        COUNT,
        "every random message fails to decode; stats: {stats:?}"
    );
    assert_eq!(stats.dropped, 0, "dropped; stats: {stats:?}");
    assert_eq!(
        handled.items(),
        [Some(Beacon { seq: 1 })],
        "handled payloads"
    );
}

#[test]
fn json_v1_encoding_rejects_invalid_utf8_payload() {
    // Json-v1 decoding rejects a payload string that is not UTF-8, so encoding must
    // reject it too instead of writing an envelope no subscriber can decode.
    let raw = RawMessage::new(metadata_for(PROBE), b"{\"note\":\"\xff\"}".to_vec());

    let result = EnvelopeSerializer::default().serialize(&raw);

    assert!(
        matches!(result, Err(EnvelopeError::InvalidJsonPayload { .. })),
        "got {result:?}"
    );
}
