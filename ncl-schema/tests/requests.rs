//! Request/reply in the catalog: request types and their responses from `impl ncl::Request`
//! blocks and request handlers, the errors and warnings about them, the error response
//! `BacError`, and how the Markdown and AsyncAPI documents show them.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use ncl::Payload;
use ncl::request::{ErrorResponse, codes, keys};
use serde_json::Value;

use support::{Sources, read_json, references, resolve};

/// Payloads of a small crate: a request type for each way of naming ncl's `Request`, their
/// responses, and one-way messages.
const MESSAGES: &str = r#"
use ncl::Request;
use serde::{Deserialize, Serialize};

/// Asks a node whether it is alive.
#[derive(Serialize, Deserialize, ncl::NclPayload)]
pub struct Ping { pub seq: u64 }

/// A node's response to a `Ping`.
#[derive(Serialize, Deserialize, ncl::NclPayload)]
pub struct Pong { pub seq: u64 }

impl ncl::Request for Ping {
    type Response = Pong;
}

#[derive(Serialize, Deserialize, ncl::NclPayload)]
pub struct GetJob { pub job_id: String }

#[derive(Serialize, Deserialize, ncl::NclPayload)]
#[ncl(name = "JobInfo/v1")]
pub struct JobInfo { pub job_id: String }

impl Request for GetJob {
    type Response = JobInfo;
}

#[derive(Serialize, Deserialize, ncl::NclPayload)]
pub struct Status;

#[derive(Serialize, Deserialize, ncl::NclPayload)]
pub struct StatusReport { pub healthy: bool }

#[derive(Serialize, Deserialize, ncl::NclPayload)]
pub struct Heartbeat { pub node_id: String }

pub mod globbed {
    use ncl::*;

    #[derive(serde::Serialize, serde::Deserialize, NclPayload)]
    pub struct Stop;

    #[derive(serde::Serialize, serde::Deserialize, NclPayload)]
    pub struct Stopped;

    impl Request for Stop {
        type Response = Stopped;
    }
}

pub mod own_trait {
    pub trait Request {
        type Response;
    }

    #[derive(serde::Serialize, serde::Deserialize, ncl::NclPayload)]
    pub struct Lookalike;

    impl Request for Lookalike {
        type Response = super::Pong;
    }
}
"#;

/// Handlers of the crate: a request handler function whose request type has no
/// `impl Request` (its return type names the response), and an impl block with a request
/// handler method beside a message handler method.
const HANDLERS: &str = r#"
use ncl::{ErrorResponse, Message};
use crate::messages::{Heartbeat, Ping, Pong, Status, StatusReport};

#[ncl::handler]
async fn status(request: &Message<Status>) -> Result<StatusReport, ErrorResponse> {
    Ok(StatusReport { healthy: true })
}

#[ncl::handler]
impl Node {
    async fn ping(&self, request: &Message<Ping>) -> Result<Pong, ErrorResponse> {
        Ok(Pong { seq: request.payload.seq })
    }

    async fn on_heartbeat(&self, message: &Message<Heartbeat>) -> Result<(), NodeError> {
        Ok(())
    }
}
"#;

fn request_sources() -> Sources {
    Sources::new(&[
        ("lib.rs", "pub mod messages;\nmod handlers;"),
        ("messages.rs", MESSAGES),
        ("handlers.rs", HANDLERS),
    ])
}

/// Returns each message's response, by wire name, for the messages that have one.
fn responses(catalog: &ncl_schema::Catalog) -> BTreeMap<&str, &str> {
    catalog
        .messages
        .iter()
        .filter_map(|message| Some((message.wire_name.as_str(), message.response.as_deref()?)))
        .collect()
}

