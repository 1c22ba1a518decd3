//! Request/reply in the Markdown catalog: each message's role, the section on requests
//! and responses, and the handler and request lines of message sections.

use std::fmt::Write;

use super::message_link;
use crate::catalog::{Catalog, Handler, HandlerKind, Message};
use crate::render::asyncapi::code_list;
use crate::render::envelope::{ERROR_KEYS, REQUEST_REPLY, RESPONDER_FAILURES};

/// Returns a message's part in request/reply, for the summary table: request, response,
/// error response or one-way message.
pub(super) fn role(catalog: &Catalog, message: &Message) -> String {
    let mut roles = Vec::new();
    if message.error_response {
        roles.push("error response to every request".to_owned());
    }
    if let Some(response) = &message.response {
        roles.push(format!(
            "request with response {}",
            message_link(catalog, response)
        ));
    }
    let requests = request_links(catalog, message);
    if !requests.is_empty() {
        roles.push(format!("response to {}", requests.join(", ")));
    }
    if roles.is_empty() {
        "one-way".to_owned()
    } else {
        roles.join("; ")
    }
}

/// Returns whether a responder sends the message to the reply subject of a request: it is
/// a response type or the error response.
pub(super) fn is_reply(catalog: &Catalog, message: &Message) -> bool {
    message.error_response
        || catalog
            .requests_for_response(&message.wire_name)
            .next()
            .is_some()
}

/// Returns links to the request types whose response is `message`.
fn request_links(catalog: &Catalog, message: &Message) -> Vec<String> {
    catalog
        .requests_for_response(&message.wire_name)
        .map(|request| message_link(catalog, &request.wire_name))
        .collect()
}

/// Describes request/reply: how requests and responses travel, each request type with
/// its response and request handlers, and the error response. Writes nothing when no
/// message is a request type.
pub(super) fn requests(out: &mut String, catalog: &Catalog) {
    let requests: Vec<&Message> = catalog.requests().collect();
    if requests.is_empty() {
        return;
    }
    out.push_str("## Requests and responses\n\n");
    let _ = writeln!(out, "{REQUEST_REPLY}\n");
    out.push_str("| Request | Response | Request handlers |\n| --- | --- | --- |\n");
    for request in requests {
        let response = request.response.as_deref().unwrap_or_default();
        let handlers: Vec<String> = catalog
            .handlers_of(&request.wire_name)
            .filter(|handler| handler.response.is_some())
            .map(|handler| handler.path.clone())
            .collect();
        let handlers = if handlers.is_empty() {
            "none found".to_owned()
        } else {
            code_list(&handlers)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {handlers} |",
            message_link(catalog, &request.wire_name),
            message_link(catalog, response),
        );
    }
    out.push('\n');

    let error = match catalog.error_response() {
        Some(message) => message_link(catalog, &message.wire_name),
        None => "`BacError`".to_owned(),
    };
    let _ = write!(
        out,
        "When a request fails, the responder sends an error response in place of the \
         response: a {error} payload (`ncl::ErrorResponse`), with these metadata keys \
         added:\n\n| Key | Meaning |\n| --- | --- |\n"
    );
    for (key, description) in ERROR_KEYS {
        let _ = writeln!(out, "| `{key}` | {description} |");
    }
    out.push_str(
        "\nncl's `Responder` sends these error responses itself. A request handler chooses \
         the code of its own errors by returning an `ncl::ErrorResponse`, or an error whose \
         source chain contains one.\n\n| Failure | `Bacalhau-ErrorCode` | \
         `Bacalhau-StatusCode` |\n| --- | --- | --- |\n",
    );
    for (failure, code, status) in RESPONDER_FAILURES {
        let _ = writeln!(out, "| {failure} | {code} | {status} |");
    }
    out.push('\n');
}

