//! Runs the `ncl` command-line tool on the Bacalhau vector cases and on a private
//! `nats-server`.
//!
//! The binary lives in the `ncl` crate behind its `cli` feature. Cargo passes its path
//! (`CARGO_BIN_EXE_ncl`) only to that crate's own tests, so these tests build it once
//! with `cargo build -p ncl --features cli --bin ncl` and take the path Cargo reports.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::timeout;

/// How long a test waits for the tool to start, print or exit.
const WAIT: Duration = Duration::from_secs(20);

/// Returns the path of the `ncl` binary, building it on first use.
fn ncl_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_binary)
}

fn build_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-p", "ncl", "--features", "cli", "--bin", "ncl"])
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit());
    // Build with the profile these tests were built with: target/<profile>/deps/cli-*.
    let profile = std::env::current_exe().ok().and_then(|exe| {
        let profile_dir = exe.parent()?.parent()?;
        Some(profile_dir.file_name()?.to_string_lossy().into_owned())
    });
    match profile.as_deref() {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
    }
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("failed to run cargo to build the ncl binary: {error}"));
    assert!(
        output.status.success(),
        "cargo build -p ncl --features cli failed with {}",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter_map(|message| message["executable"].as_str().map(PathBuf::from))
        .find(|path| path.file_stem().is_some_and(|stem| stem == "ncl"))
        .expect("cargo reported no ncl executable")
}

/// Runs `ncl ARGS` with `stdin` as standard input.
fn run_ncl(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(ncl_binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("failed to start {}: {error}", ncl_binary().display()));
    let mut input = child.stdin.take().expect("stdin is piped");
    input
        .write_all(stdin)
        .expect("write the tool's standard input");
    drop(input);
    child.wait_with_output().expect("wait for the tool to exit")
}

fn cases() -> &'static [Value] {
    static CASES: OnceLock<Vec<Value>> = OnceLock::new();
    CASES.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/vectors/bacalhau-ncl-vectors.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "cannot read the vector file {}: {error}. It belongs in the `shared` folder \
                 beside the repository root (shared/vectors/bacalhau-ncl-vectors.json)",
                path.display()
            )
        });
        let mut file: Value = serde_json::from_str(&text).expect("the vector file is JSON");
        match file["cases"].take() {
            Value::Array(cases) => cases,
            other => panic!("the vector file's cases are not an array: {other}"),
        }
    })
}

