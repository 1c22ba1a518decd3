//! The responding side: [`Responder`] listens on a subject and responds to requests.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use super::{
    AnyResponse, DEFAULT_RESPONDER_CONCURRENCY, DEFAULT_RESPONDER_HANDLER_TIMEOUT, ErrorResponse,
    RequestHandler, ResponderError, codes,
};
use crate::metadata::keys;
use crate::subject::validate_subscribe_subject;
use crate::telemetry::{RequestTracker, ResponderMetrics};
use crate::{
    AnyMessage, BuildError, DEFAULT_CLOSE_TIMEOUT, DEFAULT_PUBLISH_TIMEOUT, Encoder,
    EnvelopeSerializer, HandlerError, Metadata, Payload, PayloadRegistry,
};

/// Listens on a subject for requests and responds to each with its handler's response.
///
/// For each request: decode the envelope, ask the handler whether it takes the request's
/// type, decode the payload, run the handler under the handler timeout, then publish the
/// response to the request's reply subject with the request's `MessageID`. Every failure
/// gets an [`ErrorResponse`] in reply, so the requester gets an error at once instead
/// of waiting for its timeout:
///
/// | failure | code | status |
/// | --- | --- | --- |
/// | envelope or payload does not decode | `BadRequest` | 400 |
/// | no handler takes the type | `NotFound` | 404 |
/// | handler returned an error | the error's [`ErrorResponse`], else `InternalError` | 500 |
/// | handler panicked, or its response did not encode or exceeds `max_payload` | `InternalError` | 500 |
/// | handler ran past the handler timeout | `TimeOut` | 500 |
///
/// Up to [`ResponderBuilder::max_concurrency`] requests are handled at once. A message
/// without a reply subject is ignored.
///
/// With the `metrics` feature, the responder counts the requests it receives and the
/// responses it sends by outcome, and it times its handler calls. The metrics are listed
/// from [`names::RESPONDER_REQUESTS`](crate::telemetry::names::RESPONDER_REQUESTS) on.
///
/// # Examples
///
/// ```no_run
/// use ncl::{RequestRouter, Responder};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let responder = Responder::builder(client)
///     .name("node-1")
///     .subject("node-1.requests")
///     .queue_group("nodes")
///     .handler(RequestRouter::new(())?)
///     .build()?;
/// responder.listen().await?;
/// // ... later
/// responder.close().await;
/// # Ok(())
/// # }
/// ```
pub struct Responder {
    client: async_nats::Client,
    subject: String,
    queue_group: Option<String>,
    handler_name: String,
    close_timeout: Duration,
    /// Spawns the task that handles the requests of one subscription. The handler's
    /// concrete type lives only inside this closure.
    spawn_listener: Box<SpawnListener>,
    listening: Mutex<Option<Listening>>,
}

type SpawnListener =
    dyn Fn(async_nats::Subscriber, watch::Receiver<bool>) -> JoinHandle<()> + Send + Sync;

/// The subscription task of a listening responder.
struct Listening {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Responder {
    /// Starts building a responder on `client`.
    pub fn builder(client: async_nats::Client) -> ResponderBuilder {
        ResponderBuilder {
            client,
            handler: (),
            name: None,
            subject: None,
            queue_group: None,
            serializer: EnvelopeSerializer::default(),
            registry: None,
            handler_timeout: DEFAULT_RESPONDER_HANDLER_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            max_concurrency: DEFAULT_RESPONDER_CONCURRENCY,
        }
    }

