//! The JetStream publisher: the core publisher's encoding, stored and deduplicated by a
//! stream.

use std::fmt;
use std::future::IntoFuture;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_nats::jetstream::context::{
    PublishAckFuture, PublishError as NatsPublishError, PublishErrorKind,
};
use async_nats::jetstream::message::PublishMessage;
use futures_util::future::BoxFuture;
use tracing::Instrument;

use super::{PublishAck, PublishError};
use crate::telemetry::{self, AckMetrics, AckTracker};
use crate::{DEFAULT_PUBLISH_TIMEOUT, EnvelopeSerializer, Metadata, Payload, PayloadRegistry};

/// Publishes typed messages to a JetStream stream and returns the stream's
/// acknowledgement.
///
/// Messages are stamped and encoded exactly as by the core
/// [`Publisher`](crate::Publisher): `Source`, `EventTime`, `MessageID`, `Type` and
/// `PayloadEncoding`, then the envelope. The `Nats-Msg-Id` header is set to the
/// `MessageID`, so the stream stores a message once even when it is published again with
/// the same `MessageID` within the stream's duplicate window. That window is two minutes
/// unless the stream sets `duplicate_window`. The second [`PublishAck`] then has
/// `duplicate` set. This makes retrying after [`PublishError::AckTimeout`] safe: pass
/// the same metadata again.
///
/// A publisher is cheap to clone, and clones share the connection and settings.
///
/// # Examples
///
/// ```no_run
/// use ncl::jetstream::Publisher;
/// use ncl::{Metadata, NclPayload};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct OrderPlaced {
///     order_id: String,
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let publisher = Publisher::builder(client)
///     .name("shop")
///     .destination("orders.placed")
///     .build()?;
///
/// let mut metadata = Metadata::new();
/// metadata.insert("MessageID", "order-42");
/// let ack = publisher
///     .publish_with_metadata(metadata.clone(), &OrderPlaced { order_id: "42".into() })
///     .await?;
/// assert!(!ack.duplicate);
///
/// // The same MessageID again: the stream keeps the first copy.
/// let again = publisher
///     .publish_with_metadata(metadata, &OrderPlaced { order_id: "42".into() })
///     .await?;
/// assert!(again.duplicate);
/// assert_eq!(again.sequence, ack.sequence);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Publisher {
    core: crate::Publisher,
    client: async_nats::Client,
    /// Created on first use, because creating it spawns a task and so needs a runtime.
    context: Arc<OnceLock<async_nats::jetstream::Context>>,
    publish_timeout: Duration,
    acks: AckMetrics,
}

impl Publisher {
    /// Starts building a publisher on `client`.
    pub fn builder(client: async_nats::Client) -> PublisherBuilder {
        PublisherBuilder {
            core: crate::Publisher::builder(client.clone()),
            client,
            publish_timeout: DEFAULT_PUBLISH_TIMEOUT,
        }
    }

    /// Returns the publisher's name, written as `Source` on every message.
    pub fn name(&self) -> &str {
        self.core.name()
    }

    /// Returns the registry the publisher serializes with.
    pub fn registry(&self) -> &Arc<PayloadRegistry> {
        self.core.registry()
    }

    /// Returns `true` once [`Publisher::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// Stops the publisher: later publishes, through it or its clones, fail with
    /// [`PublishError::Closed`]. Acknowledgements still pending can be awaited.
    ///
    /// # Errors
    ///
    /// Returns [`PublishError::Core`] when flushing the client's buffer fails or times
    /// out.
    pub async fn close(&self) -> Result<(), PublishError> {
        self.core.close().await.map_err(PublishError::Core)
    }

    /// Publishes `event` with fresh metadata and waits for the stream's
    /// acknowledgement.
    ///
    /// # Errors
    ///
    /// See [`Publisher::send_publish`] and [`PendingAck`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes may or may not store the message.
    pub async fn publish<T: Payload>(&self, event: &T) -> Result<PublishAck, PublishError> {
        self.publish_with_metadata(Metadata::new(), event).await
    }

