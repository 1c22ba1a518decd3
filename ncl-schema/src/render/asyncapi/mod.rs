//! The AsyncAPI 3.0 document, written as JSON (which is also valid YAML).

mod reply;

use std::collections::{BTreeMap, BTreeSet};

use self::reply::{
    ReplyChannel, reply_channel_object, reply_channels, reply_object, request_reply_text,
};
use super::envelope::{ERROR_KEYS, KEYS, LAYOUT, REQUEST_REPLY};
use super::json::{Json, Object};
use super::schema::{Dialect, SchemaWriter, opaque_key};
use super::{doc_text, one_line};
use crate::catalog::{Catalog, Channel, Handler, HandlerKind};

/// Key of the metadata schema in `components.schemas`. The `.` keeps it apart from the
/// keys of crate types, which are identifiers unless two types share one.
const METADATA_SCHEMA: &str = "ncl.Metadata";

/// Renders the catalog as an AsyncAPI 3.0 document.
///
/// - `channels` has one channel per declared subject pattern, with its `{parameters}`.
///   A channel that carries request types is followed by its reply channel, `<id>_reply`,
///   whose `address` is `null` because responses go to the reply subject that each
///   request carries, the requester's inbox. Its messages are the responses and the error
///   response `BacError`;
/// - `operations` has a `send` operation per channel, and a `receive` operation per
///   handler and channel that carries the handler's message. The receive operation of a
///   request handler has a `reply` naming the reply channel, the response and
///   `BacError`, and so does the send operation of a channel that carries only request
///   types. The reply has no `address`: the reply subject travels in the NATS message's
///   reply field, which no runtime expression (`$message.header#...` or
///   `$message.payload#...`) can point to;
/// - `components.messages` has one message per payload, including payloads on no
///   declared channel, with the NCL metadata as its `headers` and its type's schema as its
///   `payload`;
/// - `components.schemas` has the schema of every type the payloads use, in the AsyncAPI
///   Schema format (a superset of JSON Schema draft 07), and `ncl.Metadata`.
///
/// Every message's `contentType` is `application/json`, the payload encoding. The
/// envelope around the payload is described in `info.description` and in the
/// `x-ncl-envelope` extension.
pub fn asyncapi(catalog: &Catalog) -> String {
    let message_keys = message_keys(catalog);
    let replies = reply_channels(catalog);

    let mut document = Object::new()
        .with("asyncapi", "3.0.0")
        .with("info", info(catalog))
        .with("defaultContentType", "application/json")
        .with("x-ncl-envelope", envelope());

    let mut channels = Object::new();
    let mut operations = Object::new();
    for channel in &catalog.channels {
        channels.insert(
            channel.id.as_str(),
            channel_object(catalog, channel, &message_keys),
        );
        let reply = replies.get(&channel.id);
        if let Some(reply) = reply {
            channels.insert(
                reply.id.as_str(),
                reply_channel_object(channel, reply, &message_keys),
            );
        }
        operations.insert(
            operation_key(&format!("send_{}", channel.id)),
            send_operation(catalog, channel, reply, &message_keys),
        );
    }
    for handler in &catalog.handlers {
        let carrying: Vec<&Channel> = catalog.channels_of(&handler.payload).collect();
        for channel in &carrying {
            let mut key = format!("receive_{}", handler_id(handler));
            if carrying.len() > 1 {
                key = format!("{key}_{}", channel.id);
            }
            operations.insert(
                operation_key(&key),
                receive_operation(handler, channel, replies.get(&channel.id), &message_keys),
            );
        }
    }
    document.insert("channels", channels);
    document.insert("operations", operations);
    document.insert("components", components(catalog, &message_keys));
    Json::from(document).to_pretty()
}

