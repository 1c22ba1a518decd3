//! The subscriber: decodes, filters, deserializes, handles and checkpoints.

mod stats;

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::stats::SubscriberStats;
use self::stats::{Counters, Failure, RateLimiter};
use crate::handler::{DynCheckpointer, DynHandler};
use crate::subject::{SubjectError, validate_subscribe_subject};
use crate::{
    AnyMessage, Checkpointer, EnvelopeSerializer, MessageFilter, MessageHandler,
    NoopCheckpointer, NoopFilter, PayloadRegistry, RegistryError,
};

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
    inner: Arc<Inner>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

struct Inner {
    client: async_nats::Client,
    handlers: Vec<Box<dyn DynHandler>>,
    filter: Box<dyn MessageFilter>,
    checkpointer: Box<dyn DynCheckpointer>,
    serializer: EnvelopeSerializer,
    registry: Arc<PayloadRegistry>,
    counters: Counters,
    log_limiter: RateLimiter,
}

impl Subscriber {
    /// Starts building a subscriber on `client`.
    pub fn builder(client: async_nats::Client) -> SubscriberBuilder {
        SubscriberBuilder {
            client,
            handlers: Vec::new(),
            filter: Box::new(NoopFilter),
            checkpointer: Box::new(NoopCheckpointer),
            serializer: EnvelopeSerializer::default(),
            registry: None,
        }
    }

    /// Subscribes to each of `subjects` (wildcards allowed) and starts handling their
    /// messages. May be called more than once.
    ///
    /// Each subject gets its own NATS subscription and task; messages of one
    /// subscription are handled one at a time, in arrival order.
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
                .inner
                .client
                .subscribe(subject.clone())
                .await
                .map_err(|source| SubscribeError::Nats {
                    subject: subject.clone(),
                    source,
                })?;
            tracing::debug!(subject = %subject, "subscribed");
            let inner = Arc::clone(&self.inner);
            let shutdown = self.shutdown.subscribe();
            let task = tokio::spawn(run_subscription(inner, subscription, shutdown));
            self.lock_tasks().push(task);
        }
        Ok(())
    }

    /// Returns a snapshot of the message counters.
    pub fn stats(&self) -> SubscriberStats {
        self.inner.counters.snapshot()
    }

    /// Stops taking new messages and waits for the messages being handled.
    ///
    /// Each subscription is unsubscribed once its current message (if any) has been
    /// handled and checkpointed; messages that arrived behind it are not handled.
    /// Calling it again does nothing.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the wait but not the shutdown, which completes in the
    /// background.
    pub async fn close(&self) {
        self.shutdown.send_replace(true);
        let tasks = std::mem::take(&mut *self.lock_tasks());
        for task in tasks {
            if let Err(error) = task.await {
                tracing::error!(error = %error, "subscription task ended abnormally");
            }
        }
    }

    fn lock_tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        // The guarded Vec stays consistent even if a holder panicked.
        self.tasks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        // Tasks see the flag and unsubscribe on their own.
        self.shutdown.send_replace(true);
    }
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("handlers", &self.inner.handlers.len())
            .field("serializer", &self.inner.serializer)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Handles the messages of one subscription until shutdown or the end of the stream.
async fn run_subscription(
    inner: Arc<Inner>,
    mut subscription: async_nats::Subscriber,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let message = tokio::select! {
            biased;
            _ = shutdown.wait_for(|closed| *closed) => break,
            message = subscription.next() => match message {
                Some(message) => message,
                None => break,
            },
        };
        inner.process(&message).await;
    }
    if let Err(error) = subscription.unsubscribe().await {
        tracing::debug!(error = %error, "unsubscribe failed; the connection is closing");
    }
}

