//! Errors of request/reply: what a requester gets back, what a responder sends, and why a
//! responder cannot start.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{EnvelopeError, Payload, PublishError, RegistryError, SubjectError};

/// Error codes of [`ErrorResponse::code`], spelled as Bacalhau's `bacerrors.ErrorCode`
/// values (`pkg/bacerrors/codes.go`).
pub mod codes {
    /// The request is malformed: its envelope or payload did not decode.
    pub const BAD_REQUEST: &str = "BadRequest";
    /// The handler failed, panicked, or its response could not be sent.
    pub const INTERNAL_ERROR: &str = "InternalError";
    /// No handler takes requests of the message's type.
    pub const NOT_FOUND: &str = "NotFound";
    /// The handler ran past the responder's handler timeout.
    pub const TIME_OUT: &str = "TimeOut";
    /// The caller is not authenticated.
    pub const UNAUTHORIZED: &str = "Unauthorized";
    /// The caller may not make this request.
    pub const FORBIDDEN: &str = "Forbidden";
    /// The service cannot take requests now.
    pub const SERVICE_UNAVAILABLE: &str = "ServiceUnavailable";
    /// The request is understood but not implemented.
    pub const NOT_IMPLEMENTED: &str = "NotImplemented";
    /// A quota or limit was reached.
    pub const RESOURCE_EXHAUSTED: &str = "ResourceExhausted";
    /// The resource is in use by another operation.
    pub const RESOURCE_IN_USE: &str = "ResourceInUse";
    /// The two sides run incompatible versions.
    pub const VERSION_MISMATCH: &str = "VersionMismatch";
    /// The request is well-formed but its values are invalid.
    pub const VALIDATION_ERROR: &str = "ValidationError";
    /// The caller sent too many requests.
    pub const TOO_MANY_REQUESTS: &str = "TooManyRequests";
    /// A network operation failed.
    pub const NETWORK_FAILURE: &str = "NetworkFailure";
    /// The responder is misconfigured.
    pub const CONFIGURATION_ERROR: &str = "ConfigurationError";
    /// A datastore operation failed.
    pub const DATASTORE_FAILURE: &str = "DatastoreFailure";
    /// The request was cancelled.
    pub const REQUEST_CANCELLED: &str = "RequestCancelled";
    /// An I/O operation failed.
    pub const IO_ERROR: &str = "IOError";
    /// The failure has no more specific code.
    pub const UNKNOWN_ERROR: &str = "UnknownError";
}

/// The payload of an error response: what a [`Responder`](super::Responder) sends back
/// when a request fails, and what a request handler may return to choose the code.
///
/// Its wire name is `BacError` and its fields are serialized as Bacalhau's
/// `bacerrors.JSONError` (`Cause`, `Hint`, `Retryable`, `FailsExecution`, `Component`,
/// `HTTPStatusCode`, `Details`, `Code`), so Go requesters decode it as a `bacerrors.Error`.
/// The requester turns it into [`RequestError::Remote`].
///
/// A handler error whose chain of [`source`](std::error::Error::source)s contains an
/// `ErrorResponse` is sent as that response. Any other handler error is sent with code
/// [`codes::INTERNAL_ERROR`] and the error's text as the message.
///
/// # Examples
///
/// ```
/// use ncl::ErrorResponse;
/// use ncl::request::codes;
///
/// let error = ErrorResponse::new(codes::NOT_FOUND, "job j-1 not found");
/// assert_eq!(error.status_code, 404);
/// assert_eq!(error.to_string(), "NotFound (status 404): job j-1 not found");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// Description of the failure, for people.
    #[serde(rename = "Cause")]
    pub message: String,
    /// Advice on what the caller may do about the failure.
    #[serde(rename = "Hint", default)]
    pub hint: String,
    /// Whether the same request may succeed later.
    #[serde(rename = "Retryable", default)]
    pub retryable: bool,
    /// Whether the error fails the job execution it concerns (a Bacalhau notion).
    #[serde(rename = "FailsExecution", default)]
    pub fails_execution: bool,
    /// The component that failed.
    #[serde(rename = "Component", default)]
    pub component: String,
    /// HTTP status code, such as 404.
    #[serde(rename = "HTTPStatusCode", default)]
    pub status_code: u16,
    /// Further details as key/value pairs.
    #[serde(
        rename = "Details",
        default,
        serialize_with = "serialize_details",
        deserialize_with = "deserialize_details"
    )]
    pub details: BTreeMap<String, String>,
    /// Error code, one of [`codes`] or an application's own.
    #[serde(rename = "Code", default)]
    pub code: String,
}

