//! The JetStream subscriber, its builder, and the stream and consumer it sets up.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::context::GetStreamByNameErrorKind;
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType};
use futures_util::future::BoxFuture;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use super::dead_letter::Target;
use super::puller;
use super::stats::DurableCounters;
use super::{Backoff, BuildError, DurableStats, StartError};
use crate::handler::HandlerChain;
use crate::subscriber::pipeline::Pipeline;
use crate::subscriber::stats::{Counters, RateLimiter};
use crate::telemetry::{DurableMetrics, SubscriberMetrics};
use crate::{
    BoxError, Checkpointer, DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDLER_TIMEOUT, EnvelopeSerializer,
    MessageFilter, MessageHandler, NoopCheckpointer, NoopFilter, PayloadRegistry,
    validate_publish_subject, validate_subscribe_subject,
};

/// Default for [`SubscriberBuilder::max_deliveries`].
pub const DEFAULT_MAX_DELIVERIES: u32 = 5;
/// Default for [`SubscriberBuilder::ack_wait`].
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
/// Default for [`SubscriberBuilder::concurrency`].
pub const DEFAULT_CONCURRENCY: usize = 1;
/// Default for [`SubscriberBuilder::pull_expiry`].
pub const DEFAULT_PULL_EXPIRY: Duration = Duration::from_secs(5);
/// Minimum pull expiry, because shorter ones would make an idle subscriber poll the
/// server in a tight loop.
const MIN_PULL_EXPIRY: Duration = Duration::from_millis(100);
/// Extra time [`Subscriber::close`] gives the pull task after the close timeout, for the
/// acknowledgements it sends after its handlers finish.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The settings of a built subscriber.
#[derive(Debug)]
pub(super) struct Settings {
    pub(super) stream: String,
    pub(super) subjects: Vec<String>,
    pub(super) durable: String,
    pub(super) dead_letter_subject: String,
    pub(super) max_deliveries: u32,
    pub(super) ack_wait: Duration,
    pub(super) backoff: Backoff,
    pub(super) concurrency: usize,
    pub(super) pull_expiry: Duration,
    pub(super) close_timeout: Duration,
}

impl Settings {
    /// Returns `true` when deliveries at or below the last checkpoint are skipped, which
    /// is safe only when messages are handled one at a time, in stream order.
    pub(super) fn skips_checkpointed(&self) -> bool {
        self.concurrency == 1
    }
}

/// The typed half of a subscriber: the pipeline and what every delivery needs.
pub(super) struct Engine<H, F, C> {
    pub(super) pipeline: Pipeline<H, F, C>,
    pub(super) settings: Arc<Settings>,
    pub(super) counters: Arc<DurableCounters>,
    pub(super) log_limiter: RateLimiter,
    pub(super) metrics: DurableMetrics,
}

/// The server-side setup made by [`Subscriber::start`], handed to the pull task.
pub(super) struct Wiring {
    pub(super) js: async_nats::jetstream::Context,
    pub(super) dead_letter: Target,
    pub(super) consumer: PullConsumer,
    pub(super) inbox: async_nats::Subscriber,
    pub(super) inbox_prefix: String,
    pub(super) shutdown: watch::Receiver<bool>,
}

/// The engine seen without its type parameters.
trait Launch: Send + Sync {
    fn last_checkpoint(&self) -> BoxFuture<'_, Result<i64, BoxError>>;
    fn launch(self: Arc<Self>, wiring: Wiring) -> JoinHandle<()>;
}

impl<H: HandlerChain, F: MessageFilter, C: Checkpointer> Launch for Engine<H, F, C> {
    fn last_checkpoint(&self) -> BoxFuture<'_, Result<i64, BoxError>> {
        Box::pin(self.pipeline.checkpointer.last_checkpoint())
    }

    fn launch(self: Arc<Self>, wiring: Wiring) -> JoinHandle<()> {
        tokio::spawn(puller::run(self, wiring))
    }
}

enum State {
    Built,
    Running(JoinHandle<()>),
    Closed,
}

