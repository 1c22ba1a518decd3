//! ncl's error response, which the catalog describes beside the crate's payloads when the
//! crate has request types: a responder sends it in place of the response when a request
//! fails.
//!
//! The description follows `ncl::ErrorResponse` (ncl/src/request/error.rs), whose fields
//! are serialized as Bacalhau's `bacerrors.JSONError`. The test
//! `error_response_schema_accepts_ncl_values` in tests/scanner.rs checks the generated
//! schema against serde's output for that type, so a change there fails it.

use std::collections::BTreeMap;

use crate::catalog::{
    Field, IntegerType, Message, StructBody, TypeBody, TypeDef, TypeRef, Written,
};

/// Wire name of `ncl::ErrorResponse`.
pub(crate) const WIRE_NAME: &str = "BacError";

/// Path of the Rust type.
const RUST_PATH: &str = "ncl::ErrorResponse";

/// Preferred key of the type in `Catalog::types`. The `.` keeps it apart from the keys of
/// crate types, which are identifiers unless two types share one.
const TYPE_KEY: &str = "ncl.ErrorResponse";

/// Value of `source` for the message and its type, which no scanned file defines.
const SOURCE: &str = "ncl";

const DOCS: &str = "The payload of an error response: what a responder sends to the reply \
subject in place of the response when a request fails. Its properties are those of \
Bacalhau's `bacerrors.JSONError`, so Go requesters decode it as a `bacerrors.Error`, and \
ncl's requester returns it as `RequestError::Remote`.

The envelope's metadata adds `Bacalhau-StatusCode`, the HTTP status in decimal, and \
`Bacalhau-ErrorCode`, the error code.";

/// Adds the error response to `messages` and its payload type to `types`.
pub(super) fn add(messages: &mut Vec<Message>, types: &mut BTreeMap<String, TypeDef>) {
    let mut type_key = TYPE_KEY.to_owned();
    let mut number = 2;
    while types.contains_key(&type_key) {
        type_key = format!("{TYPE_KEY}_{number}");
        number += 1;
    }
    types.insert(
        type_key.clone(),
        TypeDef {
            key: type_key.clone(),
            rust_path: RUST_PATH.to_owned(),
            docs: Some(DOCS.to_owned()),
            source: SOURCE.to_owned(),
            body: TypeBody::Struct(StructBody {
                fields: fields(),
                deny_unknown_fields: false,
            }),
        },
    );
    messages.push(Message {
        wire_name: WIRE_NAME.to_owned(),
        rust_path: RUST_PATH.to_owned(),
        type_key,
        encoding: super::ENCODING.to_owned(),
        docs: Some(DOCS.to_owned()),
        source: SOURCE.to_owned(),
        response: None,
        error_response: true,
    });
}

/// Returns the fields of `ncl::ErrorResponse` in declaration order. Every field but
/// `Cause` has `#[serde(default)]`.
fn fields() -> Vec<Field> {
    let string = || TypeRef::String { format: None };
    let details = TypeRef::Option(Box::new(TypeRef::Map {
        key: Box::new(string()),
        value: Box::new(string()),
    }));
    let status = TypeRef::Integer {
        ty: IntegerType::U16,
        nonzero: false,
    };
    vec![
        field(
            "message",
            "Cause",
            string(),
            true,
            "Description of the failure, for people.",
        ),
        field(
            "hint",
            "Hint",
            string(),
            false,
            "Advice on what the caller may do about the failure.",
        ),
        field(
            "retryable",
            "Retryable",
            TypeRef::Bool,
            false,
            "Whether the same request may succeed later.",
        ),
        field(
            "fails_execution",
            "FailsExecution",
            TypeRef::Bool,
            false,
            "Whether the error fails the job execution it concerns (a Bacalhau notion).",
        ),
        field(
            "component",
            "Component",
            string(),
            false,
            "The component that failed.",
        ),
        field(
            "status_code",
            "HTTPStatusCode",
            status,
            false,
            "HTTP status code, such as 404, as in the `Bacalhau-StatusCode` metadata.",
        ),
        field(
            "details",
            "Details",
            details,
            false,
            "Further details as key/value pairs; `null` when there are none.",
        ),
        field(
            "code",
            "Code",
            string(),
            false,
            "Error code, as in the `Bacalhau-ErrorCode` metadata: `BadRequest`, `NotFound`, \
             `InternalError` or `TimeOut` when the responder fails the request itself, or the \
             code that the handler chose.",
        ),
    ]
}

fn field(rust_name: &str, json_name: &str, ty: TypeRef, required: bool, docs: &str) -> Field {
    Field {
        rust_name: rust_name.to_owned(),
        json_name: json_name.to_owned(),
        aliases: Vec::new(),
        ty,
        docs: Some(docs.to_owned()),
        required,
        flatten: false,
        written: Written::Always,
        read: true,
    }
}
