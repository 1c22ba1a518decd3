//! CPU time of the telemetry hooks: one message through the subscriber's pipeline
//! (envelope, payload, one handler, checkpoint) and the publisher's telemetry calls,
//! without a metrics recorder and with a Prometheus recorder.
//!
//! Run with `cargo bench -p ncl --bench telemetry`, and again with
//! `--no-default-features` for the same paths without the `metrics` feature.

mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use ncl::EnvelopeVersion;
use ncl::telemetry::__bench::{PublishTelemetry, ReceivePipeline};

use common::{Blob, encoder, fresh_metadata, registry};

/// Benchmarks both paths under the name `label`, with whatever recorder is current.
fn bench_paths(c: &mut Criterion, label: &str) {
    let registry = registry();
    let mut metadata = fresh_metadata();
    let envelope = encoder(EnvelopeVersion::JsonV1)
        .encode(&mut metadata, &Blob::with_json_size(128))
        .expect("encode");
    let pipeline = ReceivePipeline::new(registry.clone());
    let publish = PublishTelemetry::new(&registry);

    c.bench_function(&format!("receive pipeline, json-v1 128 B, {label}"), |b| {
        b.iter(|| {
            // The handler and checkpointer are ready at once, so one poll finishes.
            let processed = pipeline.process(black_box(&envelope)).now_or_never();
            black_box(processed)
        });
    });
    c.bench_function(&format!("publish telemetry calls, {label}"), |b| {
        b.iter(|| publish.record::<Blob>(black_box(&metadata), black_box(envelope.len())));
    });
}

fn telemetry(c: &mut Criterion) {
    let feature = if cfg!(feature = "metrics") {
        "metrics feature on"
    } else {
        "metrics feature off"
    };
    bench_paths(c, &format!("{feature}, no recorder"));
    #[cfg(feature = "metrics")]
    {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        // An installed exporter drains its histograms every few seconds; without that
        // they grow through the run and every record gets slower.
        let handle = recorder.handle();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let upkeep = {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    handle.run_upkeep();
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
            })
        };
        metrics::with_local_recorder(&recorder, || {
            bench_paths(c, "metrics feature on, prometheus recorder");
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        upkeep.join().expect("upkeep thread");
    }
}

criterion_group!(benches, telemetry);
criterion_main!(benches);
