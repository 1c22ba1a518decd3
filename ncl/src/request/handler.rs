//! The [`RequestHandler`] trait that a [`Responder`](super::Responder) calls, and the
//! type-erased response it returns.

use std::fmt;
use std::future::Future;

use bytes::Bytes;

use crate::handler::BoxError;
use crate::{AnyMessage, Encoder, Metadata, Payload, RegistryError};

/// A response payload whose type is known only at run time, returned by a
/// [`RequestHandler`].
///
/// # Examples
///
/// ```
/// use ncl::{AnyResponse, NclPayload};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct Pong {
///     seq: u64,
/// }
///
/// let response = AnyResponse::new(Pong { seq: 1 });
/// assert_eq!(response.message_type(), "Pong");
/// ```
pub struct AnyResponse {
    inner: Box<dyn ErasedResponse>,
}

/// A payload behind a trait object, encodable without knowing its type.
trait ErasedResponse: Send + Sync {
    fn encode(&self, encoder: &Encoder, metadata: &mut Metadata) -> Result<Bytes, RegistryError>;
    fn message_type(&self) -> &'static str;
    fn type_name(&self) -> &'static str;
}

impl<T: Payload> ErasedResponse for T {
    fn encode(&self, encoder: &Encoder, metadata: &mut Metadata) -> Result<Bytes, RegistryError> {
        encoder.encode(metadata, self)
    }

    fn message_type(&self) -> &'static str {
        T::NAME
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

impl AnyResponse {
    /// Wraps a response payload.
    pub fn new<T: Payload>(payload: T) -> Self {
        Self {
            inner: Box::new(payload),
        }
    }

    /// Returns the payload's wire type name.
    pub fn message_type(&self) -> &'static str {
        self.inner.message_type()
    }

    /// Stamps `metadata` and encodes the payload into an envelope.
    pub(crate) fn encode(
        &self,
        encoder: &Encoder,
        metadata: &mut Metadata,
    ) -> Result<Bytes, RegistryError> {
        self.inner.encode(encoder, metadata)
    }
}

impl fmt::Debug for AnyResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyResponse")
            .field("message_type", &self.inner.message_type())
            .field("payload_type", &self.inner.type_name())
            .finish()
    }
}

/// Handles decoded requests and returns their responses.
///
/// A [`Responder`](super::Responder) calls [`RequestHandler::handles`] with the request's
/// wire type and, when it returns `true`, decodes the payload and calls
/// [`RequestHandler::handle_request`]. A type the handler does not take gets
/// an error response of code `NotFound` without decoding the payload.
///
/// `#[ncl::handler]` implements it for impl blocks whose methods return
/// `Result<R, E>`, and [`RequestRouter`](super::RequestRouter) implements it for free
/// request handler functions.
///
/// # Examples
///
/// ```
/// use ncl::{AnyMessage, AnyResponse, BoxError, NclPayload, RequestHandler};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct Ping {
///     seq: u64,
/// }
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct Pong {
///     seq: u64,
/// }
///
/// struct Echo;
///
/// impl RequestHandler for Echo {
///     fn handles(&self, message_type: &str) -> bool {
///         message_type == "Ping"
///     }
///
///     async fn handle_request(&self, request: &AnyMessage) -> Result<AnyResponse, BoxError> {
///         let seq = request.payload::<Ping>().ok_or("not a Ping")?.seq;
///         Ok(AnyResponse::new(Pong { seq }))
///     }
/// }
/// ```
pub trait RequestHandler: Send + Sync + 'static {
    /// Returns `true` when this handler takes requests of wire type `message_type`.
    fn handles(&self, message_type: &str) -> bool;

    /// Handles one request and returns its response.
    ///
    /// # Errors
    ///
    /// An error is sent back as an [`ErrorResponse`](super::ErrorResponse): the first one
    /// in the error's source chain, or one of code `InternalError` with the error's text.
    fn handle_request(
        &self,
        request: &AnyMessage,
    ) -> impl Future<Output = Result<AnyResponse, BoxError>> + Send;

    /// Returns the name used for this handler in logs. Defaults to its Rust type name.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

/// Support items for the code `#[ncl::handler]` generates for request handlers.
#[doc(hidden)]
pub(crate) mod support {
    use crate::Request;
    use crate::handler::BoxError;

    /// Splits what a request handler returns into its response and a boxed error.
    ///
    /// The response type is not bounded here: generated code checks that it is a payload
    /// once, where it takes `AnyResponse::new::<R>` as a function pointer, so that a type
    /// that is not a payload is reported once.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a supported request handler return type",
        label = "return `Result<R, E>` with `R` the request's response type and `E: std::error::Error + Send + Sync + 'static`"
    )]
    pub trait IntoRequestResult {
        /// The response type `R`.
        type Response;

        /// Performs the conversion.
        fn into_request_result(self) -> Result<Self::Response, BoxError>;
    }

    impl<R, E: std::error::Error + Send + Sync + 'static> IntoRequestResult for Result<R, E> {
        type Response = R;

        fn into_request_result(self) -> Result<R, BoxError> {
            self.map_err(|error| Box::new(error) as BoxError)
        }
    }

    /// Compiles only for return types a request handler may have; generated code calls it
    /// with the span of the declared return type.
    pub fn assert_request_return<R: IntoRequestResult>() {}

    /// Compiles only when `T` is a request type whose response type is `R`.
    pub const fn assert_response_of<T: Request<Response = R>, R>() {}

    /// Wraps a request handler method's error in a `HandlerError` that names the method.
    pub fn name_error(handler: &'static str, error: BoxError) -> BoxError {
        Box::new(crate::HandlerError::new(handler, error))
    }

    /// Error for a request routed to a handler that does not take its type, which happens
    /// only when a `RequestHandler` impl's `handles` and `handle_request` disagree.
    #[derive(Debug, thiserror::Error)]
    #[error("request handler {handler} does not take requests of type {message_type:?}")]
    pub struct UnhandledRequest {
        /// The handler's name.
        pub handler: &'static str,
        /// The request's wire type.
        pub message_type: String,
    }

    /// Builds the error for a request that no arm of a generated `handle_request` takes.
    pub fn unhandled(handler: &'static str, message_type: Option<&str>) -> BoxError {
        Box::new(UnhandledRequest {
            handler,
            message_type: message_type.unwrap_or_default().to_owned(),
        })
    }
}