#[test]
fn request_impls_and_handlers_name_responses() {
    let catalog = request_sources().scan();
    assert_eq!(
        responses(&catalog),
        BTreeMap::from([
            ("GetJob", "JobInfo/v1"),
            ("Ping", "Pong"),
            ("Status", "StatusReport"),
            ("Stop", "Stopped"),
        ])
    );
    let lookalike = catalog.message("Lookalike").expect("payload exists");
    assert_eq!(lookalike.response, None, "a crate's own `Request` trait");
    let requests: Vec<&str> = catalog
        .requests_for_response("Pong")
        .map(|message| message.wire_name.as_str())
        .collect();
    assert_eq!(requests, ["Ping"]);
}

#[test]
fn request_handlers_record_their_response() {
    let catalog = request_sources().scan();
    let handlers: Vec<(&str, &str, Option<&str>)> = catalog
        .handlers
        .iter()
        .map(|handler| {
            (
                handler.path.as_str(),
                handler.payload.as_str(),
                handler.response.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        handlers,
        [
            ("crate::handlers::Node::on_heartbeat", "Heartbeat", None),
            ("crate::handlers::Node::ping", "Ping", Some("Pong")),
            ("crate::handlers::status", "Status", Some("StatusReport")),
        ]
    );
}

#[test]
fn error_response_is_added_with_requests() {
    let catalog = request_sources().scan();
    let error = catalog.error_response().expect("the catalog has requests");
    assert_eq!(error.wire_name, ErrorResponse::NAME);
    assert_eq!(error.rust_path, "ncl::ErrorResponse");
    assert!(error.error_response);
    assert_eq!(error.response, None);
    assert_eq!(
        catalog.message("BacError").map(|m| &m.type_key),
        Some(&error.type_key)
    );
    let def = &catalog.types[&error.type_key];
    assert_eq!(def.key, "ncl.ErrorResponse");
    let errors: Vec<&str> = catalog
        .messages
        .iter()
        .filter(|message| message.error_response)
        .map(|message| message.wire_name.as_str())
        .collect();
    assert_eq!(
        errors,
        ["BacError"],
        "one error response, with the crate's payloads"
    );

    let one_way = Sources::new(&[("lib.rs", "#[derive(NclPayload)] struct Heartbeat;")]);
    let catalog = one_way.scan();
    assert!(catalog.error_response().is_none());
    assert!(catalog.message("BacError").is_none());
    assert_eq!(catalog.requests().count(), 0);
}

#[test]
fn error_response_schema_accepts_ncl_values() {
    let sources = request_sources();
    sources.full_builder().generate().expect("generation");
    let schema = read_json(&sources.docs().join("schemas/BacError.schema.json"));
    let validator = jsonschema::draft202012::new(&schema).expect("the schema compiles");

    let plain = ErrorResponse::new(codes::NOT_FOUND, "no handler for Ping");
    let detailed = ErrorResponse::new(codes::BAD_REQUEST, "empty job id")
        .with_hint("send a job id")
        .with_status_code(422)
        .with_detail("job", "j-1");
    for error in [plain, detailed, ErrorResponse::default()] {
        let value = serde_json::to_value(&error).expect("error responses serialize");
        let problems: Vec<String> = validator
            .iter_errors(&value)
            .map(|problem| problem.to_string())
            .collect();
        assert!(problems.is_empty(), "{value} rejected: {problems:?}");

        let written: Vec<&String> = value.as_object().expect("an object").keys().collect();
        let mut described: Vec<&String> = schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .collect();
        let mut written_sorted = written.clone();
        written_sorted.sort();
        described.sort();
        assert_eq!(
            written_sorted, described,
            "the schema describes every property"
        );
    }
    // Every property but the cause has a default, so ncl reads an error response that has
    // only the cause.
    assert!(validator.is_valid(&serde_json::json!({"Cause": "boom"})));
    assert!(!validator.is_valid(&serde_json::json!({"Code": "NotFound"})));
    assert!(!validator.is_valid(&serde_json::json!({"Cause": "x", "HTTPStatusCode": -1})));
    assert!(!validator.is_valid(&serde_json::json!({"Cause": "x", "Details": {"a": 1}})));
}

/// Returns each error's file name, line and column.
fn locations(errors: &[ncl_schema::SourceError]) -> Vec<(String, usize, usize)> {
    errors
        .iter()
        .map(|error| {
            let file = error.path.file_name().expect("file name").to_string_lossy();
            (file.into_owned(), error.line, error.column)
        })
        .collect()
}

const PING_PONG_OTHER: &str = "#[derive(NclPayload)] pub struct Ping;\n\
     #[derive(NclPayload)] pub struct Pong;\n\
     #[derive(NclPayload)] pub struct Other;\n\
     impl ncl::Request for Ping {\n    type Response = Pong;\n}";

#[test]
fn conflicting_request_impls_are_errors() {
    let sources = Sources::new(&[
        ("lib.rs", "mod messages;\nmod again;"),
        ("messages.rs", PING_PONG_OTHER),
        (
            "again.rs",
            "impl ncl::Request for crate::messages::Ping {\n    \
             type Response = crate::messages::Other;\n}",
        ),
    ]);
    let errors = sources.source_errors();
    // Impls are taken in path order, so the one in again.rs comes first.
    assert_eq!(
        locations(&errors),
        [("messages.rs".to_owned(), 5, 21)],
        "{errors:#?}"
    );
    let message = &errors[0].message;
    assert!(
        message.starts_with(
            "request type `Ping` has two response types: `Pong` here, in \
             `impl Request for Ping`, and `Other` in \
             `impl Request for crate::messages::Ping` at "
        ),
        "{message}"
    );
    assert!(message.contains("again.rs:2:21;"), "{message}");
    assert!(
        message.ends_with(
            "a request type has one response type, named by its `impl ncl::Request`, so make \
             them the same"
        ),
        "{message}"
    );
}

#[test]
fn handler_disagreeing_with_impl_is_error() {
    // The handler's file sorts before the impl's, but the impl names the response.
    let sources = Sources::new(&[
        ("lib.rs", "mod messages;\nmod a_handlers;"),
        ("messages.rs", PING_PONG_OTHER),
        (
            "a_handlers.rs",
            "use crate::messages::*;\n\
             #[ncl::handler]\n\
             async fn ping(request: &Message<Ping>) -> Result<Other, Error> {}\n\
             #[ncl::handler]\n\
             async fn ping_too(request: &Message<Ping>) -> Result<Pong, Error> {}",
        ),
    ]);
    let errors = sources.source_errors();
    assert_eq!(
        locations(&errors),
        [("a_handlers.rs".to_owned(), 3, 50)],
        "{errors:#?}"
    );
    let message = &errors[0].message;
    assert!(
        message.starts_with(
            "request type `Ping` has two response types: `Other` here, in request handler \
             `crate::a_handlers::ping`, and `Pong` in `impl Request for Ping` at "
        ),
        "{message}"
    );
    assert!(message.contains("messages.rs:5:21;"), "{message}");
}

#[test]
fn handlers_that_disagree_without_impl_are_errors() {
    let sources = Sources::new(&[(
        "lib.rs",
        "#[derive(NclPayload)] struct Ping;\n\
         #[derive(NclPayload)] struct Pong;\n\
         #[derive(NclPayload)] struct Other;\n\
         #[ncl::handler] async fn a(r: &Message<Ping>) -> Result<Pong, E> {}\n\
         #[ncl::handler] async fn b(r: &Message<Ping>) -> Result<Other, E> {}",
    )]);
    let errors = sources.source_errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].line, 5);
    assert!(
        errors[0].message.starts_with(
            "request type `Ping` has two response types: `Other` here, in request handler \
             `crate::b`, and `Pong` in request handler `crate::a` at "
        ),
        "{}",
        errors[0].message
    );
}

