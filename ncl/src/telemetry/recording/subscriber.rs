//! Metrics of the subscriber pipeline, shared by core and JetStream subscribers.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use metrics::{Counter, Gauge, Histogram, SharedString};

use super::{HandleCache, describe, recorder_installed, shared};
use crate::Metadata;
use crate::PayloadRegistry;
use crate::metadata::unix_nanos;
use crate::subscriber::pipeline::Outcome;
use crate::subscriber::stats::Failure;
use crate::telemetry::names::{self, label, outcome, stage};

/// The `outcome` labels of received messages, indexed by [`outcome_index`].
const RECEIVE_OUTCOMES: [&str; 8] = [
    outcome::PROCESSED,
    outcome::FILTERED,
    outcome::ENVELOPE_ERROR,
    outcome::PAYLOAD_ERROR,
    outcome::HANDLER_ERROR,
    outcome::PANIC,
    outcome::TIMEOUT,
    outcome::CHECKPOINT_ERROR,
];

/// Returns the `outcome` label of a failed step.
pub(super) fn failure_label(failure: Failure) -> &'static str {
    RECEIVE_OUTCOMES[failure_index(failure)]
}

fn failure_index(failure: Failure) -> usize {
    match failure {
        Failure::Envelope => 2,
        Failure::Payload => 3,
        Failure::Handler => 4,
        Failure::Panic => 5,
        Failure::Timeout => 6,
        Failure::Checkpoint => 7,
    }
}

fn outcome_index(outcome: &Outcome) -> usize {
    match outcome {
        // An unhandled message is counted as processed, and also by its own counter.
        Outcome::Processed | Outcome::Unhandled { .. } => 0,
        Outcome::Filtered => 1,
        Outcome::Failed { stage, .. } => failure_index(*stage),
    }
}

/// The `stage` labels of [`names::PROCESSING_DURATION`], indexed by position.
const STAGES: [&str; 4] = [
    stage::DECODE,
    stage::HANDLER,
    stage::CHECKPOINT,
    stage::TOTAL,
];

/// Metrics of one subscriber (core or JetStream).
pub(crate) struct SubscriberMetrics {
    /// `None` when no recorder was installed at build time.
    inner: Option<Box<SubscriberInner>>,
}

struct SubscriberInner {
    instance: SharedString,
    registry: Arc<PayloadRegistry>,
    by_type: HandleCache<Box<str>, ReceiveHandles>,
    /// Handles of messages whose type is missing or not registered, built on first use.
    unknown: OnceLock<Arc<ReceiveHandles>>,
    in_flight: Gauge,
    dropped: Counter,
}

struct ReceiveHandles {
    outcomes: [Counter; RECEIVE_OUTCOMES.len()],
    unhandled: Counter,
    stages: [Histogram; STAGES.len()],
    latency: Histogram,
}

impl ReceiveHandles {
    fn new(instance: &SharedString, kind: SharedString) -> Self {
        let outcomes = RECEIVE_OUTCOMES.map(|outcome| {
            metrics::counter!(
                names::RECEIVED_MESSAGES,
                label::INSTANCE => instance.clone(),
                label::TYPE => kind.clone(),
                label::OUTCOME => outcome
            )
        });
        let stages = STAGES.map(|stage| {
            metrics::histogram!(
                names::PROCESSING_DURATION,
                label::INSTANCE => instance.clone(),
                label::TYPE => kind.clone(),
                label::STAGE => stage
            )
        });
        Self {
            outcomes,
            unhandled: metrics::counter!(
                names::UNHANDLED_MESSAGES,
                label::INSTANCE => instance.clone(),
                label::TYPE => kind.clone()
            ),
            stages,
            latency: metrics::histogram!(
                names::END_TO_END_LATENCY,
                label::INSTANCE => instance.clone(),
                label::TYPE => kind
            ),
        }
    }
}

