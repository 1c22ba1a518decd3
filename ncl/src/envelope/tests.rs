use super::*;

fn sample() -> RawMessage {
    let metadata: Metadata = [
        ("MessageID", "m-1"),
        ("Type", "TestPayload"),
        ("PayloadEncoding", "json"),
        ("Empty", ""),
    ]
    .into_iter()
    .collect();
    RawMessage::new(metadata, &br#"{"Message":"hello","Value":42}"#[..])
}

fn envelope(version: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![version];
    out.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn json_round_trip() {
    let serializer = EnvelopeSerializer::new(EnvelopeVersion::JsonV1);
    let bytes = serializer.serialize(&sample()).unwrap();
    assert_eq!(bytes[0], 1);
    assert_eq!(serializer.deserialize(&bytes).unwrap(), sample());
}

#[test]
fn protobuf_round_trip() {
    let serializer = EnvelopeSerializer::new(EnvelopeVersion::ProtobufV1);
    let bytes = serializer.serialize(&sample()).unwrap();
    assert_eq!(bytes[0], 2);
    assert_eq!(serializer.deserialize(&bytes).unwrap(), sample());
}

#[test]
fn json_body_layout_is_go_layout() {
    let bytes = EnvelopeSerializer::default().serialize(&sample()).unwrap();
    let body = std::str::from_utf8(&bytes[HEADER_LEN..]).unwrap();
    assert_eq!(
        body,
        r#"{"metadata":{"Empty":"","MessageID":"m-1","PayloadEncoding":"json","Type":"TestPayload"},"payload":{"Message":"hello","Value":42}}"#
    );
    assert_eq!(
        &bytes[1..5],
        &crc32fast::hash(body.as_bytes()).to_be_bytes()
    );
}

#[test]
fn protobuf_writes_empty_key_and_value() {
    let metadata: Metadata = [("", "")].into_iter().collect();
    let bytes = EnvelopeSerializer::new(EnvelopeVersion::ProtobufV1)
        .serialize(&RawMessage::new(metadata, Bytes::new()))
        .unwrap();
    // Message.metadata { fields { key: "" value: "" } }, then an empty Payload.
    assert_eq!(
        &bytes[HEADER_LEN..],
        [0x0a, 0x06, 0x0a, 0x04, 0x0a, 0x00, 0x12, 0x00, 0x12, 0x00]
    );
}

#[test]
fn json_payload_is_compacted_and_escaped() {
    let raw = RawMessage::new(Metadata::new(), &b" { \"a\" : \"<&>\" } "[..]);
    let bytes = EnvelopeSerializer::default().serialize(&raw).unwrap();
    assert!(bytes.ends_with(br#""payload":{"a":"\u003c\u0026\u003e"}}"#));
}

#[test]
fn json_rejects_non_json_payload() {
    let raw = RawMessage::new(Metadata::new(), &b"not json"[..]);
    let error = EnvelopeSerializer::default().serialize(&raw).unwrap_err();
    assert!(matches!(error, EnvelopeError::InvalidJsonPayload { .. }));
}

#[test]
fn protobuf_carries_non_json_payload() {
    let raw = RawMessage::new(Metadata::new(), &b"\x00\xffnot json"[..]);
    let serializer = EnvelopeSerializer::new(EnvelopeVersion::ProtobufV1);
    let bytes = serializer.serialize(&raw).unwrap();
    assert_eq!(serializer.deserialize(&bytes).unwrap(), raw);
}

#[test]
fn too_short_is_checked_first() {
    for len in 0..HEADER_LEN {
        let data = vec![0xff; len];
        let error = EnvelopeSerializer::default()
            .deserialize(&data)
            .unwrap_err();
        assert!(
            matches!(error, EnvelopeError::TooShort { len: l } if l == len),
            "{len}"
        );
    }
}

#[test]
fn unknown_version_is_checked_before_crc() {
    for version in [0_u8, 3, 0x7b, 0xff] {
        let data = [version, 0xde, 0xad, 0xbe, 0xef, b'{', b'}'];
        let error = EnvelopeSerializer::default()
            .deserialize(&data)
            .unwrap_err();
        assert!(
            matches!(error, EnvelopeError::UnsupportedVersion { version: v } if v == version),
            "{version}"
        );
    }
}

#[test]
fn crc_mismatch_reports_both_values() {
    let mut data = EnvelopeSerializer::default()
        .serialize(&sample())
        .unwrap()
        .to_vec();
    let last = data.len() - 2;
    data[last] ^= 0x01;
    let error = EnvelopeSerializer::default()
        .deserialize(&data)
        .unwrap_err();
    let EnvelopeError::CrcMismatch { expected, actual } = error else {
        panic!("expected a CRC mismatch, got {error:?}");
    };
    assert_eq!(
        expected,
        u32::from_be_bytes([data[1], data[2], data[3], data[4]])
    );
    assert_eq!(actual, crc32fast::hash(&data[HEADER_LEN..]));
}

#[test]
fn castagnoli_and_little_endian_crc_are_rejected() {
    let body = br#"{"metadata":{},"payload":{}}"#;
    let mut little_endian = vec![1];
    little_endian.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    little_endian.extend_from_slice(body);
    let error = EnvelopeSerializer::default()
        .deserialize(&little_endian)
        .unwrap_err();
    assert!(matches!(error, EnvelopeError::CrcMismatch { .. }));
}

#[test]
fn malformed_json_bodies_are_errors() {
    let bodies: [&[u8]; 7] = [
        b"",
        b"{",
        b"[1,2]",
        b"{\"metadata\":{\"Type\":1},\"payload\":{}}",
        b"{\"metadata\":{},\"payload\":{}}x",
        b"{\"metadata\":{},\"payload\":}",
        b"null",
    ];
    for body in bodies {
        let error = EnvelopeSerializer::default()
            .deserialize(&envelope(1, body))
            .unwrap_err();
        assert!(
            matches!(
                error,
                EnvelopeError::MalformedBody {
                    version: EnvelopeVersion::JsonV1,
                    ..
                }
            ),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn json_missing_parts_decode_empty() {
    let cases: [&[u8]; 3] = [
        br#"{"metadata":null,"payload":{}}"#,
        br#"{"payload":{}}"#,
        br#"{"metadata":{"Type":"T"}}"#,
    ];
    for body in cases {
        let raw = EnvelopeSerializer::default()
            .deserialize(&envelope(1, body))
            .unwrap();
        assert!(raw.metadata.len() <= 1);
    }
    let raw = EnvelopeSerializer::default()
        .deserialize(&envelope(1, br#"{"metadata":{"Type":"T"}}"#))
        .unwrap();
    assert!(raw.payload.is_empty());
}

#[test]
fn json_unknown_keys_are_ignored_and_last_duplicate_wins() {
    let body = br#"{"extra":[1,{"x":2}],"payload":1,"metadata":{"a":"b"},"payload":{"v":2}}"#;
    let raw = EnvelopeSerializer::default()
        .deserialize(&envelope(1, body))
        .unwrap();
    assert_eq!(raw.payload, &br#"{"v":2}"#[..]);
    assert_eq!(raw.metadata.get("a"), Some("b"));
}

#[test]
fn json_payload_bytes_are_kept_verbatim() {
    let body = br#"{"metadata":{},"payload": { "v" : 1.50 } }"#;
    let raw = EnvelopeSerializer::default()
        .deserialize(&envelope(1, body))
        .unwrap();
    assert_eq!(raw.payload, &br#"{ "v" : 1.50 }"#[..]);
}

#[test]
fn protobuf_without_payload_field_is_malformed() {
    // Message { metadata: Metadata {} } and nothing else.
    let error = EnvelopeSerializer::default()
        .deserialize(&envelope(2, &[0x0a, 0x00]))
        .unwrap_err();
    assert!(matches!(
        error,
        EnvelopeError::MalformedBody {
            version: EnvelopeVersion::ProtobufV1,
            ..
        }
    ));
}

#[test]
fn protobuf_garbage_is_malformed() {
    let error = EnvelopeSerializer::default()
        .deserialize(&envelope(2, &[0xff; 8]))
        .unwrap_err();
    assert!(matches!(error, EnvelopeError::MalformedBody { .. }));
}

#[test]
fn protobuf_accepts_reordered_and_repeated_entries() {
    // payload first, then metadata split in two blocks with a repeated key.
    let body = [
        0x12, 0x04, 0x0a, 0x02, b'{', b'}', // payload { data: "{}" }
        0x0a, 0x08, 0x0a, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, b'1', // fields k=1
        0x0a, 0x08, 0x0a, 0x06, 0x12, 0x01, b'2', 0x0a, 0x01, b'k', // fields value first, k=2
        0x1a, 0x00, // unknown field 3
    ];
    let raw = EnvelopeSerializer::default()
        .deserialize(&envelope(2, &body))
        .unwrap();
    assert_eq!(raw.metadata.get("k"), Some("2"));
    assert_eq!(raw.payload, &b"{}"[..]);
}

#[test]
fn deserialize_bytes_shares_the_buffer() {
    let bytes = EnvelopeSerializer::default().serialize(&sample()).unwrap();
    let raw = EnvelopeSerializer::default()
        .deserialize_bytes(&bytes)
        .unwrap();
    let range = bytes.as_ptr_range();
    assert!(range.contains(&raw.payload.as_ptr()));
}
