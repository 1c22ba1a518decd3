//! The per-message pipeline shared by every kind of subscription: envelope decode,
//! filter, payload decode, handlers, checkpoint.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use tracing::Instrument;

use super::stats::{Counters, Failure, RateLimiter};
use crate::handler::{HandlerChain, HandlerVisitor};
use crate::router::HandlerError;
use crate::telemetry::{self, MessageTracker, SubscriberMetrics};
use crate::{
    AnyMessage, Checkpointer, EnvelopeSerializer, MessageFilter, MessageHandler, PayloadRegistry,
    RawMessage,
};

/// Result of processing one message.
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "the failure details are for subscribers that acknowledge"
)]
pub(crate) enum Outcome {
    /// Every interested handler succeeded and the checkpoint was recorded.
    Processed,
    /// The filter dropped the message.
    Filtered,
    /// No handler wanted the message, and the checkpoint was recorded. A JetStream
    /// subscriber acknowledges it, because no redelivery would change that. A core
    /// subscriber replies to an acknowledged publisher with a negative acknowledgement
    /// without a retry delay, so that its sender learns that nothing handled it.
    Unhandled {
        /// The message's type, empty when it has none.
        message_type: String,
    },
    /// A step failed; `error` describes it.
    Failed {
        /// The step that failed.
        stage: Failure,
        /// The error, as text, for acknowledgements and dead letters.
        error: String,
    },
}

/// The parts a subscriber is built from, shared by its subscription tasks.
///
/// Generic over the handler chain, filter and checkpointer, so that processing a
/// message makes no dynamic calls and boxes no futures.
pub(crate) struct Pipeline<H, F, C> {
    pub(crate) handlers: H,
    pub(crate) filter: F,
    pub(crate) checkpointer: C,
    pub(crate) serializer: EnvelopeSerializer,
    pub(crate) registry: Arc<PayloadRegistry>,
    pub(crate) handler_timeout: Duration,
    pub(crate) counters: Arc<Counters>,
    pub(crate) log_limiter: Arc<RateLimiter>,
    pub(crate) metrics: SubscriberMetrics,
}

impl<H: HandlerChain, F: MessageFilter, C: Checkpointer> Pipeline<H, F, C> {
    /// Runs one message through every step. Failures are counted and logged here.
    pub(crate) async fn process(&self, subject: &str, payload: &Bytes) -> Outcome {
        self.process_with(subject, payload, None).await
    }

    /// Runs one message through every step, as [`Pipeline::process`], and sets
    /// `stream_sequence` (of a JetStream delivery) on the decoded message, where handlers
    /// and checkpointers read it.
    pub(crate) async fn process_with(
        &self,
        subject: &str,
        payload: &Bytes,
        stream_sequence: Option<u64>,
    ) -> Outcome {
        let mut tracker = self.metrics.track();
        self.counters.received();

        let raw = match self.serializer.deserialize_bytes(payload) {
            Ok(raw) => raw,
            Err(error) => {
                let outcome = self.fail(Failure::Envelope, subject, None, None, "", &error);
                return tracker.finish(outcome);
            }
        };
        tracker.envelope_decoded(&raw.metadata);
        let span = telemetry::process_span(subject, &raw.metadata);
        let outcome = self
            .process_decoded(subject, raw, stream_sequence, &mut tracker)
            .instrument(span)
            .await;
        tracker.finish(outcome)
    }

