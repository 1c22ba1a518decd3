//! Counts heap allocations per message on the publish and receive paths.
//!
//! Run with `cargo bench -p ncl --bench allocations`. The counts exclude async-nats,
//! which is not involved: the publish path ends with envelope bytes, the receive path
//! starts from them.
//!
//! The second table runs the subscriber's whole pipeline (envelope, payload, one
//! handler, checkpoint, with its metrics and span hooks) and the publisher's telemetry
//! calls, without a metrics recorder and, when the `metrics` feature is on, with a
//! Prometheus recorder. Compare with `--no-default-features` for the cost of the
//! feature itself.

mod common;

use std::alloc::System;

use futures_util::FutureExt;
use ncl::telemetry::__bench::{PublishTelemetry, ReceivePipeline};
use ncl::{EnvelopeSerializer, EnvelopeVersion};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use common::{Blob, encoder, fresh_metadata, registry};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const MESSAGES: usize = 10_000;

fn main() {
    println!(
        "{:<10} {:>6} {:>16} {:>16}",
        "envelope", "size", "publish allocs", "receive allocs"
    );
    for (version, label) in [
        (EnvelopeVersion::JsonV1, "json-v1"),
        (EnvelopeVersion::ProtobufV1, "proto-v1"),
    ] {
        for size in [128, 4096] {
            let (publish, receive) = count(version, size);
            println!("{label:<10} {size:>6} {publish:>16.2} {receive:>16.2}");
        }
    }

    println!();
    println!(
        "{:<30} {:>16} {:>16}",
        "hooks (json-v1, 128 B)", "publish allocs", "receive allocs"
    );
    let (publish, receive) = count_hooks();
    println!("{:<30} {publish:>16.2} {receive:>16.2}", "no recorder");
    #[cfg(feature = "metrics")]
    {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let (publish, receive) = metrics::with_local_recorder(&recorder, count_hooks);
        println!(
            "{:<30} {publish:>16.2} {receive:>16.2}",
            "prometheus recorder"
        );
    }
}

/// Returns allocations per message for the publisher's telemetry calls and for the
/// subscriber's pipeline, with whatever metrics recorder is current.
fn count_hooks() -> (f64, f64) {
    let registry = registry();
    let blob = Blob::with_json_size(128);
    let mut metadata = fresh_metadata();
    let envelope = encoder(EnvelopeVersion::JsonV1)
        .encode(&mut metadata, &blob)
        .expect("encode");
    let publish = PublishTelemetry::new(&registry);
    let pipeline = ReceivePipeline::new(registry);
    // The first message of a type builds and caches its metric handles.
    publish.record::<Blob>(&metadata, envelope.len());
    let processed = pipeline.process(&envelope).now_or_never();
    assert_eq!(
        processed,
        Some(true),
        "the pipeline should process the message"
    );

    let region = Region::new(GLOBAL);
    for _ in 0..MESSAGES {
        publish.record::<Blob>(&metadata, envelope.len());
    }
    let publish = region.change().allocations as f64 / MESSAGES as f64;

    let region = Region::new(GLOBAL);
    for _ in 0..MESSAGES {
        // The handler and checkpointer are ready at once, so one poll finishes.
        let processed = pipeline.process(&envelope).now_or_never();
        std::hint::black_box(processed);
    }
    let receive = region.change().allocations as f64 / MESSAGES as f64;
    (publish, receive)
}

/// Returns allocations per message for publishing and for receiving one `size`-byte
/// payload.
fn count(version: EnvelopeVersion, size: usize) -> (f64, f64) {
    let encoder = encoder(version);
    let registry = registry();
    let serializer = EnvelopeSerializer::new(version);
    let blob = Blob::with_json_size(size);
    // Warm up the thread-local buffers and lazily built state.
    let envelope = encoder
        .encode(&mut fresh_metadata(), &blob)
        .expect("encode");

    let region = Region::new(GLOBAL);
    for _ in 0..MESSAGES {
        let envelope = encoder
            .encode(&mut fresh_metadata(), &blob)
            .expect("encode");
        std::hint::black_box(envelope);
    }
    let publish = region.change().allocations as f64 / MESSAGES as f64;

    let region = Region::new(GLOBAL);
    for _ in 0..MESSAGES {
        let raw = serializer.deserialize_bytes(&envelope).expect("decode");
        let message = registry.deserialize(raw).expect("payload");
        std::hint::black_box(message);
    }
    let receive = region.change().allocations as f64 / MESSAGES as f64;
    (publish, receive)
}
