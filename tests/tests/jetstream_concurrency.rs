//! Bounded concurrency: at most `concurrency` messages are handled at a time, and with
//! 1 they are handled in stream order.

mod jetstream_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jetstream_support::{
    assert_each_once, jetstream_server, message_id, publish_work, wait_for_idle_consumer,
    wait_until,
};
use ncl::AnyMessage;
use ncl::jetstream::{Publisher, Subscriber};
use tests::{Recorder, connect, registry};

const STREAM: &str = "CONC";
const DURABLE: &str = "pool";
const COUNT: u64 = 200;

/// Counts the handlers running now and the most that ever ran at once.
#[derive(Debug, Default)]
struct Gauge {
    running: AtomicUsize,
    max: AtomicUsize,
}

/// Returns a handler that takes 5 ms per message, records its id when done, and
/// measures how many run at once.
fn slow_handler(seen: Recorder<String>, gauge: Arc<Gauge>) -> impl ncl::MessageHandler {
    ncl::handler_fn(move |message: &AnyMessage| {
        let id = message.id().unwrap_or("<none>").to_owned();
        let (seen, gauge) = (seen.clone(), Arc::clone(&gauge));
        async move {
            let running = gauge.running.fetch_add(1, Ordering::SeqCst) + 1;
            gauge.max.fetch_max(running, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            seen.push(id);
            gauge.running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    })
}

/// Runs `COUNT` messages through a subscriber of `concurrency` and returns the ids in
/// the order they were handled and the most handlers that ran at once.
async fn run_with_concurrency(concurrency: usize) -> (Vec<String>, usize) {
    let server = jetstream_server();
    let client = connect(&server).await;
    let seen = Recorder::<String>::new();
    let gauge = Arc::new(Gauge::default());
    let subscriber = Subscriber::builder(client.clone())
        .stream(STREAM)
        .subjects(["conc.>"])
        .durable_name(DURABLE)
        .concurrency(concurrency)
        .pull_expiry(Duration::from_millis(500))
        .registry(registry())
        .handler(slow_handler(seen.clone(), Arc::clone(&gauge)))
        .build()
        .expect("build subscriber");
    subscriber.start().await.expect("start subscriber");
    let publisher = Publisher::builder(client.clone())
        .name("producer")
        .destination("conc.jobs")
        .registry(registry())
        .build()
        .expect("build publisher");

    publish_work(&publisher, 0..COUNT).await;
    wait_until(
        "every message to be handled",
        Duration::from_secs(20),
        || seen.len() as u64 >= COUNT,
    )
    .await;
    wait_for_idle_consumer(&client, STREAM, DURABLE, &subscriber).await;
    let stats = subscriber.stats();
    subscriber.close().await;

    let ids = seen.items();
    assert_each_once(&ids, COUNT, &stats);
    (ids, gauge.max.load(Ordering::SeqCst))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_four_handles_all_in_parallel() {
    let (_, max_running) = run_with_concurrency(4).await;
    assert!(max_running <= 4, "{max_running} handlers ran at once");
    assert!(max_running >= 2, "handlers never overlapped: {max_running}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_one_keeps_stream_order() {
    let (ids, max_running) = run_with_concurrency(1).await;
    let expected: Vec<String> = (0..COUNT).map(message_id).collect();
    assert_eq!(ids, expected);
    assert_eq!(max_running, 1);
}
