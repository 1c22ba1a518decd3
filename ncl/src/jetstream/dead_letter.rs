//! Dead letters: messages that failed for good, forwarded with the reason attached.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;

use crate::subscriber::stats::Failure;
use crate::{EnvelopeSerializer, EnvelopeVersion};

/// Keys added to a dead letter.
///
/// They are set as NATS headers on every dead letter. When the original envelope
/// decoded, they are also added to the envelope's metadata, which keeps the original
/// keys (`MessageID`, `Type`, …) and payload. When it did not, the original bytes are
/// forwarded unchanged, and only the headers describe them.
pub mod keys {
    /// Why the message failed: the error text of its last delivery, at most 1,024 bytes.
    pub const ERROR: &str = "DeadLetter-Error";
    /// The step that failed: `envelope`, `payload`, `handler`, `panic`, `timeout` or
    /// `checkpoint`.
    pub const STAGE: &str = "DeadLetter-Stage";
    /// How many times the message was delivered, in decimal.
    pub const DELIVERIES: &str = "DeadLetter-Deliveries";
    /// The subject the message was published to.
    pub const SUBJECT: &str = "DeadLetter-Subject";
    /// The stream the message was stored in.
    pub const STREAM: &str = "DeadLetter-Stream";
    /// The message's sequence in that stream, in decimal.
    pub const STREAM_SEQUENCE: &str = "DeadLetter-StreamSequence";
    /// The durable consumer that gave up on the message.
    pub const CONSUMER: &str = "DeadLetter-Consumer";
}

/// Maximum length of the error text carried, in bytes, so that a long error cannot push
/// the dead letter over the server's `max_payload`.
const MAX_ERROR_LEN: usize = 1024;

/// The destination of dead letters.
#[derive(Clone, Debug)]
pub(super) enum Target {
    /// A stream stores the subject: publish through JetStream and wait for its ack.
    Stream { subject: String, stream: String },
    /// No stream stores the subject: publish on core NATS and flush.
    Core { subject: String },
}

impl Target {
    pub(super) fn subject(&self) -> &str {
        match self {
            Self::Stream { subject, .. } | Self::Core { subject } => subject,
        }
    }

    /// Returns the stream that stores dead letters, if any.
    pub(super) fn stream(&self) -> Option<&str> {
        match self {
            Self::Stream { stream, .. } => Some(stream),
            Self::Core { .. } => None,
        }
    }
}

/// The delivery a dead letter is made from.
pub(super) struct Origin<'a> {
    pub(super) subject: &'a str,
    pub(super) stream: &'a str,
    pub(super) consumer: &'a str,
    pub(super) stream_sequence: u64,
    pub(super) deliveries: i64,
}

/// A dead letter ready to publish.
pub(super) struct DeadLetter {
    pub(super) payload: Bytes,
    pub(super) headers: HeaderMap,
    /// `MessageID` and `Type` of the original, when its envelope decoded.
    pub(super) message_id: Option<String>,
    pub(super) message_type: Option<String>,
}

impl DeadLetter {
    /// Builds the dead letter of `original` (the envelope bytes as delivered).
    ///
    /// The envelope is decoded again and re-encoded, in its own version, with the
    /// [`keys`] added to its metadata. When it does not decode, or the re-encoding
    /// fails, the original bytes are kept.
    pub(super) fn new(original: &Bytes, origin: &Origin<'_>, stage: Failure, error: &str) -> Self {
        let error = truncate(error, MAX_ERROR_LEN);
        let entries = [
            (keys::ERROR, error.to_owned()),
            (keys::STAGE, stage_name(stage).to_owned()),
            (keys::DELIVERIES, origin.deliveries.to_string()),
            (keys::SUBJECT, origin.subject.to_owned()),
            (keys::STREAM, origin.stream.to_owned()),
            (keys::STREAM_SEQUENCE, origin.stream_sequence.to_string()),
            (keys::CONSUMER, origin.consumer.to_owned()),
        ];
        let mut headers = HeaderMap::new();
        for (key, value) in &entries {
            // Header values cannot contain line breaks, so the client replaces them.
            headers.insert(*key, value.clone());
        }
        let mut dead_letter = Self {
            payload: original.clone(),
            headers,
            message_id: None,
            message_type: None,
        };
        let Ok(mut raw) = EnvelopeSerializer::default().deserialize_bytes(original) else {
            return dead_letter;
        };
        dead_letter.message_id = raw.metadata.message_id().map(str::to_owned);
        dead_letter.message_type = raw.metadata.message_type().map(str::to_owned);
        for (key, value) in &entries {
            raw.metadata.insert(key, value);
        }
        let version = original
            .first()
            .and_then(|byte| EnvelopeVersion::from_byte(*byte))
            .unwrap_or_default();
        match EnvelopeSerializer::new(version).serialize(&raw) {
            Ok(payload) => dead_letter.payload = payload,
            Err(error) => tracing::debug!(
                error = %error,
                "failed to re-encode the dead letter's envelope; forwarding the original bytes"
            ),
        }
        dead_letter
    }

