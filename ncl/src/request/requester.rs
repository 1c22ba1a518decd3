//! The requesting side: [`Publisher::request`] and its variants.

use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::{HeaderMap, HeaderName, HeaderValue};
use tracing::Instrument;

use super::{DEFAULT_REQUEST_TIMEOUT, ErrorResponse, Request, RequestError, ResponseDecodeError};
use crate::metadata::keys;
use crate::telemetry;
use crate::{
    EnvelopeSerializer, JSON_ENCODING, Message, Metadata, Payload, PublishError, Publisher,
};

impl Publisher {
    /// Sends `request` and waits up to [`DEFAULT_REQUEST_TIMEOUT`] (30 s) for its
    /// response.
    ///
    /// The request is stamped and encoded as [`Publisher::publish`] does and goes to the
    /// publisher's destination. The response type is `R::Response`.
    ///
    /// # Errors
    ///
    /// See [`Publisher::request_with_metadata`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future may or may not send the request; a response that arrives
    /// later is discarded.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ncl::{NclPayload, Publisher, Request, RequestError};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize, NclPayload)]
    /// struct GetNode {
    ///     node_id: String,
    /// }
    ///
    /// #[derive(Serialize, Deserialize, NclPayload)]
    /// struct NodeInfo {
    ///     healthy: bool,
    /// }
    ///
    /// impl Request for GetNode {
    ///     type Response = NodeInfo;
    /// }
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
    /// let publisher = Publisher::builder(client)
    ///     .name("cli")
    ///     .destination("nodes.requests")
    ///     .build()?;
    /// match publisher.request(&GetNode { node_id: "n-1".into() }).await {
    ///     Ok(info) => println!("healthy: {}", info.payload.healthy),
    ///     Err(RequestError::Remote { code, message, .. }) => println!("{code}: {message}"),
    ///     Err(RequestError::NoResponders { .. }) => println!("no node service is running"),
    ///     Err(error) => return Err(error.into()),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn request<R: Request>(
        &self,
        request: &R,
    ) -> Result<Message<R::Response>, RequestError> {
        self.request_with_timeout(request, DEFAULT_REQUEST_TIMEOUT)
            .await
    }

    /// Sends `request` and waits up to `timeout` for its response.
    ///
    /// # Errors
    ///
    /// See [`Publisher::request_with_metadata`].
    ///
    /// # Cancel safety
    ///
    /// As [`Publisher::request`].
    pub async fn request_with_timeout<R: Request>(
        &self,
        request: &R,
        timeout: Duration,
    ) -> Result<Message<R::Response>, RequestError> {
        self.request_with_metadata(Metadata::with_capacity(6, 160), request, timeout)
            .await
    }

    /// Sends `request` with `metadata`, adding the keys the publisher stamps, and waits up
    /// to `timeout` for its response.
    ///
    /// The request's `MessageID` is also sent as a NATS header, because the Go NCL's
    /// responder reads it from there. The Go requester copies the whole metadata into
    /// headers; NCL sends only the one header a responder reads, which makes a round trip
    /// cheaper (see BENCHMARKS.md).
    ///
    /// # Errors
    ///
    /// - [`RequestError::Publish`] when nothing was sent: invalid subject, payload that
    ///   does not serialize, envelope over `max_payload`, closed publisher.
    /// - [`RequestError::NoResponders`] at once when nothing listens on the subject.
    /// - [`RequestError::Timeout`] when no response arrived in time.
    /// - [`RequestError::Remote`] when the responder replied with an [`ErrorResponse`].
    /// - [`RequestError::Decode`] when the response is not an envelope of
    ///   `R::Response` carrying the request's `MessageID`.
    /// - [`RequestError::Nats`] when the client fails.
    ///
    /// # Cancel safety
    ///
    /// As [`Publisher::request`].
    pub async fn request_with_metadata<R: Request>(
        &self,
        metadata: Metadata,
        request: &R,
        timeout: Duration,
    ) -> Result<Message<R::Response>, RequestError> {
        let span = telemetry::request_span(self.name(), R::NAME);
        let started = self.metrics().requests().start();
        let requesting = self.request_in_span(metadata, request, timeout);
        let result = requesting.instrument(span).await;
        self.metrics().requests().record::<R, _>(started, &result);
        result
    }

    /// Sends a request and awaits its response, as [`Publisher::request_with_metadata`]
    /// does, inside its span.
    async fn request_in_span<R: Request>(
        &self,
        mut metadata: Metadata,
        request: &R,
        timeout: Duration,
    ) -> Result<Message<R::Response>, RequestError> {
        let subject = self.subject_for(R::NAME).map_err(PublishError::from)?;
        let envelope = self.encode(&mut metadata, request)?;
        if self.is_closed() {
            return Err(PublishError::Closed.into());
        }
        let client = self.client();
        let limit = client.max_payload();
        if envelope.len() > limit {
            return Err(PublishError::MaxPayloadExceeded {
                subject: subject.to_string(),
                size: envelope.len(),
                limit,
            }
            .into());
        }
        // The encoder always sets a MessageID.
        let request_id = metadata.message_id().unwrap_or_default();
        tracing::trace!(
            subject = %subject,
            message_id = %request_id,
            message_type = R::NAME,
            publisher = %self.name(),
            "sending request"
        );

        let nats_request = async_nats::Request::new()
            .payload(envelope)
            .headers(headers_from(&metadata))
            // The outer timeout bounds the whole exchange, including a send that waits for
            // room in the client's buffer while it reconnects.
            .timeout(None);
        let sent =
            tokio::time::timeout(timeout, client.send_request(subject.clone(), nats_request));
        let result = match sent.await {
            Err(_elapsed) => Err(RequestError::Timeout {
                subject: subject.to_string(),
                timeout,
            }),
            Ok(Err(error)) => Err(request_error(subject.as_str(), error)),
            Ok(Ok(response)) => decode_response::<R::Response>(request_id, &response)
                .map_err(|error| error.into_request_error(subject.as_str())),
        };
        if let Err(error) = &result {
            tracing::debug!(
                subject = %subject,
                message_id = %request_id,
                message_type = R::NAME,
                error = %error,
                "request failed"
            );
        }
        result
    }
}

