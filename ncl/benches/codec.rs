//! Codec benchmarks: envelope, registry, publish-side encode and receive-side decode,
//! beside a plain `serde_json` round trip of the same payload as the reference line.
//!
//! Run with `cargo bench -p ncl --bench codec`.

mod common;

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ncl::{EnvelopeSerializer, EnvelopeVersion, Metadata, RawMessage};

use common::{Blob, encoder, fresh_metadata, registry};

const SIZES: [usize; 2] = [128, 4096];
const VERSIONS: [(EnvelopeVersion, &str); 2] = [
    (EnvelopeVersion::JsonV1, "json"),
    (EnvelopeVersion::ProtobufV1, "protobuf"),
];

fn serde_json_reference(c: &mut Criterion) {
    let mut group = c.benchmark_group("serde_json_round_trip");
    for size in SIZES {
        let blob = Blob::with_json_size(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &blob, |b, blob| {
            b.iter(|| {
                let bytes = serde_json::to_vec(black_box(blob)).expect("serialize");
                let back: Blob = serde_json::from_slice(&bytes).expect("deserialize");
                black_box(back)
            });
        });
    }
    group.finish();
}

fn go_json_against_serde_json(c: &mut Criterion) {
    let mut group = c.benchmark_group("payload_serialize");
    for size in SIZES {
        let blob = Blob::with_json_size(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("serde_json", size), &blob, |b, blob| {
            b.iter(|| serde_json::to_vec(black_box(blob)).expect("serialize"));
        });
        group.bench_with_input(BenchmarkId::new("go_json", size), &blob, |b, blob| {
            b.iter(|| ncl::go_json::to_vec(black_box(blob)).expect("serialize"));
        });
    }
    group.finish();
}

fn envelope(c: &mut Criterion) {
    let mut group = c.benchmark_group("envelope");
    for (version, label) in VERSIONS {
        let serializer = EnvelopeSerializer::new(version);
        for size in SIZES {
            let mut metadata = fresh_metadata();
            let envelope = encoder(version)
                .encode(&mut metadata, &Blob::with_json_size(size))
                .expect("encode");
            let raw = serializer.deserialize_bytes(&envelope).expect("decode");
            group.throughput(Throughput::Bytes(envelope.len() as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("encode/{label}"), size),
                &raw,
                |b, raw: &RawMessage| b.iter(|| serializer.serialize(black_box(raw))),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("decode/{label}"), size),
                &envelope,
                |b, envelope: &Bytes| b.iter(|| serializer.deserialize_bytes(black_box(envelope))),
            );
        }
    }
    group.finish();
}

fn registry_payload(c: &mut Criterion) {
    let registry = registry();
    let mut group = c.benchmark_group("registry");
    for size in SIZES {
        let blob = Blob::with_json_size(size);
        let mut metadata = Metadata::new();
        let bytes = registry
            .serialize_payload(&mut metadata, &blob)
            .expect("serialize");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("serialize", size), &blob, |b, blob| {
            b.iter(|| {
                let mut metadata = fresh_metadata();
                registry.serialize_payload(&mut metadata, black_box(blob))
            });
        });
        group.bench_with_input(BenchmarkId::new("deserialize", size), &bytes, |b, bytes| {
            b.iter(|| registry.deserialize_payload(&metadata, black_box(bytes)));
        });
    }
    group.finish();
}

fn full_paths(c: &mut Criterion) {
    let registry = registry();
    let mut group = c.benchmark_group("message");
    for (version, label) in VERSIONS {
        let encoder = encoder(version);
        let serializer = EnvelopeSerializer::new(version);
        for size in SIZES {
            let blob = Blob::with_json_size(size);
            let envelope = encoder
                .encode(&mut fresh_metadata(), &blob)
                .expect("encode");
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("publish_encode/{label}"), size),
                &blob,
                |b, blob| b.iter(|| encoder.encode(&mut fresh_metadata(), black_box(blob))),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("receive_decode/{label}"), size),
                &envelope,
                |b, envelope| {
                    b.iter(|| {
                        let raw = serializer
                            .deserialize_bytes(black_box(envelope))
                            .expect("decode");
                        registry.deserialize(raw).expect("payload")
                    });
                },
            );
            group.bench_with_input(
                BenchmarkId::new(format!("round_trip/{label}"), size),
                &blob,
                |b, blob| {
                    b.iter(|| {
                        let envelope = encoder
                            .encode(&mut fresh_metadata(), black_box(blob))
                            .expect("encode");
                        let raw = serializer.deserialize_bytes(&envelope).expect("decode");
                        registry.deserialize(raw).expect("payload")
                    });
                },
            );
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    serde_json_reference,
    go_json_against_serde_json,
    envelope,
    registry_payload,
    full_paths
);
criterion_main!(benches);
