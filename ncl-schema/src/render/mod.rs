//! Renderers that turn a [`Catalog`] into documents: a Markdown catalog, one JSON Schema
//! per payload, and an AsyncAPI 3.0 document.
//!
//! Each returns the document's text. Everything is sorted (messages by wire name, types
//! by key, handlers by path, channels by address), so the same catalog always renders to
//! the same bytes.

mod asyncapi;
mod json;
mod json_schema;
mod markdown;
mod schema;

pub use asyncapi::asyncapi;
pub use json_schema::{json_schema, schema_file_name};
pub use markdown::markdown;

#[cfg(doc)]
use crate::Catalog;

/// Facts about the NCL envelope and metadata that every renderer states.
pub(crate) mod envelope {
    /// One line on the envelope layout.
    pub(crate) const LAYOUT: &str = "Each NATS message body is an NCL envelope: one version \
        byte, then a CRC-32 (IEEE, big-endian, 4 bytes) of the body, then the body. Version \
        1 (`json-v1`) has the body `{\"metadata\": {...}, \"payload\": <payload JSON>}`; \
        version 2 (`protobuf-v1`) has a protobuf `Message { Metadata metadata = 1; Payload \
        payload = 2; }` whose payload bytes contain the same payload JSON.";

    /// The metadata keys: name, description, whether ncl's publisher always writes it.
    pub(crate) const KEYS: &[(&str, &str, bool)] = &[
        (
            "MessageID",
            "Unique identifier of the message. The publisher sets a random UUID unless the \
             application set one.",
            true,
        ),
        (
            "Type",
            "Wire name of the payload type, which selects the type that decodes the payload.",
            true,
        ),
        (
            "Source",
            "Name of the publisher that sent the message.",
            true,
        ),
        (
            "EventTime",
            "Time the event happened, as Unix nanoseconds in decimal. The publisher sets the \
             current time unless the application set one.",
            true,
        ),
        (
            "PayloadEncoding",
            "Encoding of the payload inside the envelope: `json`.",
            true,
        ),
        (
            "Bacalhau-Type",
            "Newer spelling of `Type`, written beside it by publishers set to \
             `KeyGeneration::Current`. Readers prefer it when both are present.",
            false,
        ),
        (
            "Bacalhau-PayloadEncoding",
            "Newer spelling of `PayloadEncoding`, written beside it by publishers set to \
             `KeyGeneration::Current`.",
            false,
        ),
    ];

    /// The transport of requests and responses.
    pub(crate) const REQUEST_REPLY: &str = "A request is an NCL envelope published with a \
        NATS reply subject, the requester's inbox. The responder sends the response, also an \
        NCL envelope, to that reply subject with the request's `MessageID`, which the \
        requester checks to match the two. So a response has no subject of its own. The \
        requester also copies the request's metadata into NATS headers, because Go responders \
        read the `MessageID` there.";

    /// The metadata keys that an error response adds: name and description.
    pub(crate) const ERROR_KEYS: &[(&str, &str)] = &[
        (
            "Bacalhau-StatusCode",
            "HTTP status of the failure, in decimal, such as `404`.",
        ),
        (
            "Bacalhau-ErrorCode",
            "Error code of the failure, such as `NotFound`, as in the payload's `Code`.",
        ),
    ];

    /// The error responses that ncl's `Responder` sends by itself: the failure, the
    /// `Bacalhau-ErrorCode` and the `Bacalhau-StatusCode`.
    pub(crate) const RESPONDER_FAILURES: &[(&str, &str, &str)] = &[
        (
            "the request's envelope or payload does not decode, or it has no `Type`",
            "`BadRequest`",
            "400",
        ),
        ("no handler takes the request's type", "`NotFound`", "404"),
        (
            "the handler returns an error",
            "the code of the first `ncl::ErrorResponse` in the error's source chain, else \
             `InternalError`",
            "its status, else 500",
        ),
        (
            "the handler panics, or its response does not encode or exceeds the server's \
             `max_payload`",
            "`InternalError`",
            "500",
        ),
        (
            "the handler runs past the responder's handler timeout",
            "`TimeOut`",
            "500",
        ),
    ];
}

