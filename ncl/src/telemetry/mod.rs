//! Metrics, tracing spans and trace-context propagation.
//!
//! # Metrics
//!
//! With the `metrics` cargo feature (on by default), publishers and subscribers record
//! counters, gauges and histograms through the [`metrics`](https://docs.rs/metrics)
//! facade. The application picks the exporter (Prometheus, StatsD, OpenTelemetry, …)
//! by installing its recorder. [`names`] lists every metric with its unit and labels.
//!
//! Install the recorder (for example with metrics-exporter-prometheus's
//! `PrometheusBuilder::install`) before building publishers and subscribers: each one
//! checks for a recorder when it is built, and one built without records nothing and
//! reads no clock for the whole of its life. Handles are cached per instance and
//! payload type, so recording a message allocates nothing for its labels.
//!
//! # Spans
//!
//! Each publish runs inside an `ncl.publish` span and each received message inside an
//! `ncl.process` span, in which the filter, payload decode, handlers and checkpoint
//! run. Both carry `subject`, `message_type`, `message_id` and `source` fields. They
//! are `DEBUG` spans with target `ncl::spans`, so they cost one cached callsite check
//! unless enabled, for example with the filter directive `ncl::spans=debug`.
//!
//! # Trace-context propagation
//!
//! With the `opentelemetry` cargo feature (off by default), the publisher writes the
//! W3C trace context of the current span into the message metadata
//! ([`TRACEPARENT`], and [`TRACESTATE`] when the state is not empty), and the
//! subscriber makes the `ncl.process` span a child of it, through
//! [`tracing-opentelemetry`](https://docs.rs/tracing-opentelemetry). The keys are
//! plain metadata, so they travel in both envelope versions and through Bacalhau's Go
//! NCL unchanged. A caller's own `traceparent` is kept. On the receiving side the link
//! needs the `ncl.process` span enabled for the OpenTelemetry layer.

pub mod names;
#[cfg(feature = "opentelemetry")]
mod propagation;
#[cfg(not(feature = "metrics"))]
#[path = "disabled.rs"]
mod recording;
#[cfg(feature = "metrics")]
mod recording;
mod spans;

#[doc(hidden)]
pub mod __bench;

#[cfg(feature = "opentelemetry")]
pub use self::propagation::{extract_context, inject_context};
pub(crate) use self::recording::{
    AckMetrics, AckTracker, AckedMetrics, DurableMetrics, MessageTracker, PublisherMetrics,
    RequestTracker, ResponderMetrics, SubscriberMetrics,
};
pub(crate) use self::spans::{
    process_span, publish_span, record_publish, record_sent, request_span,
};

/// Metadata key of the W3C `traceparent`: version, trace id, parent span id and flags.
pub const TRACEPARENT: &str = "traceparent";
/// Metadata key of the W3C `tracestate`: vendor-specific trace data.
pub const TRACESTATE: &str = "tracestate";

/// Writes the trace context of the current span into `metadata`, when the
/// `opentelemetry` feature is on.
pub(crate) fn inject_current_context(metadata: &mut crate::Metadata) {
    #[cfg(feature = "opentelemetry")]
    propagation::inject_current(metadata);
    #[cfg(not(feature = "opentelemetry"))]
    let _ = metadata;
}

/// Stand-ins for the propagation calls when the `opentelemetry` feature is off.
#[cfg(not(feature = "opentelemetry"))]
mod propagation {
    pub(super) fn set_remote_parent(_span: &tracing::Span, _metadata: &crate::Metadata) {}
}
