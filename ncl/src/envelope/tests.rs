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

#[test]
fn json_keys_match_without_ascii_case() {
    let body = br#"{"MetaData":{"k":"v"},"PAYLOAD":{"a":1}}"#;
    let raw = EnvelopeSerializer::default()
        .deserialize(&envelope(1, body))
        .unwrap();
    assert_eq!(raw.metadata.get("k"), Some("v"));
    assert_eq!(raw.payload, &br#"{"a":1}"#[..]);
}

#[test]
fn json_repeated_metadata_objects_merge() {
    let body = br#"{"metadata":{"a":"1","b":"1"},"metadata":{"b":"2"},"payload":{}}"#;
    let raw = EnvelopeSerializer::default()
        .deserialize(&envelope(1, body))
        .unwrap();
    assert_eq!(raw.metadata.get("a"), Some("1"));
    assert_eq!(raw.metadata.get("b"), Some("2"));
}

#[test]
fn json_null_metadata_clears_earlier_object() {
    let body = br#"{"metadata":{"a":"1"},"metadata":null,"payload":{}}"#;
    let raw = EnvelopeSerializer::default()
        .deserialize(&envelope(1, body))
        .unwrap();
    assert!(raw.metadata.is_empty());
}

#[test]
fn json_empty_payload_is_written_as_null() {
    let raw = RawMessage::new(Metadata::new(), Bytes::new());
    let bytes = EnvelopeSerializer::default().serialize(&raw).unwrap();
    assert_eq!(&bytes[HEADER_LEN..], br#"{"metadata":{},"payload":null}"#);
}

#[test]
fn protobuf_skips_unknown_fields_at_every_level() {
    let body = [
        0x0a, 0x1a, // metadata {
        0x0a, 0x0d, // fields {
        0x0a, 0x01, b'k', 0x12, 0x01, b'v', // key "k", value "v"
        0x18, 0x07, // unknown varint field 3
        0x25, 0x01, 0x02, 0x03, 0x04, // unknown fixed32 field 4 } in the entry
        0x28, 0x2a, // unknown varint field 5 in the metadata
        0x31, 0, 0, 0, 0, 0, 0, 0, 0, // unknown fixed64 field 6 }
        0x12, 0x06, // payload {
        0x0a, 0x02, b'{', b'}', // data "{}"
        0x38, 0x01, // unknown varint field 7 }
        0x42, 0x01, b'x', // unknown bytes field 8 in the message
    ];
    let raw = EnvelopeSerializer::default()
        .deserialize(&envelope(2, &body))
        .unwrap();
    assert_eq!(raw.metadata.get("k"), Some("v"));
    assert_eq!(raw.metadata.len(), 1);
    assert_eq!(raw.payload, &b"{}"[..]);
}

#[test]
fn protobuf_repeated_payload_keeps_last_data() {
    let body = [
        0x12, 0x04, 0x0a, 0x02, b'{', b'}', // payload { data: "{}" }
        0x12, 0x03, 0x0a, 0x01, b'1', // payload { data: "1" }
    ];
    let raw = EnvelopeSerializer::default()
        .deserialize(&envelope(2, &body))
        .unwrap();
    assert_eq!(raw.payload, &b"1"[..]);
}
