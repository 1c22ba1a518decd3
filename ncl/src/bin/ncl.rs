//! `ncl`: decodes, encodes and tails NCL envelopes, the message format of Bacalhau's
//! NATS messaging (a version byte, a CRC-32 and a JSON or protobuf body).
//!
//! ```text
//! ncl decode --hex < envelope.hex            # envelope → JSON description
//! ncl encode --version 2 < message.json      # JSON description → envelope
//! ncl tail --server nats://127.0.0.1:4222 'jobs.>'
//! ```
//!
//! Built only with the `cli` feature: `cargo install ncl --features cli`.

// A crate root resolves `mod` paths beside itself, so the modules in `ncl/` are named.
#[path = "ncl/decode.rs"]
mod decode;
#[path = "ncl/encode.rs"]
mod encode;
#[path = "ncl/tail.rs"]
mod tail;
#[path = "ncl/text.rs"]
mod text;

use std::fmt;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Decode, encode and tail NCL envelopes (Bacalhau's NATS message format).
#[derive(Debug, Parser)]
#[command(name = "ncl", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Decode(decode::DecodeArgs),
    Encode(encode::EncodeArgs),
    Tail(tail::TailArgs),
}

/// A failure reported on standard error as `ncl: KIND: DETAIL`, with exit status 1.
#[derive(Debug)]
struct CliError {
    /// Short snake_case name of what failed, for scripts to match on.
    kind: &'static str,
    detail: String,
}

impl CliError {
    fn new(kind: &'static str, detail: impl fmt::Display) -> Self {
        Self {
            kind,
            detail: detail.to_string(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Encode(args) => encode::run(&args),
        Command::Tail(args) => tail::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ncl: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_valid() {
        super::Cli::command().debug_assert();
    }
}
