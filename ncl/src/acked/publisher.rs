//! [`AckedPublisher`]: publishes with a reply subject and resolves a future per message
//! when its subscriber acknowledges it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::driver::{Command, Driver, DriverSettings, Entry, PendingSlot};
use super::{AckError, BuildError, DEFAULT_ACK_WAIT, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_PENDING};
use crate::telemetry::AckedMetrics;
use crate::{
    DEFAULT_PUBLISH_TIMEOUT, EnvelopeSerializer, Metadata, Payload, PayloadRegistry, PublishError,
    Publisher, PublisherBuilder,
};

/// The acknowledgement of one message, the output of an [`AckFuture`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ack {
    /// The message's `MessageID`.
    pub message_id: String,
    /// How many times the message was sent before it was acknowledged.
    pub attempts: u32,
}

/// Counts of what an acknowledged publisher sent and how its messages ended, from
/// [`AckedPublisher::stats`].
///
/// Every send is counted, retries included. A message that fails before its first send,
/// as on a reset, counts as failed without a send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AckedPublisherStats {
    /// Sends handed to the NATS client, retries included.
    pub published: u64,
    /// Envelope bytes of those sends.
    pub published_bytes: u64,
    /// Sends after a negative acknowledgement.
    pub retries: u64,
    /// Messages acknowledged.
    pub acknowledged: u64,
    /// Messages that failed, for any [`AckError`]: negative acknowledgement, timeout, no
    /// responders, send error, reset or close.
    pub failed: u64,
}

