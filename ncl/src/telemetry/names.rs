//! Names of the metrics ncl records, of their labels, and of the label values.
//!
//! Every label takes its values from a bounded set: publisher, subscriber and responder
//! names chosen by the application, the wire names of registered payload types (any other
//! type is recorded as [`UNKNOWN_TYPE`]), and the constants below. Message ids and
//! subjects are never label values.

/// Messages a publisher handled, by outcome: [`outcome::PUBLISHED`] or the kind of
/// error. Counter; labels `instance`, `type`, `outcome`.
pub const PUBLISHED_MESSAGES: &str = "ncl_published_messages_total";
/// Envelope bytes a publisher handed to the NATS client. Counter in bytes; labels
/// `instance`, `type`.
pub const PUBLISHED_BYTES: &str = "ncl_published_bytes_total";
/// Time from the publish call until the NATS client took the message (stamping,
/// serializing and sending), for published messages only. A JetStream publisher's
/// acknowledgement is timed apart, in [`JETSTREAM_ACK_DURATION`]. Histogram in seconds;
/// labels `instance`, `type`.
pub const PUBLISH_DURATION: &str = "ncl_publish_duration_seconds";

/// Messages a subscriber received, by what became of them: [`outcome::PROCESSED`],
/// [`outcome::FILTERED`] or the step that failed. A JetStream subscriber counts each
/// delivery. Counter; labels `instance`, `type`, `outcome`.
pub const RECEIVED_MESSAGES: &str = "ncl_received_messages_total";
/// Processed messages that no handler wanted (every `should_process` returned `false`);
/// they are also counted as processed. Counter; labels `instance`, `type`.
pub const UNHANDLED_MESSAGES: &str = "ncl_unhandled_messages_total";
/// Time a message spent in one step of the subscriber, see [`stage`]. Histogram in
/// seconds; labels `instance`, `type`, `stage`.
pub const PROCESSING_DURATION: &str = "ncl_processing_duration_seconds";
/// Time from the message's `EventTime` until the subscriber finished processing it,
/// for processed messages only. Messages whose `EventTime` is missing, invalid or ahead
/// of the local clock are left out. Histogram in seconds; labels `instance`, `type`.
pub const END_TO_END_LATENCY: &str = "ncl_end_to_end_latency_seconds";
/// Messages a subscriber is processing now, from envelope decode to the end of the
/// checkpoint. Gauge; label `instance`.
pub const MESSAGES_IN_FLIGHT: &str = "ncl_messages_in_flight";
/// Messages a subscriber dropped without processing because its pending queue was full
/// (a slow consumer). Counter; label `instance`.
pub const DROPPED_MESSAGES: &str = "ncl_dropped_messages_total";

/// Acknowledgements a JetStream subscriber sent, by [`ack_kind`]. Counter; labels
/// `instance` (the durable consumer name), `kind`.
pub const JETSTREAM_ACKS: &str = "ncl_jetstream_acks_total";
/// Acknowledgements a JetStream subscriber failed to send, by [`ack_kind`]. Counter;
/// labels `instance`, `kind`.
pub const JETSTREAM_ACK_ERRORS: &str = "ncl_jetstream_ack_errors_total";
/// Deliveries whose server-side delivery count is above 1. Counter; label `instance`.
pub const JETSTREAM_REDELIVERIES: &str = "ncl_jetstream_redeliveries_total";
/// Deliveries acknowledged without processing because their stream sequence was at or
/// below the last checkpoint. Counter; label `instance`.
pub const JETSTREAM_SKIPPED: &str = "ncl_jetstream_skipped_messages_total";
/// Messages published to the dead-letter subject, by the step that failed last.
/// Counter; labels `instance`, `outcome`.
pub const JETSTREAM_DEAD_LETTERS: &str = "ncl_jetstream_dead_letters_total";
/// Dead-letter publishes that failed; the message is delivered again. Counter; label
/// `instance`.
pub const JETSTREAM_DEAD_LETTER_ERRORS: &str = "ncl_jetstream_dead_letter_errors_total";
/// Stream acknowledgements a JetStream publisher received or gave up on, by
/// [`ack_outcome`]. Counter; labels `instance`, `type`, `outcome`.
pub const JETSTREAM_PUBLISH_ACKS: &str = "ncl_jetstream_publish_acks_total";
/// Messages a JetStream publisher sent whose stream acknowledgement is still awaited.
/// Gauge; label `instance`.
pub const JETSTREAM_PENDING_ACKS: &str = "ncl_jetstream_pending_acks";
/// Time from sending a message to the stream's acknowledgement, for acknowledged
/// messages only. Histogram in seconds; labels `instance`, `type`.
pub const JETSTREAM_ACK_DURATION: &str = "ncl_jetstream_publish_ack_duration_seconds";

