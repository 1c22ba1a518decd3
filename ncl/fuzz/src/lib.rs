//! Bodies of the `envelope_decode` and `payload_decode` fuzz targets.
//!
//! `cargo fuzz` runs them from `fuzz_targets/`. The normal test suite includes this file
//! as a module (`tests/tests/hostile_input.rs`) and runs the same bodies under proptest,
//! so they are exercised even where no nightly toolchain is installed.
//!
//! A body panics only when ncl misbehaves. That is when decoding panics, when an error's
//! kind does not match the input (a CRC error for a correct CRC, say), or when a message
//! that decoded does not encode back to the same message.

use std::sync::OnceLock;

use ncl::envelope::HEADER_LEN;
use ncl::metadata::keys;
use ncl::{
    EnvelopeError, EnvelopeSerializer, EnvelopeVersion, Metadata, PayloadRegistry, RawMessage,
    RegistryError,
};
use serde::{Deserialize, Serialize};

/// Wire name of [`Probe`] in [`registry`].
pub const PROBE: &str = "Probe";
/// Wire name of `serde_json::Value` in [`registry`]: a type that accepts any JSON.
pub const JSON_VALUE: &str = "JsonValue";
/// A type name that [`registry`] does not know.
pub const UNKNOWN: &str = "Unknown";

/// A payload with nested, optional and repeated fields, so decoding takes many paths.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// A number that must fit in a `u64`.
    pub seq: u64,
    /// A string, where escapes and invalid UTF-8 matter.
    pub note: String,
    /// Signed numbers.
    pub values: Vec<i64>,
    /// An optional field.
    pub flag: Option<bool>,
    /// Recursion, bounded by serde_json's nesting limit of 128.
    pub children: Vec<Probe>,
}

/// Returns the registry the bodies decode payloads with: [`Probe`] and
/// `serde_json::Value`, registered by hand so no link-time registration is needed.
pub fn registry() -> &'static PayloadRegistry {
    static REGISTRY: OnceLock<PayloadRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = PayloadRegistry::new();
        registry.register::<Probe>(PROBE).expect("register Probe");
        registry
            .register::<serde_json::Value>(JSON_VALUE)
            .expect("register serde_json::Value");
        registry
    })
}

/// Decodes `data` as an envelope, then again with its CRC set to match its body.
///
/// Random bytes almost never carry a matching CRC, so the second pass is what lets the
/// JSON and protobuf body parsers see the input. Every message that decodes is
/// re-encoded and decoded again (see [`check_reencode`]) and handed to the registry.
///
/// # Panics
///
/// Panics when ncl misbehaves, as described in the module documentation.
pub fn envelope_decode(data: &[u8]) {
    decode_and_check(data);
    if data.len() >= HEADER_LEN {
        decode_and_check(&with_crc_fixed(data));
    }
}

