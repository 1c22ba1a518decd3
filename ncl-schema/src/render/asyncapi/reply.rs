//! Request/reply in the AsyncAPI document: the reply channel of each channel that
//! carries request types, the `reply` of operations, and the sentences that message
//! descriptions add.

use std::collections::{BTreeMap, BTreeSet};

use super::{code_list, owned};
use crate::catalog::{Catalog, Channel, Message};
use crate::render::json::{Json, Object};

/// The reply channel of a channel that carries request types.
pub(super) struct ReplyChannel {
    /// Key of the reply channel in `channels`.
    pub(super) id: String,
    /// Wire names of the responses of the channel's request types, sorted.
    pub(super) responses: Vec<String>,
    /// Wire name of the error response, which every request may get.
    pub(super) error: Option<String>,
    /// Whether every message of the channel is a request type, so that sending on the
    /// channel always awaits a reply.
    pub(super) only_requests: bool,
}

/// Returns the reply channel of each channel that carries request types, by channel id.
/// A reply channel's id is the channel's followed by `_reply`, and a number when a
/// declared channel has that id already.
pub(super) fn reply_channels(catalog: &Catalog) -> BTreeMap<String, ReplyChannel> {
    let mut used: BTreeSet<String> = catalog
        .channels
        .iter()
        .map(|channel| channel.id.clone())
        .collect();
    let mut replies = BTreeMap::new();
    for channel in &catalog.channels {
        let requests: Vec<&Message> = channel
            .messages
            .iter()
            .filter_map(|wire_name| catalog.message(wire_name))
            .filter(|message| message.response.is_some())
            .collect();
        if requests.is_empty() {
            continue;
        }
        let responses: Vec<String> = requests
            .iter()
            .filter_map(|request| request.response.clone())
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect();
        let base = format!("{}_reply", channel.id);
        let mut id = base.clone();
        let mut number = 2;
        while !used.insert(id.clone()) {
            id = format!("{base}_{number}");
            number += 1;
        }
        replies.insert(
            channel.id.clone(),
            ReplyChannel {
                id,
                responses,
                error: catalog
                    .error_response()
                    .map(|message| message.wire_name.clone()),
                only_requests: requests.len() == channel.messages.len(),
            },
        );
    }
    replies
}

impl ReplyChannel {
    /// Returns the wire names of every message a responder sends to the reply channel.
    pub(super) fn messages(&self) -> Vec<&String> {
        self.responses.iter().chain(&self.error).collect()
    }
}

/// Returns the reply channel of `channel`: no address, because each request carries its
/// own reply subject, and the messages a responder sends there.
pub(super) fn reply_channel_object(
    channel: &Channel,
    reply: &ReplyChannel,
    message_keys: &BTreeMap<String, String>,
) -> Object {
    let mut messages = Object::new();
    for wire_name in reply.messages() {
        let key = &message_keys[wire_name];
        messages.insert(
            key.as_str(),
            Object::new().with("$ref", format!("#/components/messages/{key}")),
        );
    }
    Object::new()
        .with("address", Json::Null)
        .with(
            "description",
            format!(
                "The reply subject of a request sent on `{}`: the requester's inbox, which \
                 each request carries in its NATS reply field, so the address is known only \
                 at run time. The responder sends {} there.",
                channel.address,
                code_list(&owned(&reply.messages()))
            ),
        )
        .with("messages", messages)
}

/// Returns the `reply` of an operation: the reply channel and the messages of `responses`
/// that the operation may get back.
pub(super) fn reply_object(
    reply: &ReplyChannel,
    responses: &[&String],
    message_keys: &BTreeMap<String, String>,
) -> Object {
    let messages: Vec<Json> = responses
        .iter()
        .map(|wire_name| {
            Object::new()
                .with(
                    "$ref",
                    format!(
                        "#/channels/{}/messages/{}",
                        reply.id, message_keys[*wire_name]
                    ),
                )
                .into()
        })
        .collect();
    Object::new()
        .with(
            "channel",
            Object::new().with("$ref", format!("#/channels/{}", reply.id)),
        )
        .with("messages", messages)
}

/// Returns the sentences of a message's description on its part in request/reply, each
/// with a leading space, or an empty string for a one-way message.
pub(super) fn request_reply_text(catalog: &Catalog, message: &Message) -> String {
    let mut text = String::new();
    if let Some(response) = &message.response {
        text.push_str(&format!(" A request whose response is `{response}`"));
        if let Some(error) = catalog.error_response() {
            text.push_str(&format!(
                ", or `{}` when the request fails",
                error.wire_name
            ));
        }
        text.push('.');
    }
    let requests: Vec<String> = catalog
        .requests_for_response(&message.wire_name)
        .map(|request| request.wire_name.clone())
        .collect();
    if !requests.is_empty() {
        text.push_str(&format!(
            " The response to {}, sent to the reply subject of the request.",
            code_list(&requests)
        ));
    }
    if message.error_response {
        text.push_str(
            " The error response to every request that fails, sent to the reply subject of \
             the request with the `Bacalhau-StatusCode` and `Bacalhau-ErrorCode` metadata.",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::render::asyncapi;
    use crate::render::request_catalog;

    fn document(catalog: &Catalog) -> Value {
        serde_json::from_str(&asyncapi(catalog)).expect("the document is JSON")
    }

    #[test]
    fn request_channel_gets_reply_channel() {
        let document = document(&request_catalog());
        let reply = &document["channels"]["nodes_ping_reply"];
        assert_eq!(reply["address"], Value::Null);
        assert_eq!(
            reply["messages"]["Pong"]["$ref"],
            "#/components/messages/Pong"
        );
        assert_eq!(
            reply["messages"]["BacError"]["$ref"],
            "#/components/messages/BacError"
        );
        assert!(document["channels"].get("nodes_beat_reply").is_none());
    }

    #[test]
    fn request_operations_name_reply() {
        let document = document(&request_catalog());
        let expected = serde_json::json!({
            "channel": {"$ref": "#/channels/nodes_ping_reply"},
            "messages": [
                {"$ref": "#/channels/nodes_ping_reply/messages/Pong"},
                {"$ref": "#/channels/nodes_ping_reply/messages/BacError"},
            ],
        });
        let operations = &document["operations"];
        assert_eq!(operations["receive_Node_ping"]["reply"], expected);
        assert_eq!(operations["send_nodes_ping"]["reply"], expected);
        assert!(operations["send_nodes_beat"].get("reply").is_none());
    }

    #[test]
    fn reply_channel_id_avoids_declared_ids() {
        let mut catalog = request_catalog();
        catalog.channels[0].id = "nodes_ping_reply".to_owned();
        let replies = reply_channels(&catalog);
        assert_eq!(replies["nodes_ping"].id, "nodes_ping_reply_2");
    }

    #[test]
    fn handler_response_missing_from_channel_gets_no_reply() {
        let mut catalog = request_catalog();
        catalog.handlers[0].response = Some("Other".to_owned());
        let document = document(&catalog);
        let receive = &document["operations"]["receive_Node_ping"];
        assert!(receive.get("reply").is_none(), "{receive}");
    }
}