impl Inner {
    /// Runs one message through every step; failures are counted and logged here.
    async fn process(&self, nats_message: &async_nats::Message) {
        self.counters.received();
        let subject = nats_message.subject.as_str();

        let raw = match self.serializer.deserialize_bytes(&nats_message.payload) {
            Ok(raw) => raw,
            Err(error) => {
                self.fail(Failure::Envelope, subject, None, None, &error);
                return;
            }
        };

        if self.filter.should_filter(&raw.metadata) {
            self.counters.filtered();
            tracing::trace!(
                subject,
                message_id = raw.metadata.message_id(),
                message_type = raw.metadata.message_type(),
                "message filtered out"
            );
            return;
        }

        let message = match self.registry.decode_message(raw) {
            Ok(message) => message,
            Err((error, metadata)) => {
                let (id, message_type) = (metadata.message_id(), metadata.message_type());
                self.fail(Failure::Payload, subject, id, message_type, &error);
                return;
            }
        };

        for handler in &self.handlers {
            if !handler.should_process(&message).await {
                continue;
            }
            let outcome = AssertUnwindSafe(handler.handle_message(&message))
                .catch_unwind()
                .await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    self.fail_message(Failure::Handler, subject, &message, handler.name(), &*error);
                    return;
                }
                Err(panic) => {
                    let panic = PanicMessage(panic_text(&panic));
                    self.fail_message(Failure::Panic, subject, &message, handler.name(), &panic);
                    return;
                }
            }
        }

        if let Err(error) = self.checkpointer.checkpoint(&message).await {
            self.fail_message(Failure::Checkpoint, subject, &message, "checkpointer", &*error);
            return;
        }
        self.counters.processed();
        tracing::trace!(
            subject,
            message_id = message.id(),
            message_type = message.message_type(),
            "message processed"
        );
    }

    fn fail_message(
        &self,
        failure: Failure,
        subject: &str,
        message: &AnyMessage,
        handler: &str,
        error: &(dyn std::error::Error + 'static),
    ) {
        self.counters.failed(failure);
        if let Some(suppressed) = self.log_limiter.allow(failure) {
            tracing::warn!(
                subject,
                message_id = message.id(),
                message_type = message.message_type(),
                handler,
                error = %error,
                suppressed,
                "{}",
                failure.description()
            );
        }
    }

    fn fail(
        &self,
        failure: Failure,
        subject: &str,
        message_id: Option<&str>,
        message_type: Option<&str>,
        error: &(dyn std::error::Error + 'static),
    ) {
        self.counters.failed(failure);
        if let Some(suppressed) = self.log_limiter.allow(failure) {
            tracing::warn!(
                subject,
                message_id,
                message_type,
                error = %error,
                suppressed,
                "{}",
                failure.description()
            );
        }
    }
}

/// A caught panic, as an error for logging.
#[derive(Debug)]
struct PanicMessage(String);

impl fmt::Display for PanicMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler panicked: {}", self.0)
    }
}

impl std::error::Error for PanicMessage {}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Builds a [`Subscriber`]; see [`Subscriber::builder`].
#[must_use = "a builder does nothing until build() is called"]
pub struct SubscriberBuilder {
    client: async_nats::Client,
    handlers: Vec<Box<dyn DynHandler>>,
    filter: Box<dyn MessageFilter>,
    checkpointer: Box<dyn DynCheckpointer>,
    serializer: EnvelopeSerializer,
    registry: Option<Arc<PayloadRegistry>>,
}

impl SubscriberBuilder {
    /// Adds a handler. Handlers run in the order they were added. At least one is
    /// required.
    pub fn handler(mut self, handler: impl MessageHandler) -> Self {
        self.handlers.push(Box::new(handler));
        self
    }

    /// Sets the filter. Defaults to [`NoopFilter`], which drops nothing.
    pub fn filter(mut self, filter: impl MessageFilter) -> Self {
        self.filter = Box::new(filter);
        self
    }

    /// Sets the checkpointer. Defaults to [`NoopCheckpointer`].
    pub fn checkpointer(mut self, checkpointer: impl Checkpointer) -> Self {
        self.checkpointer = Box::new(checkpointer);
        self
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
        Ok(Subscriber {
            inner: Arc::new(Inner {
                client: self.client,
                handlers: self.handlers,
                filter: self.filter,
                checkpointer: self.checkpointer,
                serializer: self.serializer,
                registry,
                counters: Counters::default(),
                log_limiter: RateLimiter::default(),
            }),
            shutdown,
            tasks: Mutex::new(Vec::new()),
        })
    }
}
