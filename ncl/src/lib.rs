//! Typed, enveloped messaging over NATS, wire-compatible with Bacalhau's NCL.
//!
//! NCL carries messages between an orchestrator and its compute nodes. Every message
//! travels in an envelope (a version byte, a CRC-32 of the body, then a JSON or protobuf
//! body) that holds string [`Metadata`] and a serialized payload. A
//! [`PayloadRegistry`] maps wire type names to Rust types, a [`Publisher`] stamps,
//! serializes and publishes, and a [`Subscriber`] decodes, filters, deserializes and
//! hands each message to its [`MessageHandler`]s, then records a checkpoint.
//!
//! Payload types are declared with `#[derive(NclPayload)]`, which gives each a wire name
//! and registers it at link time, so publishing a type the registry does not know is a
//! compile error rather than a runtime one.
//!
//! # Examples
//!
//! ```no_run
//! use ncl::{AnyMessage, NclPayload, Publisher, Subscriber};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize, NclPayload)]
//! struct JobAssigned {
//!     job_id: String,
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = async_nats::connect("nats://127.0.0.1:4222").await?;
//!
//! let subscriber = Subscriber::builder(client.clone())
//!     .handler(ncl::handler_fn(|message: &AnyMessage| {
//!         let job = message.payload::<JobAssigned>().map(|job| job.job_id.clone());
//!         async move {
//!             println!("assigned: {job:?}");
//!             Ok(())
//!         }
//!     }))
//!     .build()?;
//! subscriber.subscribe(["jobs.>"]).await?;
//!
//! let publisher = Publisher::builder(client)
//!     .name("orchestrator")
//!     .destination_prefix("jobs")
//!     .build()?;
//! publisher.publish(&JobAssigned { job_id: "j-1".into() }).await?;
//! # Ok(())
//! # }
//! ```

pub mod acked;
mod encoder;
pub mod envelope;
pub mod go_json;
mod handler;
pub mod jetstream;
mod message;
pub mod metadata;
mod payload;
mod publisher;
mod registry;
pub mod request;
mod router;
mod subject;
mod subscriber;
pub mod telemetry;
mod timeout;

pub use acked::{AckError, AckFuture, AckedPublisher, AckedPublisherStats};
pub use encoder::Encoder;
pub use envelope::{EnvelopeError, EnvelopeSerializer, EnvelopeVersion};
pub use handler::{
    BoxError, Checkpointer, HandlerChain, HandlerFn, MessageFilter, MessageHandler,
    NoopCheckpointer, NoopFilter, handler_fn,
};
pub use message::{AnyMessage, Message, RawMessage};
pub use metadata::{KeyGeneration, Metadata};
pub use ncl_derive::NclPayload;
pub use ncl_derive::handler;
pub use payload::Payload;
pub use publisher::{
    DEFAULT_PUBLISH_TIMEOUT, PublishError, Publisher, PublisherBuilder, PublisherStats,
};
pub use registry::{JSON_ENCODING, PayloadRegistry, RegisteredPayload, RegistryError};
pub use request::{
    AnyResponse, ErrorResponse, Request, RequestError, RequestHandler, RequestHandlerItem,
    RequestRouter, Responder, ResponderBuilder, ResponderError,
};
pub use router::{
    HandlerError, HandlerItem, RegisteredHandler, Registrations, Router, registrations,
};
pub use subject::{SubjectError, validate_publish_subject, validate_subscribe_subject};
pub use subscriber::{
    BuildError, DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDLER_TIMEOUT, DEFAULT_MAX_PENDING,
    SubscribeError, Subscriber, SubscriberBuilder, SubscriberStats,
};

/// Items used by the code that ncl's macros generate. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::payload::PayloadRegistration;
    pub use crate::request::handler::support::*;
    pub use crate::request::router::{RequestCallFn, RequestHandlerRegistration};
    pub use crate::router::support::*;
    pub use crate::router::{HandlerCallFn, HandlerRegistration};
    pub use futures_util::future::BoxFuture;
    pub use inventory;
    pub use serde;
}

/// Compiles the README's examples as doc tests, so the first thing users copy builds.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