    /// Publishes `event` with `metadata`, adding the keys the publisher stamps, and
    /// waits for the stream's acknowledgement.
    ///
    /// # Errors
    ///
    /// See [`Publisher::send_publish`] and [`PendingAck`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes may or may not store the message.
    pub async fn publish_with_metadata<T: Payload>(
        &self,
        metadata: Metadata,
        event: &T,
    ) -> Result<PublishAck, PublishError> {
        self.send_publish(metadata, event).await?.await
    }

    /// Sends `event` with `metadata` and returns without waiting for the stream's
    /// acknowledgement. Await the returned [`PendingAck`] for it.
    ///
    /// Sending many messages before awaiting their acknowledgements is much faster than
    /// awaiting each in turn. The client limits how many acknowledgements may be
    /// pending (5,000 in async-nats 0.52) and makes further sends wait.
    ///
    /// # Errors
    ///
    /// Nothing is sent when the publisher is closed ([`PublishError::Closed`]), when the
    /// subject, payload or envelope is rejected ([`PublishError::Core`]), or when the
    /// message exceeds the server's `max_payload`
    /// ([`PublishError::MaxPayloadExceeded`]). [`PublishError::Nats`] reports a failure
    /// of the client.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes may or may not send the message.
    pub async fn send_publish<T: Payload>(
        &self,
        metadata: Metadata,
        event: &T,
    ) -> Result<PendingAck, PublishError> {
        let span = telemetry::publish_span(self.name(), T::NAME);
        let started = self.core.metrics().start();
        let result = self.send(metadata, event).instrument(span.clone()).await;
        let sent = result.as_ref().map(|pending| pending.size);
        self.core.metrics().record_jetstream::<T>(started, sent);
        if let Ok(pending) = &result {
            telemetry::record_sent(&span, &pending.subject, &pending.message_id);
        }
        result
    }

    /// Sends `event` as [`Publisher::send_publish`] does, inside its span.
    async fn send<T: Payload>(
        &self,
        mut metadata: Metadata,
        event: &T,
    ) -> Result<PendingAck, PublishError> {
        if self.is_closed() {
            return Err(PublishError::Closed);
        }
        let subject = self
            .core
            .subject_for(T::NAME)
            .map_err(|error| PublishError::Core(error.into()))?;
        let envelope = self
            .core
            .encode(&mut metadata, event)
            .map_err(PublishError::Core)?;
        // The encoder sets a MessageID when the caller did not.
        let message_id = metadata.message_id().unwrap_or_default().to_owned();
        let size = envelope.len();
        tracing::trace!(
            subject = %subject,
            message_id = %message_id,
            message_type = metadata.message_type(),
            size,
            publisher = %self.name(),
            "publishing message to stream"
        );
        let publish = PublishMessage::build()
            .payload(envelope)
            .message_id(&message_id);
        let ack = self
            .context()
            .send_publish(subject.clone(), publish)
            .await
            .map_err(|source| {
                let subject = subject.to_string();
                match source.kind() {
                    PublishErrorKind::MaxPayloadExceeded => PublishError::MaxPayloadExceeded {
                        subject,
                        size,
                        limit: self.client.max_payload(),
                    },
                    _ => PublishError::Nats {
                        subject,
                        message_id: message_id.clone(),
                        source,
                    },
                }
            })?;
        Ok(PendingAck {
            ack,
            subject: subject.to_string(),
            message_id,
            timeout: self.publish_timeout,
            size,
            telemetry: self.acks.sent::<T>(),
        })
    }

    fn context(&self) -> &async_nats::jetstream::Context {
        self.context.get_or_init(|| {
            async_nats::jetstream::ContextBuilder::new()
                .timeout(self.publish_timeout)
                .build(self.client.clone())
        })
    }
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("core", &self.core)
            .field("publish_timeout", &self.publish_timeout)
            .finish_non_exhaustive()
    }
}