#[test]
fn unresolvable_response_types_are_errors() {
    let sources = Sources::new(&[(
        "lib.rs",
        "#[derive(NclPayload)] struct Ping;\n\
         #[derive(NclPayload)] struct Status;\n\
         impl ncl::Request for Ping { type Response = crate::missing::Pong; }\n\
         #[ncl::handler]\n\
         async fn status(r: &Message<Status>) -> Result<self::Gone, E> {}",
    )]);
    let errors = sources.source_errors();
    let messages: Vec<(usize, &str)> = errors
        .iter()
        .map(|error| (error.line, error.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            (
                3,
                "cannot resolve response type `crate::missing::Pong` of `impl Request for \
                 Ping`: no item `missing` in module `crate`"
            ),
            (
                5,
                "cannot resolve response type `self::Gone` of request handler \
                 `crate::status`: no item `Gone` in module `crate`"
            ),
        ]
    );
}

#[test]
fn foreign_response_types_warn() {
    let sources = Sources::new(&[(
        "lib.rs",
        "#[derive(NclPayload)] struct Ping;\n\
         #[derive(NclPayload)] struct Status;\n\
         struct Plain;\n\
         impl ncl::Request for Ping { type Response = shared::Pong; }\n\
         impl ncl::Request for Plain { type Response = Ping; }\n\
         #[ncl::handler]\n\
         async fn status(r: &Message<Status>) -> Result<shared::Report, E> {}",
    )]);
    let generated = sources
        .full_builder()
        .generate()
        .unwrap_or_else(|error| panic!("generation should succeed: {error}"));
    let warnings = &generated.warnings;
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(warnings[0].contains("lib.rs:4:"), "{}", warnings[0]);
    assert!(
        warnings[0].ends_with(
            "response type `shared::Pong` of `impl Request for Ping` is not a \
             #[derive(NclPayload)] type of the scanned crate; the catalog does not show \
             `Ping` as a request"
        ),
        "{}",
        warnings[0]
    );
    assert!(warnings[1].contains("lib.rs:5:"), "{}", warnings[1]);
    assert!(
        warnings[1].ends_with(
            "`impl Request for Plain` is for `Plain`, which is not a #[derive(NclPayload)] \
             type of the scanned crate; the catalog leaves the impl out"
        ),
        "{}",
        warnings[1]
    );
    assert!(warnings[2].contains("lib.rs:7:"), "{}", warnings[2]);
    assert!(
        warnings[2].ends_with(
            "request handler `crate::status` responds with `shared::Report`, which is not a \
             #[derive(NclPayload)] type of the scanned crate; the catalog leaves the handler out"
        ),
        "{}",
        warnings[2]
    );

    let catalog = sources.scan();
    assert_eq!(catalog.requests().count(), 0);
    assert!(catalog.handlers.is_empty());
    assert!(catalog.error_response().is_none());
}