    /// Returns the subject the responder listens on.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Subscribes to the subject (in the queue group, if one was set) and starts handling
    /// requests. After [`Responder::close`] it may be called again.
    ///
    /// It returns once the server has registered the subscription (or after 5 s without
    /// a reply from the server), so a request sent afterwards from any connection
    /// reaches the responder.
    ///
    /// # Errors
    ///
    /// Returns [`ResponderError::AlreadyListening`] while the responder listens, and
    /// [`ResponderError::Nats`] when the client fails to subscribe.
    pub async fn listen(&self) -> Result<(), ResponderError> {
        let mut listening = self.listening.lock().await;
        if let Some(current) = listening.as_ref()
            && !current.task.is_finished()
        {
            return Err(ResponderError::AlreadyListening {
                subject: self.subject.clone(),
            });
        }

        let subscribed = match &self.queue_group {
            Some(queue_group) => {
                self.client
                    .queue_subscribe(self.subject.clone(), queue_group.clone())
                    .await
            }
            None => self.client.subscribe(self.subject.clone()).await,
        };
        let subscription = subscribed.map_err(|source| ResponderError::Nats {
            subject: self.subject.clone(),
            source,
        })?;

        let (shutdown, shutdown_receiver) = watch::channel(false);
        let task = (self.spawn_listener)(subscription, shutdown_receiver);
        *listening = Some(Listening { shutdown, task });
        // Requesters on other connections find the responder once this returns.
        crate::subscriber::sync_with_server(&self.client).await;
        tracing::debug!(
            subject = %self.subject,
            queue_group = self.queue_group.as_deref(),
            handler = %self.handler_name,
            "responder listening"
        );
        Ok(())
    }

    /// Returns `true` while the responder listens.
    pub async fn is_listening(&self) -> bool {
        let listening = self.listening.lock().await;
        listening
            .as_ref()
            .is_some_and(|listening| !listening.task.is_finished())
    }

    /// Stops taking requests and waits until the ones being handled have their responses.
    ///
    /// The subscription is dropped, which unsubscribes, once the requests in flight have
    /// their responses. The wait is bounded by the close timeout (see
    /// [`ResponderBuilder::close_timeout`]); handlers still running then are cancelled and
    /// their requesters time out. Calling it on a responder that does not listen does
    /// nothing.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the wait but not the shutdown, which completes in the
    /// background.
    pub async fn close(&self) {
        let Some(Listening { shutdown, mut task }) = self.listening.lock().await.take() else {
            return;
        };
        shutdown.send_replace(true);
        match tokio::time::timeout(self.close_timeout, &mut task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(
                    subject = %self.subject,
                    error = %error,
                    "responder task ended abnormally"
                );
            }
            Err(_) => {
                tracing::warn!(
                    subject = %self.subject,
                    timeout = ?self.close_timeout,
                    "request handlers still running at close timeout; cancelling them"
                );
                task.abort();
            }
        }
        tracing::debug!(subject = %self.subject, "responder closed");
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        // The task reads the flag, finishes the requests in flight and unsubscribes.
        if let Some(listening) = self.listening.get_mut() {
            listening.shutdown.send_replace(true);
        }
    }
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("subject", &self.subject)
            .field("queue_group", &self.queue_group)
            .field("handler", &self.handler_name)
            .finish_non_exhaustive()
    }
}

/// The handler and settings of a responder's subscription task.
struct Core<H> {
    handler: H,
    client: async_nats::Client,
    subject: String,
    serializer: EnvelopeSerializer,
    encoder: Encoder,
    handler_timeout: Duration,
    max_concurrency: usize,
    metrics: ResponderMetrics,
}

impl<H: RequestHandler> Core<H> {
    /// Responds to the requests of `subscription`, up to `max_concurrency` at once, until
    /// `shutdown` is set or the subscription ends.
    async fn run(
        self: Arc<Self>,
        subscription: async_nats::Subscriber,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let stop = async move {
            // An error means the responder was dropped, which also stops the task.
            let _ = shutdown.wait_for(|closed| *closed).await;
        };
        let core = &*self;
        subscription
            .take_until(stop)
            .for_each_concurrent(core.max_concurrency, |message| core.respond(message))
            .await;
        tracing::debug!(subject = %core.subject, "responder stopped listening");
    }

