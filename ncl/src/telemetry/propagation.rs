//! W3C trace-context propagation through message metadata, with OpenTelemetry.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{TRACEPARENT, TRACESTATE};
use crate::Metadata;

/// Lets any OpenTelemetry propagator write into metadata.
impl Injector for Metadata {
    fn set(&mut self, key: &str, value: String) {
        Metadata::set(self, key, &value);
    }
}

/// Lets any OpenTelemetry propagator read from metadata.
impl Extractor for Metadata {
    fn get(&self, key: &str) -> Option<&str> {
        Metadata::get(self, key)
    }

    fn keys(&self) -> Vec<&str> {
        self.iter().map(|(key, _)| key).collect()
    }
}

/// Writes the W3C trace context of `context` into `metadata`: [`TRACEPARENT`], and
/// [`TRACESTATE`] when the trace state is not empty. Writes nothing when `context` has
/// no valid span context.
///
/// # Examples
///
/// ```
/// use ncl::Metadata;
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt};
/// use opentelemetry::trace::{TraceFlags, TraceId, TraceState};
///
/// let span_context = SpanContext::new(
///     TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
///     SpanId::from_hex("00f067aa0ba902b7").unwrap(),
///     TraceFlags::SAMPLED,
///     false,
///     TraceState::NONE,
/// );
/// let context = opentelemetry::Context::new().with_remote_span_context(span_context);
///
/// let mut metadata = Metadata::new();
/// ncl::telemetry::inject_context(&context, &mut metadata);
/// assert_eq!(
///     metadata.get("traceparent"),
///     Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
/// );
/// assert_eq!(metadata.get("tracestate"), None);
///
/// let extracted = ncl::telemetry::extract_context(&metadata);
/// let span_id = extracted.span().span_context().span_id();
/// assert_eq!(span_id, SpanId::from_hex("00f067aa0ba902b7").unwrap());
/// ```
pub fn inject_context(context: &Context, metadata: &mut Metadata) {
    TraceContextPropagator::new().inject_context(context, &mut WithoutEmptyState(metadata));
}

/// Reads the W3C trace context from `metadata`.
///
/// Returns the current context unchanged when `metadata` has no valid
/// [`TRACEPARENT`], and otherwise the current context with the remote span context.
pub fn extract_context(metadata: &Metadata) -> Context {
    TraceContextPropagator::new().extract(metadata)
}

/// Writes the context of the current span into `metadata`, unless it already has a
/// [`TRACEPARENT`] (a caller's own, or one from an earlier publish of the same
/// metadata).
pub(crate) fn inject_current(metadata: &mut Metadata) {
    if metadata.contains_key(TRACEPARENT) {
        return;
    }
    let mut context = Span::current().context();
    if !context.span().span_context().is_valid() {
        // Programs that use OpenTelemetry without `tracing` keep their span here.
        context = Context::current();
    }
    if context.span().span_context().is_valid() {
        inject_context(&context, metadata);
    }
}

/// Makes `span` a child of the remote span whose context `metadata` carries.
pub(crate) fn set_remote_parent(span: &Span, metadata: &Metadata) {
    if span.is_disabled() || !metadata.contains_key(TRACEPARENT) {
        return;
    }
    let context = extract_context(metadata);
    if context.span().span_context().is_valid() {
        // Fails only without an OpenTelemetry layer, where there is nothing to link.
        let _ = span.set_parent(context);
    }
}

/// Passes writes to metadata but drops an empty `tracestate`, which the W3C propagator
/// writes whenever the trace state is empty.
struct WithoutEmptyState<'a>(&'a mut Metadata);

impl Injector for WithoutEmptyState<'_> {
    fn set(&mut self, key: &str, value: String) {
        if key == TRACESTATE && value.is_empty() {
            return;
        }
        self.0.set(key, &value);
    }
}