fn info(catalog: &Catalog) -> Object {
    let mut description = String::new();
    if let Some(intro) = &catalog.description {
        description.push_str(intro);
        description.push_str("\n\n");
    }
    description.push_str(LAYOUT);
    description.push_str(
        "\n\nThe metadata travels inside the envelope, not in NATS headers; each message's \
         `headers` schema describes it.",
    );
    if catalog.requests().next().is_some() {
        description.push_str("\n\n");
        description.push_str(REQUEST_REPLY);
        description.push_str(
            " When a request fails, the responder sends a `BacError` payload in place of the \
             response, with the `Bacalhau-StatusCode` and `Bacalhau-ErrorCode` metadata.",
        );
    }
    Object::new()
        .with("title", catalog.title.as_str())
        .with("version", catalog.version.as_str())
        .with("description", description)
}

fn envelope() -> Object {
    let version = |byte: u64, name: &str, body: &str| {
        Json::from(
            Object::new()
                .with("versionByte", byte)
                .with("name", name)
                .with("body", body),
        )
    };
    Object::new()
        .with(
            "layout",
            "byte 0: version; bytes 1-4: CRC-32 (IEEE) of the body, big-endian; bytes 5..: body",
        )
        .with(
            "versions",
            vec![
                version(
                    1,
                    "json-v1",
                    "{\"metadata\": {string: string}, \"payload\": <payload JSON>}",
                ),
                version(
                    2,
                    "protobuf-v1",
                    "protobuf Message { Metadata metadata = 1; Payload payload = 2; }, whose \
                     Metadata contains the string map and whose Payload bytes contain the payload JSON",
                ),
            ],
        )
}

/// Returns the `components.messages` key of each wire name: the name with characters
/// outside `[A-Za-z0-9._-]` replaced by `_`, and a number appended when two names give
/// the same key.
fn message_keys(catalog: &Catalog) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    let mut used = BTreeSet::new();
    for message in &catalog.messages {
        let base: String = message
            .wire_name
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-') {
                    ch
                } else {
                    '_'
                }
            })
            .collect();
        let mut key = base.clone();
        let mut number = 2;
        while !used.insert(key.clone()) {
            key = format!("{base}_{number}");
            number += 1;
        }
        keys.insert(message.wire_name.clone(), key);
    }
    keys
}

/// Returns `text` with characters outside `[A-Za-z0-9_-]` replaced by `_`, the form
/// AsyncAPI requires of operation keys.
fn operation_key(text: &str) -> String {
    text.chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-') {
                ch
            } else {
                '_'
            }
        })
        .collect()
}

/// Returns the handler's path without `crate::`, joined with `.`.
fn handler_id(handler: &Handler) -> String {
    handler
        .path
        .strip_prefix("crate::")
        .unwrap_or(&handler.path)
        .replace("::", ".")
}

fn channel_object(
    catalog: &Catalog,
    channel: &Channel,
    message_keys: &BTreeMap<String, String>,
) -> Object {
    let mut messages = Object::new();
    for wire_name in &channel.messages {
        let key = &message_keys[wire_name];
        messages.insert(
            key.as_str(),
            Object::new().with("$ref", format!("#/components/messages/{key}")),
        );
    }
    let mut object = Object::new()
        .with("address", channel.address.as_str())
        .with(
            "description",
            format!("Carries {}.", code_list(&channel.messages)),
        )
        .with("messages", messages);
    if !channel.parameters.is_empty() {
        let mut parameters = Object::new();
        for name in &channel.parameters {
            let description = catalog
                .parameters
                .get(name)
                .cloned()
                .unwrap_or_else(|| format!("Value of the `{name}` token of the subject."));
            parameters.insert(
                name.as_str(),
                Object::new().with("description", description),
            );
        }
        object.insert("parameters", parameters);
    }
    object
}