    /// Handles one request message and publishes its response.
    async fn respond(&self, message: async_nats::Message) {
        let Some(reply) = message.reply.clone() else {
            tracing::debug!(
                subject = %message.subject,
                "ignoring message without reply subject; requests need one"
            );
            return;
        };
        let (tracker, reply_plan) = self.process(&message).await;
        let Some((envelope, outcome)) = self.encode_reply(reply_plan) else {
            tracker.send_failed();
            return;
        };
        let publish = self.client.publish(reply.clone(), envelope);
        let sent = crate::timeout::timeout_after_first_poll(DEFAULT_PUBLISH_TIMEOUT, publish).await;
        let error = match sent {
            Ok(Ok(())) => {
                tracker.sent(outcome);
                return;
            }
            Ok(Err(error)) => error.to_string(),
            Err(()) => format!("timed out after {DEFAULT_PUBLISH_TIMEOUT:?}"),
        };
        tracker.send_failed();
        tracing::warn!(
            subject = %message.subject,
            reply = %reply,
            error = %error,
            "failed to send response; the requester will time out"
        );
    }

    /// Decodes and handles a request. Returns the tracker that counted it, and the
    /// request's `MessageID` with the response or the error to send.
    async fn process(&self, message: &async_nats::Message) -> (RequestTracker<'_>, Reply) {
        let raw = match self.serializer.deserialize_bytes(&message.payload) {
            Ok(raw) => raw,
            Err(error) => {
                let tracker = self.metrics.received(None);
                let text = format!("failed to decode request envelope: {error}");
                let error = ErrorResponse::new(codes::BAD_REQUEST, text);
                let rejection = Rejection::new(error, ResponseOutcome::EnvelopeError);
                return (
                    tracker,
                    Reply::rejected(header_message_id(message), None, rejection),
                );
            }
        };
        let message_type = raw.metadata.message_type();
        let tracker = self.metrics.received(message_type);
        let message_type = message_type.unwrap_or_default().to_owned();
        // The envelope's MessageID wins. The header is read only when the envelope has
        // none, because a header lookup hashes the name.
        let request_id = match raw.metadata.message_id() {
            Some(id) => Some(id.to_owned()),
            None => header_message_id(message),
        };

        if message_type.is_empty() {
            let text = "request has no Type metadata; set Type (or Bacalhau-Type) to the \
                        request payload's wire name";
            let error = ErrorResponse::new(codes::BAD_REQUEST, text);
            let rejection = Rejection::new(error, ResponseOutcome::PayloadError);
            return (tracker, Reply::rejected(request_id, None, rejection));
        }
        let handles =
            std::panic::catch_unwind(AssertUnwindSafe(|| self.handler.handles(&message_type)));
        let rejection = match handles {
            Ok(true) => None,
            Ok(false) => {
                let text = format!("no handler found for message type: {message_type}");
                let error = ErrorResponse::new(codes::NOT_FOUND, text);
                Some(Rejection::new(error, ResponseOutcome::NotFound))
            }
            Err(panic) => {
                let text = format!(
                    "request handler panicked in handles: {}",
                    panic_text(&*panic)
                );
                let error = ErrorResponse::new(codes::INTERNAL_ERROR, text);
                Some(Rejection::new(error, ResponseOutcome::Panic))
            }
        };
        if let Some(rejection) = rejection {
            return (
                tracker,
                Reply::rejected(request_id, Some(message_type), rejection),
            );
        }

        // A payload's Deserialize impl is user code and may panic.
        let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.encoder.registry().decode_message(raw)
        }));
        let text = match decoded {
            Ok(Ok(request)) => {
                let started = tracker.handler_started();
                let response = self.call_handler(&request).await;
                tracker.handler_finished(started);
                let reply = Reply {
                    request_id,
                    message_type: Some(message_type),
                    response,
                };
                return (tracker, reply);
            }
            Ok(Err((error, _))) => format!("failed to decode request payload: {error}"),
            Err(panic) => format!(
                "request payload deserialization panicked: {}",
                panic_text(&*panic)
            ),
        };
        let error = ErrorResponse::new(codes::BAD_REQUEST, text);
        let rejection = Rejection::new(error, ResponseOutcome::PayloadError);
        (
            tracker,
            Reply::rejected(request_id, Some(message_type), rejection),
        )
    }

    /// Runs the handler under the handler timeout, catching panics.
    async fn call_handler(&self, request: &AnyMessage) -> Result<AnyResponse, Rejection> {
        let handled = AssertUnwindSafe(self.handler.handle_request(request)).catch_unwind();
        match crate::timeout::timeout_after_first_poll(self.handler_timeout, handled).await {
            Ok(Ok(Ok(response))) => Ok(response),
            Ok(Ok(Err(error))) => Err(Rejection::new(
                error_response_from(&*error),
                ResponseOutcome::HandlerError,
            )),
            Ok(Err(panic)) => {
                let text = format!("request handler panicked: {}", panic_text(&*panic));
                let error = ErrorResponse::new(codes::INTERNAL_ERROR, text);
                Err(Rejection::new(error, ResponseOutcome::Panic))
            }
            Err(()) => {
                let text = format!(
                    "request handler timed out after {:?} and was cancelled",
                    self.handler_timeout
                );
                let error = ErrorResponse::new(codes::TIME_OUT, text);
                Err(Rejection::new(error, ResponseOutcome::Timeout))
            }
        }
    }

    /// Encodes the response, or the error response that replaces it, and returns it with
    /// its outcome. Returns `None` when not even an error response could be encoded.
    fn encode_reply(&self, reply: Reply) -> Option<(Bytes, ResponseOutcome)> {
        let Reply {
            request_id,
            message_type,
            response,
        } = reply;
        let rejection = match response {
            Ok(response) => match self.encode_response(request_id.as_deref(), &response) {
                Ok(envelope) => {
                    tracing::trace!(
                        subject = %self.subject,
                        message_id = request_id.as_deref(),
                        message_type = message_type.as_deref(),
                        response_type = response.message_type(),
                        "sending response"
                    );
                    return Some((envelope, ResponseOutcome::Responded));
                }
                Err(rejection) => rejection,
            },
            Err(rejection) => rejection,
        };
        let Rejection { error, outcome } = rejection;
        tracing::debug!(
            subject = %self.subject,
            message_id = request_id.as_deref(),
            message_type = message_type.as_deref(),
            code = %error.code,
            error = %error.message,
            "sending error response"
        );
        let mut metadata = response_metadata(request_id.as_deref());
        metadata.set(super::keys::STATUS_CODE, &error.status_code.to_string());
        metadata.set(super::keys::ERROR_CODE, &error.code);
        match self.encoder.encode(&mut metadata, &*error) {
            Ok(envelope) => Some((envelope, outcome)),
            Err(encode_error) => {
                tracing::error!(
                    subject = %self.subject,
                    message_id = request_id.as_deref(),
                    error = %encode_error,
                    "failed to encode error response; the requester will time out"
                );
                None
            }
        }
    }

    /// Encodes a handler's response, checked against the server's `max_payload`.
    fn encode_response(
        &self,
        request_id: Option<&str>,
        response: &AnyResponse,
    ) -> Result<Bytes, Rejection> {
        let mut metadata = response_metadata(request_id);
        let envelope = response
            .encode(&self.encoder, &mut metadata)
            .map_err(|error| {
                let text = format!(
                    "failed to encode response of type {}: {error}",
                    response.message_type()
                );
                let error = ErrorResponse::new(codes::INTERNAL_ERROR, text);
                Rejection::new(error, ResponseOutcome::SerializeError)
            })?;
        let limit = self.client.max_payload();
        if envelope.len() > limit {
            let text = format!(
                "response of type {} is {} bytes, over the server's max_payload of {limit} bytes",
                response.message_type(),
                envelope.len()
            );
            let error = ErrorResponse::new(codes::INTERNAL_ERROR, text);
            return Err(Rejection::new(error, ResponseOutcome::MaxPayloadExceeded));
        }
        Ok(envelope)
    }
}

