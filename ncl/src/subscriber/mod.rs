//! The subscriber: decodes, filters, deserializes, handles and checkpoints.

pub(crate) mod pipeline;
pub(crate) mod stats;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::pipeline::Pipeline;
pub use self::stats::SubscriberStats;
use self::stats::{Counters, RateLimiter};
use crate::acked::protocol::{AckSettings, Acknowledger};
use crate::handler::HandlerChain;
use crate::subject::{SubjectError, validate_subscribe_subject};
use crate::telemetry::SubscriberMetrics;
use crate::{
    Checkpointer, EnvelopeSerializer, MessageFilter, MessageHandler, NoopCheckpointer, NoopFilter,
    PayloadRegistry, RegistryError,
};

/// Default for [`SubscriberBuilder::handler_timeout`].
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`SubscriberBuilder::close_timeout`].
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`SubscriberBuilder::max_pending`].
pub const DEFAULT_MAX_PENDING: usize = 65_536;

/// Error returned when a publisher or subscriber cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No name was set.
    #[error("no name set; call .name(...) on the builder")]
    MissingName,
    /// The name is empty or only whitespace.
    #[error("name is blank; give the publisher a non-empty name")]
    BlankName,
    /// Both a destination subject and a destination prefix were set.
    #[error("both destination and destination_prefix are set; choose one")]
    BothDestinations,
    /// Neither a destination subject nor a destination prefix was set.
    #[error("no destination set; call .destination(subject) or .destination_prefix(prefix)")]
    NoDestination,
    /// The destination subject or prefix is invalid.
    #[error("invalid destination: {0}")]
    InvalidSubject(#[from] SubjectError),
    /// A subscriber was built without a handler.
    #[error("no message handler set; add one with .handler(...)")]
    NoHandlers,
    /// The default registry could not be built from the derived payload types.
    #[error("failed to build the payload registry: {0}")]
    Registry(Arc<RegistryError>),
    /// The negative-acknowledgement backoff's factor is below 1 or not a number, or its
    /// initial delay exceeds its maximum.
    #[error(
        "invalid nack backoff {initial:?} × {factor} up to {max:?}: the factor must be a \
         finite number of at least 1 and the initial delay at most the maximum"
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

/// Error returned by [`Subscriber::subscribe`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The subject is invalid; nothing was subscribed.
    #[error(transparent)]
    InvalidSubject(#[from] SubjectError),
    /// The subscriber was closed.
    #[error("subscriber is closed")]
    Closed,
    /// The NATS client failed to subscribe.
    #[error("failed to subscribe to {subject:?}: {source}")]
    Nats {
        /// The subject.
        subject: String,
        /// The client's error.
        #[source]
        source: async_nats::SubscribeError,
    },
}

/// Receives enveloped messages from NATS and hands them to handlers.
///
/// For each message, in arrival order per subscription: decode the envelope, ask the
/// filter, decode the payload through the registry, call every handler whose
/// `should_process` returns `true`, then record a checkpoint. A message that fails a
/// step is counted (see [`Subscriber::stats`]), logged with its subject, id and type,
/// and skipped; the subscriber goes on with the next one. A panicking handler counts as
/// a failed one.
///
/// # Examples
///
/// ```no_run
/// use ncl::{AnyMessage, Subscriber};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let subscriber = Subscriber::builder(client)
///     .handler(ncl::handler_fn(|message: &AnyMessage| {
///         let id = message.id().map(str::to_owned);
///         async move {
///             println!("received {id:?}");
///             Ok(())
///         }
///     }))
///     .build()?;
/// subscriber.subscribe(["jobs.>"]).await?;
/// // ... later
/// subscriber.close().await;
/// # Ok(())
/// # }
/// ```
pub struct Subscriber {
    client: async_nats::Client,
    /// Spawns the task that runs one subscription through the pipeline; the pipeline's
    /// concrete type lives only inside this closure.
    spawn_intake: Box<SpawnIntake>,
    counters: Arc<Counters>,
    /// Shared with the pipeline, to report the suppressed log lines at close.
    log_limiter: Arc<RateLimiter>,
    handler_count: usize,
    serializer: EnvelopeSerializer,
    max_pending: usize,
    close_timeout: Duration,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

type SpawnIntake =
    dyn Fn(async_nats::Subscriber, watch::Receiver<bool>, usize) -> JoinHandle<()> + Send + Sync;

impl Subscriber {
    /// Starts building a subscriber on `client`.
    pub fn builder(client: async_nats::Client) -> SubscriberBuilder {
        SubscriberBuilder {
            client,
            handlers: (),
            filter: NoopFilter,
            checkpointer: NoopCheckpointer,
            serializer: EnvelopeSerializer::default(),
            registry: None,
            handler_timeout: DEFAULT_HANDLER_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            max_pending: DEFAULT_MAX_PENDING,
            acks: AckSettings::default(),
            name: String::from("subscriber"),
        }
    }

    /// Subscribes to each of `subjects` (wildcards allowed) and starts handling their
    /// messages. May be called more than once.
    ///
    /// Each subject gets its own NATS subscription and task; messages of one
    /// subscription are handled one at a time, in arrival order. It returns once the
    /// server has registered the subscriptions (it waits up to 5 s for the server to
    /// confirm), so a message published afterwards, from any connection, is received.
    ///
    /// # Errors
    ///
    /// Returns [`SubscribeError::InvalidSubject`] before subscribing to anything when
    /// any subject is invalid, [`SubscribeError::Closed`] after
    /// [`Subscriber::close`], and [`SubscribeError::Nats`] when the client fails
    /// (subjects before the failing one stay subscribed).
    pub async fn subscribe<I, S>(&self, subjects: I) -> Result<(), SubscribeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let subjects: Vec<String> = subjects.into_iter().map(Into::into).collect();
        for subject in &subjects {
            validate_subscribe_subject(subject)?;
        }
        for subject in subjects {
            if *self.shutdown.borrow() {
                return Err(SubscribeError::Closed);
            }
            let subscription = self
                .client
                .subscribe(subject.clone())
                .await
                .map_err(|source| SubscribeError::Nats {
                    subject: subject.clone(),
                    source,
                })?;
            tracing::debug!(subject = %subject, "subscribed");
            let task =
                (self.spawn_intake)(subscription, self.shutdown.subscribe(), self.max_pending);
            self.lock_tasks().push(task);
        }
        sync_with_server(&self.client).await;
        Ok(())
    }

    /// Returns a snapshot of the message counters.
    pub fn stats(&self) -> SubscriberStats {
        self.counters.snapshot()
    }

    /// Stops taking new messages and waits for the messages being handled.
    ///
    /// Each subscription is unsubscribed once its current message (if any) has been
    /// handled and checkpointed; messages queued behind it are not handled. The wait is
    /// bounded by the close timeout (see [`SubscriberBuilder::close_timeout`]); a
    /// handler still running then is cancelled. Calling it again does nothing.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the wait but not the shutdown, which completes in the
    /// background.
    pub async fn close(&self) {
        self.shutdown.send_replace(true);
        let tasks = std::mem::take(&mut *self.lock_tasks());
        for mut task in tasks {
            match tokio::time::timeout(self.close_timeout, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(error = %error, "subscription task ended abnormally");
                }
                Err(_) => {
                    tracing::warn!(
                        timeout = ?self.close_timeout,
                        "handler still running at close timeout; cancelling it"
                    );
                    task.abort();
                }
            }
        }
        self.log_limiter.report_suppressed();
    }

    fn lock_tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        // The guarded Vec stays consistent even if a holder panicked.
        self.tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        // Tasks see the flag and unsubscribe on their own.
        self.shutdown.send_replace(true);
    }
}