/// Returns the NATS headers of a request: its `MessageID`, unless the ID is not valid
/// header text.
fn headers_from(metadata: &Metadata) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(Ok(id)) = metadata.message_id().map(str::parse::<HeaderValue>) {
        headers.insert(HeaderName::from_static(keys::MESSAGE_ID), id);
    }
    headers
}

/// Maps the client's error to a request error.
fn request_error(subject: &str, error: async_nats::RequestError) -> RequestError {
    let subject = subject.to_owned();
    match error.kind() {
        RequestErrorKind::NoResponders => RequestError::NoResponders { subject },
        // Unreachable with the outer timeout, kept for completeness.
        RequestErrorKind::TimedOut => RequestError::Timeout {
            subject,
            timeout: Duration::ZERO,
        },
        _ => RequestError::Nats {
            subject,
            source: error,
        },
    }
}

/// The reason a response was not returned as `Message<T>`.
enum ResponseFailure {
    Remote(Box<ErrorResponse>),
    Invalid {
        expected: &'static str,
        source: ResponseDecodeError,
    },
}

impl ResponseFailure {
    fn into_request_error(self, subject: &str) -> RequestError {
        let subject = subject.to_owned();
        match self {
            Self::Remote(error) => {
                let ErrorResponse {
                    status_code,
                    code,
                    message,
                    ..
                } = *error;
                RequestError::Remote {
                    subject,
                    status_code,
                    code,
                    message,
                }
            }
            Self::Invalid { expected, source } => RequestError::Decode {
                subject,
                expected,
                source,
            },
        }
    }
}

/// Decodes a response to the request with `MessageID` `request_id` as a `T` or an
/// [`ErrorResponse`].
fn decode_response<T: Payload>(
    request_id: &str,
    response: &async_nats::Message,
) -> Result<Message<T>, ResponseFailure> {
    let invalid = |source: ResponseDecodeError| ResponseFailure::Invalid {
        expected: T::NAME,
        source,
    };
    // Any serializer decodes every envelope version.
    let raw = EnvelopeSerializer::default()
        .deserialize_bytes(&response.payload)
        .map_err(|error| invalid(error.into()))?;
    let metadata = &raw.metadata;
    if metadata.message_id() != Some(request_id) {
        return Err(invalid(ResponseDecodeError::MessageIdMismatch {
            request: request_id.to_owned(),
            response: metadata.message_id().map(str::to_owned),
        }));
    }
    let encoding = metadata.payload_encoding().unwrap_or_default();
    if encoding != JSON_ENCODING {
        return Err(invalid(ResponseDecodeError::UnsupportedEncoding {
            encoding: encoding.to_owned(),
        }));
    }
    match metadata.message_type() {
        Some(ErrorResponse::NAME) => {
            let error = decode_error_response(metadata, &raw.payload)
                .map_err(|error| invalid(ResponseDecodeError::InvalidErrorPayload(error)))?;
            Err(ResponseFailure::Remote(Box::new(error)))
        }
        Some(name) if name == T::NAME => {
            let payload = serde_json::from_slice::<T>(&raw.payload)
                .map_err(|error| invalid(ResponseDecodeError::InvalidPayload(error)))?;
            Ok(Message::new(raw.metadata, payload))
        }
        found => Err(invalid(ResponseDecodeError::UnexpectedType {
            found: found.map(str::to_owned),
        })),
    }
}