fn send_operation(
    catalog: &Catalog,
    channel: &Channel,
    reply: Option<&ReplyChannel>,
    message_keys: &BTreeMap<String, String>,
) -> Object {
    let reply = reply.filter(|reply| reply.only_requests);
    let summary = match reply {
        Some(reply) => format!(
            "Send the request {} on `{}` and receive {} on the requester's inbox.",
            code_list(&channel.messages),
            channel.address,
            or_list(&owned(&reply.messages()))
        ),
        None => {
            let requests: Vec<String> = channel
                .messages
                .iter()
                .filter(|wire_name| {
                    catalog
                        .message(wire_name)
                        .is_some_and(|message| message.response.is_some())
                })
                .cloned()
                .collect();
            let mut summary = format!(
                "Publish {} on `{}`.",
                code_list(&channel.messages),
                channel.address
            );
            if !requests.is_empty() {
                summary.push_str(&format!(
                    " The responses to its requests ({}) go to the requester's inbox.",
                    code_list(&requests)
                ));
            }
            summary
        }
    };
    let mut operation = Object::new()
        .with("action", "send")
        .with("summary", summary)
        .with("channel", channel_ref(channel))
        .with(
            "messages",
            channel
                .messages
                .iter()
                .map(|wire_name| channel_message_ref(channel, &message_keys[wire_name]).into())
                .collect::<Vec<Json>>(),
        );
    if let Some(reply) = reply {
        operation.insert(
            "reply",
            reply_object(reply, &reply.messages(), message_keys),
        );
    }
    operation
}

fn receive_operation(
    handler: &Handler,
    channel: &Channel,
    reply: Option<&ReplyChannel>,
    message_keys: &BTreeMap<String, String>,
) -> Object {
    let request = if handler.response.is_some() {
        "request "
    } else {
        ""
    };
    let form = match &handler.kind {
        HandlerKind::Function { .. } => "handler function",
        HandlerKind::Method { .. } => "handler method",
    };
    let summary = match &handler.response {
        Some(response) => format!(
            "`{}` ({request}{form}) responds to `{}` with `{response}`.",
            handler.path, handler.payload
        ),
        None => format!(
            "`{}` ({form}) consumes `{}`.",
            handler.path, handler.payload
        ),
    };
    let mut operation = Object::new()
        .with("action", "receive")
        .with("summary", summary)
        .with("channel", channel_ref(channel))
        .with(
            "messages",
            vec![channel_message_ref(channel, &message_keys[&handler.payload]).into()],
        );
    if let (Some(response), Some(reply)) = (&handler.response, reply)
        && reply.responses.contains(response)
    {
        // The reply channel has the response of every request type on the channel; this
        // handler sends its own response, or the error response.
        let responses: Vec<&String> = std::iter::once(response).chain(&reply.error).collect();
        operation.insert("reply", reply_object(reply, &responses, message_keys));
    }
    operation
}

fn channel_ref(channel: &Channel) -> Object {
    Object::new().with("$ref", format!("#/channels/{}", channel.id))
}

fn channel_message_ref(channel: &Channel, key: &str) -> Object {
    Object::new().with("$ref", format!("#/channels/{}/messages/{key}", channel.id))
}