/// How long [`sync_with_server`] waits for its own message to come back.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits until the server has processed everything this client sent before, by
/// sending a message to a fresh inbox of the client's and waiting for it.
///
/// `async_nats::Client::flush` only waits for the bytes to leave the socket, so a
/// message published right after it from another connection could reach the server
/// before the subscription. The server handles one connection's commands in order, so
/// once the message comes back, the earlier subscriptions are in place. When the server
/// does not reply within [`SYNC_TIMEOUT`] this gives up quietly: the client registers
/// its subscriptions again when it reconnects.
pub(crate) async fn sync_with_server(client: &async_nats::Client) {
    let inbox = client.new_inbox();
    let Ok(mut probe) = client.subscribe(inbox.clone()).await else {
        return;
    };
    let round_trip = async {
        client.publish(inbox, bytes::Bytes::new()).await.ok()?;
        probe.next().await
    };
    if tokio::time::timeout(SYNC_TIMEOUT, round_trip)
        .await
        .is_err()
    {
        tracing::debug!("server did not confirm the subscriptions in time");
    }
    let _ = probe.unsubscribe().await;
}

/// Takes the messages of one subscription and runs them through the pipeline.
struct Intake<H, F, C> {
    pipeline: Arc<Pipeline<H, F, C>>,
    subscription: async_nats::Subscriber,
    shutdown: watch::Receiver<bool>,
    max_pending: usize,
    /// Replies to messages that carry a reply subject, or `None` when acks are off.
    acks: Option<Acknowledger>,
}