/// Requests a publisher sent, by [`outcome::RESPONDED`] or the kind of failure.
/// Counter; labels `instance`, `type` (of the request), `outcome`.
pub const REQUESTS: &str = "ncl_requests_total";
/// Time from the request call until its response decoded, for answered requests only.
/// Histogram in seconds; labels `instance`, `type`.
pub const REQUEST_DURATION: &str = "ncl_request_duration_seconds";
/// Requests a responder received: messages with a reply subject. Once handled, each is
/// also counted in [`RESPONDER_RESPONSES`] or [`RESPONDER_SEND_ERRORS`]. A request whose
/// handler [`Responder::close`](crate::Responder::close) cancels is counted here only.
/// Counter; labels `instance` (the responder's name), `type` (of the request).
pub const RESPONDER_REQUESTS: &str = "ncl_responder_requests_total";
/// Responses a responder handed to the NATS client, by [`outcome::RESPONDED`] or the
/// failure its error response reports. Counter; labels `instance`, `type` (of the
/// request), `outcome`.
pub const RESPONDER_RESPONSES: &str = "ncl_responder_responses_total";
/// Responses a responder failed to send, because not even an error response encoded or
/// the NATS client failed or timed out. Their requesters time out. Counter; label
/// `instance`.
pub const RESPONDER_SEND_ERRORS: &str = "ncl_responder_send_errors_total";
/// Time a responder's handler ran on one request, whatever its result (timed out and
/// panicked calls included). Histogram in seconds; labels `instance`, `type`.
pub const RESPONDER_HANDLER_DURATION: &str = "ncl_responder_handler_duration_seconds";
/// Queued messages of an acknowledged publisher, counted when resolved, by
/// [`outcome::ACKED`] or the kind of failure. Errors that `publish_async` returns at once
/// are not counted. Counter; labels `instance`, `outcome`.
pub const ACKED_PUBLISHES: &str = "ncl_acked_publishes_total";
/// Negative acknowledgements after which an acknowledged publisher sends the message
/// again. Counter; label `instance`.
pub const ACKED_RETRIES: &str = "ncl_acked_retries_total";
/// Messages of an acknowledged publisher not resolved yet: queued, awaiting their
/// acknowledgement or waiting for a retry. Gauge; label `instance`.
pub const ACKED_PENDING: &str = "ncl_acked_pending_messages";

/// Label keys.
pub mod label {
    /// Name of the publisher, subscriber or responder: the publisher's `name`, the
    /// subscriber's `name` (default `"subscriber"`), a JetStream subscriber's durable
    /// name, or the responder's `name`.
    pub const INSTANCE: &str = "instance";
    /// Wire name of a registered payload type, or [`UNKNOWN_TYPE`](super::UNKNOWN_TYPE).
    pub const TYPE: &str = "type";
    /// Outcome of a message; see [`outcome`](super::outcome) and
    /// [`ack_outcome`](super::ack_outcome).
    pub const OUTCOME: &str = "outcome";
    /// Step of the subscriber; see [`stage`](super::stage).
    pub const STAGE: &str = "stage";
    /// Kind of a JetStream acknowledgement; see [`ack_kind`](super::ack_kind).
    pub const KIND: &str = "kind";
}

/// The `type` label of a message whose type is missing or not registered.
pub const UNKNOWN_TYPE: &str = "unknown";

