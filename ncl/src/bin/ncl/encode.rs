//! `ncl encode`: a JSON description from standard input to one envelope.

use std::io::Write;

use clap::Args;
use ncl::{
    EnvelopeSerializer, EnvelopeVersion, JSON_ENCODING, KeyGeneration, Metadata, RawMessage,
    go_json,
};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::CliError;
use crate::text::{envelope_error_kind, from_hex, read_stdin, to_hex};

/// Encode one message from standard input and write the envelope to standard output
///
/// The input is a JSON object: {"metadata":{…},"type":"…","payload":…}. With "type",
/// the encoder stamps Type and PayloadEncoding=json as a publisher does; without it,
/// the metadata is written as given. The payload is embedded as Go embeds it: compacted,
/// with <, >, & escaped, and key order kept. Instead of "payload", "payload_hex" gives
/// raw payload bytes (a version 1 envelope still needs them to be JSON).
#[derive(Debug, Args)]
pub(crate) struct EncodeArgs {
    /// Write the envelope as hexadecimal text and a newline instead of raw bytes
    #[arg(long)]
    hex: bool,

    /// Envelope version: 1 for a JSON body (json-v1), 2 for a protobuf body (protobuf-v1)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    version: u8,

    /// Also write Bacalhau-Type and Bacalhau-PayloadEncoding, the key spellings of
    /// Bacalhau's current envelope package (needs "type")
    #[arg(long)]
    current_keys: bool,
}

/// The input description of a message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageInput {
    #[serde(default)]
    metadata: Metadata,
    #[serde(default, rename = "type")]
    type_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    payload: Option<Box<RawValue>>,
    #[serde(default)]
    payload_hex: Option<String>,
}

/// Reads a field that is present, `null` included, as `Some`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(deserializer).map(Some)
}

pub(crate) fn run(args: &EncodeArgs) -> Result<(), CliError> {
    let input = read_stdin()?;
    let envelope = encode(&input, args)?;
    let mut stdout = std::io::stdout().lock();
    let written = if args.hex {
        stdout
            .write_all(to_hex(&envelope).as_bytes())
            .and_then(|()| stdout.write_all(b"\n"))
    } else {
        stdout.write_all(&envelope)
    };
    written.and_then(|()| stdout.flush()).map_err(|error| {
        CliError::new(
            "io",
            format_args!("failed to write standard output: {error}"),
        )
    })
}

/// Builds the envelope that `input` describes.
fn encode(input: &[u8], args: &EncodeArgs) -> Result<Vec<u8>, CliError> {
    let message: MessageInput = serde_json::from_slice(input).map_err(|error| {
        CliError::new(
            "invalid_input",
            format_args!(
                "{error}; expected {{\"metadata\":{{...}},\"type\":\"...\",\"payload\":...}}"
            ),
        )
    })?;
    let mut metadata = message.metadata;
    let generation = if args.current_keys {
        KeyGeneration::Current
    } else {
        KeyGeneration::Legacy
    };
    match &message.type_name {
        Some(name) => stamp(&mut metadata, name, generation)?,
        None if args.current_keys => {
            return Err(CliError::new(
                "invalid_input",
                "--current-keys writes the type keys, so the input needs \"type\"",
            ));
        }
        None => {}
    }

    let payload = match (message.payload, message.payload_hex) {
        (Some(_), Some(_)) => {
            return Err(CliError::new(
                "invalid_input",
                "give \"payload\" or \"payload_hex\", not both",
            ));
        }
        (Some(json), None) => {
            let mut compacted = Vec::with_capacity(json.get().len());
            go_json::compact(json.get().as_bytes(), &mut compacted)
                .map_err(|error| CliError::new("invalid_input", error))?;
            compacted
        }
        (None, Some(hex)) => from_hex(hex.as_bytes())?,
        (None, None) => Vec::new(),
    };

    let version = EnvelopeVersion::from_byte(args.version).ok_or_else(|| {
        CliError::new(
            "invalid_input",
            format_args!("unsupported envelope version {}", args.version),
        )
    })?;
    EnvelopeSerializer::new(version)
        .serialize(&RawMessage::new(metadata, payload))
        .map(|bytes| bytes.to_vec())
        .map_err(|error| CliError::new(envelope_error_kind(&error), error))
}

/// Stamps the type and encoding keys as the publisher's registry does: the type is
/// always written, and the encoding only when the metadata names none.
fn stamp(metadata: &mut Metadata, name: &str, generation: KeyGeneration) -> Result<(), CliError> {
    if name.trim().is_empty() {
        return Err(CliError::new("invalid_input", "\"type\" is blank"));
    }
    match metadata.payload_encoding().unwrap_or_default() {
        "" => metadata.set_payload_encoding(JSON_ENCODING, generation),
        JSON_ENCODING => {}
        other => {
            return Err(CliError::new(
                "unsupported_encoding",
                format_args!(
                    "metadata names payload encoding {other:?}; only \"json\" is supported"
                ),
            ));
        }
    }
    metadata.set_message_type(name, generation);
    Ok(())
}
