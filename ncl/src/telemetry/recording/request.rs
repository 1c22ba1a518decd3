//! Metrics of requests and of acknowledged publishing over core NATS.

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::time::Instant;

use metrics::{Counter, Gauge, Histogram};

use super::{HandleCache, describe, recorder_installed, shared, type_label};
use crate::acked::{Ack, AckError};
use crate::telemetry::names::{self, label, outcome};
use crate::{PayloadRegistry, RequestError};

/// The `outcome` labels of requests, indexed by [`request_outcome`].
const REQUEST_OUTCOMES: [&str; 7] = [
    outcome::RESPONDED,
    outcome::REMOTE_ERROR,
    outcome::TIMEOUT,
    outcome::NO_RESPONDERS,
    outcome::DECODE_ERROR,
    outcome::PUBLISH_ERROR,
    outcome::NATS_ERROR,
];

fn request_outcome<T>(result: &Result<T, RequestError>) -> usize {
    match result {
        Ok(_) => 0,
        Err(RequestError::Remote { .. }) => 1,
        Err(RequestError::Timeout { .. }) => 2,
        Err(RequestError::NoResponders { .. }) => 3,
        Err(RequestError::Decode { .. }) => 4,
        Err(RequestError::Publish(_)) => 5,
        Err(RequestError::Nats { .. }) => 6,
    }
}

/// Metrics of the requests one publisher sends.
pub(crate) struct RequestMetrics {
    /// `None` when no recorder was installed at build time.
    inner: Option<Box<RequestInner>>,
}

struct RequestInner {
    instance: metrics::SharedString,
    registry: Arc<PayloadRegistry>,
    by_type: HandleCache<TypeId, RequestHandles>,
}

struct RequestHandles {
    outcomes: [Counter; REQUEST_OUTCOMES.len()],
    duration: Histogram,
}

impl RequestMetrics {
    /// Creates the request metrics of the publisher named `instance`.
    pub(crate) fn new(instance: &str, registry: &Arc<PayloadRegistry>) -> Self {
        if !recorder_installed() {
            return Self { inner: None };
        }
        describe();
        let inner = RequestInner {
            instance: shared(instance),
            registry: Arc::clone(registry),
            by_type: HandleCache::new(),
        };
        Self {
            inner: Some(Box::new(inner)),
        }
    }

    /// Returns the start time of a request, or `None` when nothing is recorded.
    pub(crate) fn start(&self) -> Option<Instant> {
        self.inner.as_ref().map(|_| Instant::now())
    }

    /// Records a request of type `R` that started at `started`.
    pub(crate) fn record<R: Any, T>(
        &self,
        started: Option<Instant>,
        result: &Result<T, RequestError>,
    ) {
        let Some(inner) = &self.inner else {
            return;
        };
        let handles = inner.by_type.get_or_build(&TypeId::of::<R>(), || {
            let kind = type_label::<R>(&inner.registry);
            let outcomes = REQUEST_OUTCOMES.map(|outcome| {
                metrics::counter!(
                    names::REQUESTS,
                    label::INSTANCE => inner.instance.clone(),
                    label::TYPE => kind.clone(),
                    label::OUTCOME => outcome
                )
            });
            let duration = metrics::histogram!(
                names::REQUEST_DURATION,
                label::INSTANCE => inner.instance.clone(),
                label::TYPE => kind
            );
            (TypeId::of::<R>(), RequestHandles { outcomes, duration })
        });
        handles.outcomes[request_outcome(result)].increment(1);
        if let (Ok(_), Some(started)) = (result, started) {
            handles.duration.record(started.elapsed());
        }
    }
}

/// The `outcome` labels of acknowledged publishes, indexed by [`acked_outcome`].
const ACKED_OUTCOMES: [&str; 8] = [
    outcome::ACKED,
    outcome::NACKED,
    outcome::TIMEOUT,
    outcome::NO_RESPONDERS,
    outcome::INVALID_ACK,
    outcome::PUBLISH_ERROR,
    outcome::CLOSED,
    outcome::RESET,
];

fn acked_outcome(result: &Result<Ack, AckError>) -> usize {
    match result {
        Ok(_) => 0,
        Err(AckError::Nack { .. }) => 1,
        Err(AckError::Timeout { .. }) => 2,
        Err(AckError::NoResponders { .. }) => 3,
        Err(AckError::InvalidAck { .. }) => 4,
        Err(AckError::Publish(_) | AckError::Full { .. }) => 5,
        Err(AckError::Closed) => 6,
        Err(AckError::Reset) => 7,
    }
}

/// Metrics of one acknowledged publisher.
pub(crate) struct AckedMetrics {
    /// `None` when no recorder was installed at build time.
    inner: Option<Box<AckedInner>>,
}

struct AckedInner {
    outcomes: [Counter; ACKED_OUTCOMES.len()],
    retries: Counter,
    pending: Gauge,
}

impl AckedMetrics {
    /// Creates the metrics of the acknowledged publisher named `instance`.
    pub(crate) fn new(instance: &str) -> Self {
        if !recorder_installed() {
            return Self { inner: None };
        }
        describe();
        let instance = shared(instance);
        let outcomes = ACKED_OUTCOMES.map(|outcome| {
            metrics::counter!(
                names::ACKED_PUBLISHES,
                label::INSTANCE => instance.clone(),
                label::OUTCOME => outcome
            )
        });
        let inner = AckedInner {
            outcomes,
            retries: metrics::counter!(names::ACKED_RETRIES, label::INSTANCE => instance.clone()),
            pending: metrics::gauge!(names::ACKED_PENDING, label::INSTANCE => instance),
        };
        Self {
            inner: Some(Box::new(inner)),
        }
    }

    /// Records how a message was resolved and the number of messages still pending.
    pub(crate) fn resolved(&self, result: &Result<Ack, AckError>, pending: usize) {
        if let Some(inner) = &self.inner {
            inner.outcomes[acked_outcome(result)].increment(1);
            inner.pending.set(pending as f64);
        }
    }

    /// Records the number of messages pending after a send.
    pub(crate) fn sent(&self, pending: usize) {
        if let Some(inner) = &self.inner {
            inner.pending.set(pending as f64);
        }
    }

    /// Counts a negatively acknowledged message that will be sent again.
    pub(crate) fn retried(&self) {
        if let Some(inner) = &self.inner {
            inner.retries.increment(1);
        }
    }
}
