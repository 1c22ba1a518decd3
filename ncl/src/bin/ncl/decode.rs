//! `ncl decode`: one envelope from standard input to a JSON description.

use std::io::Write;

use clap::Args;
use ncl::{EnvelopeSerializer, EnvelopeVersion, Metadata, go_json};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::CliError;
use crate::text::{envelope_error_kind, from_hex, read_stdin, to_hex};

/// Decode one envelope from standard input and print it as one line of JSON
///
/// The line is {"version":1,"format":"json-v1","crc":"…","metadata":{…},"payload":…}.
/// A payload that is one JSON value is printed as JSON; any other payload (or an empty
/// one) is printed as "payload_hex". Payload types need not be known. An invalid
/// envelope prints its error kind and detail on standard error and exits with status 1.
#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// Read the envelope as hexadecimal text instead of raw bytes (whitespace is ignored)
    #[arg(long)]
    hex: bool,
}

/// The printed description of an envelope.
#[derive(Serialize)]
struct Description<'a> {
    version: u8,
    format: &'static str,
    crc: String,
    metadata: &'a Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_hex: Option<String>,
}

pub(crate) fn run(args: &DecodeArgs) -> Result<(), CliError> {
    let input = read_stdin()?;
    let envelope = if args.hex { from_hex(&input)? } else { input };
    let line = describe(&envelope)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&line)
        .and_then(|()| stdout.write_all(b"\n"))
        .map_err(|error| {
            CliError::new(
                "io",
                format_args!("failed to write standard output: {error}"),
            )
        })
}

/// Decodes `envelope` and returns its JSON description.
fn describe(envelope: &[u8]) -> Result<Vec<u8>, CliError> {
    let raw = EnvelopeSerializer::default()
        .deserialize(envelope)
        .map_err(|error| CliError::new(envelope_error_kind(&error), error))?;
    // Decoding succeeded, so the first byte names a known version.
    let version = EnvelopeVersion::from_byte(envelope[0]).ok_or_else(|| {
        CliError::new("unsupported_version", format_args!("0x{:02x}", envelope[0]))
    })?;

    let mut payload = None;
    let mut payload_hex = None;
    let mut compacted = Vec::with_capacity(raw.payload.len());
    match go_json::compact(&raw.payload, &mut compacted)
        .ok()
        .and_then(|()| String::from_utf8(compacted).ok())
        .and_then(|text| RawValue::from_string(text).ok())
    {
        Some(json) => payload = Some(json),
        None => payload_hex = Some(to_hex(&raw.payload)),
    }

    let description = Description {
        version: version.byte(),
        format: version.name(),
        crc: to_hex(&envelope[1..5]),
        metadata: &raw.metadata,
        payload,
        payload_hex,
    };
    go_json::to_vec(&description).map_err(|error| CliError::new("output", error))
}