/// The kind of response a responder sent for one request, as its metrics count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResponseOutcome {
    /// The handler's response.
    Responded,
    /// An error response: the handler returned an error.
    HandlerError,
    /// An error response: no handler takes the request's type.
    NotFound,
    /// An error response: the handler ran past the handler timeout.
    Timeout,
    /// An error response: the handler or its `handles` panicked.
    Panic,
    /// An error response: the request's envelope did not decode.
    EnvelopeError,
    /// An error response: the request's payload did not decode, or its `Deserialize`
    /// panicked.
    PayloadError,
    /// An error response: the handler's response did not encode.
    SerializeError,
    /// An error response: the handler's response exceeds the server's `max_payload`.
    MaxPayloadExceeded,
}

/// A request's `MessageID` and type, and the response or error to send back.
struct Reply {
    request_id: Option<String>,
    message_type: Option<String>,
    response: Result<AnyResponse, Rejection>,
}

impl Reply {
    fn rejected(
        request_id: Option<String>,
        message_type: Option<String>,
        rejection: Rejection,
    ) -> Self {
        Self {
            request_id,
            message_type,
            response: Err(rejection),
        }
    }
}

/// An error response to send in place of a response, and its outcome.
struct Rejection {
    error: Box<ErrorResponse>,
    outcome: ResponseOutcome,
}

