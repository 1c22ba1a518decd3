//! Version 1 body: `{"metadata":{...},"payload":<payload JSON>}`.

mod scan;
mod value;

use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{EnvelopeError, EnvelopeVersion};
use crate::{Metadata, RawMessage, go_json};

/// Appends the body of `message`, validating and compacting its payload.
///
/// An empty payload is written as `null`, which is how Go writes the nil
/// `json.RawMessage` of a message built without a payload.
pub(super) fn encode_raw(out: &mut Vec<u8>, message: &RawMessage) -> Result<(), EnvelopeError> {
    encode_with(out, &message.metadata, |out| {
        if message.payload.is_empty() {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        go_json::compact(&message.payload, out)
            .map_err(|source| EnvelopeError::InvalidJsonPayload { source })
    })
}

/// Appends the body, letting `write_payload` write the payload JSON in place.
pub(super) fn encode_with<E>(
    out: &mut Vec<u8>,
    metadata: &Metadata,
    write_payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    out.extend_from_slice(b"{\"metadata\":{");
    // Metadata iterates in bytewise key order, the order Go writes map keys in.
    for (index, (key, value)) in metadata.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        go_json::write_str(out, key);
        out.push(b':');
        go_json::write_str(out, value);
    }
    out.extend_from_slice(b"},\"payload\":");
    write_payload(out)?;
    out.push(b'}');
    Ok(())
}

/// Decodes a body; `data` is the whole envelope and `body` the part after the header.
///
/// Bodies in the usual shape take the fast path in [`scan`]; the rest, and every error,
/// go through serde_json.
pub(super) fn decode(data: &Bytes, body: &[u8]) -> Result<RawMessage, EnvelopeError> {
    match scan::decode(data, body) {
        Some(message) => Ok(message),
        None => decode_with_serde(data, body),
    }
}

/// Decodes a body through serde_json, which handles every layout and reports errors.
fn decode_with_serde(data: &Bytes, body: &[u8]) -> Result<RawMessage, EnvelopeError> {
    let malformed = |source: serde_json::Error| EnvelopeError::MalformedBody {
        version: EnvelopeVersion::JsonV1,
        source: Box::new(source),
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = deserializer
        .deserialize_map(BodyVisitor)
        .map_err(malformed)?;
    deserializer.end().map_err(malformed)?;
    let payload = match parsed.payload {
        Some(raw) => data.slice_ref(raw.get().as_bytes()),
        None => Bytes::new(),
    };
    Ok(RawMessage {
        metadata: parsed.metadata.unwrap_or_default(),
        payload,
    })
}

/// The fields of a version 1 body, borrowing the payload text from the input.
struct Body<'a> {
    metadata: Option<Metadata>,
    payload: Option<&'a RawValue>,
}

/// Reads a body the way Go's `encoding/json` reads it into
/// `struct { Metadata *Metadata; Payload json.RawMessage }`:
/// - keys match `metadata` and `payload` without regard to ASCII case;
/// - unknown keys are skipped;
/// - a repeated `payload` keeps its last value, and a repeated `metadata` object adds
///   its entries to the earlier ones, as Go decodes into an existing map;
/// - `null` metadata reads as empty.
///
/// A missing payload reads as empty bytes, which the registry then rejects, as Go does.
struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with \"metadata\" and \"payload\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut body = Body {
            metadata: None,
            payload: None,
        };
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Metadata => match map.next_value::<Option<Metadata>>()? {
                    Some(entries) => match &mut body.metadata {
                        Some(metadata) => metadata.extend(entries),
                        None => body.metadata = Some(entries),
                    },
                    None => body.metadata = None,
                },
                Field::Payload => body.payload = Some(map.next_value::<&RawValue>()?),
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(body)
    }
}

/// A key of the body object.
enum Field {
    Metadata,
    Payload,
    Other,
}

impl<'de> de::Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;

        impl Visitor<'_> for FieldVisitor {
            type Value = Field;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Field, E> {
                // Go 1.19 matches these two all-letter names (neither has the special
                // folding letters `k` or `s`) with ASCII case folding only.
                Ok(if key.eq_ignore_ascii_case("metadata") {
                    Field::Metadata
                } else if key.eq_ignore_ascii_case("payload") {
                    Field::Payload
                } else {
                    Field::Other
                })
            }
        }

        deserializer.deserialize_identifier(FieldVisitor)
    }
}
