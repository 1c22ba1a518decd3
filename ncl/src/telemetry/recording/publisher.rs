//! Metrics of core and JetStream publishers.

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::time::Instant;

use async_nats::jetstream::publish::PublishAck;
use metrics::{Counter, Gauge, Histogram, SharedString};

use super::{HandleCache, RequestMetrics, describe, recorder_installed, shared, type_label};
use crate::telemetry::names::{self, ack_outcome, label, outcome};
use crate::{PayloadRegistry, PublishError};

/// Outcome of one publish, as the `outcome` label records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PublishOutcome {
    Published,
    InvalidSubject,
    SerializeError,
    EnvelopeError,
    MaxPayloadExceeded,
    Closed,
    Timeout,
    NatsError,
}

impl PublishOutcome {
    const ALL: [Self; 8] = [
        Self::Published,
        Self::InvalidSubject,
        Self::SerializeError,
        Self::EnvelopeError,
        Self::MaxPayloadExceeded,
        Self::Closed,
        Self::Timeout,
        Self::NatsError,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Published => outcome::PUBLISHED,
            Self::InvalidSubject => outcome::INVALID_SUBJECT,
            Self::SerializeError => outcome::SERIALIZE_ERROR,
            Self::EnvelopeError => outcome::ENVELOPE_ERROR,
            Self::MaxPayloadExceeded => outcome::MAX_PAYLOAD_EXCEEDED,
            Self::Closed => outcome::CLOSED,
            Self::Timeout => outcome::TIMEOUT,
            Self::NatsError => outcome::NATS_ERROR,
        }
    }

    /// Returns the outcome of a core publish that failed with `error`.
    fn of(error: &PublishError) -> Self {
        match error {
            PublishError::InvalidSubject(_) => Self::InvalidSubject,
            PublishError::Registry(_) => Self::SerializeError,
            PublishError::Envelope(_) => Self::EnvelopeError,
            PublishError::MaxPayloadExceeded { .. } => Self::MaxPayloadExceeded,
            PublishError::Closed => Self::Closed,
            PublishError::Timeout { .. } | PublishError::FlushTimeout { .. } => Self::Timeout,
            PublishError::Flush { .. } | PublishError::Nats { .. } => Self::NatsError,
        }
    }

    /// Returns the outcome of a JetStream send that failed with `error`.
    fn of_jetstream(error: &crate::jetstream::PublishError) -> Self {
        use crate::jetstream::PublishError as Error;
        match error {
            Error::Closed => Self::Closed,
            Error::Core(error) => Self::of(error),
            Error::MaxPayloadExceeded { .. } => Self::MaxPayloadExceeded,
            Error::AckTimeout { .. } => Self::Timeout,
            Error::StreamNotFound { .. } | Error::Nats { .. } => Self::NatsError,
        }
    }
}

/// Metrics of one publisher.
pub(crate) struct PublisherMetrics {
    /// `None` when no recorder was installed at build time.
    inner: Option<Box<PublisherInner>>,
    requests: RequestMetrics,
}

struct PublisherInner {
    instance: SharedString,
    registry: Arc<PayloadRegistry>,
    by_type: HandleCache<TypeId, PublishHandles>,
}

struct PublishHandles {
    outcomes: [Counter; PublishOutcome::ALL.len()],
    bytes: Counter,
    duration: Histogram,
}

impl PublisherMetrics {
    /// Creates the metrics of the publisher named `instance`.
    pub(crate) fn new(instance: &str, registry: &Arc<PayloadRegistry>) -> Self {
        let requests = RequestMetrics::new(instance, registry);
        if !recorder_installed() {
            return Self {
                inner: None,
                requests,
            };
        }
        describe();
        let inner = PublisherInner {
            instance: shared(instance),
            registry: Arc::clone(registry),
            by_type: HandleCache::new(),
        };
        Self {
            inner: Some(Box::new(inner)),
            requests,
        }
    }

    /// Returns the metrics of the requests the publisher sends.
    pub(crate) fn requests(&self) -> &RequestMetrics {
        &self.requests
    }

    /// Returns the start time of a publish, or `None` when nothing is recorded.
    pub(crate) fn start(&self) -> Option<Instant> {
        self.inner.as_ref().map(|_| Instant::now())
    }

    /// Records a core publish of a `T` that started at `started`.
    pub(crate) fn record<T: Any>(
        &self,
        started: Option<Instant>,
        result: &Result<usize, PublishError>,
    ) {
        match result {
            Ok(size) => self.record_outcome::<T>(started, PublishOutcome::Published, *size),
            Err(error) => self.record_outcome::<T>(started, PublishOutcome::of(error), 0),
        }
    }

    /// Records a JetStream send of a `T` that started at `started`. `result` is the
    /// envelope size of a sent message, or the error of a failed send.
    pub(crate) fn record_jetstream<T: Any>(
        &self,
        started: Option<Instant>,
        result: Result<usize, &crate::jetstream::PublishError>,
    ) {
        match result {
            Ok(size) => self.record_outcome::<T>(started, PublishOutcome::Published, size),
            Err(error) => {
                self.record_outcome::<T>(started, PublishOutcome::of_jetstream(error), 0);
            }
        }
    }

