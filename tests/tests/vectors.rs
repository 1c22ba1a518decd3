//! Runs every case of the Bacalhau NCL vector file against this crate.
//!
//! The file was produced by Bacalhau's own Go code (the first `pkg/lib/ncl` and the
//! current `pkg/lib/envelope`) and lies in the `shared` folder beside the repository
//! root. Each case is one of four kinds:
//! - `encode`: Go produced envelope bytes. We must produce the same bytes (the sorted
//!   form for protobuf), and decode Go's bytes to the same metadata and payload;
//! - `encode_error`: Go refused to encode; we must fail with the matching error kind,
//!   or the input must be impossible to build in Rust;
//! - `decode_error`: Go rejected the bytes; we must reject them with the matching error
//!   kind at the matching stage (envelope or registry);
//! - `decode_quirk`: Go accepted unusual bytes; the decision for each case is in
//!   [`QUIRK_DECISIONS`] and in ARCHITECTURE.md, "Compatibility decisions".
//!
//! Every check of a kind runs over all its cases and the test fails once, listing every
//! case that failed with the reason.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use ncl::{
    AnyMessage, EnvelopeError, EnvelopeSerializer, EnvelopeVersion, KeyGeneration, Metadata,
    PayloadRegistry, RawMessage, RegistryError,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Rust mirrors of the Go payload types (the file's `payload_types`)
// ---------------------------------------------------------------------------------------
//
// Go `int` is `i64`. Slices and maps are `Option` because Go writes a nil slice or map
// as `null` and an empty one as `[]` or `{}`. A field Go always writes has no
// `#[serde(default)]`, so a message that lacks it is rejected rather than read as a
// zero value. `omitempty` fields skip `None` (and an empty string or slice) and default
// when absent.

/// Bacalhau's own unit-test payload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct TestPayload {
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "Value")]
    value: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Blob {
    data: String,
    seq: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Collections {
    ints: Option<Vec<i64>>,
    strs: Option<Vec<String>>,
    empty_list: Option<Vec<i64>>,
    nil_list: Option<Vec<i64>>,
    /// Go `[]uint8`, which `encoding/json` writes as a base64 string.
    #[serde(with = "go_bytes")]
    bytes: Option<Vec<u8>>,
    matrix: Option<Vec<Option<Vec<i64>>>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Empty {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct FloatBox {
    f: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Floats {
    v: Option<Vec<f64>>,
    f32: Option<Vec<f32>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Inner {
    name: String,
    level: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deep: Option<Box<Inner>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Item {
    k: String,
    v: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Maps {
    m: Option<BTreeMap<String, i64>>,
    s: Option<BTreeMap<String, String>>,
    /// Go `map[int]string`: keys are written as decimal strings and sorted as strings,
    /// which `ncl::go_json` does for any integer-keyed map.
    int_keys: Option<BTreeMap<i64, String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Nested {
    id: String,
    inner: Inner,
    items: Option<Vec<Item>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Numbers {
    u64: u64,
    i64: i64,
    u32: u32,
    i32: i32,
    f64: f64,
    f32: f32,
    b: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Optional {
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count: Option<i64>,
    child: Option<Box<Optional>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    note: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Text {
    s: String,
    #[serde(default, skip_serializing_if = "is_nil_or_empty")]
    t: Option<Vec<String>>,
}

fn is_nil_or_empty(list: &Option<Vec<String>>) -> bool {
    list.as_ref().is_none_or(Vec::is_empty)
}

/// Go's `[]byte` JSON form: a standard base64 string, or `null` for a nil slice.
mod go_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(crate) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_str(&STANDARD.encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| STANDARD.decode(text).map_err(D::Error::custom))
            .transpose()
    }
}

/// A payload decoded as Go decodes into a fresh `*T`: `null` leaves the zero value.
///
/// NCL hands `null` to the payload type's own `Deserialize`, which rejects it for a
/// derived struct. A type that wants Go's behaviour wraps itself like this.
#[derive(Clone, Debug, Default, PartialEq)]
struct NullAsZero<T>(T);

impl<T: Serialize> Serialize for NullAsZero<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for NullAsZero<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self(
            Option::<T>::deserialize(deserializer)?.unwrap_or_default(),
        ))
    }
}

/// Generates the functions that need every payload type: registering them, building a
/// typed value from its JSON, and re-serializing a decoded payload.
macro_rules! payload_types {
    ($($name:literal => $type:ty),* $(,)?) => {
        /// Returns a fresh registry with every Go payload type under its Go name.
        fn registry(generation: KeyGeneration) -> PayloadRegistry {
            let mut registry = PayloadRegistry::new().with_key_generation(generation);
            $(
                registry
                    .register::<$type>($name)
                    .unwrap_or_else(|error| panic!("register {}: {error}", $name));
            )*
            registry
        }

        /// Builds the typed value that Go marshalled to `payload_json` and serializes it
        /// through a registry, stamping `metadata`.
        ///
        /// `null` is a typed nil pointer in Go; its Rust counterpart is `None` of an
        /// `Option<T>` registered under the same name.
        fn serialize_typed(
            generation: KeyGeneration,
            name: &str,
            metadata: &mut Metadata,
            payload_json: &str,
        ) -> Result<Vec<u8>, String> {
            match name {
                $(
                    $name => {
                        if payload_json == "null" {
                            let mut nullable = PayloadRegistry::new().with_key_generation(generation);
                            nullable
                                .register::<Option<$type>>($name)
                                .map_err(|error| error.to_string())?;
                            return nullable
                                .serialize_payload(metadata, &None::<$type>)
                                .map_err(|error| format!("serialize failed: {error}"));
                        }
                        let value: $type = serde_json::from_str(payload_json)
                            .map_err(|error| format!("payload_json does not fit {}: {error}", $name))?;
                        registry(generation)
                            .serialize_payload(metadata, &value)
                            .map_err(|error| format!("serialize failed: {error}"))
                    }
                )*
                other => Err(format!("no Rust mirror for payload type {other:?}")),
            }
        }

        /// Serializes a decoded payload back to Go-compatible JSON.
        fn reserialize(message: &AnyMessage) -> Result<Vec<u8>, String> {
            $(
                if let Some(payload) = message.payload::<$type>() {
                    return ncl::go_json::to_vec(payload).map_err(|error| error.to_string());
                }
                if let Some(payload) = message.payload::<NullAsZero<$type>>() {
                    return ncl::go_json::to_vec(payload).map_err(|error| error.to_string());
                }
            )*
            Err(format!("payload of unexpected Rust type {}", message.payload_type_name()))
        }

        /// Returns a registry whose `TestPayload` reads `null` as Go does.
        fn null_as_zero_registry() -> PayloadRegistry {
            let mut registry = PayloadRegistry::new();
            registry
                .register::<NullAsZero<TestPayload>>("TestPayload")
                .unwrap_or_else(|error| panic!("register NullAsZero<TestPayload>: {error}"));
            registry
        }
    };
}

payload_types! {
    "TestPayload" => TestPayload,
    "Blob" => Blob,
    "Collections" => Collections,
    "Empty" => Empty,
    "FloatBox" => FloatBox,
    "Floats" => Floats,
    "Inner" => Inner,
    "Item" => Item,
    "Maps" => Maps,
    "Nested" => Nested,
    "Numbers" => Numbers,
    "Optional" => Optional,
    "Text" => Text,
}

// ---------------------------------------------------------------------------------------
// The vector file
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct VectorFile {
    payload_types: BTreeMap<String, Value>,
    counts: BTreeMap<String, usize>,
    cases: Vec<Case>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Encode,
    EncodeError,
    DecodeError,
    DecodeQuirk,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Generation {
    Seed,
    Current,
}

impl Generation {
    fn keys(self) -> KeyGeneration {
        match self {
            Self::Seed => KeyGeneration::Legacy,
            Self::Current => KeyGeneration::Current,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
enum Layer {
    #[serde(rename = "envelope")]
    Envelope,
    #[serde(rename = "registry+envelope")]
    RegistryAndEnvelope,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    kind: Kind,
    generation: Generation,
    layer: Layer,
    #[serde(default)]
    schema_version: Option<u8>,
    /// `Some(Value::Null)` for Go's nil metadata pointer, `None` when absent.
    #[serde(default, deserialize_with = "present")]
    metadata_in: Option<Value>,
    #[serde(default)]
    payload_type: Option<String>,
    #[serde(default)]
    payload_json: Option<String>,
    #[serde(default)]
    payload_in_hex: Option<String>,
    #[serde(default)]
    metadata_out: Option<BTreeMap<String, String>>,
    #[serde(default)]
    envelope_hex: Option<String>,
    #[serde(default)]
    envelope_hex_canonical: Option<String>,
    #[serde(default)]
    input_hex: Option<String>,
    #[serde(default)]
    decoded: Option<Decoded>,
    #[serde(default)]
    decoded_by_seed: Option<Decoded>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_normalized: Option<String>,
    #[serde(default)]
    error_stage: Option<String>,
    #[serde(default)]
    go_panics: bool,
}

#[derive(Clone, Debug, Deserialize)]
struct Decoded {
    ok: bool,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    /// `Some(Value::Null)` for a `null` payload, `None` for no payload at all.
    #[serde(default, deserialize_with = "present")]
    payload: Option<Value>,
}

/// Reads a field that is present, `null` included, as `Some`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

impl Case {
    fn version(&self) -> Result<EnvelopeVersion, String> {
        self.schema_version
            .and_then(EnvelopeVersion::from_byte)
            .ok_or_else(|| format!("schema_version {:?} is not 1 or 2", self.schema_version))
    }

    fn metadata_in(&self) -> Result<Metadata, String> {
        match &self.metadata_in {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(key, value)| match value {
                    Value::String(value) => Ok((key.clone(), value.clone())),
                    other => Err(format!("metadata_in.{key} is not a string: {other}")),
                })
                .collect(),
            other => Err(format!("metadata_in is not an object: {other:?}")),
        }
    }

    /// Returns the Go error text, with protobuf-go's no-break space made plain.
    fn go_error(&self) -> &str {
        self.error_normalized
            .as_deref()
            .or(self.error.as_deref())
            .unwrap_or_default()
    }

    fn hex_field(&self, field: &str, value: &Option<String>) -> Result<Vec<u8>, String> {
        let text = value
            .as_deref()
            .ok_or_else(|| format!("{field} is missing"))?;
        from_hex(text).map_err(|error| format!("{field}: {error}"))
    }
}

/// Loads the vector file once.
fn vectors() -> &'static VectorFile {
    static FILE: OnceLock<VectorFile> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = vector_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "cannot read the vector file {}: {error}. It belongs in the `shared` folder \
                 beside the repository root (shared/vectors/bacalhau-ncl-vectors.json)",
                path.display()
            )
        });
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("invalid vector file {}: {error}", path.display()))
    })
}

fn vector_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/bacalhau-ncl-vectors.json")
}

fn cases(kind: Kind) -> impl Iterator<Item = &'static Case> {
    vectors().cases.iter().filter(move |case| case.kind == kind)
}

fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd-length hex ({} digits)", text.len()));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .map_err(|error| format!("invalid hex at digit {i}: {error}"))
        })
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Fails the test with every case failure, one per line.
fn assert_no_failures(check: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{check}: {} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Error kinds and the Go error table
// ---------------------------------------------------------------------------------------

/// An error this crate returns, reduced to what a caller matches on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ErrorKind {
    TooShort,
    UnsupportedVersion(u8),
    CrcMismatch,
    MalformedBody(EnvelopeVersion),
    InvalidJsonPayload,
    UnsupportedEncoding(String),
    MissingType,
    UnknownType(String),
    Serialize,
    Deserialize,
}

impl ErrorKind {
    fn of_envelope(error: &EnvelopeError) -> Self {
        match error {
            EnvelopeError::TooShort { .. } => Self::TooShort,
            EnvelopeError::UnsupportedVersion { version } => Self::UnsupportedVersion(*version),
            EnvelopeError::CrcMismatch { .. } => Self::CrcMismatch,
            EnvelopeError::MalformedBody { version, .. } => Self::MalformedBody(*version),
            EnvelopeError::InvalidJsonPayload { .. } => Self::InvalidJsonPayload,
            other => panic!("envelope error kind unknown to this test: {other}"),
        }
    }

    fn of_registry(error: &RegistryError) -> Self {
        match error {
            RegistryError::UnsupportedEncoding { encoding } => {
                Self::UnsupportedEncoding(encoding.clone())
            }
            RegistryError::MissingType => Self::MissingType,
            RegistryError::UnknownType { name, .. } => Self::UnknownType(name.clone()),
            RegistryError::Serialize { .. } => Self::Serialize,
            RegistryError::Deserialize { .. } => Self::Deserialize,
            other => panic!("registry error kind unknown to this test: {other}"),
        }
    }
}

