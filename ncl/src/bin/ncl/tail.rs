//! `ncl tail`: prints one line per NCL message received on NATS subjects.

use std::io::Write;

use clap::Args;
use futures_util::StreamExt;
use ncl::metadata::keys;
use ncl::{EnvelopeSerializer, Metadata, RawMessage, go_json, validate_subscribe_subject};

use crate::CliError;
use crate::text::{envelope_error_kind, format_unix_nanos, to_hex, truncate};

/// Subscribe to NATS subjects and print one line per message
///
/// Each line is "SUBJECT type=… source=… time=… payload=…", with "-" for a missing
/// value and the payload cut to --preview-chars characters. Each key is read in its
/// Bacalhau- spelling first, then its legacy one. A message that is not a valid envelope prints "SUBJECT error=KIND: DETAIL" and the
/// tail goes on. Runs until interrupted, or until --count messages have been printed.
#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// NATS server URL to connect to
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    server: String,

    /// Exit after printing this many lines, invalid messages included
    #[arg(long, value_name = "N")]
    count: Option<u64>,

    /// Maximum number of payload characters shown per line
    #[arg(long, value_name = "CHARS", default_value_t = 80)]
    preview_chars: usize,

    /// Subjects to subscribe to; the wildcards * and > are allowed
    #[arg(required = true, value_name = "SUBJECT")]
    subjects: Vec<String>,
}

pub(crate) fn run(args: &TailArgs) -> Result<(), CliError> {
    for subject in &args.subjects {
        validate_subscribe_subject(subject)
            .map_err(|error| CliError::new("invalid_subject", error))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::new("runtime", error))?;
    runtime.block_on(tail(args))
}

async fn tail(args: &TailArgs) -> Result<(), CliError> {
    let connect_error = |error: &dyn std::fmt::Display| {
        CliError::new("connect", format_args!("{}: {error}", args.server))
    };
    let client = async_nats::connect(&args.server)
        .await
        .map_err(|error| connect_error(&error))?;
    let mut subscriptions = Vec::with_capacity(args.subjects.len());
    for subject in &args.subjects {
        let subscription = client
            .subscribe(subject.clone())
            .await
            .map_err(|error| CliError::new("subscribe", format_args!("{subject}: {error}")))?;
        subscriptions.push(subscription);
    }
    // The server has the subscriptions once the flush returns, so messages published
    // after the line below are received.
    client
        .flush()
        .await
        .map_err(|error| connect_error(&error))?;
    eprintln!(
        "ncl tail: subscribed to {} on {}",
        args.subjects.join(" "),
        args.server
    );

    let mut messages = futures_util::stream::select_all(subscriptions);
    let mut printed = 0_u64;
    let mut stdout = std::io::stdout();
    while args.count.is_none_or(|count| printed < count) {
        let Some(message) = messages.next().await else {
            return Err(CliError::new(
                "connect",
                "the server closed the subscriptions",
            ));
        };
        let line = describe(
            message.subject.as_str(),
            &message.payload,
            args.preview_chars,
        );
        writeln!(stdout, "{line}").map_err(|error| {
            CliError::new(
                "io",
                format_args!("failed to write standard output: {error}"),
            )
        })?;
        printed += 1;
    }
    Ok(())
}

/// Returns the line printed for one message.
fn describe(subject: &str, envelope: &[u8], preview_chars: usize) -> String {
    let raw = match EnvelopeSerializer::default().deserialize(envelope) {
        Ok(raw) => raw,
        Err(error) => return format!("{subject} error={}: {error}", envelope_error_kind(&error)),
    };
    let time = match lookup(&raw.metadata, keys::EVENT_TIME) {
        Some(text) => text
            .parse::<i64>()
            .map_or_else(|_| text.to_owned(), format_unix_nanos),
        None => "-".to_owned(),
    };
    format!(
        "{subject} type={} source={} time={time} payload={}",
        lookup(&raw.metadata, keys::TYPE).unwrap_or("-"),
        lookup(&raw.metadata, keys::SOURCE).unwrap_or("-"),
        truncate(&preview(&raw), preview_chars)
    )
}

/// Returns the value of `key`, preferring its `Bacalhau-` spelling, which Bacalhau's
/// current envelope package writes, over the legacy one.
fn lookup<'a>(metadata: &'a Metadata, key: &str) -> Option<&'a str> {
    metadata
        .get(&format!("Bacalhau-{key}"))
        .or_else(|| metadata.get(key))
}

/// Returns the payload as compact JSON, or as `hex:…` when it is not JSON.
fn preview(raw: &RawMessage) -> String {
    let mut compacted = Vec::with_capacity(raw.payload.len());
    match go_json::compact(&raw.payload, &mut compacted) {
        Ok(()) => String::from_utf8_lossy(&compacted).into_owned(),
        Err(_) => format!("hex:{}", to_hex(&raw.payload)),
    }
}