/// Receives enveloped messages from a durable JetStream consumer and hands them to
/// handlers, acknowledging each only after it was handled and checkpointed.
///
/// [`Subscriber::start`] creates the stream if it is missing (the subjects from
/// [`SubscriberBuilder::subjects`], file storage, limits retention, the server's
/// defaults otherwise), creates or updates the durable pull consumer (explicit
/// acknowledgement, [`SubscriberBuilder::ack_wait`], at most
/// [`SubscriberBuilder::concurrency`] unacknowledged messages), and starts pulling.
///
/// Each delivery goes through the steps of the core [`Subscriber`](crate::Subscriber):
/// envelope decode, filter, payload decode, handlers, checkpoint. Then:
///
/// | outcome | action |
/// | --- | --- |
/// | every handler succeeded and the checkpoint was recorded | ack |
/// | the filter dropped it | ack |
/// | stream sequence at or below the last checkpoint (concurrency 1 only) | ack without handling |
/// | envelope or payload does not decode (bad bytes, unknown type) | dead letter at once, then ack |
/// | a handler or the checkpoint failed, fewer than `max_deliveries` deliveries | negative ack with the [`Backoff`] delay |
/// | a handler or the checkpoint failed on delivery `max_deliveries` | dead letter, then ack |
///
/// A dead letter goes to [`SubscriberBuilder::dead_letter_subject`] with the error and
/// delivery count added (see [`dead_letter_keys`](super::dead_letter_keys)). When
/// publishing it fails, the message is negatively acknowledged and tried again. While a
/// handler runs, the subscriber sends the server an in-progress notice every half ack
/// wait, so a slow handler does not cause a redelivery.
///
/// With concurrency 1 the consumer allows one unacknowledged message, so messages are
/// handled strictly in stream order: a message waiting for its retry holds back the
/// ones behind it until it succeeds or is dead-lettered.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
///
/// use ncl::AnyMessage;
/// use ncl::jetstream::{Backoff, MemoryCheckpointer, Subscriber};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let subscriber = Subscriber::builder(client)
///     .stream("ORDERS")
///     .subjects(["orders.>"])
///     .durable_name("billing")
///     .max_deliveries(3)
///     .backoff(Backoff { initial: Duration::from_millis(500), ..Backoff::DEFAULT })
///     .checkpointer(MemoryCheckpointer::new())
///     .handler(ncl::handler_fn(|message: &AnyMessage| {
///         let sequence = message.stream_sequence();
///         async move {
///             println!("handling stream sequence {sequence:?}");
///             Ok(())
///         }
///     }))
///     .build()?;
/// subscriber.start().await?;
/// // ... later
/// subscriber.close().await;
/// # Ok(())
/// # }
/// ```
pub struct Subscriber {
    client: async_nats::Client,
    settings: Arc<Settings>,
    engine: Arc<dyn Launch>,
    pipeline_counters: Arc<Counters>,
    counters: Arc<DurableCounters>,
    shutdown: watch::Sender<bool>,
    state: Mutex<State>,
}

impl Subscriber {
    /// Starts building a JetStream subscriber on `client`.
    pub fn builder(client: async_nats::Client) -> SubscriberBuilder {
        SubscriberBuilder {
            client,
            handlers: (),
            filter: NoopFilter,
            checkpointer: NoopCheckpointer,
            options: Options::default(),
        }
    }

