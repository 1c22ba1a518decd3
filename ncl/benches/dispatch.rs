//! Dispatch cost of the routing that `#[ncl::handler]` generates, against a hand-written
//! `match` on the wire type name that calls the same handler body.
//!
//! Payload decoding is excluded from every line: each iteration dispatches one
//! already-decoded message. Run with `cargo bench -p ncl --bench dispatch`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use ncl::{AnyMessage, Message, MessageHandler, Metadata, NclPayload, Router};
use serde::{Deserialize, Serialize};

/// Shared state of the free-function handlers.
struct Counters {
    handled: AtomicU64,
}

/// The work every handler does: one relaxed atomic add.
fn record(counter: &AtomicU64, value: u64) {
    counter.fetch_add(value, Ordering::Relaxed);
}

/// Declares 50 payload types, a free-function handler for each, an impl-block handler
/// with a method for each, and a hand-written dispatcher over the same set.
macro_rules! payloads {
    ($($payload:ident $function:ident $method:ident;)*) => {
        $(
            #[derive(Clone, Serialize, Deserialize, NclPayload)]
            struct $payload {
                value: u64,
            }

            #[ncl::handler]
            async fn $function(message: &Message<$payload>, counters: &Counters) {
                record(&counters.handled, message.payload.value);
            }
        )*

        /// A stateful node handling all 50 types through the generated `match`.
        struct Node {
            handled: AtomicU64,
        }

        #[ncl::handler]
        impl Node {
            $(
                async fn $method(&self, message: &Message<$payload>) {
                    record(&self.handled, message.payload.value);
                }
            )*
        }

        /// Dispatches with a hand-written `match` on the type name: the baseline.
        async fn hand_written(node: &Node, message: &AnyMessage) -> Result<(), ncl::BoxError> {
            match message.message_type() {
                $(
                    Some(stringify!($payload)) => {
                        let typed = message
                            .message::<$payload>()
                            .ok_or("payload type does not match its name")?;
                        record(&node.handled, typed.payload.value);
                        Ok(())
                    }
                )*
                _ => Ok(()),
            }
        }

        fn sample(index: usize) -> AnyMessage {
            let names = [$(stringify!($payload)),*];
            let mut metadata = Metadata::new();
            metadata.insert("Type", names[index]);
            metadata.insert("PayloadEncoding", "json");
            let mut candidates: Vec<AnyMessage> = vec![
                $(AnyMessage::new(metadata.clone(), $payload { value: 1 })),*
            ];
            candidates.swap_remove(index)
        }
    };
}

payloads! {
    P00 f00 m00; P01 f01 m01; P02 f02 m02; P03 f03 m03; P04 f04 m04;
    P05 f05 m05; P06 f06 m06; P07 f07 m07; P08 f08 m08; P09 f09 m09;
    P10 f10 m10; P11 f11 m11; P12 f12 m12; P13 f13 m13; P14 f14 m14;
    P15 f15 m15; P16 f16 m16; P17 f17 m17; P18 f18 m18; P19 f19 m19;
    P20 f20 m20; P21 f21 m21; P22 f22 m22; P23 f23 m23; P24 f24 m24;
    P25 f25 m25; P26 f26 m26; P27 f27 m27; P28 f28 m28; P29 f29 m29;
    P30 f30 m30; P31 f31 m31; P32 f32 m32; P33 f33 m33; P34 f34 m34;
    P35 f35 m35; P36 f36 m36; P37 f37 m37; P38 f38 m38; P39 f39 m39;
    P40 f40 m40; P41 f41 m41; P42 f42 m42; P43 f43 m43; P44 f44 m44;
    P45 f45 m45; P46 f46 m46; P47 f47 m47; P48 f48 m48; P49 f49 m49;
}

/// Polls a future that completes without waiting, as every handler here does.
fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("bench handlers complete without waiting"),
    }
}

fn dispatch(c: &mut Criterion) {
    let router = Router::new(Counters {
        handled: AtomicU64::new(0),
    });
    assert_eq!(router.len(), 50, "every free-function handler is routed");
    let node = Node {
        handled: AtomicU64::new(0),
    };

    let mut group = c.benchmark_group("dispatch");
    for index in [0, 25, 49] {
        let message = sample(index);
        group.bench_function(format!("hand_written_match/P{index:02}"), |b| {
            b.iter(|| run_ready(hand_written(&node, black_box(&message))))
        });
        group.bench_function(format!("impl_block_match/P{index:02}"), |b| {
            b.iter(|| {
                let message = black_box(&message);
                if run_ready(node.should_process(message)) {
                    run_ready(node.handle_message(message))
                } else {
                    Ok(())
                }
            })
        });
        group.bench_function(format!("router_50_types/P{index:02}"), |b| {
            b.iter(|| {
                let message = black_box(&message);
                if run_ready(router.should_process(message)) {
                    run_ready(router.handle_message(message))
                } else {
                    Ok(())
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
