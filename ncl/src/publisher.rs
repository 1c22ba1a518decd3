//! The publisher: stamps metadata, serializes, envelopes and publishes.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use async_nats::Subject;
use bytes::Bytes;
use tracing::Instrument;

use crate::subject::{SubjectError, validate_publish_subject};
use crate::subscriber::BuildError;
use crate::telemetry::{self, PublisherMetrics};
use crate::{
    Encoder, EnvelopeError, EnvelopeSerializer, Metadata, Payload, PayloadRegistry, RegistryError,
};

/// Error returned when a message cannot be published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The subject the message would go to is invalid; nothing was sent.
    #[error("invalid destination subject: {0}")]
    InvalidSubject(#[from] SubjectError),
    /// The payload could not be serialized; nothing was sent.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The envelope could not be encoded; nothing was sent.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The envelope is larger than the server accepts; nothing was sent.
    #[error(
        "message to {subject:?} is {size} bytes, over the server's max_payload of {limit} \
         bytes; send a smaller payload or raise max_payload in the server configuration"
    )]
    MaxPayloadExceeded {
        /// Destination subject.
        subject: String,
        /// Envelope size in bytes.
        size: usize,
        /// The server's limit in bytes.
        limit: usize,
    },
    /// The publisher was closed with [`Publisher::close`]; nothing was sent.
    #[error("publisher is closed")]
    Closed,
    /// The client did not accept the message within the publish timeout, usually
    /// because the connection is down and the client's send buffer is full.
    #[error(
        "publishing to {subject:?} timed out after {timeout:?}; the NATS connection may          be down"
    )]
    Timeout {
        /// Destination subject.
        subject: String,
        /// The publish timeout.
        timeout: Duration,
    },
    /// The server did not confirm a flush within the publish timeout.
    #[error("flush timed out after {timeout:?}; the NATS connection may be down")]
    FlushTimeout {
        /// The publish timeout.
        timeout: Duration,
    },
    /// The client failed to flush its buffer to the server.
    #[error("failed to flush published messages: {source}")]
    Flush {
        /// The client's error.
        #[source]
        source: async_nats::client::FlushError,
    },
    /// The NATS client failed to send the message.
    #[error("failed to publish to {subject:?}: {source}")]
    Nats {
        /// Destination subject.
        subject: String,
        /// The client's error.
        #[source]
        source: async_nats::PublishError,
    },
}

/// Destination of a publisher's messages.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Destination {
    /// Every message goes to this subject.
    Subject(Subject),
    /// Each message goes to `prefix.TypeName`.
    Prefix(String),
}

/// Publishes typed messages to NATS.
///
/// A publisher is cheap to clone; clones share the connection and settings.
///
/// For each message it sets `Source` to its name, `EventTime` to the current time and
/// `MessageID` to a new UUID (the latter two only when the caller did not set them), and
/// `Type` and `PayloadEncoding` from the registry; then it serializes the payload,
/// wraps it in an envelope and publishes it.
///
/// # Examples
///
/// ```no_run
/// use ncl::{NclPayload, Publisher};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct Heartbeat {
///     node_id: String,
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let publisher = Publisher::builder(client)
///     .name("node-1")
///     .destination("heartbeats")
///     .build()?;
/// publisher.publish(&Heartbeat { node_id: "node-1".into() }).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

/// Default for [`PublisherBuilder::publish_timeout`].
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

struct Inner {
    client: async_nats::Client,
    destination: Destination,
    encoder: Encoder,
    publish_timeout: Duration,
    closed: AtomicBool,
    /// Subjects already built for prefix destinations, by payload wire name.
    subjects: RwLock<HashMap<&'static str, Subject>>,
    stats: Counters,
    metrics: PublisherMetrics,
}

