//! Errors of the JetStream layer: building, starting, publishing and checkpointing.

use std::path::PathBuf;
use std::time::Duration;

use crate::SubjectError;

/// Error returned when a JetStream subscriber cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A setting shared with the core subscriber is missing or invalid.
    #[error(transparent)]
    Core(#[from] crate::BuildError),
    /// No stream name was set.
    #[error("no stream set; call .stream(name) on the builder")]
    MissingStream,
    /// No durable consumer name was set.
    #[error("no durable consumer name set; call .durable_name(name) on the builder")]
    MissingDurableName,
    /// A stream or consumer name contains a character JetStream does not allow.
    #[error(
        "invalid {kind} name {name:?}: it must be non-empty and contain no whitespace, \
         '.', '*', '>', '/' or '\\'"
    )]
    InvalidName {
        /// `"stream"` or `"durable consumer"`.
        kind: &'static str,
        /// The rejected name.
        name: String,
    },
    /// No subject was given for the stream.
    #[error("no stream subjects set; call .subjects([...]) with the subjects the stream stores")]
    NoSubjects,
    /// A stream subject or the dead-letter subject is invalid.
    #[error("invalid subject: {0}")]
    InvalidSubject(#[from] SubjectError),
    /// The dead-letter subject is one of the stream's subjects, so the stream would store
    /// its own dead letters and deliver them again.
    #[error(
        "dead-letter subject {dead_letter_subject:?} matches the stream subject \
         {stream_subject:?}; set .dead_letter_subject(...) to a subject outside the stream"
    )]
    DeadLetterCaptured {
        /// The dead-letter subject.
        dead_letter_subject: String,
        /// The stream subject that matches it.
        stream_subject: String,
    },
    /// The backoff's factor is below 1 or not a number, or its initial delay exceeds
    /// its maximum.
    #[error(
        "invalid backoff {initial:?} × {factor} up to {max:?}: the factor must be a finite \
         number of at least 1 and the initial delay at most the maximum"
    )]
    InvalidBackoff {
        /// The initial delay.
        initial: Duration,
        /// The factor.
        factor: f64,
        /// The maximum delay.
        max: Duration,
    },
}

