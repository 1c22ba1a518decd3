//! Spans and W3C trace-context propagation across a real nats-server: the subscriber's
//! span is a child of the publisher's, in both envelope versions, and the handler runs
//! inside it.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use ncl::telemetry::{TRACEPARENT, TRACESTATE};
use ncl::{
    AnyMessage, EnvelopeSerializer, EnvelopeVersion, Metadata, NclPayload, Publisher, Subscriber,
};
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, Recorder, connect, registry, wait_for_settled, within};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Traced {
    step: u32,
}

/// What one run captured: the finished spans, the `traceparent` the handler saw, and
/// the envelope bytes as they crossed the server.
struct Run {
    spans: Vec<SpanData>,
    seen_traceparent: Option<String>,
    envelope: Bytes,
}

/// Publishes one message inside a `test.request` span with `version`, and handles it
/// in a subscriber whose handler opens a `handler.work` span. Spans go to an in-memory
/// exporter through a tracing-opentelemetry layer.
fn run_traced(version: EnvelopeVersion) -> Run {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("ncl-tests"));
    let subscriber = tracing_subscriber::registry().with(layer);
    let _default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build the test runtime");

    let (seen_traceparent, envelope) = runtime.block_on(async {
        let server = NatsServer::start();
        let client = connect(&server).await;
        let seen = Recorder::<String>::new();
        let handler_seen = seen.clone();
        let subscriber = Subscriber::builder(client.clone())
            .name("traced")
            .registry(registry())
            .handler(ncl::handler_fn(move |message: &AnyMessage| {
                let traceparent = message.metadata().get(TRACEPARENT).unwrap_or("<none>");
                handler_seen.push(traceparent.to_owned());
                async {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    Ok(())
                }
                .instrument(tracing::info_span!("handler.work"))
            }))
            .build()
            .expect("build subscriber");
        subscriber.subscribe(["traced"]).await.expect("subscribe");
        let mut raw = client.subscribe("traced").await.expect("raw subscribe");
        let publisher = Publisher::builder(client.clone())
            .name("tracer")
            .destination("traced")
            .serializer(EnvelopeSerializer::new(version))
            .registry(registry())
            .build()
            .expect("build publisher");

        let request = tracing::info_span!("test.request");
        publisher
            .publish(&Traced { step: 1 })
            .instrument(request)
            .await
            .expect("publish");
        let envelope = within("the raw copy", raw.next())
            .await
            .expect("raw subscription open")
            .payload;
        wait_for_settled(&subscriber, 1).await;
        subscriber.close().await;
        (seen.items().into_iter().next(), envelope)
    });
    provider.force_flush().expect("flush spans");
    let spans = exporter.get_finished_spans().expect("read finished spans");
    Run {
        spans,
        seen_traceparent,
        envelope,
    }
}

fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<&SpanData> = spans.iter().filter(|span| span.name == name).collect();
    let names: Vec<&str> = spans.iter().map(|span| span.name.as_ref()).collect();
    assert_eq!(found.len(), 1, "expected one {name:?} span among {names:?}");
    found[0]
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|pair| pair.key.as_str() == key)
        .map(|pair| pair.value.to_string())
}

