//! Acknowledged publishing over core NATS: the publisher learns whether each message
//! was handled, without JetStream.
//!
//! An [`AckedPublisher`] sends each message with a reply subject on its own inbox
//! (`<inbox>.<token>`, a fresh token per send). A core [`Subscriber`](crate::Subscriber)
//! that receives a message with a reply subject replies after the message went through
//! its pipeline:
//!
//! - processed (every interested handler succeeded and the checkpoint was recorded) or
//!   dropped by the filter: an acknowledgement, `{}`;
//! - failed at any step: a negative acknowledgement,
//!   `{"error":"<the failure>","delay":<nanoseconds>}`, whose delay comes from the
//!   subscriber's [`nack_backoff`](crate::SubscriberBuilder::nack_backoff) and grows with
//!   the subscription's consecutive failures;
//! - taken by no handler: a negative acknowledgement without a delay, which fails the
//!   message at once, because a retry would meet the same handlers. The Go subscriber
//!   has a single handler and no such case; this keeps a message that nothing handled
//!   from counting as delivered.
//!
//! Fields are left out when empty or zero. This is the `Result` of Bacalhau's Go NCL
//! (`pkg/lib/ncl/result.go`), so Go ordered publishers and Go subscribers interoperate
//! with these types. The publisher resolves each message's [`AckFuture`] when its
//! acknowledgement arrives and retries a negatively acknowledged message after the delay
//! it carries, up to a maximum number of attempts.
//!
//! Each send is delivered at most once, because core NATS stores nothing. A message sent
//! while no subscriber listens fails at once with [`AckError::NoResponders`], and one
//! whose subscriber stops before replying fails with [`AckError::Timeout`]. The caller
//! decides whether to publish it again.
//!
//! # Examples
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use ncl::{AckError, AckedPublisher, AnyMessage, NclPayload, Subscriber};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, NclPayload)]
//! struct JobAssigned {
//!     job_id: String,
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = async_nats::connect("nats://127.0.0.1:4222").await?;
//!
//! let subscriber = Subscriber::builder(client.clone())
//!     .handler(ncl::handler_fn(|_message: &AnyMessage| async { Ok(()) }))
//!     .build()?;
//! subscriber.subscribe(["node-1.jobs"]).await?;
//!
//! let publisher = AckedPublisher::builder(client)
//!     .name("orchestrator")
//!     .destination("node-1.jobs")
//!     .ack_wait(Duration::from_secs(5))
//!     .build()
//!     .await?;
//! match publisher.publish(&JobAssigned { job_id: "j-1".into() }).await {
//!     Ok(ack) => println!("handled after {} attempt(s)", ack.attempts),
//!     Err(AckError::Nack { error, .. }) => println!("rejected: {error}"),
//!     Err(error) => return Err(error.into()),
//! }
//! # Ok(())
//! # }
//! ```

mod driver;
mod error;
pub(crate) mod protocol;
mod publisher;

use std::time::Duration;

pub use self::error::{AckError, BuildError};
pub use self::protocol::DEFAULT_NACK_BACKOFF;
pub use self::publisher::{
    Ack, AckFuture, AckedPublisher, AckedPublisherBuilder, AckedPublisherStats,
};

/// Default for [`AckedPublisherBuilder::ack_wait`]: 30 s, the `AckWait` of the Go NCL's
/// `DefaultOrderedPublisherConfig` (`pkg/lib/ncl/publisher_config.go`).
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// Default for [`AckedPublisherBuilder::max_pending`]: 1,000, the `MaxPending` of the Go
/// NCL's `DefaultOrderedPublisherConfig`.
pub const DEFAULT_MAX_PENDING: usize = 1_000;

/// Default for [`AckedPublisherBuilder::max_attempts`]: 3 sends in all. The Go NCL's
/// `DefaultOrderedPublisherConfig` also sets `RetryAttempts` to 3, but its ordered
/// publisher does not retry.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
