//! Metric recording through the `metrics` facade.
//!
//! Instance-wide handles are registered with the recorder that is current when a
//! publisher or subscriber is built, and per-type handles when a payload type is first
//! seen. Both are cached, so recording a message allocates nothing for its labels.
//! Without a recorder at build time an instance records nothing and reads no clock.

mod jetstream;
mod publisher;
mod request;
mod responder;
mod subscriber;

use std::any::Any;
use std::borrow::Borrow;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use metrics::{SharedString, Unit};

pub(crate) use self::jetstream::DurableMetrics;
pub(crate) use self::publisher::{AckMetrics, AckTracker, PublisherMetrics};
pub(crate) use self::request::{AckedMetrics, RequestMetrics};
pub(crate) use self::responder::{RequestTracker, ResponderMetrics};
pub(crate) use self::subscriber::{MessageTracker, SubscriberMetrics};
use super::names;
use crate::PayloadRegistry;

/// Returns `true` when a recorder is installed for the current thread.
///
/// metrics 0.24 has no call that reports whether a recorder is installed. With none, it
/// hands out its no-op recorder, which is a zero-sized type, so a zero-sized current
/// recorder is taken as none.
// NOTE: an application recorder that is itself zero-sized is taken as none too, and
// ncl records nothing into it.
fn recorder_installed() -> bool {
    metrics::with_recorder(|recorder| size_of_val(recorder) != 0)
}

/// Describes every metric to the current recorder (help text and unit).
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};

    describe_counter!(
        names::PUBLISHED_MESSAGES,
        Unit::Count,
        "Messages a publisher handled, by outcome."
    );
    describe_counter!(
        names::PUBLISHED_BYTES,
        Unit::Bytes,
        "Envelope bytes a publisher handed to the NATS client."
    );
    describe_histogram!(
        names::PUBLISH_DURATION,
        Unit::Seconds,
        "Time from the publish call until the NATS client took the message."
    );
    describe_counter!(
        names::RECEIVED_MESSAGES,
        Unit::Count,
        "Messages a subscriber received, by outcome."
    );
    describe_counter!(
        names::UNHANDLED_MESSAGES,
        Unit::Count,
        "Processed messages that no handler wanted."
    );
    describe_histogram!(
        names::PROCESSING_DURATION,
        Unit::Seconds,
        "Time a message spent in one step of the subscriber."
    );
    describe_histogram!(
        names::END_TO_END_LATENCY,
        Unit::Seconds,
        "Time from the message's EventTime until it was processed."
    );
    describe_gauge!(
        names::MESSAGES_IN_FLIGHT,
        Unit::Count,
        "Messages a subscriber is processing now."
    );
    describe_counter!(
        names::DROPPED_MESSAGES,
        Unit::Count,
        "Messages dropped because the subscriber's pending queue was full."
    );
    describe_counter!(
        names::JETSTREAM_ACKS,
        Unit::Count,
        "Acknowledgements a JetStream subscriber sent, by kind."
    );
    describe_counter!(
        names::JETSTREAM_ACK_ERRORS,
        Unit::Count,
        "Acknowledgements a JetStream subscriber failed to send, by kind."
    );
    describe_counter!(
        names::JETSTREAM_REDELIVERIES,
        Unit::Count,
        "Deliveries whose delivery count is above 1."
    );
    describe_counter!(
        names::JETSTREAM_SKIPPED,
        Unit::Count,
        "Deliveries acknowledged without processing because they were at or below the checkpoint."
    );
    describe_counter!(
        names::JETSTREAM_DEAD_LETTERS,
        Unit::Count,
        "Messages published to the dead-letter subject, by the step that failed."
    );
    describe_counter!(
        names::JETSTREAM_DEAD_LETTER_ERRORS,
        Unit::Count,
        "Dead-letter publishes that failed."
    );
    describe_counter!(
        names::JETSTREAM_PUBLISH_ACKS,
        Unit::Count,
        "Stream acknowledgements a JetStream publisher received or gave up on, by outcome."
    );
    describe_gauge!(
        names::JETSTREAM_PENDING_ACKS,
        Unit::Count,
        "Messages sent to a stream whose acknowledgement is still awaited."
    );
    describe_counter!(
        names::REQUESTS,
        Unit::Count,
        "Requests a publisher sent, by outcome."
    );
    describe_histogram!(
        names::REQUEST_DURATION,
        Unit::Seconds,
        "Time from the request call until its response decoded."
    );
    describe_counter!(
        names::RESPONDER_REQUESTS,
        Unit::Count,
        "Requests a responder received."
    );
    describe_counter!(
        names::RESPONDER_RESPONSES,
        Unit::Count,
        "Responses a responder sent, by outcome."
    );
    describe_counter!(
        names::RESPONDER_SEND_ERRORS,
        Unit::Count,
        "Responses a responder failed to send."
    );
    describe_histogram!(
        names::RESPONDER_HANDLER_DURATION,
        Unit::Seconds,
        "Time a responder's handler ran on one request."
    );
    describe_counter!(
        names::ACKED_PUBLISHES,
        Unit::Count,
        "Messages of an acknowledged publisher resolved, by outcome."
    );
    describe_counter!(
        names::ACKED_RETRIES,
        Unit::Count,
        "Negative acknowledgements after which the message is sent again."
    );
    describe_gauge!(
        names::ACKED_PENDING,
        Unit::Count,
        "Messages of an acknowledged publisher not resolved yet."
    );
    describe_histogram!(
        names::JETSTREAM_ACK_DURATION,
        Unit::Seconds,
        "Time from sending a message to the stream's acknowledgement."
    );
}

