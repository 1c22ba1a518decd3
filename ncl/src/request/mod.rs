//! Request/reply: a [`Publisher`](crate::Publisher) sends a typed request and awaits
//! the typed response, and a [`Responder`] routes each request to the handler of its
//! type and sends back the handler's response or an [`ErrorResponse`].
//!
//! A request type names its response type through the [`Request`] trait, so
//! [`Publisher::request`](crate::Publisher::request) returns `Message<R::Response>` and
//! `#[ncl::handler]` checks that a request handler returns that type.
//!
//! # Wire format
//!
//! Requests and responses are ordinary NCL envelopes, as Bacalhau's Go NCL
//! (`pkg/lib/ncl`, `requester.go` and `responder.go`) sends them:
//!
//! - The request goes to the publisher's destination with a reply inbox, and its
//!   `MessageID` is also sent as a NATS header, because the Go responder reads it from
//!   the headers. The Go requester copies the whole metadata into headers; the Go
//!   responder reads no other header.
//! - The response's `MessageID` is the request's `MessageID`, which correlates the two.
//!   The requester rejects a response that carries another id.
//! - A failed request gets a response with an [`ErrorResponse`] payload of wire type
//!   `BacError` and the metadata keys [`keys::STATUS_CODE`] (`Bacalhau-StatusCode`, an
//!   HTTP status in decimal) and [`keys::ERROR_CODE`] (`Bacalhau-ErrorCode`, one of
//!   [`codes`]), which are the names the Go NCL uses. A request of a type that no handler
//!   takes gets an error response at once, with status 404 and code `NotFound`.
//! - When nothing listens on the subject, the server replies with a no-responders
//!   status, which the requester reports as [`RequestError::NoResponders`] without
//!   waiting for the timeout.
//!
//! # Examples
//!
//! ```no_run
//! use ncl::{ErrorResponse, Message, NclPayload, Publisher, Request, RequestRouter, Responder};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, NclPayload)]
//! struct GetJob {
//!     job_id: String,
//! }
//!
//! #[derive(Serialize, Deserialize, NclPayload)]
//! struct JobInfo {
//!     job_id: String,
//!     state: String,
//! }
//!
//! impl Request for GetJob {
//!     type Response = JobInfo;
//! }
//!
//! #[ncl::handler]
//! async fn get_job(request: &Message<GetJob>) -> Result<JobInfo, ErrorResponse> {
//!     if request.payload.job_id.is_empty() {
//!         return Err(ErrorResponse::new(ncl::request::codes::BAD_REQUEST, "empty job id"));
//!     }
//!     Ok(JobInfo { job_id: request.payload.job_id.clone(), state: "running".into() })
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = async_nats::connect("nats://127.0.0.1:4222").await?;
//!
//! let responder = Responder::builder(client.clone())
//!     .name("orchestrator")
//!     .subject("jobs.requests")
//!     .handler(RequestRouter::new(())?)
//!     .build()?;
//! responder.listen().await?;
//!
//! let publisher = Publisher::builder(client)
//!     .name("cli")
//!     .destination("jobs.requests")
//!     .build()?;
//! let response = publisher.request(&GetJob { job_id: "j-1".into() }).await?;
//! println!("{} is {}", response.payload.job_id, response.payload.state);
//! # Ok(())
//! # }
//! ```

mod error;
pub(crate) mod handler;
mod requester;
mod responder;
pub(crate) mod router;

use std::time::Duration;

pub use self::error::{ErrorResponse, RequestError, ResponderError, ResponseDecodeError, codes};
pub use self::handler::{AnyResponse, RequestHandler};
pub(crate) use self::responder::ResponseOutcome;
pub use self::responder::{Responder, ResponderBuilder};
pub use self::router::{DuplicateRoute, RequestHandlerItem, RequestRouter};

use crate::Payload;

/// Default timeout of [`Publisher::request`](crate::Publisher::request): 30 s. It is our
/// default; the Go NCL's requester takes its deadline from the caller's context.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Default for [`ResponderBuilder::handler_timeout`]: 5 s, the Go NCL's
/// `DefaultResponderProcessingTimeout` (`pkg/lib/ncl/responder_config.go`).
pub const DEFAULT_RESPONDER_HANDLER_TIMEOUT: Duration = Duration::from_secs(5);

/// Default for [`ResponderBuilder::max_concurrency`]: 64 requests handled at once. It
/// is our default; the Go responder handles one request at a time per subscription.
pub const DEFAULT_RESPONDER_CONCURRENCY: usize = 64;

/// Metadata keys of error responses, spelled as Bacalhau's Go NCL spells them
/// (`pkg/lib/ncl/error_response.go`).
pub mod keys {
    /// HTTP status code of an error response, in decimal, such as `404`.
    pub const STATUS_CODE: &str = "Bacalhau-StatusCode";
    /// Error code of an error response, such as `NotFound`; see
    /// [`codes`](super::codes).
    pub const ERROR_CODE: &str = "Bacalhau-ErrorCode";
}

/// A payload sent as a request, and the type of its response.
///
/// [`Publisher::request`](crate::Publisher::request) returns a `Message<Self::Response>`,
/// and `#[ncl::handler]` checks that a request handler for `Self` returns
/// `Result<Self::Response, E>`.
///
/// # Examples
///
/// ```
/// use ncl::{NclPayload, Request};
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
/// impl Request for Ping {
///     type Response = Pong;
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an NCL request type; implement `ncl::Request` for it",
    label = "no `ncl::Request` impl",
    note = "a request type names its response type: `impl ncl::Request for {Self} {{ type Response = ...; }}`"
)]
pub trait Request: Payload {
    /// The payload type of the response.
    type Response: Payload;
}
