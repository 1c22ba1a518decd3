//! The spans ncl opens: one per publish and one per received message.
//!
//! Both are at `DEBUG` level with target `ncl::spans`, so a `tracing` subscriber that
//! does not enable them costs one cached callsite check per message.

use tracing::Span;
use tracing::field::Empty;

use crate::Metadata;

/// Returns the span of one publish of a `message_type` by the publisher `source`.
///
/// The subject and message id are recorded by [`record_publish`] once known.
pub(crate) fn publish_span(source: &str, message_type: &'static str) -> Span {
    tracing::debug_span!(
        target: "ncl::spans",
        "ncl.publish",
        otel.kind = "producer",
        source,
        message_type,
        subject = Empty,
        message_id = Empty,
    )
}

/// Returns the span of one request of a `message_type` by the publisher `source`,
/// which covers sending it and awaiting the response.
pub(crate) fn request_span(source: &str, message_type: &'static str) -> Span {
    tracing::debug_span!(
        target: "ncl::spans",
        "ncl.request",
        otel.kind = "client",
        source,
        message_type,
    )
}

/// Records the subject and message id of a publish on its span, when the span is
/// enabled; `subject` is called only then.
pub(crate) fn record_publish<S: AsRef<str>>(
    span: &Span,
    subject: impl FnOnce() -> Option<S>,
    metadata: &Metadata,
) {
    if span.is_disabled() {
        return;
    }
    if let Some(subject) = subject() {
        span.record("subject", subject.as_ref());
    }
    if let Some(id) = metadata.message_id() {
        span.record("message_id", id);
    }
}

/// Records the subject and message id of a message sent to a stream on its span.
pub(crate) fn record_sent(span: &Span, subject: &str, message_id: &str) {
    span.record("subject", subject);
    span.record("message_id", message_id);
}

/// Returns the span that processes a message received on `subject`.
///
/// Filter, payload decode, handlers and checkpoint run inside it. When the metadata
/// carries a W3C trace context and the `opentelemetry` feature is on, the span becomes
/// a child of the publisher's span.
pub(crate) fn process_span(subject: &str, metadata: &Metadata) -> Span {
    let span = tracing::debug_span!(
        target: "ncl::spans",
        "ncl.process",
        otel.kind = "consumer",
        subject,
        message_type = metadata.message_type(),
        message_id = metadata.message_id(),
        source = metadata.source(),
    );
    super::propagation::set_remote_parent(&span, metadata);
    span
}