impl ErrorResponse {
    /// Creates an error response with `code` and `message`, and the HTTP status that
    /// Bacalhau's `bacerrors` infers for the code (400, 401, 403, 404, 409, 429, 501, 503,
    /// and 500 for any other code).
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        let code = code.into();
        Self {
            status_code: status_for_code(&code),
            message: message.into(),
            code,
            ..Self::default()
        }
    }

    /// Sets the hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// Sets the HTTP status code, replacing the one inferred from the code.
    pub fn with_status_code(mut self, status_code: u16) -> Self {
        self.status_code = status_code;
        self
    }

    /// Adds one detail.
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    /// Returns the first `ErrorResponse` in the chain of `error` and its sources.
    pub(crate) fn find_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Self> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(response) = error.downcast_ref::<Self>() {
                return Some(response);
            }
            current = error.source();
        }
        None
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (status {}): {}",
            self.code, self.status_code, self.message
        )
    }
}

impl std::error::Error for ErrorResponse {}

// Keeps this impl out of the compiler's "the trait is implemented for" hints, which would
// otherwise name ErrorResponse whenever a user type is not a payload.
#[diagnostic::do_not_recommend]
impl Payload for ErrorResponse {
    const NAME: &'static str = "BacError";
}

inventory::submit! {
    crate::payload::PayloadRegistration::new::<ErrorResponse>("ncl::request::ErrorResponse")
}

/// Returns the HTTP status that Bacalhau's `inferHTTPStatusCode`
/// (`pkg/bacerrors/error.go`) gives an error code.
fn status_for_code(code: &str) -> u16 {
    match code {
        codes::BAD_REQUEST | codes::VALIDATION_ERROR => 400,
        codes::UNAUTHORIZED => 401,
        codes::FORBIDDEN => 403,
        codes::NOT_FOUND => 404,
        codes::RESOURCE_IN_USE => 409,
        codes::RESOURCE_EXHAUSTED => 429,
        codes::NOT_IMPLEMENTED => 501,
        codes::SERVICE_UNAVAILABLE => 503,
        _ => 500,
    }
}

/// Writes empty details as `null`, as Go writes a nil map.
fn serialize_details<S: Serializer>(
    details: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if details.is_empty() {
        serializer.serialize_none()
    } else {
        details.serialize(serializer)
    }
}

/// Reads `null` details as empty.
fn deserialize_details<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, String>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Error returned by [`Publisher::request`](crate::Publisher::request) and its variants.
///
/// Every variant names the request subject. Match on the variant to tell the failures
/// apart; the text is for people.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The request could not be sent: invalid subject, payload that does not serialize,
    /// envelope over the server's `max_payload`, or a closed publisher.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Nothing subscribes to the subject, so the server replied at once with a
    /// no-responders status.
    #[error(
        "no responders for request to {subject:?}: nothing listens on that subject; start \
         a Responder there or check the publisher's destination"
    )]
    NoResponders {
        /// The request subject.
        subject: String,
    },
    /// No response arrived within the request timeout.
    #[error(
        "request to {subject:?} timed out after {timeout:?}; the responder is slow or \
         stopped, so raise the timeout or check the responder"
    )]
    Timeout {
        /// The request subject.
        subject: String,
        /// The request timeout.
        timeout: Duration,
    },
    /// The responder replied with an [`ErrorResponse`].
    #[error("request to {subject:?} failed remotely with {code} (status {status_code}): {message}")]
    Remote {
        /// The request subject.
        subject: String,
        /// HTTP status code of the error, such as 404.
        status_code: u16,
        /// Error code, one of [`codes`] or an application's own.
        code: String,
        /// The responder's message.
        message: String,
    },
    /// The response arrived but is not a valid response of the expected type.
    #[error("invalid response to request to {subject:?}, expected {expected}: {source}")]
    Decode {
        /// The request subject.
        subject: String,
        /// Wire name of the expected response type.
        expected: &'static str,
        /// The reason the response was rejected.
        #[source]
        source: ResponseDecodeError,
    },
    /// The NATS client failed to send the request or to receive its response.
    #[error("request to {subject:?} failed: {source}")]
    Nats {
        /// The request subject.
        subject: String,
        /// The client's error.
        #[source]
        source: async_nats::RequestError,
    },
}