#[test]
fn payload_named_bac_error_conflicts_with_requests() {
    let payload = "#[derive(NclPayload)]\n#[ncl(name = \"BacError\")]\nstruct MyError;\n";
    let sources = Sources::new(&[(
        "lib.rs",
        &format!(
            "{payload}#[derive(NclPayload)] struct Ping;\n\
             #[derive(NclPayload)] struct Pong;\n\
             impl ncl::Request for Ping {{ type Response = Pong; }}"
        ),
    )]);
    let errors = sources.source_errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!((errors[0].line, errors[0].column), (3, 8));
    assert_eq!(
        errors[0].message,
        "wire name `BacError` is the wire name of ncl's error response \
         `ncl::ErrorResponse`, which responders send when a request fails; give this type \
         another name with #[ncl(name = \"...\")]"
    );

    let one_way = Sources::new(&[("lib.rs", payload)]);
    let catalog = one_way.scan();
    let message = catalog
        .message("BacError")
        .expect("the crate's own payload");
    assert!(!message.error_response);
    assert_eq!(message.rust_path, "crate::MyError");
}

/// Generates every output of the request sources with `Ping` and `Heartbeat` on channels
/// of their own and `GetJob` on a channel it shares with `Heartbeat`.
fn generate_documents() -> Sources {
    let sources = request_sources();
    sources
        .full_builder()
        .channel("nodes.{node}.Ping", ["Ping"])
        .channel("nodes.{node}.Ping_reply", ["Heartbeat"])
        .channel("jobs.mixed", ["GetJob", "Heartbeat"])
        .parameter("node", "Node identifier.")
        .generate()
        .unwrap_or_else(|error| panic!("generation should succeed: {error}"));
    sources
}