/// Where decoding stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// `EnvelopeSerializer::deserialize` (Go: `EnvelopedRawMessageSerDe.Deserialize`).
    Envelope,
    /// `PayloadRegistry::deserialize` (Go: `MessageSerDeRegistry.Deserialize`).
    Registry,
}

/// Maps a Go error text and the stage Go reported it at to the kind we return.
///
/// | stage | Go text | our kind |
/// | --- | --- | --- |
/// | envelope | `bad message: too short` | `EnvelopeError::TooShort` |
/// | envelope | `unsupported encoding: 0xNN` | `EnvelopeError::UnsupportedVersion` |
/// | envelope | `bad message: CRC check failed` | `EnvelopeError::CrcMismatch` |
/// | envelope | `failed to deserialize with encoding json-v1: …` | `MalformedBody(json-v1)` |
/// | envelope | `failed to deserialize with encoding protobuf-v1: …` | `MalformedBody(protobuf-v1)` |
/// | registry | `unsupported encoding: E` | `RegistryError::UnsupportedEncoding(E)` |
/// | registry | `unsupported message type: ` (empty) | `RegistryError::MissingType` |
/// | registry | `unsupported message type: T` | `RegistryError::UnknownType(T)` |
/// | registry | `failed to deserialize with encoding json: …` | `RegistryError::Deserialize` |
///
/// Go panics are not in this table: [`GO_PANIC_DECISIONS`] gives our error per case.
fn go_error_kind(stage: Stage, text: &str) -> Option<ErrorKind> {
    match stage {
        Stage::Envelope => {
            if text == "bad message: too short" {
                Some(ErrorKind::TooShort)
            } else if text == "bad message: CRC check failed" {
                Some(ErrorKind::CrcMismatch)
            } else if let Some(version) = text.strip_prefix("unsupported encoding: 0x") {
                u8::from_str_radix(version, 16)
                    .ok()
                    .map(ErrorKind::UnsupportedVersion)
            } else if text.starts_with("failed to deserialize with encoding json-v1: ") {
                Some(ErrorKind::MalformedBody(EnvelopeVersion::JsonV1))
            } else if text.starts_with("failed to deserialize with encoding protobuf-v1: ") {
                Some(ErrorKind::MalformedBody(EnvelopeVersion::ProtobufV1))
            } else {
                None
            }
        }
        Stage::Registry => {
            if let Some(encoding) = text.strip_prefix("unsupported encoding: ") {
                Some(ErrorKind::UnsupportedEncoding(encoding.to_owned()))
            } else if let Some(name) = text.strip_prefix("unsupported message type: ") {
                Some(if name.is_empty() {
                    ErrorKind::MissingType
                } else {
                    ErrorKind::UnknownType(name.to_owned())
                })
            } else if text.starts_with("failed to deserialize with encoding json: ") {
                Some(ErrorKind::Deserialize)
            } else {
                None
            }
        }
    }
}