/// Returns a label value that clones without allocating.
fn shared(value: &str) -> SharedString {
    SharedString::from_shared(Arc::<str>::from(value))
}

/// Per-key handles, built on first use and shared afterwards.
///
/// Keys are few (the payload types of one instance), so a sorted vector behind a
/// read-mostly lock is enough. A lookup of a known key takes the read lock only.
struct HandleCache<K, V> {
    entries: RwLock<Vec<(K, Arc<V>)>>,
}

impl<K: Ord, V> HandleCache<K, V> {
    fn new() -> Self {
        Self {
            entries: RwLock::new(Vec::new()),
        }
    }

    /// Returns the handles of `key`, if they were built.
    fn get<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let entries = read_lock(&self.entries);
        let index = find(&entries, key).ok()?;
        Some(Arc::clone(&entries[index].1))
    }

    /// Returns the handles of `key`, building them with `build` on first use.
    fn get_or_build<Q>(&self, key: &Q, build: impl FnOnce() -> (K, V)) -> Arc<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        if let Some(handles) = self.get(key) {
            return handles;
        }
        let mut entries = write_lock(&self.entries);
        match find(&entries, key) {
            Ok(index) => Arc::clone(&entries[index].1),
            Err(index) => {
                let (key, handles) = build();
                let handles = Arc::new(handles);
                entries.insert(index, (key, Arc::clone(&handles)));
                handles
            }
        }
    }
}

/// Finds `key` in entries sorted by key: `Ok(index)`, or `Err(index)` where it would go.
fn find<K, Q, V>(entries: &[(K, V)], key: &Q) -> Result<usize, usize>
where
    K: Borrow<Q>,
    Q: Ord + ?Sized,
{
    entries.binary_search_by(|(entry, _)| entry.borrow().cmp(key))
}

fn read_lock<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // A panicking writer cannot leave the sorted vector half-updated, so a poisoned lock
    // is safe to use.
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_lock<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Returns the `type` label of `T`: its registered wire name or `unknown`.
fn type_label<T: Any>(registry: &PayloadRegistry) -> SharedString {
    match registry.name_of::<T>() {
        Some(name) => shared(name),
        None => SharedString::const_str(names::UNKNOWN_TYPE),
    }
}