#[test]
fn markdown_shows_requests_and_responses() {
    let sources = generate_documents();
    let markdown = fs::read_to_string(sources.docs().join("MESSAGES.md")).expect("markdown");
    let expected = [
        "| Message | Rust type | Role | Subjects | Handlers |",
        "| [`BacError`](#message-bacerror) | `ncl::ErrorResponse` | error response to every \
         request | reply inbox of the request | 0 |",
        "| [`Ping`](#message-ping) | `crate::messages::Ping` | request with response \
         [`Pong`](#message-pong) | `nodes.{node}.Ping` | 1 |",
        "| [`Pong`](#message-pong) | `crate::messages::Pong` | response to \
         [`Ping`](#message-ping) | reply inbox of the request | 0 |",
        "| [`Heartbeat`](#message-heartbeat) | `crate::messages::Heartbeat` | one-way | \
         `jobs.mixed` and `nodes.{node}.Ping_reply` | 1 |",
        "| [`Status`](#message-status) | `crate::messages::Status` | request with response \
         [`StatusReport`](#message-statusreport) | not declared | 1 |",
        "## Requests and responses\n\nA request is an NCL envelope published with a NATS \
         reply subject, the requester's inbox.",
        "| [`GetJob`](#message-getjob) | [`JobInfo/v1`](#message-jobinfov1) | none found |",
        "| [`Ping`](#message-ping) | [`Pong`](#message-pong) | \
         `crate::handlers::Node::ping` |",
        "| `Bacalhau-StatusCode` | HTTP status of the failure, in decimal, such as `404`. |",
        "| no handler takes the request's type | `NotFound` | 404 |",
        "- Rust type: `ncl::ErrorResponse`, defined by ncl\n",
        "- Response to: every request that fails ([`GetJob`](#message-getjob), \
         [`Ping`](#message-ping), [`Status`](#message-status), [`Stop`](#message-stop)), \
         sent to the reply subject of the request\n",
        "| `Cause` | string | required | Description of the failure, for people. |",
        "- Request: the response is [`Pong`](#message-pong), or \
         [`BacError`](#message-bacerror) when the request fails\n\
         - Subjects: `nodes.{node}.Ping`\n\
         - Handlers: `crate::handlers::Node::ping` (request handler method of `Node`, \
         responds with [`Pong`](#message-pong))\n",
        "- Response to: [`Ping`](#message-ping), sent to the reply subject of the request\n\
         - Subjects: none of its own; the responder sends it to the reply subject of the \
         request, the requester's inbox\n\
         - Handlers: none; the requester receives it as the result of its request\n",
        "- Handlers: `crate::handlers::status` (request handler function, responds with \
         [`StatusReport`](#message-statusreport))\n",
        "- Handlers: `crate::handlers::Node::on_heartbeat` (method of `Node`)\n",
    ];
    for text in expected {
        assert!(markdown.contains(text), "missing {text:?} in:\n{markdown}");
    }
    assert!(
        !markdown.contains("### Type `ncl.ErrorResponse`"),
        "{markdown}"
    );
}

#[test]
fn markdown_error_codes_match_ncl() {
    let sources = generate_documents();
    let markdown = fs::read_to_string(sources.docs().join("MESSAGES.md")).expect("markdown");
    for code in [codes::BAD_REQUEST, codes::NOT_FOUND, codes::TIME_OUT] {
        let status = ErrorResponse::new(code, "").status_code;
        let row = format!("| `{code}` | {status} |\n");
        assert!(markdown.contains(&row), "missing {row:?} in:\n{markdown}");
    }
    let internal = ErrorResponse::new(codes::INTERNAL_ERROR, "").status_code;
    let row = format!("| `{}` | {internal} |\n", codes::INTERNAL_ERROR);
    assert!(markdown.contains(&row), "missing {row:?} in:\n{markdown}");
    for key in [keys::STATUS_CODE, keys::ERROR_CODE] {
        assert!(markdown.contains(&format!("| `{key}` |")), "{key} missing");
    }
}