/// The reason [`RequestError::Decode`] rejects a response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseDecodeError {
    /// The response is not a valid envelope.
    #[error("response envelope did not decode: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The response's `MessageID` is not the request's, so it belongs to another request.
    #[error(
        "response MessageID {response:?} does not match the request's {request:?}; the \
         responder must copy the request's MessageID into its response"
    )]
    MessageIdMismatch {
        /// The request's `MessageID`.
        request: String,
        /// The response's `MessageID`, or `None` when it has none.
        response: Option<String>,
    },
    /// The response's `Type` is neither the expected type nor `BacError`.
    #[error("response has type {found:?}; the responder returned another type")]
    UnexpectedType {
        /// The response's type, or `None` when it has no `Type` key.
        found: Option<String>,
    },
    /// The response's payload encoding is not `json`.
    #[error("unsupported payload encoding {encoding:?}: only \"json\" is supported")]
    UnsupportedEncoding {
        /// The encoding found in the metadata (empty when the key is missing).
        encoding: String,
    },
    /// The payload is not valid JSON for the expected type.
    #[error("payload did not deserialize: {0}")]
    InvalidPayload(#[source] serde_json::Error),
    /// The response is an error response whose payload did not deserialize.
    #[error("error response payload did not deserialize: {0}")]
    InvalidErrorPayload(#[source] serde_json::Error),
}

/// Error returned when a [`Responder`](super::Responder) cannot be built or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResponderError {
    /// The name is missing or blank, or the default registry cannot be built.
    #[error(transparent)]
    Build(#[from] crate::BuildError),
    /// No subject was set.
    #[error("no subject set; call .subject(...) on the responder builder")]
    MissingSubject,
    /// The subject is not a valid subscribe subject.
    #[error("invalid responder subject: {0}")]
    InvalidSubject(#[from] SubjectError),
    /// The queue group is empty or contains whitespace.
    #[error("invalid queue group {queue_group:?}: it must be non-empty and contain no whitespace")]
    InvalidQueueGroup {
        /// The rejected queue group.
        queue_group: String,
    },
    /// No request handler was set.
    #[error("no request handler set; add one with .handler(...)")]
    MissingHandler,
    /// The registry the responder encodes with could not take [`ErrorResponse`], because
    /// another type is registered as `BacError`.
    #[error("failed to register ErrorResponse in the responder's registry: {0}")]
    Registry(Arc<RegistryError>),
    /// [`Responder::listen`](super::Responder::listen) was called while the responder
    /// listens.
    #[error("responder already listens on {subject:?}; call close() before listening again")]
    AlreadyListening {
        /// The responder's subject.
        subject: String,
    },
    /// The NATS client failed to subscribe.
    #[error("failed to subscribe to {subject:?}: {source}")]
    Nats {
        /// The responder's subject.
        subject: String,
        /// The client's error.
        #[source]
        source: async_nats::SubscribeError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_bacerrors_table() {
        let cases = [
            (codes::BAD_REQUEST, 400),
            (codes::VALIDATION_ERROR, 400),
            (codes::NOT_FOUND, 404),
            (codes::RESOURCE_EXHAUSTED, 429),
            (codes::TIME_OUT, 500),
            ("AppSpecific", 500),
        ];
        for (code, status) in cases {
            assert_eq!(ErrorResponse::new(code, "x").status_code, status, "{code}");
        }
    }

    #[test]
    fn error_response_matches_go_json() {
        let error = ErrorResponse::new(codes::NOT_FOUND, "no handler");
        let json = serde_json::to_string(&error).unwrap();
        assert_eq!(
            json,
            r#"{"Cause":"no handler","Hint":"","Retryable":false,"FailsExecution":false,"Component":"","HTTPStatusCode":404,"Details":null,"Code":"NotFound"}"#
        );
        let decoded: ErrorResponse = serde_json::from_str(&json).unwrap();
        assert_eq!(decoded, error);
    }

    #[test]
    fn error_response_reads_sparse_go_json() {
        let decoded: ErrorResponse =
            serde_json::from_str(r#"{"Cause":"boom","Details":{"job":"j-1"}}"#).unwrap();
        assert_eq!(decoded.message, "boom");
        assert_eq!(decoded.details.get("job").map(String::as_str), Some("j-1"));
        assert_eq!(decoded.status_code, 0);
    }

    #[test]
    fn find_in_walks_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("lookup failed")]
        struct Lookup(#[source] ErrorResponse);

        let error = Lookup(ErrorResponse::new(codes::NOT_FOUND, "gone"));
        let found = ErrorResponse::find_in(&error).map(|response| response.code.as_str());
        assert_eq!(found, Some(codes::NOT_FOUND));
        let plain = std::io::Error::other("disk");
        assert!(ErrorResponse::find_in(&plain).is_none());
    }
}