/// Inputs on which Go panics while decoding, and the error we return instead.
const GO_PANIC_DECISIONS: &[(&str, Stage, ErrorKind)] = &[
    // Go reads `pbMsg.Payload.Data` through a nil `Payload`. A protobuf body without
    // field 2 is malformed, so the envelope decoder rejects it.
    (
        "protobuf_missing_payload_field",
        Stage::Envelope,
        ErrorKind::MalformedBody(EnvelopeVersion::ProtobufV1),
    ),
    // Go calls `Get` on a nil `*Metadata`. `"metadata": null` decodes as empty metadata,
    // which names no payload encoding.
    (
        "json_metadata_null",
        Stage::Registry,
        ErrorKind::UnsupportedEncoding(String::new()),
    ),
];

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

/// What decoding some bytes produced.
enum Outcome {
    Failed(Stage, ErrorKind, String),
    Decoded {
        metadata: Metadata,
        /// The payload as JSON, or `None` when the payload bytes are empty.
        payload: Option<Value>,
    },
}

/// Decodes `input` the way the case's layer does: the envelope alone, or the envelope
/// then the registry (the subscriber's path).
fn decode(input: &[u8], layer: Layer, registry: &PayloadRegistry) -> Outcome {
    let raw = match EnvelopeSerializer::default().deserialize(input) {
        Ok(raw) => raw,
        Err(error) => {
            return Outcome::Failed(
                Stage::Envelope,
                ErrorKind::of_envelope(&error),
                error.to_string(),
            );
        }
    };
    if layer == Layer::Envelope {
        let payload = if raw.payload.is_empty() {
            None
        } else {
            match serde_json::from_slice(&raw.payload) {
                Ok(value) => Some(value),
                Err(error) => {
                    let detail = format!("payload {} is not JSON: {error}", to_hex(&raw.payload));
                    return Outcome::Failed(Stage::Envelope, ErrorKind::Deserialize, detail);
                }
            }
        };
        return Outcome::Decoded {
            metadata: raw.metadata,
            payload,
        };
    }
    match registry.deserialize(raw) {
        Ok(message) => match reserialize(&message)
            .and_then(|json| serde_json::from_slice(&json).map_err(|error| error.to_string()))
        {
            Ok(payload) => Outcome::Decoded {
                metadata: message.metadata().clone(),
                payload: Some(payload),
            },
            Err(detail) => Outcome::Failed(Stage::Registry, ErrorKind::Serialize, detail),
        },
        Err(error) => Outcome::Failed(
            Stage::Registry,
            ErrorKind::of_registry(&error),
            error.to_string(),
        ),
    }
}

/// Checks that decoding `input` gives what Go's decoder gave.
fn check_decoded(input: &[u8], layer: Layer, expected: &Decoded) -> Result<(), String> {
    if !expected.ok {
        return Err("expected an error; use check_decode_error".to_owned());
    }
    match decode(input, layer, &registry(KeyGeneration::Legacy)) {
        Outcome::Failed(stage, kind, detail) => Err(format!(
            "decoding failed at {stage:?} with {kind:?} ({detail}); Go decoded it"
        )),
        Outcome::Decoded { metadata, payload } => {
            let expected_metadata: Metadata = expected
                .metadata
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect();
            if metadata != expected_metadata {
                return Err(format!(
                    "metadata differs:\n  ours {metadata:?}\n  go   {expected_metadata:?}"
                ));
            }
            match (&payload, &expected.payload) {
                (None, None) => Ok(()),
                (Some(ours), Some(go)) if json_equal(ours, go) => Ok(()),
                (ours, go) => Err(format!("payload differs:\n  ours {ours:?}\n  go   {go:?}")),
            }
        }
    }
}

/// Compares JSON values, numbers by value: Go's `-0` and the file's `0`, or `100` read
/// as an integer on one side and a float on the other, are equal.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => {
            match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
                (Some(a), Some(b), _, _) => a == b,
                (_, _, Some(a), Some(b)) => a == b,
                _ => a.as_f64() == b.as_f64(),
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, a)| b.get(key).is_some_and(|b| json_equal(a, b)))
        }
        (a, b) => a == b,
    }
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/// Encode cases whose Go input cannot be built in Rust, so our bytes cannot equal Go's.
///
/// Go replaced an invalid UTF-8 byte in a `string` with the escape `\ufffd`. A Rust
/// `String` cannot contain that byte; the closest value contains `U+FFFD` itself, which both
/// Go and `ncl::go_json` write as its UTF-8 bytes. For these cases the test checks that
/// our envelope decodes to the same metadata and payload as Go's.
const UTF8_UNREPRESENTABLE: &[&str] = &[
    "invalid_utf8_in_payload_string_v1",
    "invalid_utf8_in_payload_string_v2",
    "invalid_utf8_metadata_v1",
];

