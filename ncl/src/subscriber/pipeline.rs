//! The per-message pipeline shared by every kind of subscription: envelope decode,
//! filter, payload decode, handlers, checkpoint.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;

use super::stats::{Counters, Failure, RateLimiter};
use crate::handler::{DynCheckpointer, DynHandler};
use crate::router::HandlerError;
use crate::{AnyMessage, EnvelopeSerializer, MessageFilter, PayloadRegistry};

/// What happened to one message.
#[derive(Debug)]
#[allow(dead_code, reason = "the failure details are for subscribers that acknowledge")]
pub(crate) enum Outcome {
    /// Every interested handler succeeded and the checkpoint was recorded.
    Processed,
    /// The filter dropped the message.
    Filtered,
    /// A step failed; `error` describes it.
    Failed {
        /// The step that failed.
        stage: Failure,
        /// The error, as text, for acknowledgements and dead letters.
        error: String,
    },
}

/// The parts a subscriber is built from, shared by its subscription tasks.
pub(crate) struct Pipeline {
    pub(crate) handlers: Vec<Box<dyn DynHandler>>,
    pub(crate) filter: Box<dyn MessageFilter>,
    pub(crate) checkpointer: Box<dyn DynCheckpointer>,
    pub(crate) serializer: EnvelopeSerializer,
    pub(crate) registry: Arc<PayloadRegistry>,
    pub(crate) handler_timeout: Duration,
    pub(crate) counters: Counters,
    pub(crate) log_limiter: RateLimiter,
}

impl Pipeline {
    /// Runs one message through every step. Failures are counted and logged here.
    pub(crate) async fn process(&self, subject: &str, payload: &Bytes) -> Outcome {
        self.counters.received();

        let raw = match self.serializer.deserialize_bytes(payload) {
            Ok(raw) => raw,
            Err(error) => return self.fail(Failure::Envelope, subject, None, None, "", &error),
        };

        if self.filter.should_filter(&raw.metadata) {
            self.counters.filtered();
            tracing::trace!(
                subject,
                message_id = raw.metadata.message_id(),
                message_type = raw.metadata.message_type(),
                "message filtered out"
            );
            return Outcome::Filtered;
        }

        let message = match self.registry.decode_message(raw) {
            Ok(message) => message,
            Err((error, metadata)) => {
                let (id, message_type) = (metadata.message_id(), metadata.message_type());
                return self.fail(Failure::Payload, subject, id, message_type, "", &error);
            }
        };

        for handler in &self.handlers {
            if let Some(outcome) = self.run_handler(&**handler, subject, &message).await {
                return outcome;
            }
        }

        if let Err(error) = self.checkpointer.checkpoint(&message).await {
            return self.fail_message(Failure::Checkpoint, subject, &message, "", &*error);
        }
        self.counters.processed();
        tracing::trace!(
            subject,
            message_id = message.id(),
            message_type = message.message_type(),
            "message processed"
        );
        Outcome::Processed
    }

    /// Runs one handler under the timeout; returns the failure, if any.
    async fn run_handler(
        &self,
        handler: &dyn DynHandler,
        subject: &str,
        message: &AnyMessage,
    ) -> Option<Outcome> {
        if !handler.should_process(message).await {
            return None;
        }
        let handled = AssertUnwindSafe(handler.handle_message(message)).catch_unwind();
        match tokio::time::timeout(self.handler_timeout, handled).await {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(error))) => {
                // A router names the function that failed; other handlers go by type.
                let name = match error.downcast_ref::<HandlerError>() {
                    Some(error) => error.handler(),
                    None => handler.name(),
                };
                Some(self.fail_message(Failure::Handler, subject, message, name, &*error))
            }
            Err(_elapsed) => {
                let error = HandlerTimedOut(self.handler_timeout);
                Some(self.fail_message(Failure::Timeout, subject, message, handler.name(), &error))
            }
            Ok(Err(panic)) => {
                let error = HandlerPanicked(panic_text(&*panic));
                Some(self.fail_message(Failure::Panic, subject, message, handler.name(), &error))
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

/// A handler that ran longer than the subscriber's handler timeout.
#[derive(Debug)]
struct HandlerTimedOut(Duration);

impl fmt::Display for HandlerTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler timed out after {:?} and was cancelled", self.0)
    }
}

impl std::error::Error for HandlerTimedOut {}

/// A caught panic, as an error for logging.
#[derive(Debug)]
struct HandlerPanicked(String);

impl fmt::Display for HandlerPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler panicked: {}", self.0)
    }
}

impl std::error::Error for HandlerPanicked {}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