#[test]
fn markdown_without_requests_has_no_request_section() {
    let sources = Sources::new(&[("lib.rs", "#[derive(NclPayload)] struct Heartbeat;")]);
    sources.full_builder().generate().expect("generation");
    let markdown = fs::read_to_string(sources.docs().join("MESSAGES.md")).expect("markdown");
    assert!(
        !markdown.contains("## Requests and responses"),
        "{markdown}"
    );
    assert!(!markdown.contains("BacError"), "{markdown}");
    assert!(
        markdown.contains("| [`Heartbeat`](#message-heartbeat) | `crate::Heartbeat` | one-way | not declared | 0 |"),
        "{markdown}"
    );
    assert!(!sources.docs().join("schemas/BacError.schema.json").exists());
}

/// Returns the `$ref` of every item of `array`.
fn refs(array: &Value) -> Vec<&str> {
    array
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| item["$ref"].as_str().expect("a reference"))
        .collect()
}

#[test]
fn asyncapi_request_operations_have_replies() {
    let sources = generate_documents();
    let asyncapi = read_json(&sources.docs().join("asyncapi.json"));
    let channels = asyncapi["channels"].as_object().expect("channels");
    let ids: BTreeSet<&str> = channels.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "jobs_mixed",
            "jobs_mixed_reply",
            "nodes_node_Ping",
            "nodes_node_Ping_reply",
            "nodes_node_Ping_reply_2",
        ]),
        "a reply channel gets an id that no declared channel has"
    );
    let text = fs::read_to_string(sources.docs().join("asyncapi.json")).expect("asyncapi");
    let positions: Vec<usize> = [
        "\"jobs_mixed\"",
        "\"jobs_mixed_reply\"",
        "\"nodes_node_Ping\"",
        "\"nodes_node_Ping_reply_2\"",
        "\"nodes_node_Ping_reply\"",
    ]
    .iter()
    .map(|key| text.find(key).unwrap_or_else(|| panic!("{key} missing")))
    .collect();
    assert!(
        positions.is_sorted(),
        "each reply channel follows its channel: {positions:?}"
    );

    let reply_channel = &asyncapi["channels"]["nodes_node_Ping_reply_2"];
    assert_eq!(reply_channel["address"], Value::Null);
    let reply_messages: BTreeSet<&str> = reply_channel["messages"]
        .as_object()
        .expect("messages")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(reply_messages, BTreeSet::from(["BacError", "Pong"]));
    assert_eq!(
        reply_channel["messages"]["BacError"]["$ref"],
        "#/components/messages/BacError"
    );
    let mixed_reply: BTreeSet<&str> = asyncapi["channels"]["jobs_mixed_reply"]["messages"]
        .as_object()
        .expect("messages")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(mixed_reply, BTreeSet::from(["BacError", "JobInfo_v1"]));

    let operations = &asyncapi["operations"];
    let receive = &operations["receive_handlers_Node_ping"];
    assert_eq!(
        receive["summary"],
        "`crate::handlers::Node::ping` (request handler method) responds to `Ping` with `Pong`."
    );
    let reply = receive["reply"].as_object().expect("a reply object");
    let keys: BTreeSet<&str> = reply.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["channel", "messages"]),
        "no address: it is the NATS reply subject"
    );
    assert_eq!(
        reply["channel"]["$ref"],
        "#/channels/nodes_node_Ping_reply_2"
    );
    assert_eq!(
        refs(&reply["messages"]),
        [
            "#/channels/nodes_node_Ping_reply_2/messages/Pong",
            "#/channels/nodes_node_Ping_reply_2/messages/BacError",
        ]
    );

    let send = &operations["send_nodes_node_Ping"];
    assert_eq!(
        send["reply"], receive["reply"],
        "a channel of requests only"
    );
    assert_eq!(
        send["summary"],
        "Send the request `Ping` on `nodes.{node}.Ping` and receive `Pong` or `BacError` on \
         the requester's inbox."
    );
    let mixed = &operations["send_jobs_mixed"];
    assert!(mixed.get("reply").is_none(), "{mixed}");
    assert_eq!(
        mixed["summary"],
        "Publish `GetJob` and `Heartbeat` on `jobs.mixed`. The responses to its requests \
         (`GetJob`) go to the requester's inbox."
    );
    for (key, operation) in operations.as_object().expect("operations") {
        if key.starts_with("receive_handlers_Node_on_heartbeat") {
            assert!(operation.get("reply").is_none(), "{key}: {operation}");
        }
    }
}