fn cases_of_kind(kind: &str) -> impl Iterator<Item = &'static Value> {
    cases().iter().filter(move |case| case["kind"] == kind)
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn assert_no_failures(check: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{check}: {} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The description `ncl decode` prints, with the payload kept as written.
#[derive(Debug, serde::Deserialize)]
struct Description {
    version: u8,
    format: String,
    crc: String,
    metadata: serde_json::Map<String, Value>,
    /// `Some` for a present payload, `null` included.
    #[serde(default, deserialize_with = "present")]
    payload: Option<Box<RawValue>>,
    #[serde(default)]
    payload_hex: Option<String>,
}

fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Box<RawValue>>, D::Error> {
    serde::Deserialize::deserialize(deserializer).map(Some)
}

fn check_decode(case: &Value, hex: &str) -> Result<(), String> {
    let output = run_ncl(&["decode", "--hex"], format!("  {hex}\n").as_bytes());
    if !output.status.success() {
        return Err(format!(
            "exit status {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let description: Description = serde_json::from_slice(&output.stdout)
        .map_err(|error| format!("output is not a description ({error}): {:?}", output.stdout))?;

    let version = case["schema_version"].as_u64().unwrap_or_default();
    if u64::from(description.version) != version {
        return Err(format!(
            "version {} instead of {version}",
            description.version
        ));
    }
    let format = if version == 1 {
        "json-v1"
    } else {
        "protobuf-v1"
    };
    if description.format != format {
        return Err(format!("format {} instead of {format}", description.format));
    }
    if description.crc != hex[2..10] {
        return Err(format!(
            "crc {} instead of {}",
            description.crc,
            &hex[2..10]
        ));
    }

    let expected_metadata = case["decoded"]["metadata"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if description.metadata != expected_metadata {
        return Err(format!(
            "metadata {:?} instead of {expected_metadata:?}",
            description.metadata
        ));
    }

    // The tool prints the payload compacted as Go compacts it; Go's own payloads are
    // compact already, hand-built ones may not be.
    let expected_payload = case["payload_json"].as_str().map(|json| {
        let mut compacted = Vec::new();
        ncl::go_json::compact(json.as_bytes(), &mut compacted).expect("payload_json is JSON");
        String::from_utf8(compacted).expect("compact JSON is UTF-8")
    });
    match (
        expected_payload,
        &description.payload,
        &description.payload_hex,
    ) {
        (Some(expected), Some(payload), None) if payload.get() == expected => Ok(()),
        (None, None, Some(payload_hex)) if payload_hex.is_empty() => Ok(()),
        (expected, payload, payload_hex) => Err(format!(
            "payload {payload:?} / payload_hex {payload_hex:?} instead of {expected:?}"
        )),
    }
}

#[test]
fn decode_prints_go_envelopes() {
    let mut failures = Vec::new();
    for case in cases_of_kind("encode") {
        for field in ["envelope_hex", "envelope_hex_canonical"] {
            if let Err(error) = check_decode(case, text(&case[field])) {
                failures.push(format!("{} ({field}): {error}", text(&case["name"])));
            }
        }
    }
    assert_no_failures("ncl decode --hex", failures);
}

/// Encode cases that `ncl encode` cannot reproduce byte for byte.
///
/// Go wrote the invalid UTF-8 byte of this metadata value as the escape `\ufffd`. The
/// JSON input can carry only the character `U+FFFD`, which is written as UTF-8.
const ENCODE_SKIPPED: &[&str] = &["invalid_utf8_metadata_v1"];

/// Builds the `ncl encode` input for an encode case, keeping `payload_json` as written.
fn encode_input(case: &Value) -> String {
    let mut input = format!("{{\"metadata\":{}", case["metadata_in"]);
    if case["layer"] == "registry+envelope" {
        input.push_str(&format!(
            ",\"type\":{},\"payload\":{}",
            case["payload_type"],
            text(&case["payload_json"])
        ));
    } else if let Some(payload_hex) = case["payload_in_hex"].as_str() {
        // The raw payload bytes, which a protobuf body carries verbatim.
        input.push_str(&format!(",\"payload_hex\":\"{payload_hex}\""));
    }
    input.push('}');
    input
}

#[test]
fn encode_reproduces_go_envelopes() {
    let mut failures = Vec::new();
    for case in cases_of_kind("encode") {
        let name = text(&case["name"]);
        if ENCODE_SKIPPED.contains(&name) {
            continue;
        }
        let version = case["schema_version"].to_string();
        let mut args = vec!["encode", "--hex", "--version", version.as_str()];
        if case["generation"] == "current" {
            args.push("--current-keys");
        }
        let input = encode_input(case);
        let output = run_ncl(&args, input.as_bytes());
        let expected = text(&case["envelope_hex_canonical"]);
        let produced = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            failures.push(format!(
                "{name}: exit status {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        } else if produced.trim_end() != expected {
            failures.push(format!(
                "{name}:\n  ours {}\n  go   {expected}",
                produced.trim_end()
            ));
        }
    }
    assert_no_failures("ncl encode --hex", failures);
}

#[test]
fn encode_raw_output_decodes() {
    let input =
        br#"{"metadata":{"Source":"cli"},"type":"Ping","payload":{ "b" : "<&>" , "a" : 1 }}"#;
    let envelope = run_ncl(&["encode", "--version", "2"], input);
    assert!(envelope.status.success(), "{:?}", envelope);
    assert_eq!(envelope.stdout[0], 2, "version byte");
    let decoded = run_ncl(&["decode"], &envelope.stdout);
    assert!(decoded.status.success(), "{:?}", decoded);
    let description: Description = serde_json::from_slice(&decoded.stdout).unwrap();
    assert_eq!(description.metadata["Type"], "Ping");
    assert_eq!(description.metadata["PayloadEncoding"], "json");
    assert_eq!(description.metadata["Source"], "cli");
    // Key order kept, whitespace removed, HTML characters escaped as Go escapes them.
    assert_eq!(
        description.payload.unwrap().get(),
        r#"{"b":"\u003c\u0026\u003e","a":1}"#
    );
}

#[test]
fn encode_rejects_invalid_input() {
    let cases: [(&[u8], &str); 4] = [
        (b"not json", "invalid_input"),
        (br#"{"payload":1,"payload_hex":"31"}"#, "invalid_input"),
        (
            br#"{"type":"T","metadata":{"PayloadEncoding":"cbor"}}"#,
            "unsupported_encoding",
        ),
        (
            br#"{"payload_hex":"6e6f74206a736f6e"}"#,
            "invalid_json_payload",
        ),
    ];
    for (input, kind) in cases {
        let output = run_ncl(&["encode"], input);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.starts_with(&format!("ncl: {kind}: ")), "{stderr}");
        assert!(output.stdout.is_empty(), "{:?}", output.stdout);
    }
}

/// Returns the `ncl decode` error kind for a Go error of the envelope stage.
fn decode_error_kind(go_error: &str) -> &'static str {
    if go_error.starts_with("bad message: too short") {
        "too_short"
    } else if go_error.starts_with("bad message: CRC") {
        "crc_mismatch"
    } else if go_error.starts_with("unsupported encoding: 0x") {
        "unsupported_version"
    } else {
        // Body parse errors, and Go's panic on a protobuf body without a payload.
        "malformed_body"
    }
}

#[test]
fn decode_rejects_invalid_envelopes() {
    let mut failures = Vec::new();
    for case in cases_of_kind("decode_error").filter(|case| case["error_stage"] == "envelope") {
        let name = text(&case["name"]);
        let kind = decode_error_kind(text(&case["error"]));
        let output = run_ncl(&["decode", "--hex"], text(&case["input_hex"]).as_bytes());
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(1) {
            failures.push(format!("{name}: exit status {} ({stderr})", output.status));
        } else if !stderr.starts_with(&format!("ncl: {kind}: ")) {
            failures.push(format!("{name}: stderr {stderr:?}, expected kind {kind}"));
        } else if !output.stdout.is_empty() {
            failures.push(format!(
                "{name}: printed {:?}",
                String::from_utf8_lossy(&output.stdout)
            ));
        }
    }
    assert_no_failures("ncl decode --hex on invalid envelopes", failures);
}

#[test]
fn decode_rejects_invalid_hex() {
    let output = run_ncl(&["decode", "--hex"], b"01zz");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("ncl: invalid_hex: "), "{stderr}");
}

#[test]
fn help_describes_every_option() {
    let expected: [(&[&str], &[&str]); 4] = [
        (&["--help"], &["decode", "encode", "tail"]),
        (&["decode", "--help"], &["--hex"]),
        (
            &["encode", "--help"],
            &["--hex", "--version", "--current-keys"],
        ),
        (
            &["tail", "--help"],
            &[
                "--server",
                "--count",
                "--preview-chars",
                "<SUBJECT>",
                "nats://127.0.0.1:4222",
            ],
        ),
    ];
    for (args, words) in expected {
        let output = run_ncl(args, b"");
        assert!(output.status.success(), "{args:?}: {}", output.status);
        let help = String::from_utf8_lossy(&output.stdout);
        for word in words {
            assert!(help.contains(word), "{args:?} help lacks {word}:\n{help}");
        }
    }
}

/// Returns the bytes of a case's `envelope_hex`.
fn envelope_of(name: &str) -> Vec<u8> {
    let case = cases()
        .iter()
        .find(|case| case["name"] == name)
        .unwrap_or_else(|| panic!("{name} is in the vector file"));
    let hex = text(&case["envelope_hex"]);
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("the vector file holds valid hex"))
        .collect()
}

#[tokio::test]
async fn tail_prints_messages_and_survives_bad_ones() {
    let server = tests::NatsServer::start();
    let mut child = tokio::process::Command::new(ncl_binary())
        .args([
            "tail",
            "--server",
            &server.url(),
            "--count",
            "3",
            "ncl.cli.>",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start ncl tail");

    // Publish only once the tool reports its subscription, or messages would be lost.
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut stderr_lines = BufReader::new(stderr).lines();
    let ready = timeout(WAIT, stderr_lines.next_line())
        .await
        .expect("ncl tail reports its subscription in time")
        .expect("read ncl tail's standard error");
    assert!(
        ready
            .as_deref()
            .is_some_and(|line| line.starts_with("ncl tail: subscribed to ncl.cli.>")),
        "{ready:?}"
    );

    let client = tests::connect(&server).await;
    let messages: [(&str, Vec<u8>); 3] = [
        ("ncl.cli.json", envelope_of("simple_struct_v1")),
        ("ncl.cli.bad", b"not an envelope".to_vec()),
        ("ncl.cli.proto", envelope_of("current_nested_struct_v2")),
    ];
    for (subject, payload) in messages {
        client
            .publish(subject, payload.into())
            .await
            .expect("publish to the test server");
    }
    client.flush().await.expect("flush the test client");

    let output = timeout(WAIT, child.wait_with_output())
        .await
        .expect("ncl tail exits after --count messages")
        .expect("wait for ncl tail");
    assert!(output.status.success(), "{:?}", output);
    let stdout = String::from_utf8(output.stdout).expect("ncl tail prints UTF-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(
        lines[0],
        "ncl.cli.json type=TestPayload source=goref-vectors time=2024-07-01T12:00:00.123456789Z \
         payload={\"Message\":\"hello\",\"Value\":42}"
    );
    assert!(
        lines[1].starts_with("ncl.cli.bad error=unsupported_version: "),
        "{}",
        lines[1]
    );
    // The current generation's Bacalhau-* keys are read like the legacy ones.
    assert_eq!(
        lines[2],
        "ncl.cli.proto type=Nested source=goref-vectors time=2024-07-01T12:00:00.123456789Z \
         payload={\"id\":\"job-123\",\"inner\":{\"name\":\"outer\",\"level\":1},\"items\":[{\"k\":\"a\",\"v\":0.5}]}"
    );
}

#[tokio::test]
async fn tail_truncates_payload_preview() {
    let server = tests::NatsServer::start();
    let mut child = tokio::process::Command::new(ncl_binary())
        .args([
            "tail",
            "--server",
            &server.url(),
            "--count",
            "1",
            "--preview-chars",
            "10",
            "t",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start ncl tail");
    let stderr = child.stderr.take().expect("stderr is piped");
    timeout(WAIT, BufReader::new(stderr).lines().next_line())
        .await
        .expect("ncl tail reports its subscription in time")
        .expect("read ncl tail's standard error");

    let client = tests::connect(&server).await;
    client
        .publish("t", envelope_of("simple_struct_v1").into())
        .await
        .expect("publish to the test server");
    client.flush().await.expect("flush the test client");

    let output = timeout(WAIT, child.wait_with_output())
        .await
        .expect("ncl tail exits after --count messages")
        .expect("wait for ncl tail");
    let stdout = String::from_utf8(output.stdout).expect("ncl tail prints UTF-8");
    assert!(
        stdout.trim_end().ends_with("payload={\"Message\"…"),
        "{stdout}"
    );
}

#[test]
fn tail_rejects_invalid_subject() {
    let server = tests::NatsServer::start();
    let output = run_ncl(&["tail", "--server", &server.url(), "a..b"], b"");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("ncl: invalid_subject: "), "{stderr}");
}
