//! The envelope: one version byte, a CRC-32 of the body, then the body.
//!
//! ```text
//! +---------+-----------------+----------------------------------------+
//! | version | CRC-32 (IEEE,   | body: JSON (version 1) or              |
//! | 1 byte  | big-endian) 4 B | protobuf (version 2)                   |
//! +---------+-----------------+----------------------------------------+
//! ```
//!
//! The CRC covers the body only. Decoding checks, in this order: the length is at least
//! five bytes, the version is known, the CRC matches, and the body parses.

mod json;
mod proto;

use std::fmt;

use bytes::Bytes;

use crate::{Metadata, RawMessage};

/// Length of the envelope header: the version byte and the CRC.
pub const HEADER_LEN: usize = 5;

/// Format of the envelope body, named by the envelope's first byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvelopeVersion {
    /// Version 1: `{"metadata":{...},"payload":<payload JSON>}`.
    #[default]
    JsonV1,
    /// Version 2: a protobuf `Message { Metadata metadata = 1; Payload payload = 2; }`.
    ProtobufV1,
}

impl EnvelopeVersion {
    /// Returns the version byte written at the start of the envelope.
    pub const fn byte(self) -> u8 {
        match self {
            Self::JsonV1 => 1,
            Self::ProtobufV1 => 2,
        }
    }

    /// Returns the version that `byte` names, if any.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::JsonV1),
            2 => Some(Self::ProtobufV1),
            _ => None,
        }
    }

    /// Returns the name Bacalhau's Go code uses for this version (`json-v1`,
    /// `protobuf-v1`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::JsonV1 => "json-v1",
            Self::ProtobufV1 => "protobuf-v1",
        }
    }
}

impl fmt::Display for EnvelopeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned when an envelope cannot be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The input is shorter than the five-byte header.
    #[error("envelope too short: {len} bytes, the header alone is 5")]
    TooShort {
        /// Length of the input in bytes.
        len: usize,
    },
    /// The first byte names no known envelope version.
    #[error(
        "unsupported envelope version 0x{version:02x}: expected 0x01 (json-v1) or 0x02 \
         (protobuf-v1); is the sender an NCL publisher?"
    )]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// The CRC in the header does not match the body.
    #[error(
        "envelope CRC mismatch: header says 0x{expected:08x}, body hashes to 0x{actual:08x}; \
         the message was corrupted or not written with CRC-32/IEEE big-endian"
    )]
    CrcMismatch {
        /// CRC stored in the header.
        expected: u32,
        /// CRC computed over the body.
        actual: u32,
    },
    /// The body does not parse as the version's format.
    #[error("malformed {version} envelope body: {source}")]
    MalformedBody {
        /// Version named by the first byte.
        version: EnvelopeVersion,
        /// Parser error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The payload bytes of a message to encode as version 1 are not one valid JSON
    /// value, so they cannot be embedded in the JSON body.
    #[error(
        "payload is not valid JSON and cannot be embedded in a json-v1 envelope: {source}; \
         use protobuf-v1 for non-JSON payloads"
    )]
    InvalidJsonPayload {
        /// Parser error.
        #[source]
        source: serde_json::Error,
    },
}

/// Encodes and decodes envelopes.
///
/// Encoding uses the configured version; decoding accepts any supported version, as
/// named by the envelope's first byte.
///
/// # Examples
///
/// ```
/// use ncl::{EnvelopeSerializer, EnvelopeVersion, Metadata, RawMessage};
///
/// let serializer = EnvelopeSerializer::new(EnvelopeVersion::ProtobufV1);
/// let mut metadata = Metadata::new();
/// metadata.insert("Type", "Ping");
/// let raw = RawMessage::new(metadata, &b"{}"[..]);
///
/// let bytes = serializer.serialize(&raw).unwrap();
/// assert_eq!(bytes[0], 2);
/// // Any serializer decodes any supported version.
/// let decoded = EnvelopeSerializer::default().deserialize(&bytes).unwrap();
/// assert_eq!(decoded, raw);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnvelopeSerializer {
    version: EnvelopeVersion,
}

impl EnvelopeSerializer {
    /// Creates a serializer that encodes with `version`.
    pub const fn new(version: EnvelopeVersion) -> Self {
        Self { version }
    }

    /// Returns the version used for encoding.
    pub const fn version(&self) -> EnvelopeVersion {
        self.version
    }

