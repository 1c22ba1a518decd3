//! Durable messaging on JetStream: a publisher whose messages are stored and
//! deduplicated by the server, and a subscriber that acknowledges each message only
//! after it was handled and checkpointed.
//!
//! The core [`Subscriber`](crate::Subscriber) delivers at most once: a message published
//! while it is disconnected is lost. The types here trade some throughput for stronger
//! guarantees:
//!
//! - [`Publisher`] publishes to a stream and waits for the stream's [`PublishAck`]. It
//!   sets the `Nats-Msg-Id` header to the message's `MessageID`, so the server drops a
//!   retried publish of the same message within the stream's duplicate window (two
//!   minutes unless the stream sets `duplicate_window`).
//! - [`Subscriber`] reads a durable pull consumer. Each message goes through the same
//!   steps as on the core subscriber (envelope, filter, payload, handlers, checkpoint);
//!   it is acknowledged only when all of them succeeded, so delivery is at least once. A
//!   failed message is negatively acknowledged with a delay from a [`Backoff`] and
//!   delivered again. After the configured number of deliveries it goes to a
//!   dead-letter subject. A message whose envelope or payload type cannot be decoded can
//!   never succeed, so it is dead-lettered at its first delivery.
//! - [`FileCheckpointer`] and [`MemoryCheckpointer`] record the stream sequence of each
//!   handled message. The subscriber acknowledges, without handling, a redelivered
//!   message whose sequence is at or below the last checkpoint, so handlers see each
//!   stored message once even when an acknowledgement was lost (see
//!   [`SubscriberBuilder::checkpointer`] for the conditions).
//!
//! # Examples
//!
//! ```no_run
//! use ncl::jetstream::{FileCheckpointer, Publisher, Subscriber};
//! use ncl::{AnyMessage, NclPayload};
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
//!     .stream("JOBS")
//!     .subjects(["jobs.>"])
//!     .durable_name("scheduler")
//!     .checkpointer(FileCheckpointer::open("/var/lib/scheduler/jobs.checkpoint")?)
//!     .handler(ncl::handler_fn(|message: &AnyMessage| {
//!         let job = message.payload::<JobAssigned>().map(|job| job.job_id.clone());
//!         async move {
//!             println!("assigned: {job:?}");
//!             Ok(())
//!         }
//!     }))
//!     .build()?;
//! subscriber.start().await?;
//!
//! let publisher = Publisher::builder(client)
//!     .name("orchestrator")
//!     .destination_prefix("jobs")
//!     .build()?;
//! let ack = publisher.publish(&JobAssigned { job_id: "j-1".into() }).await?;
//! println!("stored as sequence {}", ack.sequence);
//! # Ok(())
//! # }
//! ```

mod backoff;
mod checkpoint;
mod dead_letter;
mod delivery;
mod error;
mod publisher;
mod puller;
mod stats;
mod subscriber;

pub use async_nats::jetstream::publish::PublishAck;

pub use self::backoff::Backoff;
pub use self::checkpoint::{FileCheckpointer, MemoryCheckpointer};
pub use self::dead_letter::keys as dead_letter_keys;
pub use self::error::{BuildError, CheckpointError, PublishError, StartError};
pub use self::publisher::{PendingAck, Publisher, PublisherBuilder};
pub use self::stats::DurableStats;
pub use self::subscriber::{
    DEFAULT_ACK_WAIT, DEFAULT_CONCURRENCY, DEFAULT_MAX_DELIVERIES, DEFAULT_PULL_EXPIRY, Subscriber,
    SubscriberBuilder,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<Subscriber>();
        assert_send_sync::<Publisher>();
        assert_send_sync::<PendingAck>();
        assert_send_sync::<FileCheckpointer>();
        assert_send_sync::<MemoryCheckpointer>();
        assert_send_sync::<DurableStats>();
    }
}