    /// Records a publish of a `T` with `outcome`; `size` is the envelope size of a
    /// published message.
    fn record_outcome<T: Any>(
        &self,
        started: Option<Instant>,
        outcome: PublishOutcome,
        size: usize,
    ) {
        let Some(inner) = &self.inner else {
            return;
        };
        let handles = inner.handles::<T>();
        handles.outcomes[outcome as usize].increment(1);
        if outcome == PublishOutcome::Published {
            handles.bytes.increment(size as u64);
            if let Some(started) = started {
                handles.duration.record(started.elapsed());
            }
        }
    }
}

impl PublisherInner {
    fn handles<T: Any>(&self) -> Arc<PublishHandles> {
        self.by_type.get_or_build(&TypeId::of::<T>(), || {
            let instance = &self.instance;
            let kind = type_label::<T>(&self.registry);
            let outcomes = PublishOutcome::ALL.map(|outcome| {
                metrics::counter!(
                    names::PUBLISHED_MESSAGES,
                    label::INSTANCE => instance.clone(),
                    label::TYPE => kind.clone(),
                    label::OUTCOME => outcome.label()
                )
            });
            let handles = PublishHandles {
                outcomes,
                bytes: metrics::counter!(
                    names::PUBLISHED_BYTES,
                    label::INSTANCE => instance.clone(),
                    label::TYPE => kind.clone()
                ),
                duration: metrics::histogram!(
                    names::PUBLISH_DURATION,
                    label::INSTANCE => instance.clone(),
                    label::TYPE => kind
                ),
            };
            (TypeId::of::<T>(), handles)
        })
    }
}

/// The `outcome` labels of stream acknowledgements, indexed by position.
const ACK_OUTCOMES: [&str; 5] = [
    ack_outcome::STORED,
    ack_outcome::DUPLICATE,
    ack_outcome::TIMEOUT,
    ack_outcome::STREAM_NOT_FOUND,
    ack_outcome::ERROR,
];

/// Metrics of the stream acknowledgements of a JetStream publisher.
#[derive(Clone)]
pub(crate) struct AckMetrics {
    /// `None` when no recorder was installed at build time.
    inner: Option<Arc<AckInner>>,
}

struct AckInner {
    instance: SharedString,
    registry: Arc<PayloadRegistry>,
    by_type: HandleCache<TypeId, AckHandles>,
    pending: Gauge,
}

struct AckHandles {
    outcomes: [Counter; ACK_OUTCOMES.len()],
    duration: Histogram,
}

impl AckMetrics {
    /// Creates the acknowledgement metrics of the publisher named `instance`.
    pub(crate) fn new(instance: &str, registry: &Arc<PayloadRegistry>) -> Self {
        if !recorder_installed() {
            return Self { inner: None };
        }
        describe();
        let instance = shared(instance);
        let inner = AckInner {
            pending: metrics::gauge!(
                names::JETSTREAM_PENDING_ACKS,
                label::INSTANCE => instance.clone()
            ),
            instance,
            registry: Arc::clone(registry),
            by_type: HandleCache::new(),
        };
        Self {
            inner: Some(Arc::new(inner)),
        }
    }

    /// Starts waiting for the acknowledgement of a sent `T`: counts it pending until
    /// the returned tracker is finished or dropped.
    pub(crate) fn sent<T: Any>(&self) -> AckTracker {
        let tracking = self.inner.as_ref().map(|inner| {
            inner.pending.increment(1.0);
            let handles = inner.by_type.get_or_build(&TypeId::of::<T>(), || {
                let kind = type_label::<T>(&inner.registry);
                let outcomes = ACK_OUTCOMES.map(|outcome| {
                    metrics::counter!(
                        names::JETSTREAM_PUBLISH_ACKS,
                        label::INSTANCE => inner.instance.clone(),
                        label::TYPE => kind.clone(),
                        label::OUTCOME => outcome
                    )
                });
                let duration = metrics::histogram!(
                    names::JETSTREAM_ACK_DURATION,
                    label::INSTANCE => inner.instance.clone(),
                    label::TYPE => kind
                );
                (TypeId::of::<T>(), AckHandles { outcomes, duration })
            });
            AckTracking {
                inner: Arc::clone(inner),
                handles,
                sent: Instant::now(),
            }
        });
        AckTracker { tracking }
    }
}

/// One stream acknowledgement still awaited.
pub(crate) struct AckTracker {
    tracking: Option<AckTracking>,
}

struct AckTracking {
    inner: Arc<AckInner>,
    handles: Arc<AckHandles>,
    sent: Instant,
}

impl Drop for AckTracking {
    fn drop(&mut self) {
        self.inner.pending.decrement(1.0);
    }
}

impl AckTracker {
    /// Records the acknowledgement's outcome.
    pub(crate) fn finish(self, result: &Result<PublishAck, crate::jetstream::PublishError>) {
        let Some(tracking) = &self.tracking else {
            return;
        };
        let index = match result {
            Ok(ack) if ack.duplicate => 1,
            Ok(_) => 0,
            Err(crate::jetstream::PublishError::AckTimeout { .. }) => 2,
            Err(crate::jetstream::PublishError::StreamNotFound { .. }) => 3,
            Err(_) => 4,
        };
        tracking.handles.outcomes[index].increment(1);
        if result.is_ok() {
            tracking.handles.duration.record(tracking.sent.elapsed());
        }
    }
}