/// Decodes an error response. The status and error code metadata keys take precedence
/// over the payload's fields, because the Go NCL reads them from the metadata.
fn decode_error_response(
    metadata: &Metadata,
    payload: &[u8],
) -> Result<ErrorResponse, serde_json::Error> {
    let mut error: ErrorResponse = serde_json::from_slice(payload)?;
    if let Some(Ok(status)) = metadata
        .get(super::keys::STATUS_CODE)
        .map(str::parse::<u16>)
    {
        error.status_code = status;
    }
    if let Some(code) = metadata.get(super::keys::ERROR_CODE)
        && !code.is_empty()
    {
        code.clone_into(&mut error.code);
    }
    Ok(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RawMessage;
    use crate::metadata::keys;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Pong {
        seq: u64,
    }

    impl Payload for Pong {
        const NAME: &'static str = "Pong";
    }

    fn response(metadata: &[(&str, &str)], payload: &str) -> async_nats::Message {
        let metadata: Metadata = metadata.iter().copied().collect();
        let raw = RawMessage::new(metadata, payload.as_bytes().to_vec());
        let envelope = EnvelopeSerializer::default().serialize(&raw).unwrap();
        async_nats::Message {
            subject: "_INBOX.x".into(),
            reply: None,
            payload: envelope,
            headers: None,
            status: None,
            description: None,
            length: 0,
        }
    }

    fn base(id: &str, message_type: &str) -> Vec<(&'static str, String)> {
        vec![
            (keys::MESSAGE_ID, id.to_owned()),
            (keys::TYPE, message_type.to_owned()),
            (keys::PAYLOAD_ENCODING, "json".to_owned()),
        ]
    }

    fn build(entries: &[(&'static str, String)], payload: &str) -> async_nats::Message {
        let borrowed: Vec<(&str, &str)> = entries.iter().map(|(k, v)| (*k, v.as_str())).collect();
        response(&borrowed, payload)
    }

    #[test]
    fn matching_response_decodes() {
        let message = build(&base("r-1", "Pong"), r#"{"seq":7}"#);
        let Ok(decoded) = decode_response::<Pong>("r-1", &message) else {
            panic!("response should decode");
        };
        assert_eq!(decoded.payload, Pong { seq: 7 });
    }

    #[test]
    fn other_message_id_is_rejected() {
        let message = build(&base("r-2", "Pong"), r#"{"seq":7}"#);
        let result = decode_response::<Pong>("r-1", &message);
        assert!(matches!(
            result,
            Err(ResponseFailure::Invalid {
                source: ResponseDecodeError::MessageIdMismatch { .. },
                ..
            })
        ));
    }

    #[test]
    fn error_response_reads_metadata_codes() {
        let mut entries = base("r-1", "BacError");
        entries.push((super::super::keys::STATUS_CODE, "409".to_owned()));
        entries.push((super::super::keys::ERROR_CODE, "ResourceInUse".to_owned()));
        let message = build(
            &entries,
            r#"{"Cause":"busy","HTTPStatusCode":500,"Code":""}"#,
        );
        let Err(ResponseFailure::Remote(error)) = decode_response::<Pong>("r-1", &message) else {
            panic!("response should be a remote error");
        };
        assert_eq!(error.status_code, 409);
        assert_eq!(error.code, "ResourceInUse");
        assert_eq!(error.message, "busy");
    }

    #[test]
    fn wrong_type_and_bad_payload_are_rejected() {
        let message = build(&base("r-1", "Ping"), r#"{"seq":7}"#);
        assert!(matches!(
            decode_response::<Pong>("r-1", &message),
            Err(ResponseFailure::Invalid {
                source: ResponseDecodeError::UnexpectedType { .. },
                ..
            })
        ));
        let message = build(&base("r-1", "Pong"), r#"{"seq":"seven"}"#);
        assert!(matches!(
            decode_response::<Pong>("r-1", &message),
            Err(ResponseFailure::Invalid {
                source: ResponseDecodeError::InvalidPayload(_),
                ..
            })
        ));
    }

    #[test]
    fn headers_carry_only_message_id() {
        let metadata: Metadata = [("MessageID", "m-1"), ("Type", "Ping"), ("Note", "x")]
            .into_iter()
            .collect();
        let headers = headers_from(&metadata);
        assert_eq!(
            headers.get("MessageID").map(HeaderValue::as_str),
            Some("m-1")
        );
        assert_eq!(headers.len(), 1);
    }

    #[test]
    fn invalid_message_id_is_left_out() {
        let metadata: Metadata = [("MessageID", "a\nb")].into_iter().collect();
        assert!(headers_from(&metadata).is_empty());
    }
}