    /// Encodes `message` into an envelope.
    ///
    /// For version 1 the payload bytes must be one JSON value; they are embedded
    /// compacted and HTML-escaped, as Go's `json.Marshal` embeds a `json.RawMessage`.
    /// An empty payload is written as `null`, as Go writes a nil one.
    ///
    /// # Errors
    ///
    /// Returns [`EnvelopeError::InvalidJsonPayload`] when the version is 1 and the
    /// payload is neither empty nor valid JSON.
    pub fn serialize(&self, message: &RawMessage) -> Result<Bytes, EnvelopeError> {
        let mut out = Vec::with_capacity(HEADER_LEN + 64 + message.payload.len());
        out.extend_from_slice(&[self.version.byte(), 0, 0, 0, 0]);
        match self.version {
            EnvelopeVersion::JsonV1 => json::encode_raw(&mut out, message)?,
            EnvelopeVersion::ProtobufV1 => {
                proto::encode(&mut out, &message.metadata, &message.payload)
            }
        }
        finish_header(&mut out);
        Ok(Bytes::from(out))
    }

    /// Encodes an envelope whose payload `write_payload` serializes straight into the
    /// output buffer, which saves a copy on the publish path.
    ///
    /// `write_payload` must append exactly one compact, Go-escaped JSON value. The
    /// envelope is built in a reused per-thread buffer and copied out once, so the
    /// returned bytes are the only allocation.
    pub(crate) fn serialize_with<E>(
        &self,
        metadata: &Metadata,
        write_payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<Bytes, E> {
        thread_local! {
            static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => {
                let (out, payload) = &mut *scratch;
                let result = self.encode_into(out, payload, metadata, write_payload);
                let bytes = result.map(|()| Bytes::copy_from_slice(out));
                release_scratch(out);
                release_scratch(payload);
                bytes
            }
            // Only reached if a payload's Serialize impl publishes; it gets its own
            // buffers.
            Err(_) => {
                let (mut out, mut payload) = (Vec::new(), Vec::new());
                self.encode_into(&mut out, &mut payload, metadata, write_payload)?;
                Ok(Bytes::from(out))
            }
        })
    }

    fn encode_into<E>(
        &self,
        out: &mut Vec<u8>,
        payload: &mut Vec<u8>,
        metadata: &Metadata,
        write_payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        out.clear();
        out.extend_from_slice(&[self.version.byte(), 0, 0, 0, 0]);
        match self.version {
            EnvelopeVersion::JsonV1 => json::encode_with(out, metadata, write_payload)?,
            EnvelopeVersion::ProtobufV1 => {
                payload.clear();
                write_payload(payload)?;
                proto::encode(out, metadata, payload);
            }
        }
        finish_header(out);
        Ok(())
    }

    /// Decodes an envelope, copying the payload out of `data`.
    ///
    /// # Errors
    ///
    /// Returns, in the order the checks run: [`EnvelopeError::TooShort`],
    /// [`EnvelopeError::UnsupportedVersion`], [`EnvelopeError::CrcMismatch`] or
    /// [`EnvelopeError::MalformedBody`].
    pub fn deserialize(&self, data: &[u8]) -> Result<RawMessage, EnvelopeError> {
        self.deserialize_bytes(&Bytes::copy_from_slice(data))
    }

    /// Decodes an envelope; the returned payload shares `data`'s buffer instead of
    /// copying it.
    ///
    /// # Errors
    ///
    /// As [`EnvelopeSerializer::deserialize`].
    pub fn deserialize_bytes(&self, data: &Bytes) -> Result<RawMessage, EnvelopeError> {
        let (version, body) = check_header(data)?;
        match version {
            EnvelopeVersion::JsonV1 => json::decode(data, body),
            EnvelopeVersion::ProtobufV1 => proto::decode(data.slice(HEADER_LEN..)),
        }
    }
}

/// Validates the header and returns the version and the body.
pub fn check_header(data: &[u8]) -> Result<(EnvelopeVersion, &[u8]), EnvelopeError> {
    if data.len() < HEADER_LEN {
        return Err(EnvelopeError::TooShort { len: data.len() });
    }
    let version = EnvelopeVersion::from_byte(data[0])
        .ok_or(EnvelopeError::UnsupportedVersion { version: data[0] })?;
    let expected = u32::from_be_bytes([data[1], data[2], data[3], data[4]]);
    let body = &data[HEADER_LEN..];
    let actual = crc32fast::hash(body);
    if expected != actual {
        return Err(EnvelopeError::CrcMismatch { expected, actual });
    }
    Ok((version, body))
}

/// Empties a scratch buffer, giving back memory that one large message grew it to.
fn release_scratch(buffer: &mut Vec<u8>) {
    const KEEP: usize = 64 * 1024;
    buffer.clear();
    if buffer.capacity() > KEEP {
        buffer.shrink_to(KEEP);
    }
}

/// Writes the CRC of everything after the header into bytes 1 to 4.
fn finish_header(out: &mut [u8]) {
    let crc = crc32fast::hash(&out[HEADER_LEN..]);
    out[1..HEADER_LEN].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests;
