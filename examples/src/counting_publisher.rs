//! A [`Publisher`] that counts the messages it sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ncl::{Payload, PublishError, Publisher};

/// A [`Publisher`] with counters of successful and failed publishes.
///
/// `ncl::Publisher` keeps no counts of its own, unlike `Subscriber::stats`, so the
/// examples wrap it. Clones share the publisher and the counters.
#[derive(Clone, Debug)]
pub struct CountingPublisher {
    publisher: Publisher,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
}

impl CountingPublisher {
    /// Wraps `publisher` with counters starting at zero.
    pub fn new(publisher: Publisher) -> Self {
        Self {
            publisher,
            counters: Arc::default(),
        }
    }

    /// Publishes `event` and counts the outcome.
    ///
    /// # Errors
    ///
    /// As [`Publisher::publish`].
    pub async fn publish<T: Payload>(&self, event: &T) -> Result<(), PublishError> {
        let result = self.publisher.publish(event).await;
        let counter = match result {
            Ok(()) => &self.counters.sent,
            Err(_) => &self.counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// Returns the number of messages handed to the NATS client. The client sends them
    /// in the background, so a message counted here can still be lost if the connection
    /// breaks before it is flushed.
    pub fn sent(&self) -> u64 {
        self.counters.sent.load(Ordering::Relaxed)
    }

    /// Returns the number of publishes that returned an error.
    pub fn failed(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed)
    }

    /// Returns the wrapped publisher.
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }
}