/// The stream's acknowledgement of a message sent with [`Publisher::send_publish`],
/// still to come. Await it to get the [`PublishAck`].
///
/// # Errors
///
/// Awaiting it returns [`PublishError::AckTimeout`] when no acknowledgement arrives
/// within the publish timeout (the message may be stored), [`PublishError::StreamNotFound`]
/// when no stream stores the subject, and [`PublishError::Nats`] when the stream
/// rejected the message.
#[must_use = "the acknowledgement is lost unless the PendingAck is awaited"]
pub struct PendingAck {
    ack: PublishAckFuture,
    subject: String,
    message_id: String,
    timeout: Duration,
    /// Envelope size in bytes.
    size: usize,
    telemetry: AckTracker,
}

impl PendingAck {
    /// Returns the `MessageID` of the message, also sent as `Nats-Msg-Id`.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// Returns the subject the message was published to.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

impl fmt::Debug for PendingAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAck")
            .field("subject", &self.subject)
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

impl IntoFuture for PendingAck {
    type Output = Result<PublishAck, PublishError>;
    type IntoFuture = BoxFuture<'static, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let Self {
                ack,
                subject,
                message_id,
                timeout,
                size: _,
                telemetry,
            } = self;
            let result = ack
                .await
                .map_err(|source: NatsPublishError| match source.kind() {
                    PublishErrorKind::TimedOut => PublishError::AckTimeout {
                        subject,
                        message_id,
                        timeout,
                    },
                    PublishErrorKind::StreamNotFound => PublishError::StreamNotFound { subject },
                    _ => PublishError::Nats {
                        subject,
                        message_id,
                        source,
                    },
                });
            telemetry.finish(&result);
            result
        })
    }
}

/// Builds a JetStream [`Publisher`]; see [`Publisher::builder`].
///
/// The settings are those of the core [`PublisherBuilder`](crate::PublisherBuilder).
#[must_use = "a builder does nothing until build() is called"]
pub struct PublisherBuilder {
    core: crate::PublisherBuilder,
    client: async_nats::Client,
    publish_timeout: Duration,
}

impl PublisherBuilder {
    /// Sets the publisher's name, written as `Source` on every message. Required.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.core = self.core.name(name);
        self
    }

    /// Sends every message to `subject`. Exactly one of this and
    /// [`PublisherBuilder::destination_prefix`] must be set. A stream must store the
    /// subject.
    pub fn destination(mut self, subject: impl Into<String>) -> Self {
        self.core = self.core.destination(subject);
        self
    }

    /// Sends each message to `prefix.TypeName`, where `TypeName` is the payload's wire
    /// name. Exactly one of this and [`PublisherBuilder::destination`] must be set.
    pub fn destination_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.core = self.core.destination_prefix(prefix);
        self
    }

    /// Sets the envelope serializer. Defaults to JSON (version 1).
    pub fn serializer(mut self, serializer: EnvelopeSerializer) -> Self {
        self.core = self.core.serializer(serializer);
        self
    }

    /// Sets the payload registry. Defaults to [`PayloadRegistry::global`].
    pub fn registry(mut self, registry: Arc<PayloadRegistry>) -> Self {
        self.core = self.core.registry(registry);
        self
    }

    /// Sets how long a publish may wait for the client to take the message and for
    /// the stream's acknowledgement. Defaults to [`DEFAULT_PUBLISH_TIMEOUT`] (10 s).
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.core = self.core.publish_timeout(timeout);
        self.publish_timeout = timeout;
        self
    }

    /// Builds the publisher.
    ///
    /// # Errors
    ///
    /// As [`PublisherBuilder::build`](crate::PublisherBuilder::build): a missing or
    /// blank name, both or neither destination, an invalid destination, or a default
    /// registry that cannot be built.
    pub fn build(self) -> Result<Publisher, crate::BuildError> {
        let core = self.core.build()?;
        Ok(Publisher {
            acks: AckMetrics::new(core.name(), core.registry()),
            core,
            client: self.client,
            context: Arc::new(OnceLock::new()),
            publish_timeout: self.publish_timeout,
        })
    }
}