/// Writes the lines of a message's section on its part in request/reply: the response
/// of a request type, or the request types of a response.
pub(super) fn request_lines(out: &mut String, catalog: &Catalog, message: &Message) {
    if let Some(response) = &message.response {
        let error = match catalog.error_response() {
            Some(error) => format!(
                ", or {} when the request fails",
                message_link(catalog, &error.wire_name)
            ),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "- Request: the response is {}{error}",
            message_link(catalog, response)
        );
    }
    let requests = request_links(catalog, message);
    if message.error_response {
        let _ = writeln!(
            out,
            "- Response to: every request that fails ({}), sent to the reply subject of the \
             request",
            requests_list(catalog)
        );
    } else if !requests.is_empty() {
        let _ = writeln!(
            out,
            "- Response to: {}, sent to the reply subject of the request",
            requests.join(", ")
        );
    }
}

/// Returns links to every request type, for the error response's section.
fn requests_list(catalog: &Catalog) -> String {
    let links: Vec<String> = catalog
        .requests()
        .map(|request| message_link(catalog, &request.wire_name))
        .collect();
    links.join(", ")
}

/// Describes a handler for a message's section: its path, its form and, for a request
/// handler, its response.
pub(super) fn handler_text(catalog: &Catalog, handler: &Handler) -> String {
    let request = if handler.response.is_some() {
        "request handler "
    } else {
        ""
    };
    let mut form = match &handler.kind {
        HandlerKind::Function { state: Some(state) } => {
            format!("{request}function with state `{state}`")
        }
        HandlerKind::Function { state: None } => format!("{request}function"),
        HandlerKind::Method { self_ty } => format!("{request}method of `{self_ty}`"),
    };
    if let Some(response) = &handler.response {
        form.push_str(&format!(
            ", responds with {}",
            message_link(catalog, response)
        ));
    }
    format!("`{}` ({form})", handler.path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{markdown, request_catalog};

    #[test]
    fn roles_name_requests_and_responses() {
        let catalog = request_catalog();
        let roles: Vec<(&str, String)> = catalog
            .messages
            .iter()
            .map(|message| (message.wire_name.as_str(), role(&catalog, message)))
            .collect();
        assert_eq!(
            roles,
            [
                ("BacError", "error response to every request".to_owned()),
                ("Beat", "one-way".to_owned()),
                (
                    "Ping",
                    "request with response [`Pong`](#message-pong)".to_owned()
                ),
                ("Pong", "response to [`Ping`](#message-ping)".to_owned()),
            ]
        );
    }

    #[test]
    fn request_section_lists_requests_and_error_codes() {
        let text = markdown(&request_catalog(), None);
        let expected = [
            "| [`Pong`](#message-pong) | `crate::Pong` | response to [`Ping`](#message-ping) \
             | reply inbox of the request | 0 |\n",
            "## Requests and responses\n\n",
            "| [`Ping`](#message-ping) | [`Pong`](#message-pong) | `crate::Node::ping` |\n",
            "a [`BacError`](#message-bacerror) payload (`ncl::ErrorResponse`)",
            "| `Bacalhau-ErrorCode` | Error code of the failure",
            "| the handler runs past the responder's handler timeout | `TimeOut` | 500 |\n",
            "- Rust type: `crate::BacError`, defined by ncl\n",
            "- Request: the response is [`Pong`](#message-pong), or \
             [`BacError`](#message-bacerror) when the request fails\n",
            "- Handlers: `crate::Node::ping` (request handler method of `Node`, responds with \
             [`Pong`](#message-pong))\n",
        ];
        for part in expected {
            assert!(text.contains(part), "missing {part:?} in:\n{text}");
        }
        let sections = text
            .find("## Subjects")
            .zip(text.find("## Requests and responses"));
        assert!(
            sections.is_some_and(|(subjects, requests)| subjects < requests),
            "the request section follows the subjects"
        );
    }

    #[test]
    fn one_way_catalog_has_no_request_section() {
        let mut catalog = request_catalog();
        catalog
            .messages
            .retain(|message| message.wire_name == "Beat");
        let text = markdown(&catalog, None);
        assert!(!text.contains("## Requests and responses"), "{text}");
        assert!(text.contains("| one-way |"), "{text}");
    }
}