/// Error returned by [`Subscriber::start`](super::Subscriber::start).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// [`Subscriber::start`](super::Subscriber::start) already succeeded once.
    #[error("subscriber is already started")]
    AlreadyStarted,
    /// The subscriber was closed.
    #[error("subscriber is closed")]
    Closed,
    /// The stream could not be found or created.
    #[error(
        "failed to get or create stream {stream:?}: {source}; is JetStream enabled on the server?"
    )]
    Stream {
        /// The stream name.
        stream: String,
        /// The client's error.
        #[source]
        source: async_nats::jetstream::context::CreateStreamError,
    },
    /// The existing stream stores the dead-letter subject.
    #[error(
        "dead-letter subject {dead_letter_subject:?} matches subject {stream_subject:?} of \
         stream {stream:?}, so the stream would store its own dead letters; set \
         .dead_letter_subject(...) to a subject outside the stream"
    )]
    DeadLetterCaptured {
        /// The stream name.
        stream: String,
        /// The dead-letter subject.
        dead_letter_subject: String,
        /// The stream subject that matches it.
        stream_subject: String,
    },
    /// Looking up which stream stores the dead-letter subject failed.
    #[error("failed to look up the stream of dead-letter subject {subject:?}: {source}")]
    DeadLetterLookup {
        /// The dead-letter subject.
        subject: String,
        /// The client's error.
        #[source]
        source: async_nats::jetstream::context::GetStreamByNameError,
    },
    /// The durable consumer could not be created or updated.
    #[error(
        "failed to create or update durable consumer {durable:?} on stream {stream:?}: \
         {source}; if its ack policy differs, delete the consumer or choose another durable name"
    )]
    Consumer {
        /// The stream name.
        stream: String,
        /// The durable consumer name.
        durable: String,
        /// The client's error.
        #[source]
        source: crate::BoxError,
    },
    /// The checkpointer failed to report its last checkpoint.
    #[error("failed to read the last checkpoint: {0}")]
    Checkpoint(#[source] crate::BoxError),
    /// The client failed to subscribe to the inbox that receives pulled messages.
    #[error("failed to subscribe to the pull inbox: {0}")]
    Subscribe(#[source] async_nats::SubscribeError),
}

/// Error returned when a message cannot be published to a stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The publisher was closed, so nothing was sent.
    #[error("publisher is closed")]
    Closed,
    /// The core publisher rejected the message before sending it (invalid subject,
    /// payload or envelope), or failed to flush on close.
    #[error(transparent)]
    Core(crate::PublishError),
    /// The message with its headers is larger than the server accepts, so nothing was
    /// sent.
    #[error(
        "message to {subject:?} is {size} bytes of envelope, over the server's max_payload \
         of {limit} bytes with headers; send a smaller payload or raise max_payload"
    )]
    MaxPayloadExceeded {
        /// Destination subject.
        subject: String,
        /// Envelope size in bytes, headers excluded.
        size: usize,
        /// The server's limit in bytes.
        limit: usize,
    },
    /// No stream stores the subject, so the server did not store the message.
    #[error("no stream stores subject {subject:?}; create a stream whose subjects include it")]
    StreamNotFound {
        /// Destination subject.
        subject: String,
    },
    /// The stream did not acknowledge the message in time. It may or may not be
    /// stored, and publishing it again with the same `MessageID` is safe within the
    /// stream's duplicate window.
    #[error(
        "no publish acknowledgement for message {message_id:?} on {subject:?} within \
         {timeout:?}; the message may be stored, so retry with the same MessageID"
    )]
    AckTimeout {
        /// Destination subject.
        subject: String,
        /// The message's `MessageID`.
        message_id: String,
        /// The publish timeout.
        timeout: Duration,
    },
    /// The client or the stream rejected the message.
    #[error("failed to publish message {message_id:?} to {subject:?}: {source}")]
    Nats {
        /// Destination subject.
        subject: String,
        /// The message's `MessageID`.
        message_id: String,
        /// The client's error.
        #[source]
        source: async_nats::jetstream::context::PublishError,
    },
}

/// Error returned by [`FileCheckpointer`](super::FileCheckpointer) and
/// [`MemoryCheckpointer`](super::MemoryCheckpointer).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The message did not come from a JetStream subscriber, so it has no stream
    /// sequence to record.
    #[error(
        "message {message_id:?} has no stream sequence; stream checkpointers work only with \
         ncl::jetstream::Subscriber"
    )]
    MissingStreamSequence {
        /// The message's `MessageID`, if any.
        message_id: Option<String>,
    },
    /// The stream sequence does not fit the `i64` that checkpoints are stored as.
    #[error("stream sequence {sequence} exceeds the largest checkpoint, i64::MAX")]
    SequenceOutOfRange {
        /// The sequence.
        sequence: u64,
    },
    /// The checkpoint file could not be read, or its directory does not exist.
    #[error("failed to read checkpoint file {path:?}: {source}")]
    Read {
        /// The checkpoint file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint file could not be written, synced or renamed into place.
    #[error("failed to write checkpoint file {path:?}: {source}")]
    Write {
        /// The checkpoint file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint file contains something other than a decimal sequence.
    #[error(
        "checkpoint file {path:?} contains {content:?}, not a decimal stream sequence; \
         fix or delete the file (deleting it makes the subscriber handle the whole stream \
         again)"
    )]
    Corrupt {
        /// The checkpoint file.
        path: PathBuf,
        /// The first bytes of the file, lossily decoded.
        content: String,
    },
    /// The thread that reads and writes the checkpoint file stopped.
    #[error("the thread serving checkpoint file {path:?} stopped")]
    FileThreadStopped {
        /// The checkpoint file.
        path: PathBuf,
    },
}