impl SubscriberMetrics {
    /// Creates the metrics of the subscriber named `instance`.
    pub(crate) fn new(instance: &str, registry: &Arc<PayloadRegistry>) -> Self {
        if !recorder_installed() {
            return Self { inner: None };
        }
        describe();
        let instance = shared(instance);
        let inner = SubscriberInner {
            in_flight: metrics::gauge!(
                names::MESSAGES_IN_FLIGHT,
                label::INSTANCE => instance.clone()
            ),
            dropped: metrics::counter!(
                names::DROPPED_MESSAGES,
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

    /// Starts tracking one message: counts it in flight until the tracker is dropped.
    pub(crate) fn track(&self) -> MessageTracker<'_> {
        let tracking = self.inner.as_deref().map(|inner| {
            inner.in_flight.increment(1.0);
            Tracking {
                inner,
                started: Instant::now(),
                handles: None,
                event_nanos: None,
                handlers_started: None,
                handlers_finished: None,
            }
        });
        MessageTracker { tracking }
    }

    /// Counts a message dropped because the pending queue was full.
    pub(crate) fn dropped(&self) {
        if let Some(inner) = &self.inner {
            inner.dropped.increment(1);
        }
    }
}

impl SubscriberInner {
    /// Returns the handles for messages whose `Type` is `name`.
    fn handles(&self, name: Option<&str>) -> Arc<ReceiveHandles> {
        let Some(name) = name else {
            return Arc::clone(self.unknown());
        };
        // The cache holds registered names only, so a hit needs no registry lookup.
        if let Some(handles) = self.by_type.get(name) {
            return handles;
        }
        if !self.registry.contains(name) {
            return Arc::clone(self.unknown());
        }
        self.by_type.get_or_build(name, || {
            let handles = ReceiveHandles::new(&self.instance, shared(name));
            (Box::from(name), handles)
        })
    }

    fn unknown(&self) -> &Arc<ReceiveHandles> {
        self.unknown.get_or_init(|| {
            let kind = SharedString::const_str(names::UNKNOWN_TYPE);
            Arc::new(ReceiveHandles::new(&self.instance, kind))
        })
    }
}

/// Times one message through the subscriber's steps and records its outcome.
pub(crate) struct MessageTracker<'a> {
    /// `None` when the subscriber records nothing.
    tracking: Option<Tracking<'a>>,
}

struct Tracking<'a> {
    inner: &'a SubscriberInner,
    started: Instant,
    /// Set once the envelope decoded and the type is known.
    handles: Option<Arc<ReceiveHandles>>,
    event_nanos: Option<i64>,
    handlers_started: Option<Instant>,
    handlers_finished: Option<Instant>,
}

impl Drop for Tracking<'_> {
    fn drop(&mut self) {
        self.inner.in_flight.decrement(1.0);
    }
}

impl MessageTracker<'_> {
    /// Notes the type and event time of a message whose envelope decoded.
    pub(crate) fn envelope_decoded(&mut self, metadata: &Metadata) {
        if let Some(tracking) = &mut self.tracking {
            tracking.handles = Some(tracking.inner.handles(metadata.message_type()));
            tracking.event_nanos = metadata.event_time_nanos().and_then(Result::ok);
        }
    }

    /// Notes that the handlers start.
    pub(crate) fn handlers_started(&mut self) {
        if let Some(tracking) = &mut self.tracking {
            tracking.handlers_started = Some(Instant::now());
        }
    }

    /// Notes that every handler succeeded.
    pub(crate) fn handlers_finished(&mut self) {
        if let Some(tracking) = &mut self.tracking {
            tracking.handlers_finished = Some(Instant::now());
        }
    }

    /// Counts a processed message that no handler wanted.
    pub(crate) fn unhandled(&self) {
        if let Some(tracking) = &self.tracking {
            tracking.handles().unhandled.increment(1);
        }
    }

    /// Records the outcome and durations of the message, and returns the outcome.
    pub(crate) fn finish(self, outcome: Outcome) -> Outcome {
        if let Some(tracking) = &self.tracking {
            tracking.record(&outcome);
        }
        outcome
    }
}

impl Tracking<'_> {
    fn handles(&self) -> &ReceiveHandles {
        self.handles
            .as_deref()
            .unwrap_or_else(|| self.inner.unknown())
    }

    fn record(&self, outcome: &Outcome) {
        let handles = self.handles();
        let finished = Instant::now();
        handles.outcomes[outcome_index(outcome)].increment(1);
        handles.stages[3].record(finished - self.started);
        if let Some(handlers_started) = self.handlers_started {
            handles.stages[0].record(handlers_started - self.started);
            let handlers_finished = self.handlers_finished.unwrap_or(finished);
            handles.stages[1].record(handlers_finished - handlers_started);
        }
        if let Some(handlers_finished) = self.handlers_finished {
            handles.stages[2].record(finished - handlers_finished);
        }
        if let (Outcome::Processed | Outcome::Unhandled { .. }, Some(event_nanos)) =
            (outcome, self.event_nanos)
        {
            let now = unix_nanos(SystemTime::now());
            // A negative difference means the sender's clock is ahead of ours.
            if let Ok(latency) = u64::try_from(now.saturating_sub(event_nanos)) {
                handles.latency.record(Duration::from_nanos(latency));
            }
        }
    }
}
