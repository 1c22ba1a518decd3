//! The AsyncAPI 3.0 document, written as JSON (which is also valid YAML).

use std::collections::{BTreeMap, BTreeSet};

use super::envelope::{KEYS, LAYOUT};
use super::json::{Json, Object};
use super::schema::{Dialect, SchemaWriter, opaque_key};
use super::{doc_text, one_line};
use crate::catalog::{Catalog, Channel, Handler, HandlerKind};

/// Key of the metadata schema in `components.schemas`. The `.` keeps it apart from the
/// keys of crate types, which are identifiers unless two types share one.
const METADATA_SCHEMA: &str = "ncl.Metadata";

/// Renders the catalog as an AsyncAPI 3.0 document.
///
/// - `channels` has one channel per declared subject pattern, with its `{parameters}`;
/// - `operations` has a `send` operation per channel, and a `receive` operation per
///   handler and channel that carries the handler's message;
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
        operations.insert(
            operation_key(&format!("send_{}", channel.id)),
            send_operation(channel, &message_keys),
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
                receive_operation(handler, channel, &message_keys),
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

fn send_operation(channel: &Channel, message_keys: &BTreeMap<String, String>) -> Object {
    Object::new()
        .with("action", "send")
        .with(
            "summary",
            format!(
                "Publish {} on `{}`.",
                code_list(&channel.messages),
                channel.address
            ),
        )
        .with("channel", channel_ref(channel))
        .with(
            "messages",
            channel
                .messages
                .iter()
                .map(|wire_name| channel_message_ref(channel, &message_keys[wire_name]).into())
                .collect::<Vec<Json>>(),
        )
}

fn receive_operation(
    handler: &Handler,
    channel: &Channel,
    message_keys: &BTreeMap<String, String>,
) -> Object {
    let form = match &handler.kind {
        HandlerKind::Function { .. } => "handler function",
        HandlerKind::Method { .. } => "handler method",
    };
    Object::new()
        .with("action", "receive")
        .with(
            "summary",
            format!(
                "`{}` ({form}) consumes `{}`.",
                handler.path, handler.payload
            ),
        )
        .with("channel", channel_ref(channel))
        .with(
            "messages",
            vec![channel_message_ref(channel, &message_keys[&handler.payload]).into()],
        )
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
        let handlers: Vec<String> = catalog
            .handlers_of(&message.wire_name)
            .map(|handler| handler.path.clone())
            .collect();
        if !handlers.is_empty() {
            description.push_str(&format!(" Consumed by {}.", code_list(&handlers)));
        }
        if catalog.channels_of(&message.wire_name).next().is_none() {
            description.push_str(" Subject: not declared.");
        }

        let type_const = Object::new()
            .with("type", "string")
            .with("const", message.wire_name.as_str());
        let headers = Object::new().with("type", "object").with(
            "allOf",
            vec![
                Object::new()
                    .with("$ref", format!("#/components/schemas/{METADATA_SCHEMA}"))
                    .into(),
                Object::new()
                    .with(
                        "properties",
                        Object::new()
                            .with("Type", type_const.clone())
                            .with("Bacalhau-Type", type_const),
                    )
                    .into(),
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
    let spans: Vec<String> = items.iter().map(|item| format!("`{item}`")).collect();
    match spans.as_slice() {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