/// Decodes `data` as the payload of a registered type, directly and inside envelopes.
///
/// The first byte picks the type name ([`PROBE`], [`JSON_VALUE`] or [`UNKNOWN`]); the rest
/// is the payload. Decoding through a protobuf envelope, which carries any bytes, must
/// give the same outcome as decoding directly, and so must a JSON envelope whenever the
/// payload is one JSON value that a JSON envelope can embed.
///
/// # Panics
///
/// Panics when ncl misbehaves, as described in the module documentation.
pub fn payload_decode(data: &[u8]) {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let name = [PROBE, JSON_VALUE, UNKNOWN][usize::from(selector) % 3];
    let mut metadata = Metadata::new();
    metadata.insert(keys::TYPE, name);
    metadata.insert(keys::PAYLOAD_ENCODING, "json");

    let direct = registry().deserialize_payload(&metadata, payload);
    if let Err(error) = &direct {
        check_registry_error(&metadata, error);
    }
    let raw = RawMessage::new(metadata, payload.to_vec());

    let envelope = EnvelopeSerializer::new(EnvelopeVersion::ProtobufV1)
        .serialize(&raw)
        .expect("protobuf-v1 encodes any payload bytes");
    let decoded = EnvelopeSerializer::default()
        .deserialize(&envelope)
        .expect("a protobuf-v1 envelope written by ncl decodes");
    assert_eq!(decoded, raw, "protobuf-v1 round trip changed the message");
    let through_protobuf = registry().deserialize(decoded);
    assert_eq!(
        through_protobuf.is_ok(),
        direct.is_ok(),
        "decoding through a protobuf-v1 envelope gave another outcome: {through_protobuf:?}"
    );

    // A json-v1 envelope writes an empty payload as `null`, which decodes differently
    // from empty bytes, so only non-empty payloads are compared.
    if payload.is_empty() {
        return;
    }
    match EnvelopeSerializer::default().serialize(&raw) {
        Ok(envelope) => {
            let decoded = EnvelopeSerializer::default()
                .deserialize(&envelope)
                .expect("a json-v1 envelope written by ncl decodes");
            assert_eq!(
                decoded.metadata, raw.metadata,
                "json-v1 round trip changed the metadata"
            );
            let through_json = registry().deserialize(decoded);
            assert_eq!(
                through_json.is_ok(),
                direct.is_ok(),
                "decoding through a json-v1 envelope gave another outcome: {through_json:?}"
            );
        }
        Err(EnvelopeError::InvalidJsonPayload { .. }) => {
            assert!(
                serde_json::from_slice::<&serde_json::value::RawValue>(payload).is_err(),
                "json-v1 rejected a payload that is one valid JSON value"
            );
        }
        Err(error) => panic!("json-v1 encoding failed with an unexpected kind: {error:?}"),
    }
}

/// Returns a copy of `data` whose header CRC (bytes 1 to 4) matches its body.
pub fn with_crc_fixed(data: &[u8]) -> Vec<u8> {
    let mut fixed = data.to_vec();
    let crc = crc32fast::hash(&fixed[HEADER_LEN..]);
    fixed[1..HEADER_LEN].copy_from_slice(&crc.to_be_bytes());
    fixed
}

fn decode_and_check(data: &[u8]) {
    match EnvelopeSerializer::default().deserialize(data) {
        Ok(raw) => {
            check_reencode(data[0], &raw);
            check_registry(raw);
        }
        Err(error) => check_envelope_error(data, &error),
    }
}

/// Checks that a decode error names the check that `data` actually fails.
///
/// # Panics
///
/// Panics when the kind or its fields do not match `data`.
pub fn check_envelope_error(data: &[u8], error: &EnvelopeError) {
    match error {
        EnvelopeError::TooShort { len } => {
            assert!(data.len() < HEADER_LEN, "TooShort for {} bytes", data.len());
            assert_eq!(*len, data.len(), "TooShort names the input length");
        }
        EnvelopeError::UnsupportedVersion { version } => {
            assert!(data.len() >= HEADER_LEN, "version checked before length");
            assert_eq!(*version, data[0], "UnsupportedVersion names the first byte");
            assert_eq!(
                EnvelopeVersion::from_byte(*version),
                None,
                "version is known"
            );
        }
        EnvelopeError::CrcMismatch { expected, actual } => {
            let header = u32::from_be_bytes([data[1], data[2], data[3], data[4]]);
            assert_eq!(*expected, header, "CrcMismatch names the header's CRC");
            assert_eq!(
                *actual,
                crc32fast::hash(&data[HEADER_LEN..]),
                "CrcMismatch names the body's CRC"
            );
            assert_ne!(expected, actual, "CrcMismatch for a matching CRC");
        }
        EnvelopeError::MalformedBody { version, .. } => {
            assert_eq!(version.byte(), data[0], "MalformedBody names the version");
            let header = u32::from_be_bytes([data[1], data[2], data[3], data[4]]);
            assert_eq!(
                header,
                crc32fast::hash(&data[HEADER_LEN..]),
                "body parsed although the CRC does not match"
            );
        }
        other => panic!("decoding returned an encoding error: {other:?}"),
    }
}

