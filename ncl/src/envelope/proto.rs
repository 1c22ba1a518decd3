//! Version 2 body: protobuf, in the layout of Bacalhau's `ncl/v1` messages.
//!
//! ```proto
//! message Message  { Metadata metadata = 1; Payload payload = 2; }
//! message Metadata { map<string, string> fields = 1; bytes checksum = 2; }
//! message Payload  { bytes data = 1; bytes checksum = 2; }
//! ```
//!
//! Encoding is written by hand so that map entries come out sorted by key, with the key
//! and value always present (as protobuf-go writes them, even when empty), and without
//! copying the metadata into owned protobuf structs. Decoding reads map entries straight
//! into [`Metadata`] (see `scan`) and falls back to `prost`-derived structs for the
//! layouts it leaves out and for errors. Both accept fields in any order, repeated map
//! entries (the last one wins) and unknown fields.

mod scan;

use bytes::Bytes;
use prost::Message as _;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

use super::{EnvelopeError, EnvelopeVersion};
use crate::{Metadata, RawMessage};

/// Appends the protobuf body for `metadata` and `payload`.
pub(super) fn encode(out: &mut Vec<u8>, metadata: &Metadata, payload: &[u8]) {
    let metadata_len: usize = metadata
        .iter()
        .map(|(key, value)| {
            let entry = entry_len(key, value);
            1 + encoded_len_varint(entry as u64) + entry
        })
        .sum();
    let payload_len = if payload.is_empty() {
        0
    } else {
        1 + encoded_len_varint(payload.len() as u64) + payload.len()
    };
    out.reserve(metadata_len + payload_len + 12);

    encode_key(1, WireType::LengthDelimited, out);
    encode_varint(metadata_len as u64, out);
    for (key, value) in metadata.iter() {
        encode_key(1, WireType::LengthDelimited, out);
        encode_varint(entry_len(key, value) as u64, out);
        encode_bytes_field(1, key.as_bytes(), out);
        encode_bytes_field(2, value.as_bytes(), out);
    }

    encode_key(2, WireType::LengthDelimited, out);
    encode_varint(payload_len as u64, out);
    if !payload.is_empty() {
        encode_bytes_field(1, payload, out);
    }
}

/// Length of one map entry message with both fields present.
fn entry_len(key: &str, value: &str) -> usize {
    2 + encoded_len_varint(key.len() as u64)
        + key.len()
        + encoded_len_varint(value.len() as u64)
        + value.len()
}

fn encode_bytes_field(tag: u32, bytes: &[u8], out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Decodes a body; the payload shares `body`'s buffer.
///
/// Bodies that [`scan`] reads decode straight into [`Metadata`]; the rest, and every
/// error, go through the `prost` structs.
pub(super) fn decode(body: Bytes) -> Result<RawMessage, EnvelopeError> {
    match scan::decode(&body) {
        Some(message) => Ok(message),
        None => decode_with_prost(body),
    }
}

/// Decodes a body through the `prost`-derived structs, which report every error.
fn decode_with_prost(body: Bytes) -> Result<RawMessage, EnvelopeError> {
    let malformed =
        |source: Box<dyn std::error::Error + Send + Sync>| EnvelopeError::MalformedBody {
            version: EnvelopeVersion::ProtobufV1,
            source,
        };
    let message = ProtoMessage::decode(body).map_err(|e| malformed(Box::new(e)))?;
    let payload = message
        .payload
        .ok_or_else(|| malformed("message has no payload field (field 2)".into()))?;
    let metadata = message
        .metadata
        .map(|m| {
            m.fields
                .into_iter()
                .map(|entry| {
                    (
                        entry.key.unwrap_or_default(),
                        entry.value.unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(RawMessage {
        metadata,
        payload: payload.data,
    })
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoMessage {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ProtoMetadata>,
    #[prost(message, optional, tag = "2")]
    payload: Option<ProtoPayload>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoMetadata {
    /// A protobuf map is a repeated entry message on the wire; decoding it as such keeps
    /// every entry in wire order, so a repeated key resolves to its last value when
    /// collected.
    #[prost(message, repeated, tag = "1")]
    fields: Vec<MapEntry>,
    #[prost(bytes = "bytes", tag = "2")]
    checksum: Bytes,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MapEntry {
    #[prost(string, optional, tag = "1")]
    key: Option<String>,
    #[prost(string, optional, tag = "2")]
    value: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoPayload {
    #[prost(bytes = "bytes", tag = "1")]
    data: Bytes,
    #[prost(bytes = "bytes", tag = "2")]
    checksum: Bytes,
}