impl<H: HandlerChain, F: MessageFilter, C: Checkpointer> Intake<H, F, C> {
    /// Handles messages one at a time until shutdown or the end of the stream.
    ///
    /// While a message is being handled, arriving messages are moved from the client
    /// into a local queue of at most `max_pending`; beyond that they are dropped and
    /// counted. The client's own buffer therefore never overflows silently, and a slow
    /// handler costs counted drops instead of unbounded memory.
    async fn run(mut self) {
        let mut pending: VecDeque<async_nats::Message> = VecDeque::new();
        let mut intake_open = true;
        loop {
            let message = match pending.pop_front() {
                Some(message) => message,
                None if !intake_open => break,
                None => tokio::select! {
                    biased;
                    _ = self.shutdown.wait_for(|closed| *closed) => break,
                    message = self.subscription.next() => match message {
                        Some(message) => message,
                        None => break,
                    },
                },
            };
            if *self.shutdown.borrow() {
                break;
            }
            // The pipeline catches panics of user code itself; this is a backstop so
            // that nothing can end the subscription's task.
            let process =
                AssertUnwindSafe(self.pipeline.process(&message.subject, &message.payload))
                    .catch_unwind();
            tokio::pin!(process);
            let outcome = loop {
                tokio::select! {
                    biased;
                    outcome = &mut process => break outcome,
                    next = self.subscription.next(), if intake_open => match next {
                        Some(next) if pending.len() < self.max_pending => pending.push_back(next),
                        Some(next) => self.pipeline.dropped(&next.subject, self.max_pending),
                        None => intake_open = false,
                    },
                }
            };
            if let (Some(reply), Some(acks)) = (&message.reply, &mut self.acks) {
                acks.reply(reply, outcome.as_ref().ok()).await;
            }
        }
        if let Err(error) = self.subscription.unsubscribe().await {
            tracing::debug!(error = %error, "unsubscribe failed; the connection is closing");
        }
    }
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("handlers", &self.handler_count)
            .field("serializer", &self.serializer)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Subscriber`]; see [`Subscriber::builder`].
#[must_use = "a builder does nothing until build() is called"]
///
/// The builder's type parameters record the handlers, filter and checkpointer, so the
/// subscriber calls them without dynamic dispatch; they never need to be written out.
pub struct SubscriberBuilder<H = (), F = NoopFilter, C = NoopCheckpointer> {
    client: async_nats::Client,
    handlers: H,
    filter: F,
    checkpointer: C,
    acks: AckSettings,
    serializer: EnvelopeSerializer,
    registry: Option<Arc<PayloadRegistry>>,
    handler_timeout: Duration,
    close_timeout: Duration,
    max_pending: usize,
    name: String,
}

impl<H: HandlerChain, F: MessageFilter, C: Checkpointer> SubscriberBuilder<H, F, C> {
    /// Sets the subscriber's name, the `instance` label of its metrics. Defaults to
    /// `"subscriber"`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets how long one handler may run on one message before it is cancelled and the
    /// message counted as failed. Defaults to [`DEFAULT_HANDLER_TIMEOUT`] (30 s).
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// Sets how long [`Subscriber::close`] waits for in-flight handlers. Defaults to
    /// [`DEFAULT_CLOSE_TIMEOUT`] (30 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets how many messages per subscription may wait while a handler runs; more are
    /// dropped and counted in [`SubscriberStats::dropped`]. Defaults to
    /// [`DEFAULT_MAX_PENDING`] (65,536). Values below 1 are raised to 1.
    pub fn max_pending(mut self, max_pending: usize) -> Self {
        self.max_pending = max_pending.max(1);
        self
    }

    /// Sets whether the subscriber replies with an acknowledgement to a message that
    /// carries a reply subject, once the message went through the pipeline. Defaults to
    /// `true`, as Bacalhau's Go subscriber replies to every such message.
    ///
    /// A processed or filtered message gets `{}`; a failed one gets
    /// `{"error":"...","delay":<nanoseconds>}`, with the delay from
    /// [`SubscriberBuilder::nack_backoff`]; one that no handler takes gets
    /// `{"error":"..."}` without a delay, so the publisher fails it at once. See [`acked`](crate::acked) for the publishing
    /// side. Turn it off when the subscribed subjects also carry requests meant for a
    /// [`Responder`](crate::Responder) or JetStream publishes, whose reply subjects
    /// expect another reply.
    pub fn acks(mut self, enabled: bool) -> Self {
        self.acks.enabled = enabled;
        self
    }

    /// Sets the retry delays sent with negative acknowledgements: the delay after `n`
    /// consecutive failed messages of a subscription is `backoff.delay(n)`. Defaults to
    /// [`DEFAULT_NACK_BACKOFF`](crate::acked::DEFAULT_NACK_BACKOFF) (100 ms, doubling, at
    /// most 5 s).
    pub fn nack_backoff(mut self, backoff: crate::jetstream::Backoff) -> Self {
        self.acks.backoff = backoff;
        self
    }

    /// Adds a handler. Handlers run in the order they were added. At least one is
    /// required.
    pub fn handler<M: MessageHandler>(self, handler: M) -> SubscriberBuilder<(H, M), F, C> {
        SubscriberBuilder {
            client: self.client,
            handlers: (self.handlers, handler),
            filter: self.filter,
            checkpointer: self.checkpointer,
            serializer: self.serializer,
            registry: self.registry,
            acks: self.acks,
            handler_timeout: self.handler_timeout,
            close_timeout: self.close_timeout,
            max_pending: self.max_pending,
            name: self.name,
        }
    }

    /// Sets the filter. Defaults to [`NoopFilter`], which drops nothing.
    pub fn filter<G: MessageFilter>(self, filter: G) -> SubscriberBuilder<H, G, C> {
        SubscriberBuilder {
            client: self.client,
            handlers: self.handlers,
            filter,
            checkpointer: self.checkpointer,
            serializer: self.serializer,
            registry: self.registry,
            acks: self.acks,
            handler_timeout: self.handler_timeout,
            close_timeout: self.close_timeout,
            max_pending: self.max_pending,
            name: self.name,
        }
    }

    /// Sets the checkpointer. Defaults to [`NoopCheckpointer`].
    pub fn checkpointer<D: Checkpointer>(self, checkpointer: D) -> SubscriberBuilder<H, F, D> {
        SubscriberBuilder {
            client: self.client,
            handlers: self.handlers,
            filter: self.filter,
            checkpointer,
            serializer: self.serializer,
            registry: self.registry,
            acks: self.acks,
            handler_timeout: self.handler_timeout,
            close_timeout: self.close_timeout,
            max_pending: self.max_pending,
            name: self.name,
        }
    }

    /// Sets the envelope serializer used to decode. Any serializer decodes every
    /// supported version; the default is fine unless a custom one is needed.
    pub fn serializer(mut self, serializer: EnvelopeSerializer) -> Self {
        self.serializer = serializer;
        self
    }

    /// Sets the payload registry. Defaults to [`PayloadRegistry::global`].
    pub fn registry(mut self, registry: Arc<PayloadRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Builds the subscriber. It receives nothing until [`Subscriber::subscribe`].
    ///
    /// # Errors
    ///
    /// Returns [`BuildError::NoHandlers`] without a handler and
    /// [`BuildError::Registry`] when the default registry cannot be built.
    pub fn build(self) -> Result<Subscriber, BuildError> {
        if self.handlers.is_empty() {
            return Err(BuildError::NoHandlers);
        }
        let registry = match self.registry {
            Some(registry) => registry,
            None => PayloadRegistry::global().map_err(BuildError::Registry)?,
        };
        let (shutdown, _) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let log_limiter = Arc::new(RateLimiter::default());
        let handler_count = self.handlers.len();
        let pipeline = Arc::new(Pipeline {
            handlers: self.handlers,
            filter: self.filter,
            checkpointer: self.checkpointer,
            serializer: self.serializer,
            metrics: SubscriberMetrics::new(&self.name, &registry),
            registry,
            handler_timeout: self.handler_timeout,
            counters: Arc::clone(&counters),
            log_limiter: Arc::clone(&log_limiter),
        });
        let backoff = self.acks.backoff;
        if !backoff.is_valid() {
            return Err(BuildError::InvalidBackoff {
                initial: backoff.initial,
                factor: backoff.factor,
                max: backoff.max,
            });
        }
        let (ack_client, acks) = (self.client.clone(), self.acks);
        let spawn_intake = move |subscription, shutdown, max_pending| {
            let intake = Intake {
                pipeline: Arc::clone(&pipeline),
                subscription,
                shutdown,
                max_pending,
                acks: Acknowledger::new(&ack_client, acks),
            };
            tokio::spawn(intake.run())
        };
        Ok(Subscriber {
            client: self.client,
            spawn_intake: Box::new(spawn_intake),
            counters,
            log_limiter,
            handler_count,
            serializer: self.serializer,
            max_pending: self.max_pending,
            close_timeout: self.close_timeout,
            shutdown,
            tasks: Mutex::new(Vec::new()),
        })
    }
}