/// The counters behind [`AckedPublisherStats`], shared with the driver.
#[derive(Debug, Default)]
pub(super) struct Counters {
    published: AtomicU64,
    published_bytes: AtomicU64,
    retries: AtomicU64,
    acknowledged: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    /// Counts a send of `bytes` bytes, the message's send number `attempt`.
    pub(super) fn sent(&self, bytes: usize, attempt: u32) {
        self.published.fetch_add(1, Ordering::Relaxed);
        self.published_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        if attempt > 1 {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a message's end.
    pub(super) fn resolved(&self, result: &Result<Ack, AckError>) {
        let counter = match result {
            Ok(_) => &self.acknowledged,
            Err(_) => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> AckedPublisherStats {
        AckedPublisherStats {
            published: self.published.load(Ordering::Relaxed),
            published_bytes: self.published_bytes.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            acknowledged: self.acknowledged.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// Resolves when the subscriber acknowledges one message, or fails; returned by
/// [`AckedPublisher::publish_async`].
///
/// Dropping it does not withdraw the message: it is still sent, retried and counted as
/// pending until it is resolved.
///
/// # Errors
///
/// Resolves to an [`AckError`]: [`AckError::Nack`] when the subscriber rejected the
/// message for good, [`AckError::Timeout`], [`AckError::NoResponders`],
/// [`AckError::InvalidAck`], [`AckError::Publish`] when the client failed to send it,
/// [`AckError::Reset`] and [`AckError::Closed`].
#[must_use = "an AckFuture reports the acknowledgement only when awaited"]
pub struct AckFuture {
    message_id: String,
    receiver: oneshot::Receiver<Result<Ack, AckError>>,
}

impl AckFuture {
    /// Returns the message's `MessageID`.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }
}

impl Future for AckFuture {
    type Output = Result<Ack, AckError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.receiver).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            // The driver dropped the message without resolving it, which happens only when
            // its task was cancelled with the runtime.
            Poll::Ready(Err(_)) => Poll::Ready(Err(AckError::Closed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl fmt::Debug for AckFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckFuture")
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

/// Publishes typed messages and reports when each is acknowledged by a subscriber.
///
/// Each message is stamped and encoded as by [`Publisher`] and sent with a reply subject
/// on the publisher's own inbox. A core [`Subscriber`](crate::Subscriber) (or a Go NCL
/// subscriber) replies to it with an acknowledgement after handling and checkpointing it,
/// or with a negative acknowledgement that carries the error and a retry delay.
///
/// - **Order**: messages are sent in the order of the `publish_async` calls, by one task.
///   After a negative acknowledgement, nothing new is sent until the retried message is
///   acknowledged or has failed, so later messages never overtake it. Messages that were
///   already sent when the negative acknowledgement arrived may be handled before the
///   retry.
/// - **Retries**: a negative acknowledgement with a delay is retried after that delay,
///   until the message was sent `max_attempts` times. One without a delay fails the
///   message at once.
/// - **Bound**: at most `max_pending` messages are pending (queued, awaiting
///   acknowledgement or awaiting a retry); `publish_async` beyond that returns
///   [`AckError::Full`] at once.
/// - **Failure**: a message fails when no acknowledgement arrives within the ack wait
///   after its last send ([`AckError::Timeout`]), at once when nothing subscribes to its
///   subject ([`AckError::NoResponders`]), and on [`AckedPublisher::reset`] and
///   [`AckedPublisher::close`].
///
/// A publisher is cheap to clone; clones share the inbox, the task and the pending
/// messages. When the last clone is dropped, pending messages fail with
/// [`AckError::Closed`].
///
/// # Examples
///
/// ```no_run
/// use ncl::{AckedPublisher, NclPayload};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct JobAssigned {
///     job_id: String,
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let publisher = AckedPublisher::builder(client)
///     .name("orchestrator")
///     .destination("node-1.jobs")
///     .build()
///     .await?;
///
/// let pending = publisher.publish_async(&JobAssigned { job_id: "j-1".into() })?;
/// let ack = pending.await?;
/// println!("{} acknowledged after {} attempt(s)", ack.message_id, ack.attempts);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AckedPublisher {
    inner: Arc<Inner>,
}

struct Inner {
    core: Publisher,
    commands: mpsc::UnboundedSender<Command>,
    pending: Arc<AtomicUsize>,
    max_pending: usize,
    closed: AtomicBool,
    inbox: String,
    counters: Arc<Counters>,
}

impl AckedPublisher {
    /// Starts building an acknowledged publisher on `client`.
    pub fn builder(client: async_nats::Client) -> AckedPublisherBuilder {
        AckedPublisherBuilder {
            core: Publisher::builder(client.clone()),
            client,
            publish_timeout: DEFAULT_PUBLISH_TIMEOUT,
            ack_wait: DEFAULT_ACK_WAIT,
            max_pending: DEFAULT_MAX_PENDING,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// Returns the counts of sends, acknowledgements and failures so far.
    ///
    /// A message that fails before it is queued ([`AckError::Full`], a payload that does
    /// not encode, a closed publisher) is returned by `publish_async` and not counted.
    pub fn stats(&self) -> AckedPublisherStats {
        self.inner.counters.snapshot()
    }

    /// Returns the publisher's name, written as `Source` on every message.
    pub fn name(&self) -> &str {
        self.inner.core.name()
    }

    /// Returns the registry the publisher serializes with.
    pub fn registry(&self) -> &Arc<PayloadRegistry> {
        self.inner.core.registry()
    }

    /// Returns the number of pending messages: queued, awaiting acknowledgement, or
    /// awaiting a retry.
    pub fn pending(&self) -> usize {
        self.inner.pending.load(Ordering::Acquire)
    }

    /// Returns `true` once [`AckedPublisher::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Queues `event` with fresh metadata and returns the future of its acknowledgement.
    ///
    /// # Errors
    ///
    /// See [`AckedPublisher::publish_async_with_metadata`].
    pub fn publish_async<T: Payload>(&self, event: &T) -> Result<AckFuture, AckError> {
        self.publish_async_with_metadata(Metadata::with_capacity(6, 160), event)
    }

    /// Queues `event` with `metadata`, adding the keys the publisher stamps, and returns
    /// the future of its acknowledgement. It does not wait: the message is sent by the
    /// publisher's task.
    ///
    /// # Errors
    ///
    /// Returns, with nothing sent, [`AckError::Full`] when `max_pending` messages are
    /// pending, [`AckError::Closed`] after [`AckedPublisher::close`], and
    /// [`AckError::Publish`] when the subject is invalid, the payload does not serialize
    /// or the envelope exceeds the server's `max_payload`.
    pub fn publish_async_with_metadata<T: Payload>(
        &self,
        mut metadata: Metadata,
        event: &T,
    ) -> Result<AckFuture, AckError> {
        let inner = &*self.inner;
        if self.is_closed() {
            return Err(AckError::Closed);
        }
        let slot =
            PendingSlot::acquire(&inner.pending, inner.max_pending).ok_or(AckError::Full {
                max_pending: inner.max_pending,
            })?;

        let subject = inner
            .core
            .subject_for(T::NAME)
            .map_err(PublishError::from)?;
        let payload = inner.core.encode(&mut metadata, event)?;
        let limit = inner.core.client().max_payload();
        if payload.len() > limit {
            return Err(PublishError::MaxPayloadExceeded {
                subject: subject.to_string(),
                size: payload.len(),
                limit,
            }
            .into());
        }

        // The encoder always sets a MessageID.
        let message_id = metadata.message_id().unwrap_or_default().to_owned();
        let (done, receiver) = oneshot::channel();
        let entry = Entry {
            subject,
            payload,
            message_id: message_id.clone(),
            done,
            _slot: slot,
            sequence: 0,
            attempts: 0,
            nacked: false,
        };
        // Sending fails only when the driver task has stopped.
        inner
            .commands
            .send(Command::Publish(entry))
            .map_err(|_| AckError::Closed)?;
        Ok(AckFuture {
            message_id,
            receiver,
        })
    }

    /// Publishes `event` and waits for its acknowledgement.
    ///
    /// # Errors
    ///
    /// The errors of [`AckedPublisher::publish_async`] and of [`AckFuture`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not withdraw the message once it was queued.
    pub async fn publish<T: Payload>(&self, event: &T) -> Result<Ack, AckError> {
        self.publish_async(event)?.await
    }

    /// Fails every pending message with [`AckError::Reset`]; the publisher stays usable.
    ///
    /// Use it when the subscriber side was restarted and the caller will publish its
    /// state anew. Replies to reset messages are ignored.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not stop the reset.
    pub async fn reset(&self) {
        let (done, confirmed) = oneshot::channel();
        if self.inner.commands.send(Command::Reset(done)).is_ok() {
            // An error means the task already ended, and with it every pending message.
            let _ = confirmed.await;
        }
    }

    /// Stops the publisher: pending messages fail with [`AckError::Closed`], later
    /// publishes through it or its clones fail with [`AckError::Closed`], and the
    /// acknowledgement inbox is unsubscribed. Calling it again does nothing.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not stop the shutdown.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let (done, confirmed) = oneshot::channel();
        if self.inner.commands.send(Command::Close(done)).is_ok() {
            let _ = confirmed.await;
        }
        tracing::debug!(publisher = %self.name(), "acknowledged publisher closed");
    }
}

impl fmt::Debug for AckedPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckedPublisher")
            .field("name", &self.name())
            .field("inbox", &self.inner.inbox)
            .field("pending", &self.pending())
            .field("max_pending", &self.inner.max_pending)
            .finish_non_exhaustive()
    }
}

/// Builds an [`AckedPublisher`]; see [`AckedPublisher::builder`].
#[must_use = "a builder does nothing until build() is called"]
pub struct AckedPublisherBuilder {
    core: PublisherBuilder,
    client: async_nats::Client,
    publish_timeout: Duration,
    ack_wait: Duration,
    max_pending: usize,
    max_attempts: u32,
}

impl AckedPublisherBuilder {
    /// Sets the publisher's name, written as `Source` on every message. Required.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.core = self.core.name(name);
        self
    }

    /// Sends every message to `subject`. Exactly one of this and
    /// [`AckedPublisherBuilder::destination_prefix`] must be set.
    pub fn destination(mut self, subject: impl Into<String>) -> Self {
        self.core = self.core.destination(subject);
        self
    }

    /// Sends each message to `prefix.TypeName`. Exactly one of this and
    /// [`AckedPublisherBuilder::destination`] must be set.
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

    /// Sets how long a send may wait for the client to accept a message. Defaults to
    /// [`DEFAULT_PUBLISH_TIMEOUT`] (10 s).
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self.core = self.core.publish_timeout(timeout);
        self
    }

    /// Sets how long after each send a message waits for its acknowledgement before it
    /// fails with [`AckError::Timeout`]. Defaults to [`DEFAULT_ACK_WAIT`] (30 s).
    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    /// Sets how many messages may be pending at once. Defaults to
    /// [`DEFAULT_MAX_PENDING`] (1,000). Values below 1 are raised to 1.
    pub fn max_pending(mut self, max_pending: usize) -> Self {
        self.max_pending = max_pending.max(1);
        self
    }

    /// Sets how many times a negatively acknowledged message is sent in all, counting
    /// the first send. Defaults to [`DEFAULT_MAX_ATTEMPTS`] (3). Values below 1 are
    /// raised to 1, which never retries.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Builds the publisher: subscribes to its acknowledgement inbox and starts the task
    /// that sends messages and matches acknowledgements. Needs a Tokio runtime.
    ///
    /// # Errors
    ///
    /// Returns [`BuildError::Core`] for a missing or blank name or a missing or invalid
    /// destination, [`BuildError::ZeroAckWait`], and [`BuildError::Subscribe`] when the
    /// client fails to subscribe.
    pub async fn build(self) -> Result<AckedPublisher, BuildError> {
        if self.ack_wait.is_zero() {
            return Err(BuildError::ZeroAckWait);
        }
        let core = self.core.build()?;
        let inbox = self.client.new_inbox();
        let inbox_subject = format!("{inbox}.*");
        let subscription =
            self.client
                .subscribe(inbox_subject.clone())
                .await
                .map_err(|source| BuildError::Subscribe {
                    inbox: inbox_subject,
                    source,
                })?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let settings = DriverSettings {
            publisher: core.name().to_owned(),
            inbox: inbox.clone(),
            ack_wait: self.ack_wait,
            max_attempts: self.max_attempts,
            publish_timeout: self.publish_timeout,
            metrics: AckedMetrics::new(core.name()),
            counters: Arc::clone(&counters),
        };
        tokio::spawn(Driver::new(self.client, subscription, receiver, settings).run());
        tracing::debug!(
            publisher = %core.name(),
            inbox = %inbox,
            ack_wait = ?self.ack_wait,
            max_pending = self.max_pending,
            max_attempts = self.max_attempts,
            "acknowledged publisher started"
        );
        Ok(AckedPublisher {
            inner: Arc::new(Inner {
                core,
                commands,
                pending: Arc::new(AtomicUsize::new(0)),
                max_pending: self.max_pending,
                closed: AtomicBool::new(false),
                inbox,
                counters,
            }),
        })
    }
}