    /// Sets up the stream and the durable consumer, then starts pulling and handling
    /// messages in a background task.
    ///
    /// # Errors
    ///
    /// Nothing is pulled after an error, and `start` may be called again.
    ///
    /// - [`StartError::AlreadyStarted`]: a second call.
    /// - [`StartError::Closed`]: a call after [`Subscriber::close`].
    /// - [`StartError::Stream`]: the stream cannot be found or created, for example
    ///   because JetStream is disabled.
    /// - [`StartError::DeadLetterCaptured`]: the existing stream stores the dead-letter
    ///   subject.
    /// - [`StartError::DeadLetterLookup`]: the server did not report which stream
    ///   stores the dead-letter subject.
    /// - [`StartError::Consumer`]: the consumer cannot be created or updated.
    /// - [`StartError::Checkpoint`]: the checkpointer cannot report its position.
    /// - [`StartError::Subscribe`]: the client cannot subscribe to the pull inbox.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes starts nothing, but the stream or
    /// consumer may have been created already, which a later call reuses.
    pub async fn start(&self) -> Result<(), StartError> {
        let mut state = self.state.lock().await;
        match *state {
            State::Built => {}
            State::Running(_) => return Err(StartError::AlreadyStarted),
            State::Closed => return Err(StartError::Closed),
        }
        let settings = &*self.settings;
        let js = async_nats::jetstream::new(self.client.clone());
        let stream = ensure_stream(&js, settings).await?;
        let dead_letter = dead_letter_target(&js, settings).await?;
        let consumer = ensure_consumer(&stream, settings).await?;
        let checkpoint = self
            .engine
            .last_checkpoint()
            .await
            .map_err(StartError::Checkpoint)?;
        let inbox_prefix = self.client.new_inbox();
        let inbox = self
            .client
            .subscribe(format!("{inbox_prefix}.*"))
            .await
            .map_err(StartError::Subscribe)?;

        if checkpoint > 0 && !settings.skips_checkpointed() {
            tracing::warn!(
                stream = %settings.stream,
                durable = %settings.durable,
                checkpoint,
                concurrency = settings.concurrency,
                "checkpoint skipping is off because concurrency is above 1; handlers may see \
                 a redelivered message again"
            );
        }
        tracing::debug!(
            stream = %settings.stream,
            durable = %settings.durable,
            checkpoint,
            concurrency = settings.concurrency,
            dead_letter_subject = %dead_letter.subject(),
            dead_letter_stream = dead_letter.stream(),
            "durable subscriber started"
        );
        let wiring = Wiring {
            js,
            dead_letter,
            consumer,
            inbox,
            inbox_prefix,
            shutdown: self.shutdown.subscribe(),
        };
        *state = State::Running(Arc::clone(&self.engine).launch(wiring));
        Ok(())
    }

    /// Returns a snapshot of the counters.
    pub fn stats(&self) -> DurableStats {
        self.counters.snapshot(self.pipeline_counters.snapshot())
    }

    /// Returns the stream name.
    pub fn stream(&self) -> &str {
        &self.settings.stream
    }

    /// Returns the durable consumer name.
    pub fn durable_name(&self) -> &str {
        &self.settings.durable
    }

    /// Returns the subject dead letters are published to.
    pub fn dead_letter_subject(&self) -> &str {
        &self.settings.dead_letter_subject
    }