/// Encodes the case's input as Go did and returns the envelope.
fn encode(case: &Case) -> Result<Vec<u8>, String> {
    let serializer = EnvelopeSerializer::new(case.version()?);
    let mut metadata = case.metadata_in()?;
    let payload = match case.layer {
        Layer::Envelope => match &case.payload_in_hex {
            Some(hex) => from_hex(hex)?,
            // Go's nil payload; Rust has only the empty one.
            None => Vec::new(),
        },
        Layer::RegistryAndEnvelope => {
            let name = case
                .payload_type
                .as_deref()
                .ok_or("payload_type is missing")?;
            let json = case
                .payload_json
                .as_deref()
                .ok_or("payload_json is missing")?;
            let payload = serialize_typed(case.generation.keys(), name, &mut metadata, json)?;
            if let Some(expected) = &case.metadata_out {
                let expected: Metadata = expected.clone().into_iter().collect();
                if metadata != expected {
                    return Err(format!(
                        "stamped metadata differs:\n  ours {metadata:?}\n  go   {expected:?}"
                    ));
                }
            }
            payload
        }
    };
    serializer
        .serialize(&RawMessage::new(metadata, payload))
        .map(|bytes| bytes.to_vec())
        .map_err(|error| format!("envelope encode failed: {error}"))
}

fn check_encode(case: &Case) -> Result<(), String> {
    let ours = encode(case)?;
    let canonical = case.hex_field("envelope_hex_canonical", &case.envelope_hex_canonical)?;
    let sample = case.hex_field("envelope_hex", &case.envelope_hex)?;
    let expected = case.decoded.as_ref().ok_or("decoded is missing")?;
    if case.payload_json.as_deref() == Some("null") && case.layer == Layer::RegistryAndEnvelope {
        // Go decodes a null payload to the zero value; see check_null_payload.
        if ours != canonical {
            return Err(format!(
                "envelope bytes differ:\n  ours {}\n  go   {}",
                to_hex(&ours),
                to_hex(&canonical)
            ));
        }
        check_null_payload(&sample).map_err(|error| format!("Go's sample: {error}"))?;
        return check_null_payload(&canonical).map_err(|error| format!("sorted form: {error}"));
    }

    if UTF8_UNREPRESENTABLE.contains(&case.name.as_str()) {
        check_decoded(&ours, case.layer, expected)
            .map_err(|error| format!("our envelope: {error}"))?;
    } else if ours != canonical {
        return Err(format!(
            "envelope bytes differ:\n  ours {}\n  go   {}",
            to_hex(&ours),
            to_hex(&canonical)
        ));
    }
    // Go's own sample (map entries in random order for protobuf) and the sorted form
    // must both decode as Go decoded them.
    check_decoded(&sample, case.layer, expected)
        .map_err(|error| format!("Go's sample: {error}"))?;
    check_decoded(&canonical, case.layer, expected).map_err(|error| format!("sorted form: {error}"))
}