    /// Runs a message whose envelope decoded through the remaining steps.
    async fn process_decoded(
        &self,
        subject: &str,
        raw: RawMessage,
        stream_sequence: Option<u64>,
        tracker: &mut MessageTracker<'_>,
    ) -> Outcome {
        let filtered = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.filter.should_filter(&raw.metadata)
        }));
        let filtered = match filtered {
            Ok(filtered) => filtered,
            Err(panic) => {
                let error = Panicked("message filter", panic_text(&*panic));
                let (id, message_type) = (raw.metadata.message_id(), raw.metadata.message_type());
                return self.fail(Failure::Panic, subject, id, message_type, "filter", &error);
            }
        };
        if filtered {
            self.counters.filtered();
            tracing::trace!(
                subject,
                message_id = raw.metadata.message_id(),
                message_type = raw.metadata.message_type(),
                "message filtered out"
            );
            return Outcome::Filtered;
        }

        // A payload's Deserialize impl is user code and may panic.
        let decoded =
            std::panic::catch_unwind(AssertUnwindSafe(|| self.registry.decode_message(raw)));
        let mut message = match decoded {
            Ok(Ok(message)) => message,
            Ok(Err((error, metadata))) => {
                let (id, message_type) = (metadata.message_id(), metadata.message_type());
                return self.fail(Failure::Payload, subject, id, message_type, "", &error);
            }
            Err(panic) => {
                let error = Panicked("payload deserialization", panic_text(&*panic));
                return self.fail(Failure::Payload, subject, None, None, "", &error);
            }
        };
        message.set_stream_sequence(stream_sequence);

        let runner = HandlerRunner {
            pipeline: self,
            subject,
            wanted: AtomicBool::new(false),
        };
        tracker.handlers_started();
        if let Err(outcome) = self.handlers.for_each(&runner, &message).await {
            return outcome;
        }
        tracker.handlers_finished();
        let wanted = runner.wanted.load(Ordering::Relaxed);
        if !wanted {
            self.counters.unhandled();
            tracker.unhandled();
            tracing::debug!(
                subject,
                message_id = message.id(),
                message_type = message.message_type(),
                "no handler wanted the message"
            );
        }

        let checkpoint = AssertUnwindSafe(self.checkpointer.checkpoint(&message))
            .catch_unwind()
            .await;
        match checkpoint {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                return self.fail_message(Failure::Checkpoint, subject, &message, "", &*error);
            }
            Err(panic) => {
                let error = Panicked("checkpointer", panic_text(&*panic));
                return self.fail_message(Failure::Checkpoint, subject, &message, "", &error);
            }
        }
        self.counters.processed();
        tracing::trace!(
            subject,
            message_id = message.id(),
            message_type = message.message_type(),
            "message processed"
        );
        if wanted {
            Outcome::Processed
        } else {
            Outcome::Unhandled {
                message_type: message.message_type().unwrap_or_default().to_owned(),
            }
        }
    }

    fn fail_message(
        &self,
        failure: Failure,
        subject: &str,
        message: &AnyMessage,
        handler: &str,
        error: &(dyn std::error::Error + 'static),
    ) -> Outcome {
        let (id, message_type) = (message.id(), message.message_type());
        self.fail(failure, subject, id, message_type, handler, error)
    }

    fn fail(
        &self,
        failure: Failure,
        subject: &str,
        message_id: Option<&str>,
        message_type: Option<&str>,
        handler: &str,
        error: &(dyn std::error::Error + 'static),
    ) -> Outcome {
        self.counters.failed(failure);
        if let Some(suppressed) = self.log_limiter.allow(failure.log_slot()) {
            tracing::warn!(
                subject,
                message_id,
                message_type,
                handler,
                error = %error,
                suppressed,
                "{}",
                failure.description()
            );
        }
        Outcome::Failed {
            stage: failure,
            error: error.to_string(),
        }
    }

    /// Counts a message dropped because the subscription's pending queue is full.
    pub(crate) fn dropped(&self, subject: &str, max_pending: usize) {
        self.counters.dropped();
        self.metrics.dropped();
        if let Some(suppressed) = self.log_limiter.allow(RateLimiter::DROPPED_SLOT) {
            tracing::warn!(
                subject,
                max_pending,
                suppressed,
                "dropping message: handlers are slower than the publish rate and the \
                 subscription's pending queue is full"
            );
        }
    }
}

/// Runs each handler of the chain under the timeout, catching panics.
struct HandlerRunner<'p, H, F, C> {
    pipeline: &'p Pipeline<H, F, C>,
    subject: &'p str,
    /// Set when some handler's `should_process` returned `true`.
    wanted: AtomicBool,
}

impl<H: HandlerChain, F: MessageFilter, C: Checkpointer> HandlerVisitor
    for HandlerRunner<'_, H, F, C>
{
    type Error = Outcome;

    async fn visit<'a, M: MessageHandler>(
        &'a self,
        handler: &'a M,
        message: &'a AnyMessage,
    ) -> Result<(), Outcome> {
        let pipeline = self.pipeline;
        let subject = self.subject;
        match AssertUnwindSafe(handler.should_process(message))
            .catch_unwind()
            .await
        {
            Ok(true) => self.wanted.store(true, Ordering::Relaxed),
            Ok(false) => return Ok(()),
            Err(panic) => {
                let error = Panicked("should_process", panic_text(&*panic));
                let name = handler.name();
                return Err(pipeline.fail_message(Failure::Panic, subject, message, name, &error));
            }
        }
        let handled = AssertUnwindSafe(handler.handle_message(message)).catch_unwind();
        let (failure, name, error): (Failure, &str, Box<dyn std::error::Error + Send + Sync>) =
            match crate::timeout::timeout_after_first_poll(pipeline.handler_timeout, handled).await
            {
                Ok(Ok(Ok(()))) => return Ok(()),
                Ok(Ok(Err(error))) => {
                    // A router names the function that failed; other handlers go by type.
                    let name = match error.downcast_ref::<HandlerError>() {
                        Some(error) => error.handler(),
                        None => handler.name(),
                    };
                    (Failure::Handler, name, error)
                }
                Err(_elapsed) => {
                    let error = HandlerTimedOut(pipeline.handler_timeout);
                    (Failure::Timeout, handler.name(), Box::new(error))
                }
                Ok(Err(panic)) => {
                    let error = Panicked("handler", panic_text(&*panic));
                    (Failure::Panic, handler.name(), Box::new(error))
                }
            };
        Err(pipeline.fail_message(failure, subject, message, name, &*error))
    }
}

/// A handler that ran longer than the subscriber's handler timeout.
#[derive(Debug)]
struct HandlerTimedOut(Duration);

impl fmt::Display for HandlerTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler timed out after {:?} and was cancelled", self.0)
    }
}

impl std::error::Error for HandlerTimedOut {}

/// A caught panic in user code (what panicked, and the panic message), as an error.
#[derive(Debug)]
struct Panicked(&'static str, String);

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} panicked: {}", self.0, self.1)
    }
}

impl std::error::Error for Panicked {}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