    /// Stops pulling and waits for the messages being handled.
    ///
    /// Messages already handled are acknowledged. Messages pulled but not yet started
    /// are negatively acknowledged without delay, so the server delivers them again at
    /// once to the next subscriber of the durable. The wait is bounded by the close
    /// timeout. A handler still running then is cancelled, and its message is delivered
    /// again after the ack wait. Calling `close` again, or before
    /// [`Subscriber::start`], only marks the subscriber closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the wait but not the shutdown, which completes in the
    /// background.
    pub async fn close(&self) {
        self.shutdown.send_replace(true);
        let mut state = self.state.lock().await;
        let State::Running(mut task) = std::mem::replace(&mut *state, State::Closed) else {
            return;
        };
        let timeout = self.settings.close_timeout + CLOSE_GRACE;
        match tokio::time::timeout(timeout, &mut task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(error = %error, "JetStream pull task ended abnormally");
            }
            Err(_) => {
                tracing::warn!(?timeout, "JetStream pull task still running; cancelling it");
                task.abort();
            }
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        // The pull task reads the flag and shuts down on its own.
        self.shutdown.send_replace(true);
    }
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("settings", &self.settings)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Gets the stream, creating it with the documented defaults when it is missing, and
/// checks that it does not store the dead-letter subject.
async fn ensure_stream(
    js: &async_nats::jetstream::Context,
    settings: &Settings,
) -> Result<stream::Stream, StartError> {
    let config = stream::Config {
        name: settings.stream.clone(),
        subjects: settings.subjects.clone(),
        storage: StorageType::File,
        retention: RetentionPolicy::Limits,
        ..Default::default()
    };
    let stream = js
        .get_or_create_stream(config)
        .await
        .map_err(|source| StartError::Stream {
            stream: settings.stream.clone(),
            source,
        })?;
    let subjects = &stream.cached_info().config.subjects;
    if let Some(stream_subject) = capturing_subject(subjects, &settings.dead_letter_subject) {
        return Err(StartError::DeadLetterCaptured {
            stream: settings.stream.clone(),
            dead_letter_subject: settings.dead_letter_subject.clone(),
            stream_subject: stream_subject.to_owned(),
        });
    }
    Ok(stream)
}

/// Decides how dead letters are published: through JetStream when some other stream
/// stores the dead-letter subject, on core NATS otherwise.
async fn dead_letter_target(
    js: &async_nats::jetstream::Context,
    settings: &Settings,
) -> Result<Target, StartError> {
    let subject = settings.dead_letter_subject.clone();
    match js.stream_by_subject(subject.clone()).await {
        Ok(stream) => Ok(Target::Stream { subject, stream }),
        Err(error) if error.kind() == GetStreamByNameErrorKind::NotFound => {
            Ok(Target::Core { subject })
        }
        Err(source) => Err(StartError::DeadLetterLookup { subject, source }),
    }
}

/// Gets or creates the durable consumer, updating it when the settings this subscriber
/// relies on differ.
async fn ensure_consumer(
    stream: &stream::Stream,
    settings: &Settings,
) -> Result<PullConsumer, StartError> {
    let max_ack_pending = i64::try_from(settings.concurrency).unwrap_or(i64::MAX);
    let config = pull::Config {
        durable_name: Some(settings.durable.clone()),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: settings.ack_wait,
        // The subscriber counts deliveries itself. Unlimited on the server means a
        // message whose dead-letter publish failed is delivered again, not dropped.
        max_deliver: -1,
        max_ack_pending,
        ..Default::default()
    };
    let consumer_error = |source: BoxError| StartError::Consumer {
        stream: settings.stream.clone(),
        durable: settings.durable.clone(),
        source,
    };
    let consumer = stream
        .get_or_create_consumer(&settings.durable, config.clone())
        .await
        .map_err(|error| consumer_error(Box::new(error)))?;
    let current = &consumer.cached_info().config;
    let matches = current.ack_policy == config.ack_policy
        && current.ack_wait == config.ack_wait
        && current.max_deliver == config.max_deliver
        && current.max_ack_pending == config.max_ack_pending;
    if matches {
        return Ok(consumer);
    }
    tracing::debug!(
        stream = %settings.stream,
        durable = %settings.durable,
        "updating the durable consumer to the subscriber's settings"
    );
    stream
        .update_consumer(config)
        .await
        .map_err(|error| consumer_error(Box::new(error)))
}

/// Returns the first of `stream_subjects` that matches `subject`.
fn capturing_subject<'a>(stream_subjects: &'a [String], subject: &str) -> Option<&'a str> {
    stream_subjects
        .iter()
        .map(String::as_str)
        .find(|pattern| subject_matches(pattern, subject))
}

/// Returns `true` when the literal `subject` matches `pattern`, where `*` matches one
/// token and a final `>` matches one or more.
fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for pattern_token in pattern.split('.') {
        if pattern_token == ">" {
            return subject_tokens.next().is_some();
        }
        match subject_tokens.next() {
            Some(token) if pattern_token == "*" || pattern_token == token => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

/// Returns `true` for a valid JetStream stream or consumer name.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
}

/// The builder settings that do not change its type.
struct Options {
    stream: Option<String>,
    subjects: Vec<String>,
    durable: Option<String>,
    dead_letter_subject: Option<String>,
    max_deliveries: u32,
    ack_wait: Duration,
    backoff: Backoff,
    concurrency: usize,
    pull_expiry: Duration,
    serializer: EnvelopeSerializer,
    registry: Option<Arc<PayloadRegistry>>,
    handler_timeout: Duration,
    close_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            stream: None,
            subjects: Vec::new(),
            durable: None,
            dead_letter_subject: None,
            max_deliveries: DEFAULT_MAX_DELIVERIES,
            ack_wait: DEFAULT_ACK_WAIT,
            backoff: Backoff::DEFAULT,
            concurrency: DEFAULT_CONCURRENCY,
            pull_expiry: DEFAULT_PULL_EXPIRY,
            serializer: EnvelopeSerializer::default(),
            registry: None,
            handler_timeout: DEFAULT_HANDLER_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
        }
    }
}