/// Checks that a decoded message encodes back to itself.
///
/// Protobuf-v1 carries any metadata and payload bytes, so its round trip must be exact.
/// Json-v1 compacts and HTML-escapes the payload, so its round trip must reach a fixed
/// point: the re-encoded envelope decodes to the same metadata and encodes to the same
/// bytes again.
///
/// # Panics
///
/// Panics when a round trip fails or changes the message.
pub fn check_reencode(version_byte: u8, raw: &RawMessage) {
    let protobuf = EnvelopeSerializer::new(EnvelopeVersion::ProtobufV1);
    let envelope = protobuf
        .serialize(raw)
        .expect("protobuf-v1 encodes any message");
    let decoded = protobuf
        .deserialize(&envelope)
        .expect("a protobuf-v1 envelope written by ncl decodes");
    assert_eq!(&decoded, raw, "protobuf-v1 round trip changed the message");

    let json = EnvelopeSerializer::new(EnvelopeVersion::JsonV1);
    let first = match json.serialize(raw) {
        Ok(first) => first,
        Err(EnvelopeError::InvalidJsonPayload { .. })
            if version_byte != EnvelopeVersion::JsonV1.byte() =>
        {
            // A protobuf-v1 payload need not be JSON.
            return;
        }
        Err(error) => panic!("a decoded json-v1 message failed to re-encode: {error:?}"),
    };
    let again = json
        .deserialize(&first)
        .expect("a json-v1 envelope written by ncl decodes");
    assert_eq!(
        again.metadata, raw.metadata,
        "json-v1 round trip changed the metadata"
    );
    let second = json
        .serialize(&again)
        .expect("a re-encoded json-v1 message encodes again");
    assert_eq!(first, second, "json-v1 encoding is not a fixed point");
}

/// Decodes a message's payload and checks the outcome against its metadata.
///
/// # Panics
///
/// Panics when the error kind does not match the metadata, or when a decoded payload
/// does not survive serializing and decoding again.
pub fn check_registry(raw: RawMessage) {
    let metadata = raw.metadata.clone();
    let message = match registry().deserialize(raw) {
        Ok(message) => message,
        Err(error) => {
            check_registry_error(&metadata, &error);
            return;
        }
    };
    if let Some(probe) = message.payload::<Probe>() {
        let decoded = reencode_payload(probe);
        assert_eq!(
            decoded.as_ref(),
            Some(probe),
            "Probe changed in a round trip"
        );
    } else if let Some(value) = message.payload::<serde_json::Value>() {
        let decoded = reencode_payload(value);
        assert_eq!(
            decoded.as_ref(),
            Some(value),
            "JSON value changed in a round trip"
        );
    } else {
        panic!(
            "registry returned an unregistered type: {}",
            message.payload_type_name()
        );
    }
}

/// Serializes `payload` as a publisher would and decodes it again.
fn reencode_payload<T: Serialize + Clone + Send + Sync + 'static>(payload: &T) -> Option<T> {
    let mut metadata = Metadata::new();
    let bytes = registry()
        .serialize_payload(&mut metadata, payload)
        .expect("a decoded payload serializes");
    let decoded = registry()
        .deserialize_payload(&metadata, &bytes)
        .expect("a serialized payload decodes");
    decoded.downcast_ref::<T>().cloned()
}

/// Checks that a registry error names the problem that `metadata` actually has.
///
/// # Panics
///
/// Panics when the kind does not match the metadata.
pub fn check_registry_error(metadata: &Metadata, error: &RegistryError) {
    let encoding = metadata.payload_encoding().unwrap_or_default();
    match error {
        RegistryError::UnsupportedEncoding { encoding: named } => {
            assert_ne!(encoding, "json", "UnsupportedEncoding for json");
            assert_eq!(named, encoding, "UnsupportedEncoding names the encoding");
        }
        RegistryError::MissingType => {
            assert_eq!(encoding, "json", "encoding checked before type");
            assert_eq!(metadata.message_type(), None, "MissingType with a type");
        }
        RegistryError::UnknownType { name, .. } => {
            assert_eq!(encoding, "json", "encoding checked before type");
            assert_eq!(Some(name.as_str()), metadata.message_type());
            assert!(
                !registry().contains(name),
                "UnknownType for a registered type"
            );
        }
        RegistryError::Deserialize { name, .. } => {
            assert_eq!(Some(name.as_str()), metadata.message_type());
            assert!(registry().contains(name), "Deserialize for an unknown type");
        }
        other => panic!("decoding returned an unexpected registry error: {other:?}"),
    }
}