/// Values of the `outcome` label of published and received messages.
pub mod outcome {
    /// The NATS client took the message.
    pub const PUBLISHED: &str = "published";
    /// Every interested handler succeeded and the checkpoint was recorded.
    pub const PROCESSED: &str = "processed";
    /// The subscriber's filter dropped the message.
    pub const FILTERED: &str = "filtered";
    /// The envelope did not decode (too short, unknown version, bad CRC, bad body).
    pub const ENVELOPE_ERROR: &str = "envelope_error";
    /// The payload did not decode (unknown type or encoding, invalid JSON).
    pub const PAYLOAD_ERROR: &str = "payload_error";
    /// A handler returned an error.
    pub const HANDLER_ERROR: &str = "handler_error";
    /// A handler, its `should_process` or the filter panicked. For a responder: the
    /// request handler or its `handles` panicked.
    pub const PANIC: &str = "panic";
    /// A handler ran past the handler timeout and was cancelled. When publishing: the
    /// NATS client did not take the message within the publish timeout. For a request
    /// or an acknowledged publish: no response or acknowledgement arrived in time.
    pub const TIMEOUT: &str = "timeout";
    /// The checkpoint failed after the handlers succeeded.
    pub const CHECKPOINT_ERROR: &str = "checkpoint_error";
    /// Publishing: the destination subject is invalid.
    pub const INVALID_SUBJECT: &str = "invalid_subject";
    /// Publishing, or a responder's response: the payload did not serialize or its type
    /// is not registered.
    pub const SERIALIZE_ERROR: &str = "serialize_error";
    /// Publishing, or a responder's response: the envelope is larger than the server's
    /// `max_payload`.
    pub const MAX_PAYLOAD_EXCEEDED: &str = "max_payload_exceeded";
    /// Publishing: the publisher was closed (for an acknowledged publish, also before
    /// the acknowledgement arrived).
    pub const CLOSED: &str = "closed";
    /// Publishing: the NATS client failed.
    pub const NATS_ERROR: &str = "nats_error";
    /// Request: the response arrived and decoded. Responder: the handler's response
    /// was sent.
    pub const RESPONDED: &str = "responded";
    /// Responder: no handler takes the request's type.
    pub const NOT_FOUND: &str = "not_found";
    /// Request: the responder replied with an error response.
    pub const REMOTE_ERROR: &str = "remote_error";
    /// Request or acknowledged publish: nothing subscribes to the subject.
    pub const NO_RESPONDERS: &str = "no_responders";
    /// Request: the response is not a valid response of the expected type.
    pub const DECODE_ERROR: &str = "decode_error";
    /// Request or acknowledged publish: the message could not be encoded or sent, or
    /// too many acknowledged messages were pending.
    pub const PUBLISH_ERROR: &str = "publish_error";
    /// Acknowledged publish: the subscriber acknowledged the message.
    pub const ACKED: &str = "acked";
    /// Acknowledged publish: the subscriber rejected the message and it is not retried.
    pub const NACKED: &str = "nacked";
    /// Acknowledged publish: the reply is not a valid acknowledgement.
    pub const INVALID_ACK: &str = "invalid_ack";
    /// Acknowledged publish: the publisher was reset before the acknowledgement.
    pub const RESET: &str = "reset";
}

/// Values of the `stage` label of [`PROCESSING_DURATION`].
pub mod stage {
    /// Envelope decode, filter and payload decode, for messages that reached the
    /// handlers.
    pub const DECODE: &str = "decode";
    /// Every handler of the subscriber on one message, `should_process` included.
    pub const HANDLER: &str = "handler";
    /// The checkpoint, for messages whose handlers all succeeded.
    pub const CHECKPOINT: &str = "checkpoint";
    /// The whole pipeline, for every message whatever its outcome.
    pub const TOTAL: &str = "total";
}

/// Values of the `kind` label of JetStream acknowledgements.
pub mod ack_kind {
    /// Positive acknowledgement (`+ACK` or `+NXT`): processed, filtered, skipped or
    /// dead-lettered.
    pub const ACK: &str = "ack";
    /// Negative acknowledgement: the server delivers the message again after a delay.
    pub const NAK: &str = "nak";
    /// Work in progress: the handler is still running, which resets the ack wait.
    pub const PROGRESS: &str = "progress";
    /// Termination: the server never delivers the message again.
    pub const TERM: &str = "term";
}

/// Values of the `outcome` label of [`JETSTREAM_PUBLISH_ACKS`].
pub mod ack_outcome {
    /// The stream stored the message.
    pub const STORED: &str = "stored";
    /// The stream already held a message with the same `MessageID` and kept that one.
    pub const DUPLICATE: &str = "duplicate";
    /// No acknowledgement arrived within the publish timeout; the message may be stored.
    pub const TIMEOUT: &str = "timeout";
    /// No stream stores the subject.
    pub const STREAM_NOT_FOUND: &str = "stream_not_found";
    /// The stream rejected the message or the client failed.
    pub const ERROR: &str = "error";
}