/// Builds a JetStream [`Subscriber`]; see [`Subscriber::builder`].
///
/// The type parameters record the handlers, filter and checkpointer, as on the core
/// [`SubscriberBuilder`](crate::SubscriberBuilder); they never need to be written out.
#[must_use = "a builder does nothing until build() is called"]
pub struct SubscriberBuilder<H = (), F = NoopFilter, C = NoopCheckpointer> {
    client: async_nats::Client,
    handlers: H,
    filter: F,
    checkpointer: C,
    options: Options,
}

impl<H: HandlerChain, F: MessageFilter, C: Checkpointer> SubscriberBuilder<H, F, C> {
    /// Sets the stream to read. Required.
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.options.stream = Some(name.into());
        self
    }

    /// Sets the subjects the stream stores, used when the subscriber creates the
    /// stream. Required. An existing stream is used as it is, and the consumer receives
    /// every message it stores.
    pub fn subjects<I, S>(mut self, subjects: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.subjects = subjects.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the durable consumer's name. Required. Subscribers with the same stream and
    /// durable name share one position in the stream, which survives restarts.
    pub fn durable_name(mut self, name: impl Into<String>) -> Self {
        self.options.durable = Some(name.into());
        self
    }

    /// Sets the subject dead letters are published to. Defaults to
    /// `<stream>.dead-letter`.
    ///
    /// It must not match the stream's own subjects: the stream would store its dead
    /// letters and deliver them again. [`SubscriberBuilder::build`] checks it against
    /// [`SubscriberBuilder::subjects`] and [`Subscriber::start`] against the subjects
    /// of the existing stream. When another stream stores the subject, dead letters are
    /// published through JetStream, and the original is acknowledged only after that
    /// stream stored the dead letter. Otherwise they are published on core NATS and
    /// reach only the subscribers connected at that moment. [`Subscriber::start`] makes
    /// this choice once.
    pub fn dead_letter_subject(mut self, subject: impl Into<String>) -> Self {
        self.options.dead_letter_subject = Some(subject.into());
        self
    }

    /// Sets on which delivery a message that keeps failing is dead-lettered. Defaults
    /// to [`DEFAULT_MAX_DELIVERIES`] (5). Values below 1 are raised to 1.
    ///
    /// The subscriber counts deliveries itself (the server reports the count with each
    /// delivery), and sets the consumer's server-side `max_deliver` to unlimited, so a
    /// message whose dead-letter publish failed is delivered again rather than dropped
    /// by the server.
    pub fn max_deliveries(mut self, max_deliveries: u32) -> Self {
        self.options.max_deliveries = max_deliveries.max(1);
        self
    }

    /// Sets how long the server waits for an acknowledgement before it delivers a
    /// message again. Defaults to [`DEFAULT_ACK_WAIT`] (30 s).
    ///
    /// A message whose subscriber died unacknowledged is delivered again after this
    /// time, and with concurrency 1 the messages behind it wait as long.
    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.options.ack_wait = ack_wait;
        self
    }

    /// Sets the delays between deliveries of a failing message. Defaults to
    /// [`Backoff::DEFAULT`] (1 s, doubling, at most 1 minute).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.options.backoff = backoff;
        self
    }

    /// Sets how many messages are handled at the same time. Defaults to
    /// [`DEFAULT_CONCURRENCY`] (1). Values below 1 are raised to 1.
    ///
    /// The subscriber never pulls more messages than it has free slots, and the
    /// consumer allows as many unacknowledged messages as this value. With 1, messages
    /// are handled one at a time in stream order. With more, they complete out of
    /// order, so checkpoint skipping is off (see [`SubscriberBuilder::checkpointer`]).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.options.concurrency = concurrency.max(1);
        self
    }

    /// Sets how long one pull request waits on the server for messages before the
    /// subscriber sends another. Defaults to [`DEFAULT_PULL_EXPIRY`] (5 s), and values
    /// below 100 ms are raised to 100 ms.
    ///
    /// A pull request lost with a server restart is replaced after a reconnect, or after
    /// this time plus one second at the latest.
    pub fn pull_expiry(mut self, expiry: Duration) -> Self {
        self.options.pull_expiry = expiry.max(MIN_PULL_EXPIRY);
        self
    }

    /// Sets how long one handler may run on one message before it is cancelled and the
    /// delivery counted as failed. Defaults to [`DEFAULT_HANDLER_TIMEOUT`] (30 s).
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.options.handler_timeout = timeout;
        self
    }

    /// Sets how long [`Subscriber::close`] waits for running handlers. Defaults to
    /// [`DEFAULT_CLOSE_TIMEOUT`] (30 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.options.close_timeout = timeout;
        self
    }

    /// Sets the envelope serializer used to decode. Any serializer decodes every
    /// supported version.
    pub fn serializer(mut self, serializer: EnvelopeSerializer) -> Self {
        self.options.serializer = serializer;
        self
    }

    /// Sets the payload registry. Defaults to [`PayloadRegistry::global`].
    pub fn registry(mut self, registry: Arc<PayloadRegistry>) -> Self {
        self.options.registry = Some(registry);
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
            options: self.options,
        }
    }

    /// Sets the filter. Defaults to [`NoopFilter`]. Filtered messages are acknowledged.
    pub fn filter<G: MessageFilter>(self, filter: G) -> SubscriberBuilder<H, G, C> {
        SubscriberBuilder {
            client: self.client,
            handlers: self.handlers,
            filter,
            checkpointer: self.checkpointer,
            options: self.options,
        }
    }

    /// Sets the checkpointer. Defaults to [`NoopCheckpointer`], which reports 0, so
    /// nothing is skipped.
    ///
    /// After the handlers succeed, the checkpointer records the message, and the message
    /// is acknowledged only after that. [`MemoryCheckpointer`](super::MemoryCheckpointer)
    /// and [`FileCheckpointer`](super::FileCheckpointer) record its stream sequence
    /// ([`AnyMessage::stream_sequence`](crate::AnyMessage::stream_sequence)).
    ///
    /// With concurrency 1, a delivery whose stream sequence is at or below
    /// [`Checkpointer::last_checkpoint`] is acknowledged without handling. A message
    /// delivered again because its acknowledgement was lost (a crash, a reconnect) is
    /// then not handled twice, so handlers see each stored message once. Two cases
    /// still replay a message: a crash after the handlers succeeded but before the
    /// checkpoint was written, and a checkpoint that failed.
    ///
    /// This relies on messages being handled in stream order, which is the case only
    /// with concurrency 1. With more, a message retried after a later one was
    /// checkpointed would be skipped and lost. So the subscriber does not skip at all,
    /// and handlers must tolerate duplicates. For the same reason, a checkpoint file
    /// written at concurrency above 1 must not be reused at concurrency 1.
    pub fn checkpointer<D: Checkpointer>(self, checkpointer: D) -> SubscriberBuilder<H, F, D> {
        SubscriberBuilder {
            client: self.client,
            handlers: self.handlers,
            filter: self.filter,
            checkpointer,
            options: self.options,
        }
    }

    /// Builds the subscriber. It pulls nothing until [`Subscriber::start`].
    ///
    /// # Errors
    ///
    /// Returns a [`BuildError`] when:
    ///
    /// - there is no handler;
    /// - the stream, subjects or durable name are missing or invalid;
    /// - the dead-letter subject is invalid or matches one of the subjects;
    /// - the backoff is invalid;
    /// - the default registry cannot be built.
    pub fn build(self) -> Result<Subscriber, BuildError> {
        if self.handlers.is_empty() {
            return Err(crate::BuildError::NoHandlers.into());
        }
        let options = self.options;
        let settings = Arc::new(validate(&options)?);
        let registry = match options.registry {
            Some(registry) => registry,
            None => PayloadRegistry::global().map_err(crate::BuildError::Registry)?,
        };
        let pipeline_counters = Arc::new(Counters::default());
        let counters = Arc::new(DurableCounters::default());
        let engine = Engine {
            pipeline: Pipeline {
                handlers: self.handlers,
                filter: self.filter,
                checkpointer: self.checkpointer,
                serializer: options.serializer,
                metrics: SubscriberMetrics::new(&settings.durable, &registry),
                registry,
                handler_timeout: options.handler_timeout,
                counters: Arc::clone(&pipeline_counters),
                log_limiter: Arc::default(),
            },
            settings: Arc::clone(&settings),
            counters: Arc::clone(&counters),
            log_limiter: RateLimiter::default(),
            metrics: DurableMetrics::new(&settings.durable),
        };
        let (shutdown, _) = watch::channel(false);
        Ok(Subscriber {
            client: self.client,
            settings,
            engine: Arc::new(engine),
            pipeline_counters,
            counters,
            shutdown,
            state: Mutex::new(State::Built),
        })
    }
}

