//! The fast path of the version 2 decoder: map entries go straight into [`Metadata`]'s
//! buffer, where the `prost` structs would allocate a `String` per key and value.
//!
//! It follows protobuf's decoding rules as `prost` applies them to the structs in the
//! parent module. Fields come in any order, and a repeated submessage is merged into
//! the earlier one. The last occurrence of a scalar field wins, an absent string is
//! empty, and unknown fields are skipped. On anything it does not handle (groups, wrong
//! wire types, invalid UTF-8, truncation, a missing payload) it returns `None`, and the
//! `prost` path decodes the body and reports the error.

use std::ops::Range;

use bytes::Bytes;

use crate::RawMessage;
use crate::metadata::MetadataBuilder;

/// Wire type of varint fields.
const VARINT: u64 = 0;
/// Wire type of 64-bit fields.
const FIXED64: u64 = 1;
/// Wire type of length-delimited fields (strings, bytes, submessages).
const LEN: u64 = 2;
/// Wire type of 32-bit fields.
const FIXED32: u64 = 5;

/// Decodes `body`, or returns `None` to leave it to the `prost` path.
pub(super) fn decode(body: &Bytes) -> Option<RawMessage> {
    let mut reader = Reader { bytes: body, at: 0 };
    let mut metadata: Option<MetadataBuilder> = None;
    // `Some` once a payload field was seen. It contains the range of the payload's data,
    // which is empty when the data field was absent.
    let mut payload: Option<Range<usize>> = None;
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        match (field, wire_type) {
            (1, LEN) => {
                let range = reader.length_delimited()?;
                let builder = metadata.get_or_insert_with(|| {
                    // Keys and values take at most the submessage's bytes.
                    MetadataBuilder::with_capacity(8, range.len())
                });
                read_metadata(&body[range], builder)?;
            }
            (2, LEN) => {
                let range = reader.length_delimited()?;
                let data = read_payload(&body[range.clone()])?;
                let previous = payload.take().unwrap_or(0..0);
                // A later payload message replaces the data only when it carries some.
                payload = Some(match data {
                    Some(data) => range.start + data.start..range.start + data.end,
                    None => previous,
                });
            }
            (1 | 2, _) => return None,
            _ => reader.skip(wire_type)?,
        }
    }
    let payload = payload?;
    let metadata = match metadata {
        Some(builder) => builder.finish()?,
        None => crate::Metadata::new(),
    };
    Some(RawMessage {
        metadata,
        payload: body.slice(payload),
    })
}

