//! The telemetry hooks of the publish and receive paths without NATS, for the allocation
//! bench. Not a public API.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::subscriber::pipeline::{Outcome, Pipeline};
use crate::subscriber::stats::Counters;
use crate::telemetry::{self, PublisherMetrics, SubscriberMetrics};
use crate::{
    AnyMessage, BoxError, EnvelopeSerializer, MessageHandler, NoopCheckpointer, NoopFilter,
};
use crate::{Metadata, Payload, PayloadRegistry};

/// A handler that accepts every message and does nothing.
#[derive(Debug)]
pub struct AcceptAll;

impl MessageHandler for AcceptAll {
    async fn handle_message(&self, _message: &AnyMessage) -> Result<(), BoxError> {
        Ok(())
    }
}

/// The pipeline of a subscriber with one [`AcceptAll`] handler, no filter and no
/// checkpointer, including its metrics hooks.
pub struct ReceivePipeline {
    pipeline: Pipeline<((), AcceptAll), NoopFilter, NoopCheckpointer>,
}

impl ReceivePipeline {
    /// Builds the pipeline; its metrics go to the recorder current now, if any.
    pub fn new(registry: Arc<PayloadRegistry>) -> Self {
        let pipeline = Pipeline {
            handlers: ((), AcceptAll),
            filter: NoopFilter,
            checkpointer: NoopCheckpointer,
            serializer: EnvelopeSerializer::default(),
            metrics: SubscriberMetrics::new("bench", &registry),
            registry,
            handler_timeout: Duration::from_secs(30),
            counters: Arc::new(Counters::default()),
            log_limiter: Arc::default(),
        };
        Self { pipeline }
    }

    /// Runs one envelope through the pipeline; returns `true` when it was processed.
    pub async fn process(&self, envelope: &Bytes) -> bool {
        matches!(
            self.pipeline.process("bench", envelope).await,
            Outcome::Processed
        )
    }
}

/// The telemetry calls a publisher makes around each publish.
pub struct PublishTelemetry {
    metrics: PublisherMetrics,
}

impl PublishTelemetry {
    /// Builds the publisher metrics; they go to the recorder current now, if any.
    pub fn new(registry: &Arc<PayloadRegistry>) -> Self {
        Self {
            metrics: PublisherMetrics::new("bench", registry),
        }
    }

    /// Makes the calls of one successful publish of a `T` whose envelope is `size` bytes.
    pub fn record<T: Payload>(&self, metadata: &Metadata, size: usize) {
        let span = telemetry::publish_span("bench", T::NAME);
        let started = self.metrics.start();
        self.metrics.record::<T>(started, &Ok(size));
        telemetry::record_publish(&span, || Some("bench"), metadata);
    }
}