impl Rejection {
    fn new(error: ErrorResponse, outcome: ResponseOutcome) -> Self {
        Self {
            error: Box::new(error),
            outcome,
        }
    }
}

/// Returns the `MessageID` header of a request message.
fn header_message_id(message: &async_nats::Message) -> Option<String> {
    let headers = message.headers.as_ref()?;
    Some(headers.get(keys::MESSAGE_ID)?.as_str().to_owned())
}

/// Returns metadata for a response, which carries the request's `MessageID` as the Go
/// responder's does.
fn response_metadata(request_id: Option<&str>) -> Metadata {
    let mut metadata = Metadata::with_capacity(8, 200);
    if let Some(id) = request_id {
        metadata.set(keys::MESSAGE_ID, id);
    }
    metadata
}

/// Builds the error response for a handler error: the first [`ErrorResponse`] in its
/// source chain, or an `InternalError` with the handler's own error text.
fn error_response_from(error: &(dyn std::error::Error + Send + Sync + 'static)) -> ErrorResponse {
    if let Some(response) = ErrorResponse::find_in(error) {
        return response.clone();
    }
    // A router or generated impl names the handler in a HandlerError; the requester gets
    // the handler's own message.
    let message = match error.downcast_ref::<HandlerError>() {
        Some(error) => error.inner().to_string(),
        None => error.to_string(),
    };
    ErrorResponse::new(codes::INTERNAL_ERROR, message)
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Builds a [`Responder`]; see [`Responder::builder`].
///
/// The type parameter records the request handler, so the responder calls it without
/// dynamic dispatch; it never needs to be written out.
#[must_use = "a builder does nothing until build() is called"]
pub struct ResponderBuilder<H = ()> {
    client: async_nats::Client,
    handler: H,
    name: Option<String>,
    subject: Option<String>,
    queue_group: Option<String>,
    serializer: EnvelopeSerializer,
    registry: Option<Arc<PayloadRegistry>>,
    handler_timeout: Duration,
    close_timeout: Duration,
    max_concurrency: usize,
}

impl<H> ResponderBuilder<H> {
    /// Sets the responder's name, written as `Source` on every response. Required.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the subject to listen on; wildcards are allowed. Required.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Subscribes in the queue group `queue_group`, so that each request goes to one of
    /// the responders of the group.
    pub fn queue_group(mut self, queue_group: impl Into<String>) -> Self {
        self.queue_group = Some(queue_group.into());
        self
    }

    /// Sets the handler that handles requests: a [`RequestRouter`](super::RequestRouter)
    /// or a type whose impl block is under `#[ncl::handler]`. Required.
    pub fn handler<R: RequestHandler>(self, handler: R) -> ResponderBuilder<R> {
        ResponderBuilder {
            client: self.client,
            handler,
            name: self.name,
            subject: self.subject,
            queue_group: self.queue_group,
            serializer: self.serializer,
            registry: self.registry,
            handler_timeout: self.handler_timeout,
            close_timeout: self.close_timeout,
            max_concurrency: self.max_concurrency,
        }
    }

    /// Sets the envelope serializer of responses. Defaults to JSON (version 1); requests
    /// of every version are decoded.
    pub fn serializer(mut self, serializer: EnvelopeSerializer) -> Self {
        self.serializer = serializer;
        self
    }

    /// Sets the payload registry. Defaults to [`PayloadRegistry::global`].
    /// [`ErrorResponse`] is added to a registry that lacks it.
    pub fn registry(mut self, registry: Arc<PayloadRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Sets how long the handler may run on one request before it is cancelled and the
    /// request gets an error response of code `TimeOut`. Defaults to
    /// [`DEFAULT_RESPONDER_HANDLER_TIMEOUT`](super::DEFAULT_RESPONDER_HANDLER_TIMEOUT)
    /// (5 s).
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// Sets how long [`Responder::close`] waits for requests in flight. Defaults to
    /// [`DEFAULT_CLOSE_TIMEOUT`] (30 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets how many requests are handled at once. Defaults to
    /// [`DEFAULT_RESPONDER_CONCURRENCY`](super::DEFAULT_RESPONDER_CONCURRENCY) (64).
    /// Values below 1 are raised to 1, which handles requests one at a time in arrival
    /// order.
    pub fn max_concurrency(mut self, max_concurrency: usize) -> Self {
        self.max_concurrency = max_concurrency.max(1);
        self
    }
}

impl<H: RequestHandler> ResponderBuilder<H> {
    /// Builds the responder. It receives nothing until [`Responder::listen`].
    ///
    /// # Errors
    ///
    /// Returns [`ResponderError::Build`] when the name is missing or blank or the default
    /// registry cannot be built, [`ResponderError::MissingSubject`] and
    /// [`ResponderError::InvalidSubject`] for the subject,
    /// [`ResponderError::InvalidQueueGroup`], and [`ResponderError::Registry`] when the
    /// registry has another type named `BacError`.
    pub fn build(self) -> Result<Responder, ResponderError> {
        let name = self.name.ok_or(BuildError::MissingName)?;
        if name.trim().is_empty() {
            return Err(BuildError::BlankName.into());
        }
        let subject = self.subject.ok_or(ResponderError::MissingSubject)?;
        validate_subscribe_subject(&subject)?;
        if let Some(queue_group) = &self.queue_group
            && (queue_group.is_empty() || queue_group.contains(char::is_whitespace))
        {
            return Err(ResponderError::InvalidQueueGroup {
                queue_group: queue_group.clone(),
            });
        }
        let registry = match self.registry {
            Some(registry) => registry,
            None => PayloadRegistry::global().map_err(BuildError::Registry)?,
        };
        let registry = with_error_response(registry)?;

        let handler_name = self.handler.name().to_owned();
        let core = Arc::new(Core {
            handler: self.handler,
            client: self.client.clone(),
            subject: subject.clone(),
            serializer: self.serializer,
            metrics: ResponderMetrics::new(&name, &registry),
            encoder: Encoder::new(name, self.serializer, registry),
            handler_timeout: self.handler_timeout,
            max_concurrency: self.max_concurrency,
        });
        let spawn_listener = move |subscription, shutdown| {
            tokio::spawn(Arc::clone(&core).run(subscription, shutdown))
        };
        Ok(Responder {
            client: self.client,
            subject,
            queue_group: self.queue_group,
            handler_name,
            close_timeout: self.close_timeout,
            spawn_listener: Box::new(spawn_listener),
            listening: Mutex::new(None),
        })
    }
}

/// Returns `registry`, or a copy of it with [`ErrorResponse`] added when it lacks it.
fn with_error_response(
    registry: Arc<PayloadRegistry>,
) -> Result<Arc<PayloadRegistry>, ResponderError> {
    if registry.name_of::<ErrorResponse>() == Some(ErrorResponse::NAME) {
        return Ok(registry);
    }
    let mut copy = PayloadRegistry::clone(&registry);
    copy.register_payload::<ErrorResponse>()
        .map_err(|error| ResponderError::Registry(Arc::new(error)))?;
    Ok(Arc::new(copy))
}