/// Checks the decision for a `null` payload: a derived struct rejects it with a
/// deserialize error, and a type that opts in through [`NullAsZero`] reads Go's zero value.
fn check_null_payload(input: &[u8]) -> Result<(), String> {
    match decode(
        input,
        Layer::RegistryAndEnvelope,
        &registry(KeyGeneration::Legacy),
    ) {
        Outcome::Failed(Stage::Registry, ErrorKind::Deserialize, _) => {}
        Outcome::Failed(stage, kind, detail) => {
            return Err(format!(
                "null payload failed at {stage:?} with {kind:?} ({detail})"
            ));
        }
        Outcome::Decoded { payload, .. } => {
            return Err(format!(
                "null payload was accepted by TestPayload as {payload:?}"
            ));
        }
    }
    match decode(input, Layer::RegistryAndEnvelope, &null_as_zero_registry()) {
        Outcome::Decoded {
            payload: Some(payload),
            ..
        } if payload == serde_json::json!({"Message": "", "Value": 0}) => Ok(()),
        Outcome::Decoded { payload, .. } => {
            Err(format!("NullAsZero<TestPayload> read null as {payload:?}"))
        }
        Outcome::Failed(stage, kind, detail) => Err(format!(
            "NullAsZero<TestPayload> failed at {stage:?} with {kind:?} ({detail})"
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Encode errors
// ---------------------------------------------------------------------------------------

/// What we do with an input that Go refused to encode.
enum EncodeErrorDecision {
    /// We fail with this kind too.
    Fails(ErrorKind),
    /// The input cannot be built in Rust; the reason says why.
    ImpossibleByConstruction(&'static str),
    /// We encode it, for the reason given.
    Encodes(&'static str),
}

const ENCODE_ERROR_DECISIONS: &[(&str, EncodeErrorDecision)] = &[
    (
        "raw_nil_metadata_v2",
        EncodeErrorDecision::ImpossibleByConstruction(
            "RawMessage::metadata is a Metadata value, never a nil pointer",
        ),
    ),
    (
        "raw_empty_nonnil_payload_v1",
        EncodeErrorDecision::Encodes(
            "Bytes has no nil/empty distinction; an empty payload is written as `null`, as \
             Go writes the nil payload of raw_nil_payload_v1",
        ),
    ),
    (
        "raw_payload_not_json_v1",
        EncodeErrorDecision::Fails(ErrorKind::InvalidJsonPayload),
    ),
    (
        "encode_nan_float_v2",
        EncodeErrorDecision::Fails(ErrorKind::Serialize),
    ),
    (
        "encode_pos_inf_v1",
        EncodeErrorDecision::Fails(ErrorKind::Serialize),
    ),
    (
        "encode_untyped_nil_payload_v1",
        EncodeErrorDecision::ImpossibleByConstruction(
            "PayloadRegistry::serialize_payload takes `&T` of a registered type; there is no \
             untyped nil",
        ),
    ),
    (
        "encode_invalid_utf8_metadata_v2",
        EncodeErrorDecision::ImpossibleByConstruction(
            "Metadata keys and values are `String`, which cannot hold invalid UTF-8",
        ),
    ),
];

/// Builds and encodes the input of an encode_error case; `Ok` holds the envelope.
fn encode_failing_input(case: &Case) -> Result<Vec<u8>, (ErrorKind, String)> {
    let version = case
        .version()
        .map_err(|detail| (ErrorKind::Serialize, detail))?;
    match case.layer {
        Layer::Envelope => {
            let metadata = case
                .metadata_in()
                .map_err(|detail| (ErrorKind::Serialize, detail))?;
            let payload = from_hex(case.payload_in_hex.as_deref().unwrap_or_default())
                .map_err(|detail| (ErrorKind::Serialize, detail))?;
            EnvelopeSerializer::new(version)
                .serialize(&RawMessage::new(metadata, payload))
                .map(|bytes| bytes.to_vec())
                .map_err(|error| (ErrorKind::of_envelope(&error), error.to_string()))
        }
        Layer::RegistryAndEnvelope => {
            // The only Go payloads here are FloatBox values whose float Go names in the error.
            let text = case.go_error();
            let value = if text.ends_with("NaN") {
                f64::NAN
            } else if text.ends_with("+Inf") {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            };
            let mut metadata = case
                .metadata_in()
                .map_err(|detail| (ErrorKind::Serialize, detail))?;
            let payload = registry(case.generation.keys())
                .serialize_payload(&mut metadata, &FloatBox { f: value })
                .map_err(|error| (ErrorKind::of_registry(&error), error.to_string()))?;
            EnvelopeSerializer::new(version)
                .serialize(&RawMessage::new(metadata, payload))
                .map(|bytes| bytes.to_vec())
                .map_err(|error| (ErrorKind::of_envelope(&error), error.to_string()))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Quirks
// ---------------------------------------------------------------------------------------

/// What we do with unusual input that Go accepts. ARCHITECTURE.md, "Compatibility
/// decisions", gives the reason for each.
#[derive(Debug)]
enum QuirkDecision {
    /// Decoded as Go decodes it.
    Accept,
    /// Rejected at this stage with this kind.
    Reject(Stage, ErrorKind),
}

const QUIRK_DECISIONS: &[(&str, QuirkDecision)] = &[
    (
        "quirk_json_case_insensitive_envelope_keys",
        QuirkDecision::Accept,
    ),
    ("quirk_json_duplicate_payload_key", QuirkDecision::Accept),
    ("quirk_json_unknown_fields", QuirkDecision::Accept),
    (
        "quirk_json_payload_null",
        QuirkDecision::Reject(Stage::Registry, ErrorKind::Deserialize),
    ),
    (
        "quirk_json_payload_case_insensitive_fields",
        QuirkDecision::Reject(Stage::Registry, ErrorKind::Deserialize),
    ),
    (
        "quirk_json_invalid_utf8_metadata_value",
        QuirkDecision::Reject(
            Stage::Envelope,
            ErrorKind::MalformedBody(EnvelopeVersion::JsonV1),
        ),
    ),
    (
        "quirk_json_lone_surrogate_escape",
        QuirkDecision::Reject(Stage::Registry, ErrorKind::Deserialize),
    ),
    ("quirk_protobuf_map_reverse_order", QuirkDecision::Accept),
    ("quirk_protobuf_duplicate_map_key", QuirkDecision::Accept),
    ("quirk_protobuf_checksum_fields_set", QuirkDecision::Accept),
    (
        "quirk_protobuf_split_metadata_message",
        QuirkDecision::Accept,
    ),
];

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn vector_file_is_complete() {
    let file = vectors();
    assert_eq!(file.cases.len(), file.counts["total"], "case count");
    for (kind, key) in [
        (Kind::Encode, "kind:encode"),
        (Kind::EncodeError, "kind:encode_error"),
        (Kind::DecodeError, "kind:decode_error"),
        (Kind::DecodeQuirk, "kind:decode_quirk"),
    ] {
        assert_eq!(cases(kind).count(), file.counts[key], "{key}");
    }
    let mirrored = [
        "Blob",
        "Collections",
        "Empty",
        "FloatBox",
        "Floats",
        "Inner",
        "Item",
        "Maps",
        "Nested",
        "Numbers",
        "Optional",
        "TestPayload",
        "Text",
    ];
    let in_file: Vec<&str> = file.payload_types.keys().map(String::as_str).collect();
    assert_eq!(in_file, mirrored, "payload types without a Rust mirror");
}

#[test]
fn decision_tables_name_existing_cases() {
    let names: Vec<&str> = vectors()
        .cases
        .iter()
        .map(|case| case.name.as_str())
        .collect();
    let listed = UTF8_UNREPRESENTABLE
        .iter()
        .copied()
        .chain(ENCODE_ERROR_DECISIONS.iter().map(|(name, _)| *name))
        .chain(QUIRK_DECISIONS.iter().map(|(name, _)| *name))
        .chain(GO_PANIC_DECISIONS.iter().map(|(name, _, _)| *name));
    for name in listed {
        assert!(
            names.contains(&name),
            "decision for {name}, which is not in the file"
        );
    }
}

#[test]
fn encode_cases_match_go_bytes() {
    let failures: Vec<String> = cases(Kind::Encode)
        .filter_map(|case| {
            check_encode(case)
                .err()
                .map(|error| format!("{}: {error}", case.name))
        })
        .collect();
    assert_no_failures("encode", failures);
}

#[test]
fn encode_error_cases_follow_decisions() {
    let mut failures = Vec::new();
    for case in cases(Kind::EncodeError) {
        let Some((_, decision)) = ENCODE_ERROR_DECISIONS
            .iter()
            .find(|(name, _)| *name == case.name)
        else {
            failures.push(format!(
                "{}: no decision recorded (Go: {})",
                case.name,
                case.go_error()
            ));
            continue;
        };
        match decision {
            EncodeErrorDecision::Fails(expected) => match encode_failing_input(case) {
                Ok(bytes) => failures.push(format!(
                    "{}: encoded to {} where Go failed with {:?}",
                    case.name,
                    to_hex(&bytes),
                    case.go_error()
                )),
                Err((kind, _)) if kind == *expected => {}
                Err((kind, detail)) => failures.push(format!(
                    "{}: failed with {kind:?} ({detail}), expected {expected:?}",
                    case.name
                )),
            },
            EncodeErrorDecision::Encodes(reason) => {
                if let Err((kind, detail)) = encode_failing_input(case) {
                    failures.push(format!(
                        "{}: failed with {kind:?} ({detail}), decided to encode: {reason}",
                        case.name
                    ));
                }
            }
            EncodeErrorDecision::ImpossibleByConstruction(reason) => {
                // Nothing to run: the types rule the input out. The invalid UTF-8 case is
                // shown by invalid_utf8_metadata_cannot_be_built.
                eprintln!("{}: not run, {reason}", case.name);
            }
        }
    }
    assert_no_failures("encode_error", failures);
}

#[test]
fn empty_payload_encodes_as_go_nil_payload() {
    let metadata: Metadata = [("key", "value")].into_iter().collect();
    let bytes = EnvelopeSerializer::new(EnvelopeVersion::JsonV1)
        .serialize(&RawMessage::new(metadata, Vec::new()))
        .unwrap();
    assert!(bytes.ends_with(br#","payload":null}"#), "{bytes:?}");
}

#[test]
fn invalid_utf8_metadata_cannot_be_built() {
    // The Go input of encode_invalid_utf8_metadata_v2 holds the byte 0xff in a value.
    assert!(String::from_utf8(vec![0xff]).is_err());
}

#[test]
fn non_finite_floats_fail_to_serialize() {
    let registry = registry(KeyGeneration::Legacy);
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let error = registry
            .serialize_payload(&mut Metadata::new(), &FloatBox { f: value })
            .unwrap_err();
        assert!(
            matches!(error, RegistryError::Serialize { .. }),
            "{value}: {error}"
        );
    }
    let error = registry
        .serialize_payload(
            &mut Metadata::new(),
            &Floats {
                v: None,
                f32: Some(vec![1.0, f32::NAN]),
            },
        )
        .unwrap_err();
    assert!(matches!(error, RegistryError::Serialize { .. }), "{error}");
}

#[test]
fn decode_error_cases_fail_at_go_stage() {
    let mut failures = Vec::new();
    for case in cases(Kind::DecodeError) {
        let expected = match GO_PANIC_DECISIONS
            .iter()
            .find(|(name, _, _)| *name == case.name)
        {
            Some((_, stage, kind)) => Some((*stage, kind.clone())),
            None if case.go_panics => {
                failures.push(format!(
                    "{}: Go panics and no decision is recorded",
                    case.name
                ));
                continue;
            }
            None => {
                let stage = match case.error_stage.as_deref() {
                    Some("envelope") => Stage::Envelope,
                    Some("registry") => Stage::Registry,
                    other => {
                        failures.push(format!("{}: unknown error_stage {other:?}", case.name));
                        continue;
                    }
                };
                go_error_kind(stage, case.go_error()).map(|kind| (stage, kind))
            }
        };
        let Some((stage, kind)) = expected else {
            failures.push(format!(
                "{}: Go error {:?} is not in the table",
                case.name,
                case.go_error()
            ));
            continue;
        };
        let input = match case.hex_field("input_hex", &case.input_hex) {
            Ok(input) => input,
            Err(error) => {
                failures.push(format!("{}: {error}", case.name));
                continue;
            }
        };
        match decode(&input, case.layer, &registry(KeyGeneration::Legacy)) {
            Outcome::Failed(our_stage, our_kind, _) if our_stage == stage && our_kind == kind => {}
            Outcome::Failed(our_stage, our_kind, detail) => failures.push(format!(
                "{}: failed at {our_stage:?} with {our_kind:?} ({detail}); Go: {stage:?} {kind:?} ({})",
                case.name,
                case.go_error()
            )),
            Outcome::Decoded { metadata, payload } => failures.push(format!(
                "{}: decoded to {metadata:?} {payload:?}; Go failed with {:?}",
                case.name,
                case.go_error()
            )),
        }
    }
    assert_no_failures("decode_error", failures);
}

#[test]
fn decode_quirk_cases_follow_decisions() {
    let mut failures = Vec::new();
    for case in cases(Kind::DecodeQuirk) {
        let Some((_, decision)) = QUIRK_DECISIONS.iter().find(|(name, _)| *name == case.name)
        else {
            failures.push(format!("{}: no decision recorded", case.name));
            continue;
        };
        let input = match case.hex_field("input_hex", &case.input_hex) {
            Ok(input) => input,
            Err(error) => {
                failures.push(format!("{}: {error}", case.name));
                continue;
            }
        };
        let result = match decision {
            QuirkDecision::Accept => match &case.decoded {
                Some(expected) => check_decoded(&input, case.layer, expected),
                None => Err("decoded is missing".to_owned()),
            },
            QuirkDecision::Reject(stage, kind) => {
                match decode(&input, case.layer, &registry(KeyGeneration::Legacy)) {
                    Outcome::Failed(our_stage, our_kind, _)
                        if our_stage == *stage && our_kind == *kind =>
                    {
                        Ok(())
                    }
                    Outcome::Failed(our_stage, our_kind, detail) => Err(format!(
                        "failed at {our_stage:?} with {our_kind:?} ({detail}), decided {stage:?} {kind:?}"
                    )),
                    Outcome::Decoded { metadata, payload } => Err(format!(
                        "decoded to {metadata:?} {payload:?}, decided to reject"
                    )),
                }
            }
        };
        if let Err(error) = result {
            failures.push(format!("{}: {error}", case.name));
        }
    }
    assert_no_failures("decode_quirk", failures);
}

#[test]
fn null_payload_is_rejected_unless_type_opts_in() {
    let case = vectors()
        .cases
        .iter()
        .find(|case| case.name == "quirk_json_payload_null")
        .expect("quirk_json_payload_null is in the file");
    let input = case.hex_field("input_hex", &case.input_hex).unwrap();
    check_null_payload(&input).unwrap();
}

#[test]
fn current_keys_route_like_legacy_keys() {
    let mut failures = Vec::new();
    for case in vectors()
        .cases
        .iter()
        .filter(|case| case.generation == Generation::Current)
    {
        let result = (|| -> Result<(), String> {
            let input = case.hex_field("envelope_hex", &case.envelope_hex)?;
            let raw = EnvelopeSerializer::default()
                .deserialize(&input)
                .map_err(|error| error.to_string())?;
            let expected = case.decoded.as_ref().ok_or("decoded is missing")?;
            let expected_payload = expected
                .payload
                .as_ref()
                .ok_or("decoded.payload is missing")?;

            // Decode with the keys as sent, with each legacy key dropped where its
            // Bacalhau-* spelling is present, and with every Bacalhau-* spelling
            // dropped: every variant reaches the same type.
            let current_only = without_shadowed_legacy_keys(&raw.metadata);
            let legacy_only = without_keys(
                &raw.metadata,
                &["Bacalhau-Type", "Bacalhau-PayloadEncoding"],
            );
            for (variant, metadata) in [
                ("as sent", raw.metadata.clone()),
                ("Bacalhau-* only", current_only),
                ("legacy only", legacy_only),
            ] {
                let message = registry(KeyGeneration::Legacy)
                    .deserialize(RawMessage::new(metadata, raw.payload.clone()))
                    .map_err(|error| format!("{variant}: {error}"))?;
                let json = reserialize(&message)?;
                let payload: Value =
                    serde_json::from_slice(&json).map_err(|error| error.to_string())?;
                if !json_equal(&payload, expected_payload) {
                    return Err(format!(
                        "{variant}: payload {payload} differs from {expected_payload}"
                    ));
                }
            }
            // The first Go NCL, which reads only the legacy keys, decoded these too.
            if let Some(by_seed) = &case.decoded_by_seed {
                check_decoded(&input, case.layer, by_seed)?;
            }
            Ok(())
        })();
        if let Err(error) = result {
            failures.push(format!("{}: {error}", case.name));
        }
    }
    assert_no_failures("current generation routing", failures);
}

/// Drops `Type` and `PayloadEncoding` where `Bacalhau-Type` and
/// `Bacalhau-PayloadEncoding` are present.
fn without_shadowed_legacy_keys(metadata: &Metadata) -> Metadata {
    let shadowed: Vec<&str> = ["Type", "PayloadEncoding"]
        .into_iter()
        .filter(|key| metadata.contains_key(&format!("Bacalhau-{key}")))
        .collect();
    without_keys(metadata, &shadowed)
}

fn without_keys(metadata: &Metadata, keys: &[&str]) -> Metadata {
    metadata
        .iter()
        .filter(|(key, _)| !keys.contains(key))
        .collect()
}

#[test]
fn current_generation_keeps_caller_encoding() {
    let registry = registry(KeyGeneration::Current);
    let mut metadata: Metadata = [("PayloadEncoding", "json")].into_iter().collect();
    registry
        .serialize_payload(&mut metadata, &TestPayload::default())
        .unwrap();
    assert_eq!(metadata.get("Bacalhau-PayloadEncoding"), None);
    assert_eq!(metadata.get("Bacalhau-Type"), Some("TestPayload"));
    assert_eq!(metadata.get("Type"), Some("TestPayload"));
}

#[test]
fn caller_encoding_other_than_json_is_rejected() {
    let mut metadata: Metadata = [("PayloadEncoding", "cbor")].into_iter().collect();
    let error = registry(KeyGeneration::Legacy)
        .serialize_payload(&mut metadata, &TestPayload::default())
        .unwrap_err();
    assert!(
        matches!(&error, RegistryError::UnsupportedEncoding { encoding } if encoding == "cbor"),
        "{error}"
    );
}