fn assert_linked(version: EnvelopeVersion) {
    let run = run_traced(version);
    let request = span(&run.spans, "test.request");
    let publish = span(&run.spans, "ncl.publish");
    let process = span(&run.spans, "ncl.process");
    let work = span(&run.spans, "handler.work");

    let trace_id = request.span_context.trace_id();
    assert_eq!(publish.parent_span_id, request.span_context.span_id());
    assert_eq!(publish.span_context.trace_id(), trace_id);
    assert_eq!(publish.span_kind, SpanKind::Producer);

    assert_eq!(
        process.span_context.trace_id(),
        trace_id,
        "{version:?}: the subscriber's span is in the publisher's trace"
    );
    assert_eq!(
        process.parent_span_id,
        publish.span_context.span_id(),
        "{version:?}: the subscriber's span is a child of the publish span"
    );
    assert!(process.parent_span_is_remote);
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(work.parent_span_id, process.span_context.span_id());

    let expected = format!("00-{trace_id}-{}-01", publish.span_context.span_id());
    assert_eq!(run.seen_traceparent.as_deref(), Some(expected.as_str()));

    assert_eq!(attribute(process, "subject").as_deref(), Some("traced"));
    assert_eq!(
        attribute(process, "message_type").as_deref(),
        Some("Traced")
    );
    assert_eq!(attribute(process, "source").as_deref(), Some("tracer"));
    let message_id = attribute(process, "message_id").expect("message_id attribute");
    assert_eq!(attribute(publish, "message_id"), Some(message_id));
    assert_eq!(attribute(publish, "subject").as_deref(), Some("traced"));
}

#[test]
fn json_envelope_links_process_span_to_publish_span() {
    assert_linked(EnvelopeVersion::JsonV1);
}

#[test]
fn protobuf_envelope_links_process_span_to_publish_span() {
    assert_linked(EnvelopeVersion::ProtobufV1);
}

#[test]
fn trace_context_survives_envelope_round_trip() {
    for version in [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1] {
        let run = run_traced(version);
        let serializer = EnvelopeSerializer::new(version);
        let raw = serializer
            .deserialize_bytes(&run.envelope)
            .expect("decode the envelope");
        assert_eq!(
            raw.metadata.get(TRACEPARENT),
            run.seen_traceparent.as_deref()
        );
        assert_eq!(
            raw.metadata.get(TRACESTATE),
            None,
            "an empty tracestate is not written"
        );
        // Go's encoder writes the same bytes for the same metadata, so re-encoding shows
        // that nothing of the trace context depends on how this crate wrote it.
        let again = serializer
            .serialize(&raw)
            .expect("encode the envelope again");
        assert_eq!(
            again, run.envelope,
            "{version:?}: re-encoding changed the bytes"
        );
    }
}

#[test]
fn caller_traceparent_and_tracestate_are_kept() {
    let caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let mut metadata = Metadata::new();
    metadata.insert(TRACEPARENT, caller);
    metadata.insert(TRACESTATE, "vendor=value");
    let encoder = ncl::Encoder::new("keeper", EnvelopeSerializer::default(), registry());

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("ncl-tests"));
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    tracing::info_span!("test.request").in_scope(|| {
        encoder
            .encode(&mut metadata, &Traced { step: 2 })
            .expect("encode");
    });
    assert_eq!(metadata.get(TRACEPARENT), Some(caller));
    assert_eq!(metadata.get(TRACESTATE), Some("vendor=value"));
}

#[test]
fn extracted_context_carries_trace_state() {
    let span_context = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("trace id"),
        SpanId::from_hex("00f067aa0ba902b7").expect("span id"),
        TraceFlags::SAMPLED,
        false,
        "vendor=value".parse::<TraceState>().expect("trace state"),
    );
    let context = opentelemetry::Context::new().with_remote_span_context(span_context);
    let mut metadata = Metadata::new();
    ncl::telemetry::inject_context(&context, &mut metadata);
    assert_eq!(metadata.get(TRACESTATE), Some("vendor=value"));

    let extracted = ncl::telemetry::extract_context(&metadata);
    let extracted = extracted.span().span_context().clone();
    assert!(extracted.is_remote());
    assert_eq!(extracted.trace_state().get("vendor"), Some("value"));
    assert_eq!(
        extracted.span_id(),
        SpanId::from_hex("00f067aa0ba902b7").expect("span id")
    );
}

#[test]
fn encoder_without_span_writes_no_traceparent() {
    let encoder = ncl::Encoder::new("plain", EnvelopeSerializer::default(), registry());
    let mut metadata = Metadata::new();
    encoder
        .encode(&mut metadata, &Traced { step: 3 })
        .expect("encode");
    assert_eq!(metadata.get(TRACEPARENT), None);
}