fn components(catalog: &Catalog, message_keys: &BTreeMap<String, String>) -> Object {
    let mut writer = SchemaWriter::new(catalog, Dialect::AsyncApi, None);
    let mut schemas: BTreeMap<String, Json> = BTreeMap::new();
    for (key, def) in &catalog.types {
        schemas.insert(key.clone(), writer.def(def).into());
    }
    for path in writer.opaque.clone() {
        schemas.insert(opaque_key(&path), SchemaWriter::opaque_def(&path).into());
    }
    schemas.insert(METADATA_SCHEMA.to_owned(), metadata_schema().into());
    let mut schema_object = Object::new();
    for (key, schema) in schemas {
        schema_object.insert(key, schema);
    }

    let mut messages = Object::new();
    for message in &catalog.messages {
        let key = &message_keys[&message.wire_name];
        let mut description = String::new();
        if let Some(docs) = &message.docs {
            description.push_str(&doc_text(docs));
            description.push_str("\n\n");
        }
        description.push_str(&format!("Rust type: `{}`.", message.rust_path));
        let (responding, consuming): (Vec<&Handler>, Vec<&Handler>) = catalog
            .handlers_of(&message.wire_name)
            .partition(|handler| handler.response.is_some());
        let paths = |handlers: &[&Handler]| -> Vec<String> {
            handlers
                .iter()
                .map(|handler| handler.path.clone())
                .collect()
        };
        if !consuming.is_empty() {
            description.push_str(&format!(" Consumed by {}.", code_list(&paths(&consuming))));
        }
        if !responding.is_empty() {
            description.push_str(&format!(
                " Request handlers: {}.",
                code_list(&paths(&responding))
            ));
        }
        description.push_str(&request_reply_text(catalog, message));
        let is_reply = message.error_response
            || catalog
                .requests_for_response(&message.wire_name)
                .next()
                .is_some();
        if !is_reply && catalog.channels_of(&message.wire_name).next().is_none() {
            description.push_str(" Subject: not declared.");
        }

        let type_const = Object::new()
            .with("type", "string")
            .with("const", message.wire_name.as_str());
        let mut properties = Object::new()
            .with("Type", type_const.clone())
            .with("Bacalhau-Type", type_const);
        let mut own_headers = Object::new();
        if message.error_response {
            for (key, description) in ERROR_KEYS {
                let mut property = Object::new()
                    .with("type", "string")
                    .with("description", *description);
                if *key == "Bacalhau-StatusCode" {
                    property.insert("pattern", "^[0-9]+$");
                }
                properties.insert(*key, property);
            }
            own_headers.insert("properties", properties);
            let keys: Vec<&str> = ERROR_KEYS.iter().map(|(key, _)| *key).collect();
            own_headers.insert("required", Json::strings(keys));
        } else {
            own_headers.insert("properties", properties);
        }
        let headers = Object::new().with("type", "object").with(
            "allOf",
            vec![
                Object::new()
                    .with("$ref", format!("#/components/schemas/{METADATA_SCHEMA}"))
                    .into(),
                own_headers.into(),
            ],
        );
        let mut object = Object::new()
            .with("name", message.wire_name.as_str())
            .with("title", message.wire_name.as_str());
        if let Some(docs) = &message.docs {
            let summary = one_line(docs.split("\n\n").next().unwrap_or_default());
            object.insert("summary", summary);
        }
        object.insert("description", description);
        object.insert("contentType", "application/json");
        object.insert("headers", headers);
        object.insert(
            "payload",
            Object::new().with("$ref", format!("#/components/schemas/{}", message.type_key)),
        );
        object.insert("x-ncl-rust-type", message.rust_path.as_str());
        messages.insert(key.as_str(), object);
    }
    Object::new()
        .with("schemas", schema_object)
        .with("messages", messages)
}

fn metadata_schema() -> Object {
    let mut properties = Object::new();
    let mut required = Vec::new();
    for (key, description, always) in KEYS {
        let mut property = Object::new()
            .with("type", "string")
            .with("description", *description);
        match *key {
            "EventTime" => property.insert("pattern", "^-?[0-9]+$"),
            "PayloadEncoding" | "Bacalhau-PayloadEncoding" => property.insert("const", "json"),
            _ => {}
        }
        properties.insert(*key, property);
        if *always {
            required.push(*key);
        }
    }
    Object::new()
        .with(
            "description",
            "NCL metadata: string keys and values carried in the envelope beside the payload. \
             The keys listed here are the well-known ones, which ncl's publisher writes; \
             applications may add their own.",
        )
        .with("type", "object")
        .with("properties", properties)
        .with("required", Json::strings(required))
        .with("additionalProperties", Object::new().with("type", "string"))
}

/// Returns `items` as a list of code spans: "`A`", "`A` and `B`", "`A`, `B` and `C`".
pub(crate) fn code_list(items: &[String]) -> String {
    joined_code(items, "and")
}

/// Returns `items` as alternatives: "`A`", "`A` or `B`", "`A`, `B` or `C`".
fn or_list(items: &[String]) -> String {
    joined_code(items, "or")
}

fn joined_code(items: &[String], conjunction: &str) -> String {
    let spans: Vec<String> = items.iter().map(|item| format!("`{item}`")).collect();
    match spans.as_slice() {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

fn owned(items: &[&String]) -> Vec<String> {
    items.iter().map(|item| (*item).clone()).collect()
}
