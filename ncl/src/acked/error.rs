//! Errors of acknowledged publishing.

use std::time::Duration;

use crate::PublishError;

/// Error returned when an [`AckedPublisher`](super::AckedPublisher) cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A setting shared with the core publisher is missing or invalid.
    #[error(transparent)]
    Core(#[from] crate::BuildError),
    /// The ack wait is zero, so every message would time out at once.
    #[error(
        "ack wait is zero; set .ack_wait(...) to how long a subscriber may take to acknowledge"
    )]
    ZeroAckWait,
    /// The NATS client failed to subscribe to the publisher's reply inbox.
    #[error("failed to subscribe to the acknowledgement inbox {inbox:?}: {source}")]
    Subscribe {
        /// The inbox subject, with its `.*` wildcard.
        inbox: String,
        /// The client's error.
        #[source]
        source: async_nats::SubscribeError,
    },
}

/// Error of an acknowledged publish: returned at once by
/// [`AckedPublisher::publish_async`](super::AckedPublisher::publish_async) when nothing
/// was sent, or later by its [`AckFuture`](super::AckFuture).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The message could not be encoded or sent: invalid subject, payload that does not
    /// serialize, envelope over `max_payload`, or a failure of the client.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// As many messages as the publisher's `max_pending` await acknowledgement; nothing
    /// was sent.
    #[error(
        "{max_pending} messages already await acknowledgement; wait for some AckFutures, or \
         raise max_pending"
    )]
    Full {
        /// The publisher's `max_pending`.
        max_pending: usize,
    },
    /// The subscriber negatively acknowledged the message and it is not retried: the
    /// negative acknowledgement had no retry delay, or the message was sent
    /// `max_attempts` times.
    #[error(
        "message {message_id} was rejected by the subscriber after {attempts} attempt(s): {error}"
    )]
    Nack {
        /// The message's `MessageID`.
        message_id: String,
        /// The subscriber's error.
        error: String,
        /// The retry delay of the last negative acknowledgement, if it had one.
        delay: Option<Duration>,
        /// How many times the message was sent.
        attempts: u32,
    },
    /// No acknowledgement arrived within the ack wait after the last send.
    #[error(
        "no acknowledgement for message {message_id} within {ack_wait:?}; the subscriber is \
         slow, stopped or does not acknowledge"
    )]
    Timeout {
        /// The message's `MessageID`.
        message_id: String,
        /// The publisher's ack wait.
        ack_wait: Duration,
    },
    /// Nothing subscribes to the message's subject, so the server replied at once with a
    /// no-responders status.
    #[error(
        "no subscriber for message {message_id} on {subject:?}; start a subscriber on that \
         subject and publish again"
    )]
    NoResponders {
        /// The message's `MessageID`.
        message_id: String,
        /// The subject the message was sent to.
        subject: String,
    },
    /// The reply to the message is not a valid acknowledgement.
    #[error("invalid acknowledgement for message {message_id}: {source}")]
    InvalidAck {
        /// The message's `MessageID`.
        message_id: String,
        /// The JSON error of the body.
        #[source]
        source: serde_json::Error,
    },
    /// [`AckedPublisher::reset`](super::AckedPublisher::reset) failed every pending
    /// message.
    #[error("publisher was reset before the message was acknowledged")]
    Reset,
    /// The publisher was closed, or its connection ended, before the message was
    /// acknowledged.
    #[error("publisher is closed")]
    Closed,
}