/// Reads a `Metadata` message's map entries into `builder`.
fn read_metadata(bytes: &[u8], builder: &mut MetadataBuilder) -> Option<()> {
    let mut reader = Reader { bytes, at: 0 };
    while !reader.is_empty() {
        match reader.key()? {
            (1, LEN) => {
                let range = reader.length_delimited()?;
                let (key, value) = read_entry(&bytes[range])?;
                builder.push(key, value);
            }
            // The checksum, unused.
            (2, LEN) => {
                reader.length_delimited()?;
            }
            (1 | 2, _) => return None,
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    Some(())
}

/// Reads one map entry; an absent key or value is empty, a repeated one keeps its last
/// occurrence, and each must be UTF-8.
fn read_entry(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut reader = Reader { bytes, at: 0 };
    let (mut key, mut value): (&[u8], &[u8]) = (&[], &[]);
    while !reader.is_empty() {
        match reader.key()? {
            (field @ (1 | 2), LEN) => {
                let range = reader.length_delimited()?;
                let text = &bytes[range];
                std::str::from_utf8(text).ok()?;
                if field == 1 {
                    key = text;
                } else {
                    value = text;
                }
            }
            (1 | 2, _) => return None,
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    Some((key, value))
}

/// Reads a `Payload` message; returns the range of its data within `bytes`, or `None`
/// inside the `Some` when the data field is absent.
fn read_payload(bytes: &[u8]) -> Option<Option<Range<usize>>> {
    let mut reader = Reader { bytes, at: 0 };
    let mut data = None;
    while !reader.is_empty() {
        match reader.key()? {
            (1, LEN) => data = Some(reader.length_delimited()?),
            // The checksum, unused.
            (2, LEN) => {
                reader.length_delimited()?;
            }
            (1 | 2, _) => return None,
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    Some(data)
}

/// A cursor over one protobuf message.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// Reads a varint as `prost` does: at most ten bytes, the tenth at most 1.
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0_u64;
        for index in 0..10 {
            let byte = *self.bytes.get(self.at)?;
            self.at += 1;
            if index == 9 && byte > 1 {
                return None;
            }
            value |= u64::from(byte & 0x7F) << (7 * index);
            if byte < 0x80 {
                return Some(value);
            }
        }
        None
    }

    /// Reads a field key: its field number (1 and up) and wire type.
    fn key(&mut self) -> Option<(u64, u64)> {
        let key = self.varint()?;
        if key > u64::from(u32::MAX) || key >> 3 == 0 {
            return None;
        }
        Some((key >> 3, key & 7))
    }

    /// Reads the length of a length-delimited field and returns the range of its bytes.
    fn length_delimited(&mut self) -> Option<Range<usize>> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.at.checked_add(len)?;
        if end > self.bytes.len() {
            return None;
        }
        let range = self.at..end;
        self.at = end;
        Some(range)
    }

    /// Skips the value of an unknown field; groups (wire types 3 and 4) are left to
    /// `prost`.
    fn skip(&mut self, wire_type: u64) -> Option<()> {
        let len = match wire_type {
            VARINT => return self.varint().map(drop),
            LEN => return self.length_delimited().map(drop),
            FIXED64 => 8,
            FIXED32 => 4,
            _ => return None,
        };
        let end = self.at.checked_add(len)?;
        if end > self.bytes.len() {
            return None;
        }
        self.at = end;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metadata;

    /// Checks that the fast path, when it accepts `body`, agrees with the `prost` path.
    fn agrees(body: &[u8]) -> bool {
        let body = Bytes::copy_from_slice(body);
        let Some(fast) = decode(&body) else {
            return false;
        };
        match super::super::decode_with_prost(body.clone()) {
            Ok(slow) => assert_eq!(fast, slow, "{body:?}"),
            Err(error) => panic!("fast path accepted what prost rejects ({error}): {body:?}"),
        }
        true
    }

    fn publisher_body() -> Vec<u8> {
        let metadata: Metadata = [
            ("EventTime", "1719835200123456789"),
            ("MessageID", "7b0e4b5e-4f51-4d0a-9d7e-2f0c0d1a2b3c"),
            ("PayloadEncoding", "json"),
            ("Source", "nodé-1"),
            ("Type", "Blob"),
        ]
        .into_iter()
        .collect();
        let mut out = Vec::new();
        super::super::encode(&mut out, &metadata, br#"{"data":"xx","seq":1}"#);
        out
    }

    #[test]
    fn publisher_layout_takes_fast_path() {
        assert!(agrees(&publisher_body()));
    }

    #[test]
    fn repeated_and_unknown_fields_follow_prost() {
        let mut body = publisher_body();
        // A second metadata message repeating a key, a second payload without data,
        // and unknown varint, fixed32 and fixed64 fields.
        body.extend_from_slice(&[0x0A, 0x08, 0x0A, 0x06, 0x0A, 0x01, b'A', 0x12, 0x01, b'2']);
        body.extend_from_slice(&[0x0A, 0x08, 0x0A, 0x06, 0x0A, 0x01, b'A', 0x12, 0x01, b'3']);
        body.extend_from_slice(&[0x12, 0x02, 0x18, 0x05]);
        body.extend_from_slice(&[0x18, 0x96, 0x01, 0x25, 1, 2, 3, 4]);
        body.extend_from_slice(&[0x29, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(agrees(&body));
        let message = decode(&Bytes::from(body)).unwrap();
        assert_eq!(message.metadata.get("A"), Some("3"));
        assert_eq!(&message.payload[..], br#"{"data":"xx","seq":1}"#);
    }

    #[test]
    fn missing_payload_falls_back() {
        assert!(!agrees(&[]));
        assert!(!agrees(&[0x0A, 0x00]));
    }

    #[test]
    fn mutated_bodies_never_disagree() {
        let base = publisher_body();
        let replacements = [
            0x00, 0x01, 0x02, 0x08, 0x0A, 0x12, 0x1A, 0x7F, 0x80, 0xC3, 0xFF,
        ];
        let mut accepted = 0;
        for at in 0..base.len() {
            for &byte in &replacements {
                let mut replaced = base.clone();
                replaced[at] = byte;
                accepted += usize::from(agrees(&replaced));
                let mut inserted = base.clone();
                inserted.insert(at, byte);
                accepted += usize::from(agrees(&inserted));
            }
            agrees(&base[..at]);
        }
        assert!(
            accepted > 100,
            "only {accepted} mutations took the fast path"
        );
    }
}