#[test]
fn asyncapi_replies_resolve_within_reply_channels() {
    let sources = generate_documents();
    let asyncapi = read_json(&sources.docs().join("asyncapi.json"));
    let mut replies = 0;
    for (key, operation) in asyncapi["operations"].as_object().expect("operations") {
        let Some(reply) = operation.get("reply") else {
            continue;
        };
        replies += 1;
        let channel_ref = reply["channel"]["$ref"]
            .as_str()
            .expect("a channel reference");
        let channel = resolve(&asyncapi, channel_ref)
            .unwrap_or_else(|| panic!("{key}: {channel_ref} does not resolve"));
        assert_eq!(channel["address"], Value::Null, "{key}: a dynamic address");
        for message_ref in refs(&reply["messages"]) {
            let prefix = format!("{channel_ref}/messages/");
            assert!(
                message_ref.starts_with(&prefix),
                "{key}: {message_ref} is not a message of the reply channel"
            );
            assert!(
                resolve(&asyncapi, message_ref).is_some(),
                "{key}: {message_ref} does not resolve"
            );
        }
    }
    assert_eq!(
        replies, 2,
        "the send and the receive operation of the Ping channel; the mixed channel's send \
         operation has none"
    );
    let mut all = Vec::new();
    references(&asyncapi, &mut all);
    for reference in &all {
        assert!(
            resolve(&asyncapi, reference).is_some(),
            "{reference} does not resolve"
        );
    }
}

#[test]
fn asyncapi_error_response_has_error_metadata() {
    let sources = generate_documents();
    let asyncapi = read_json(&sources.docs().join("asyncapi.json"));
    let message = &asyncapi["components"]["messages"]["BacError"];
    assert_eq!(message["name"], "BacError");
    assert_eq!(message["x-ncl-rust-type"], "ncl::ErrorResponse");
    assert_eq!(
        message["payload"]["$ref"],
        "#/components/schemas/ncl.ErrorResponse"
    );

    let own = &message["headers"]["allOf"][1];
    assert_eq!(own["properties"]["Type"]["const"], "BacError");
    for key in [keys::STATUS_CODE, keys::ERROR_CODE] {
        assert_eq!(own["properties"][key]["type"], "string", "{key}");
    }
    assert_eq!(
        own["required"],
        serde_json::json!([keys::STATUS_CODE, keys::ERROR_CODE])
    );

    let ping = &asyncapi["components"]["messages"]["Ping"];
    assert!(ping["headers"]["allOf"][1].get("required").is_none());
    let description = ping["description"].as_str().expect("a description");
    assert!(
        description.ends_with(
            "Request handlers: `crate::handlers::Node::ping`. A request whose response is \
             `Pong`, or `BacError` when the request fails."
        ),
        "{description}"
    );

    let pong = asyncapi["components"]["messages"]["Pong"]["description"]
        .as_str()
        .expect("a description");
    assert!(
        pong.ends_with("The response to `Ping`, sent to the reply subject of the request."),
        "{pong}"
    );
}
