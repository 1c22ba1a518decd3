//! Stand-ins for the metric types when the `metrics` feature is off: the same calls,
//! doing nothing, so the hooks in the publisher and subscriber need no `cfg`.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::publish::PublishAck;

use crate::subscriber::pipeline::Outcome;
use crate::subscriber::stats::Failure;
use crate::{Metadata, PayloadRegistry, PublishError};

pub(crate) struct PublisherMetrics;

impl PublisherMetrics {
    pub(crate) fn new(_instance: &str, _registry: &Arc<PayloadRegistry>) -> Self {
        Self
    }

    pub(crate) fn start(&self) -> Option<Instant> {
        None
    }

    pub(crate) fn record<T: Any>(
        &self,
        _started: Option<Instant>,
        _result: &Result<usize, PublishError>,
    ) {
    }

    pub(crate) fn record_jetstream<T: Any>(
        &self,
        _started: Option<Instant>,
        _result: Result<usize, &crate::jetstream::PublishError>,
    ) {
    }

    pub(crate) fn requests(&self) -> &RequestMetrics {
        &RequestMetrics
    }
}

pub(crate) struct RequestMetrics;

impl RequestMetrics {
    pub(crate) fn start(&self) -> Option<Instant> {
        None
    }

    pub(crate) fn record<R: Any, T>(
        &self,
        _started: Option<Instant>,
        _result: &Result<T, crate::RequestError>,
    ) {
    }
}

pub(crate) struct ResponderMetrics;

impl ResponderMetrics {
    pub(crate) fn new(_instance: &str, _registry: &Arc<PayloadRegistry>) -> Self {
        Self
    }

    pub(crate) fn received(&self, _message_type: Option<&str>) -> RequestTracker<'_> {
        RequestTracker(std::marker::PhantomData)
    }
}

pub(crate) struct RequestTracker<'a>(std::marker::PhantomData<&'a ()>);

impl RequestTracker<'_> {
    pub(crate) fn handler_started(&self) -> Option<Instant> {
        None
    }

    pub(crate) fn handler_finished(&self, _started: Option<Instant>) {}

    pub(crate) fn sent(&self, _outcome: crate::request::ResponseOutcome) {}

    pub(crate) fn send_failed(&self) {}
}

pub(crate) struct AckedMetrics;

impl AckedMetrics {
    pub(crate) fn new(_instance: &str) -> Self {
        Self
    }

    pub(crate) fn resolved(
        &self,
        _result: &Result<crate::acked::Ack, crate::AckError>,
        _pending: usize,
    ) {
    }

    pub(crate) fn sent(&self, _pending: usize) {}

    pub(crate) fn retried(&self) {}
}

pub(crate) struct SubscriberMetrics;

impl SubscriberMetrics {
    pub(crate) fn new(_instance: &str, _registry: &Arc<PayloadRegistry>) -> Self {
        Self
    }

    pub(crate) fn track(&self) -> MessageTracker<'_> {
        MessageTracker(std::marker::PhantomData)
    }

    pub(crate) fn dropped(&self) {}
}

pub(crate) struct MessageTracker<'a>(std::marker::PhantomData<&'a ()>);

impl MessageTracker<'_> {
    pub(crate) fn envelope_decoded(&mut self, _metadata: &Metadata) {}

    pub(crate) fn handlers_started(&mut self) {}

    pub(crate) fn handlers_finished(&mut self) {}

    pub(crate) fn unhandled(&self) {}

    pub(crate) fn finish(self, outcome: Outcome) -> Outcome {
        outcome
    }
}

pub(crate) struct DurableMetrics;

impl DurableMetrics {
    pub(crate) fn new(_instance: &str) -> Self {
        Self
    }

    pub(crate) fn ack(&self, _kind: &AckKind, _sent: bool) {}

    pub(crate) fn delivered(&self, _deliveries: i64) {}

    pub(crate) fn skipped(&self) {}

    pub(crate) fn dead_letter(&self, _stage: Failure, _published: bool) {}
}

#[derive(Clone)]
pub(crate) struct AckMetrics;

impl AckMetrics {
    pub(crate) fn new(_instance: &str, _registry: &Arc<PayloadRegistry>) -> Self {
        Self
    }

    // Same signature as the recording version, which labels by `T`.
    #[allow(clippy::extra_unused_type_parameters)]
    pub(crate) fn sent<T: Any>(&self) -> AckTracker {
        AckTracker
    }
}

pub(crate) struct AckTracker;

impl AckTracker {
    pub(crate) fn finish(self, _result: &Result<PublishAck, crate::jetstream::PublishError>) {}
}