    /// Returns the JetStream publish of this dead letter, deduplicated per stream
    /// sequence, so that a dead letter published again after a crash is stored once.
    pub(super) fn to_publish(&self, origin: &Origin<'_>) -> PublishMessage {
        let id = format!(
            "dead-letter:{}:{}:{}",
            origin.stream, origin.consumer, origin.stream_sequence
        );
        PublishMessage::build()
            .payload(self.payload.clone())
            .headers(self.headers.clone())
            .message_id(id)
    }
}

/// Publishes `dead_letter` to `target`, waiting for the stream's ack or for the flush.
pub(super) async fn publish(
    js: &async_nats::jetstream::Context,
    target: &Target,
    dead_letter: &DeadLetter,
    origin: &Origin<'_>,
    timeout: Duration,
) -> Result<(), crate::BoxError> {
    match target {
        Target::Stream { subject, .. } => {
            let ack = js
                .send_publish(subject.clone(), dead_letter.to_publish(origin))
                .await?;
            ack.await?;
            Ok(())
        }
        Target::Core { subject } => {
            let client = js.client();
            client
                .publish_with_headers(
                    subject.clone(),
                    dead_letter.headers.clone(),
                    dead_letter.payload.clone(),
                )
                .await?;
            tokio::time::timeout(timeout, client.flush())
                .await
                .map_err(|_| format!("flush of the dead letter timed out after {timeout:?}"))??;
            Ok(())
        }
    }
}

/// Returns the [`keys::STAGE`] value of `stage`.
fn stage_name(stage: Failure) -> &'static str {
    match stage {
        Failure::Envelope => "envelope",
        Failure::Payload => "payload",
        Failure::Handler => "handler",
        Failure::Panic => "panic",
        Failure::Timeout => "timeout",
        Failure::Checkpoint => "checkpoint",
    }
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Metadata, RawMessage};

    fn origin() -> Origin<'static> {
        Origin {
            subject: "orders.created",
            stream: "ORDERS",
            consumer: "billing",
            stream_sequence: 17,
            deliveries: 5,
        }
    }

    #[test]
    fn decodable_envelope_gets_metadata() {
        let mut metadata = Metadata::new();
        metadata.insert("MessageID", "m-1");
        metadata.insert("Type", "Order");
        let envelope = EnvelopeSerializer::new(EnvelopeVersion::ProtobufV1)
            .serialize(&RawMessage::new(metadata, &b"{\"id\":1}"[..]))
            .unwrap();

        let dead_letter = DeadLetter::new(&envelope, &origin(), Failure::Handler, "boom");

        assert_eq!(dead_letter.payload[0], EnvelopeVersion::ProtobufV1.byte());
        let raw = EnvelopeSerializer::default()
            .deserialize_bytes(&dead_letter.payload)
            .unwrap();
        assert_eq!(raw.metadata.get("MessageID"), Some("m-1"));
        assert_eq!(raw.metadata.get(keys::ERROR), Some("boom"));
        assert_eq!(raw.metadata.get(keys::DELIVERIES), Some("5"));
        assert_eq!(raw.metadata.get(keys::SUBJECT), Some("orders.created"));
        assert_eq!(raw.metadata.get(keys::STAGE), Some("handler"));
        assert_eq!(&raw.payload[..], b"{\"id\":1}");
        assert_eq!(dead_letter.message_id.as_deref(), Some("m-1"));
    }

    #[test]
    fn broken_envelope_is_forwarded_unchanged() {
        let original = Bytes::from_static(b"\x09not an envelope");
        let dead_letter = DeadLetter::new(&original, &origin(), Failure::Envelope, "bad\r\nCRC");
        assert_eq!(dead_letter.payload, original);
        let error = dead_letter.headers.get(keys::ERROR).unwrap().as_str();
        assert!(!error.contains(['\r', '\n']), "{error:?}");
        let stage = dead_letter.headers.get(keys::STAGE).unwrap().as_str();
        assert_eq!(stage, "envelope");
        assert_eq!(dead_letter.message_id, None);
    }

    #[test]
    fn long_error_is_truncated_at_char_boundary() {
        let text = "é".repeat(MAX_ERROR_LEN);
        let cut = truncate(&text, MAX_ERROR_LEN + 1);
        assert_eq!(cut.len(), MAX_ERROR_LEN);
    }
}
