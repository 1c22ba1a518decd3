//! Counts heap allocations per message on the publish and receive paths.
//!
//! Run with `cargo bench -p ncl --bench allocations`. The counts exclude async-nats,
//! which is not involved: the publish path ends with envelope bytes, the receive path
//! starts from them.

mod common;

use std::alloc::System;

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
