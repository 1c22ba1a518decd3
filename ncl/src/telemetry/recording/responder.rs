//! Metrics of a responder: requests received, responses sent, handler durations.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use metrics::{Counter, Histogram, SharedString};

use super::{HandleCache, describe, recorder_installed, shared};
use crate::PayloadRegistry;
use crate::request::ResponseOutcome;
use crate::telemetry::names::{self, label, outcome};

/// The `outcome` labels of responses, indexed by [`outcome_index`].
const RESPONSE_OUTCOMES: [&str; 9] = [
    outcome::RESPONDED,
    outcome::HANDLER_ERROR,
    outcome::NOT_FOUND,
    outcome::TIMEOUT,
    outcome::PANIC,
    outcome::ENVELOPE_ERROR,
    outcome::PAYLOAD_ERROR,
    outcome::SERIALIZE_ERROR,
    outcome::MAX_PAYLOAD_EXCEEDED,
];

fn outcome_index(outcome: ResponseOutcome) -> usize {
    match outcome {
        ResponseOutcome::Responded => 0,
        ResponseOutcome::HandlerError => 1,
        ResponseOutcome::NotFound => 2,
        ResponseOutcome::Timeout => 3,
        ResponseOutcome::Panic => 4,
        ResponseOutcome::EnvelopeError => 5,
        ResponseOutcome::PayloadError => 6,
        ResponseOutcome::SerializeError => 7,
        ResponseOutcome::MaxPayloadExceeded => 8,
    }
}

/// Metrics of one responder.
pub(crate) struct ResponderMetrics {
    /// `None` when no recorder was installed at build time.
    inner: Option<Box<ResponderInner>>,
}

struct ResponderInner {
    instance: SharedString,
    registry: Arc<PayloadRegistry>,
    by_type: HandleCache<Box<str>, ResponderHandles>,
    /// Handles of requests whose type is missing or not registered, built on first use.
    unknown: OnceLock<Arc<ResponderHandles>>,
    send_errors: Counter,
}

struct ResponderHandles {
    received: Counter,
    outcomes: [Counter; RESPONSE_OUTCOMES.len()],
    handler_duration: Histogram,
}

impl ResponderHandles {
    fn new(instance: &SharedString, kind: SharedString) -> Self {
        let outcomes = RESPONSE_OUTCOMES.map(|outcome| {
            metrics::counter!(
                names::RESPONDER_RESPONSES,
                label::INSTANCE => instance.clone(),
                label::TYPE => kind.clone(),
                label::OUTCOME => outcome
            )
        });
        Self {
            received: metrics::counter!(
                names::RESPONDER_REQUESTS,
                label::INSTANCE => instance.clone(),
                label::TYPE => kind.clone()
            ),
            outcomes,
            handler_duration: metrics::histogram!(
                names::RESPONDER_HANDLER_DURATION,
                label::INSTANCE => instance.clone(),
                label::TYPE => kind
            ),
        }
    }
}

impl ResponderMetrics {
    /// Creates the metrics of the responder named `instance`.
    pub(crate) fn new(instance: &str, registry: &Arc<PayloadRegistry>) -> Self {
        if !recorder_installed() {
            return Self { inner: None };
        }
        describe();
        let instance = shared(instance);
        let inner = ResponderInner {
            send_errors: metrics::counter!(
                names::RESPONDER_SEND_ERRORS,
                label::INSTANCE => instance.clone()
            ),
            instance,
            registry: Arc::clone(registry),
            by_type: HandleCache::new(),
            unknown: OnceLock::new(),
        };
        Self {
            inner: Some(Box::new(inner)),
        }
    }

    /// Counts a received request of wire type `message_type` (`None` when its envelope
    /// did not decode) and returns the tracker that records what became of it.
    pub(crate) fn received(&self, message_type: Option<&str>) -> RequestTracker<'_> {
        let tracking = self.inner.as_deref().map(|inner| {
            let handles = inner.handles(message_type);
            handles.received.increment(1);
            (inner, handles)
        });
        RequestTracker { tracking }
    }
}

impl ResponderInner {
    /// Returns the handles for requests whose `Type` is `name`.
    fn handles(&self, name: Option<&str>) -> Arc<ResponderHandles> {
        let Some(name) = name else {
            return Arc::clone(self.unknown());
        };
        // The cache contains registered names only, so a hit needs no registry lookup.
        if let Some(handles) = self.by_type.get(name) {
            return handles;
        }
        if !self.registry.contains(name) {
            return Arc::clone(self.unknown());
        }
        self.by_type.get_or_build(name, || {
            let handles = ResponderHandles::new(&self.instance, shared(name));
            (Box::from(name), handles)
        })
    }

    fn unknown(&self) -> &Arc<ResponderHandles> {
        self.unknown.get_or_init(|| {
            let kind = SharedString::const_str(names::UNKNOWN_TYPE);
            Arc::new(ResponderHandles::new(&self.instance, kind))
        })
    }
}

/// Records what became of one received request.
pub(crate) struct RequestTracker<'a> {
    /// `None` when the responder records nothing.
    tracking: Option<(&'a ResponderInner, Arc<ResponderHandles>)>,
}

impl RequestTracker<'_> {
    /// Returns the time the handler starts, or `None` when nothing is recorded.
    pub(crate) fn handler_started(&self) -> Option<Instant> {
        self.tracking.as_ref().map(|_| Instant::now())
    }

    /// Records the duration of a handler call that started at `started`.
    pub(crate) fn handler_finished(&self, started: Option<Instant>) {
        if let (Some((_, handles)), Some(started)) = (&self.tracking, started) {
            handles.handler_duration.record(started.elapsed());
        }
    }

    /// Counts a response handed to the NATS client.
    pub(crate) fn sent(&self, outcome: ResponseOutcome) {
        if let Some((_, handles)) = &self.tracking {
            handles.outcomes[outcome_index(outcome)].increment(1);
        }
    }

    /// Counts a response that could not be encoded or sent.
    pub(crate) fn send_failed(&self) {
        if let Some((inner, _)) = &self.tracking {
            inner.send_errors.increment(1);
        }
    }
}