/// Checks the builder's options and turns them into settings.
fn validate(options: &Options) -> Result<Settings, BuildError> {
    let stream = options.stream.clone().ok_or(BuildError::MissingStream)?;
    if !is_valid_name(&stream) {
        return Err(BuildError::InvalidName {
            kind: "stream",
            name: stream,
        });
    }

    let durable = options
        .durable
        .clone()
        .ok_or(BuildError::MissingDurableName)?;
    if !is_valid_name(&durable) {
        return Err(BuildError::InvalidName {
            kind: "durable consumer",
            name: durable,
        });
    }

    if options.subjects.is_empty() {
        return Err(BuildError::NoSubjects);
    }
    for subject in &options.subjects {
        validate_subscribe_subject(subject)?;
    }

    let dead_letter_subject = options
        .dead_letter_subject
        .clone()
        .unwrap_or_else(|| format!("{stream}.dead-letter"));
    validate_publish_subject(&dead_letter_subject)?;
    if let Some(stream_subject) = capturing_subject(&options.subjects, &dead_letter_subject) {
        return Err(BuildError::DeadLetterCaptured {
            dead_letter_subject,
            stream_subject: stream_subject.to_owned(),
        });
    }

    let backoff = options.backoff;
    if !backoff.is_valid() {
        return Err(BuildError::InvalidBackoff {
            initial: backoff.initial,
            factor: backoff.factor,
            max: backoff.max,
        });
    }

    Ok(Settings {
        stream,
        subjects: options.subjects.clone(),
        durable,
        dead_letter_subject,
        max_deliveries: options.max_deliveries,
        ack_wait: options.ack_wait,
        backoff,
        concurrency: options.concurrency,
        pull_expiry: options.pull_expiry,
        close_timeout: options.close_timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_matching_follows_nats_wildcards() {
        let cases = [
            ("orders.>", "orders.dead-letter", true),
            ("orders.>", "orders", false),
            ("orders.*", "orders.dead-letter", true),
            ("orders.*", "orders.a.b", false),
            ("orders.created", "orders.dead-letter", false),
            (">", "anything.at.all", true),
            ("*.dead-letter", "ORDERS.dead-letter", true),
            ("ORDERS.dead-letter", "ORDERS.dead-letter", true),
        ];
        for (pattern, subject, expected) in cases {
            assert_eq!(
                subject_matches(pattern, subject),
                expected,
                "pattern {pattern:?} against {subject:?}"
            );
        }
    }

    #[test]
    fn names_with_dots_or_wildcards_are_invalid() {
        assert!(is_valid_name("ORDERS_v2-east"));
        for name in ["", "a.b", "a*", "a>", "a b", "a/b", "a\\b"] {
            assert!(!is_valid_name(name), "{name:?} should be invalid");
        }
    }
}