/// Counts of what a publisher sent, from [`Publisher::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublisherStats {
    /// Messages handed to the NATS client.
    pub published: u64,
    /// Envelope bytes handed to the NATS client.
    pub published_bytes: u64,
    /// Publishes that returned an error; nothing or an unknown part was sent.
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    published_bytes: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    fn record(&self, result: &Result<usize, PublishError>) {
        match result {
            Ok(size) => {
                self.published.fetch_add(1, Ordering::Relaxed);
                self.published_bytes
                    .fetch_add(*size as u64, Ordering::Relaxed);
            }
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn snapshot(&self) -> PublisherStats {
        PublisherStats {
            published: self.published.load(Ordering::Relaxed),
            published_bytes: self.published_bytes.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

fn read_lock<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // A panicking writer cannot leave the cache inconsistent, so poisoning is ignored.
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_lock<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Publisher {
    /// Starts building a publisher on `client`.
    ///
    /// The client keeps every connection option the caller gave it (authentication,
    /// TLS, reconnection).
    pub fn builder(client: async_nats::Client) -> PublisherBuilder {
        PublisherBuilder {
            client,
            name: None,
            subject: None,
            prefix: None,
            serializer: EnvelopeSerializer::default(),
            registry: None,
            publish_timeout: DEFAULT_PUBLISH_TIMEOUT,
        }
    }

    /// Returns the publisher's name, written as `Source` on every message.
    pub fn name(&self) -> &str {
        self.inner.encoder.source()
    }

    /// Stops the publisher and flushes what its client has buffered.
    ///
    /// Later publishes, through this publisher or its clones, fail with
    /// [`PublishError::Closed`]. The flush waits until the server has received every
    /// message published before, bounded by the publish timeout, so a short-lived
    /// program that publishes and then closes delivers its messages.
    ///
    /// # Errors
    ///
    /// Returns [`PublishError::FlushTimeout`] when the flush does not finish in time and
    /// [`PublishError::Flush`] when the client fails.
    pub async fn close(&self) -> Result<(), PublishError> {
        self.inner.closed.store(true, Ordering::Release);
        self.flush().await
    }

    /// Waits until the server has received every message published so far, bounded
    /// by the publish timeout.
    ///
    /// # Errors
    ///
    /// As [`Publisher::close`].
    pub async fn flush(&self) -> Result<(), PublishError> {
        let timeout = self.inner.publish_timeout;
        match tokio::time::timeout(timeout, self.inner.client.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(PublishError::Flush { source }),
            Err(_) => Err(PublishError::FlushTimeout { timeout }),
        }
    }

    /// Returns `true` once [`Publisher::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Returns the registry the publisher serializes with.
    pub fn registry(&self) -> &Arc<PayloadRegistry> {
        self.inner.encoder.registry()
    }

    /// Publishes `event` with fresh metadata.
    ///
    /// # Errors
    ///
    /// See [`Publisher::publish_with_metadata`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes may or may not send the message.
    pub async fn publish<T: Payload>(&self, event: &T) -> Result<(), PublishError> {
        // Room for the five stamped keys, so stamping does not reallocate.
        self.publish_with_metadata(Metadata::with_capacity(6, 160), event)
            .await
    }

    /// Publishes `event` with `metadata`, adding the keys the publisher stamps.
    ///
    /// # Errors
    ///
    /// Nothing is sent when the destination subject is invalid
    /// ([`PublishError::InvalidSubject`]), the payload does not serialize
    /// ([`PublishError::Registry`]) or the envelope exceeds the server's `max_payload`
    /// ([`PublishError::MaxPayloadExceeded`]); [`PublishError::Nats`] reports a failure
    /// of the client. The connection stays usable after any of them.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes may or may not send the message.
    pub async fn publish_with_metadata<T: Payload>(
        &self,
        mut metadata: Metadata,
        event: &T,
    ) -> Result<(), PublishError> {
        let span = telemetry::publish_span(self.name(), T::NAME);
        let started = self.inner.metrics.start();
        let publish = self.publish_inner(&mut metadata, event);
        let result = publish.instrument(span.clone()).await;
        self.inner.stats.record(&result);
        self.inner.metrics.record::<T>(started, &result);
        telemetry::record_publish(&span, || self.subject_for(T::NAME).ok(), &metadata);
        if let Err(error) = &result {
            tracing::debug!(
                publisher = %self.inner.encoder.source(),
                message_id = metadata.message_id(),
                message_type = T::NAME,
                error = %error,
                "publish failed"
            );
        }
        result.map(|_| ())
    }

    /// Returns a snapshot of the publisher's counters, shared by its clones.
    pub fn stats(&self) -> PublisherStats {
        self.inner.stats.snapshot()
    }

    async fn publish_inner<T: Payload>(
        &self,
        metadata: &mut Metadata,
        event: &T,
    ) -> Result<usize, PublishError> {
        let subject = self.subject_for(T::NAME)?;
        let envelope = self.encode(metadata, event)?;
        let size = envelope.len();
        self.send(subject, envelope).await?;
        Ok(size)
    }

    /// Stamps `metadata` and encodes `event` into envelope bytes.
    pub(crate) fn encode<T: Payload>(
        &self,
        metadata: &mut Metadata,
        event: &T,
    ) -> Result<Bytes, PublishError> {
        Ok(self.inner.encoder.encode(metadata, event)?)
    }

    /// Returns the publisher's metrics, for the JetStream publisher built on it.
    pub(crate) fn metrics(&self) -> &PublisherMetrics {
        &self.inner.metrics
    }

    /// Returns the NATS client, for the request and acknowledged-publish paths.
    pub(crate) fn client(&self) -> &async_nats::Client {
        &self.inner.client
    }

    /// Returns the subject a message of type `type_name` goes to.
    pub(crate) fn subject_for(&self, type_name: &'static str) -> Result<Subject, SubjectError> {
        let prefix = match &self.inner.destination {
            Destination::Subject(subject) => return Ok(subject.clone()),
            Destination::Prefix(prefix) => prefix,
        };
        let cache = &self.inner.subjects;
        if let Some(subject) = read_lock(cache).get(type_name) {
            return Ok(subject.clone());
        }
        let subject = format!("{prefix}.{type_name}");
        validate_publish_subject(&subject)?;
        let subject = Subject::from(subject);
        write_lock(cache).insert(type_name, subject.clone());
        Ok(subject)
    }

    /// Sends envelope bytes after checking them against the server's limit.
    async fn send(&self, subject: Subject, envelope: Bytes) -> Result<(), PublishError> {
        if self.is_closed() {
            return Err(PublishError::Closed);
        }
        let limit = self.inner.client.max_payload();
        if envelope.len() > limit {
            return Err(PublishError::MaxPayloadExceeded {
                subject: subject.to_string(),
                size: envelope.len(),
                limit,
            });
        }
        tracing::trace!(
            subject = %subject,
            size = envelope.len(),
            publisher = %self.inner.encoder.source(),
            "publishing message"
        );
        let timeout = self.inner.publish_timeout;
        let publish = self.inner.client.publish(subject.clone(), envelope);
        match crate::timeout::timeout_after_first_poll(timeout, publish).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(PublishError::Nats {
                subject: subject.to_string(),
                source,
            }),
            Err(_) => Err(PublishError::Timeout {
                subject: subject.to_string(),
                timeout,
            }),
        }
    }
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("name", &self.inner.encoder.source())
            .field("destination", &self.inner.destination)
            .field("serializer", &self.inner.encoder.serializer())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Publisher`]; see [`Publisher::builder`].
#[must_use = "a builder does nothing until build() is called"]
pub struct PublisherBuilder {
    client: async_nats::Client,
    name: Option<String>,
    subject: Option<String>,
    prefix: Option<String>,
    serializer: EnvelopeSerializer,
    registry: Option<Arc<PayloadRegistry>>,
    publish_timeout: Duration,
}

impl PublisherBuilder {
    /// Sets how long a publish may wait for the client to accept a message (and a
    /// flush for the server to confirm). Defaults to [`DEFAULT_PUBLISH_TIMEOUT`]
    /// (10 s).
    ///
    /// The client buffers messages while it reconnects; when its buffer is full a
    /// publish waits, and this bounds the wait.
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// Sets the publisher's name, written as `Source` on every message. Required.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sends every message to `subject`. Exactly one of this and
    /// [`PublisherBuilder::destination_prefix`] must be set.
    pub fn destination(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sends each message to `prefix.TypeName`, where `TypeName` is the payload's wire
    /// name. Exactly one of this and [`PublisherBuilder::destination`] must be set.
    pub fn destination_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Sets the envelope serializer. Defaults to JSON (version 1).
    pub fn serializer(mut self, serializer: EnvelopeSerializer) -> Self {
        self.serializer = serializer;
        self
    }

    /// Sets the payload registry. Defaults to [`PayloadRegistry::global`].
    pub fn registry(mut self, registry: Arc<PayloadRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Builds the publisher.
    ///
    /// # Errors
    ///
    /// Returns a [`BuildError`] when the name is missing or blank, when both or neither
    /// destination is set, when the destination is not a valid subject, or when the
    /// default registry cannot be built.
    pub fn build(self) -> Result<Publisher, BuildError> {
        let name = self.name.ok_or(BuildError::MissingName)?;
        if name.trim().is_empty() {
            return Err(BuildError::BlankName);
        }
        let destination = match (self.subject, self.prefix) {
            (Some(_), Some(_)) => return Err(BuildError::BothDestinations),
            (None, None) => return Err(BuildError::NoDestination),
            (Some(subject), None) => {
                validate_publish_subject(&subject)?;
                Destination::Subject(Subject::from(subject))
            }
            (None, Some(prefix)) => {
                validate_publish_subject(&prefix)?;
                Destination::Prefix(prefix)
            }
        };
        let registry = match self.registry {
            Some(registry) => registry,
            None => PayloadRegistry::global().map_err(BuildError::Registry)?,
        };
        Ok(Publisher {
            inner: Arc::new(Inner {
                client: self.client,
                destination,
                metrics: PublisherMetrics::new(&name, &registry),
                encoder: Encoder::new(name, self.serializer, registry),
                publish_timeout: self.publish_timeout,
                closed: AtomicBool::new(false),
                subjects: RwLock::new(HashMap::new()),
                stats: Counters::default(),
            }),
        })
    }
}