/// Returns a doc comment with rustdoc's intra-doc links turned into plain code spans,
/// because their targets are Rust paths that mean nothing outside rustdoc: `` [`Job`] ``
/// and `` [`Job`](crate::Job) `` become `` `Job` ``. Links whose target contains `/`, `.`
/// or `#`, such as URLs and relative files, are kept.
pub(crate) fn doc_text(docs: &str) -> String {
    let mut out = String::with_capacity(docs.len());
    let mut rest = docs;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after_open = &rest[open + 1..];
        let Some(close) = after_open.find(']') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let text = &after_open[..close];
        if text.contains('[') {
            // The first `[` opens no link, as in `[0, [1]`.
            out.push('[');
            rest = after_open;
            continue;
        }
        let after_close = &after_open[close + 1..];
        if let Some(target_part) = after_close.strip_prefix('(')
            && let Some(end) = target_part.find(')')
        {
            let target = &target_part[..end];
            if is_rust_path(target) {
                out.push_str(text);
            } else {
                out.push_str(&rest[open..open + 1 + close + 1 + 1 + end + 1]);
            }
            rest = &target_part[end + 1..];
        } else if after_close.starts_with('[') || after_close.starts_with(':') {
            // A reference-style link or a link definition: leave it to Markdown.
            let end = match after_close.strip_prefix('[') {
                Some(label) => label.find(']').map_or(0, |close| close + 2),
                None => 0,
            };
            out.push('[');
            out.push_str(text);
            out.push(']');
            out.push_str(&after_close[..end]);
            rest = &after_close[end..];
        } else {
            out.push_str(text);
            rest = after_close;
        }
    }
    out.push_str(rest);
    out
}

fn is_rust_path(target: &str) -> bool {
    !target.is_empty()
        && target
            .chars()
            .all(|ch| ch.is_alphanumeric() || matches!(ch, '_' | ':' | '<' | '>' | ',' | ' ' | '!'))
}

/// Returns `docs` as one line, for table cells: lines joined with spaces and `|`
/// escaped.
pub(crate) fn one_line(docs: &str) -> String {
    let text = doc_text(docs);
    let joined: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    joined.join(" ").replace('|', "\\|")
}

/// A small catalog for the renderers' unit tests: the request `Ping` on the channel
/// `nodes.ping` with the response `Pong` and the request handler `crate::Node::ping`, the
/// error response `BacError`, and the one-way `Beat` on `nodes.beat`.
#[cfg(test)]
pub(crate) fn request_catalog() -> crate::Catalog {
    use crate::catalog::{Catalog, Channel, Handler, HandlerKind, Message, TypeBody, TypeDef};

    let mut catalog = Catalog {
        title: "Test".to_owned(),
        version: "1.0.0".to_owned(),
        ..Catalog::default()
    };
    for (wire_name, response) in [
        ("BacError", None),
        ("Beat", None),
        ("Ping", Some("Pong")),
        ("Pong", None),
    ] {
        catalog.types.insert(
            wire_name.to_owned(),
            TypeDef {
                key: wire_name.to_owned(),
                rust_path: format!("crate::{wire_name}"),
                docs: None,
                source: "src/lib.rs".to_owned(),
                body: TypeBody::Unit,
            },
        );
        catalog.messages.push(Message {
            wire_name: wire_name.to_owned(),
            rust_path: format!("crate::{wire_name}"),
            type_key: wire_name.to_owned(),
            encoding: "json".to_owned(),
            docs: None,
            source: "src/lib.rs".to_owned(),
            response: response.map(str::to_owned),
            error_response: wire_name == "BacError",
        });
    }
    catalog.handlers.push(Handler {
        path: "crate::Node::ping".to_owned(),
        kind: HandlerKind::Method {
            self_ty: "Node".to_owned(),
        },
        payload: "Ping".to_owned(),
        by_ref: true,
        response: Some("Pong".to_owned()),
        source: "src/lib.rs".to_owned(),
    });
    for (address, message) in [("nodes.beat", "Beat"), ("nodes.ping", "Ping")] {
        catalog.channels.push(Channel {
            id: address.replace('.', "_"),
            address: address.to_owned(),
            parameters: Vec::new(),
            messages: vec![message.to_owned()],
        });
    }
    catalog
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intra_doc_links_become_code() {
        let cases = [
            (
                "As in the [`JobAssigned`] message.",
                "As in the `JobAssigned` message.",
            ),
            (
                "See [`Heartbeat`](messages::Heartbeat) and [docs](https://example.org/a).",
                "See `Heartbeat` and [docs](https://example.org/a).",
            ),
            ("A [link][ref] stays.", "A [link][ref] stays."),
            ("Index [0 and [1]", "Index [0 and 1"),
            ("Unclosed [bracket", "Unclosed [bracket"),
        ];
        for (docs, expected) in cases {
            assert_eq!(doc_text(docs), expected, "{docs}");
        }
    }

    #[test]
    fn one_line_joins_and_escapes() {
        assert_eq!(
            one_line("First line\nsecond | part\n\nNext."),
            "First line second \\| part Next."
        );
    }
}
