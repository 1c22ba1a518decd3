//! Metrics of the JetStream publisher and subscriber against a real nats-server:
//! acknowledgements by kind, redeliveries, dead letters and stream acknowledgements.

mod telemetry_support;

use std::time::Duration;

use metrics_util::debugging::DebuggingRecorder;
use ncl::jetstream::{Backoff, Publisher, Subscriber};
use ncl::metadata::keys;
use ncl::telemetry::names::{self, ack_kind, ack_outcome, label, outcome};
use ncl::{AnyMessage, BoxError, MessageHandler, Metadata, NclPayload};
use serde::{Deserialize, Serialize};
use telemetry_support::{Captured, run_recorded};
use tests::{NatsServer, ServerOptions, connect, registry, wait_until};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Order {
    id: String,
}

/// Fails every order whose id is `bad`, so it is retried and then dead-lettered.
struct Billing;

impl MessageHandler for Billing {
    async fn handle_message(&self, message: &AnyMessage) -> Result<(), BoxError> {
        match message.payload::<Order>() {
            Some(order) if order.id == "bad" => Err("card declined".into()),
            _ => Ok(()),
        }
    }
}

fn metadata(id: &str) -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert(keys::MESSAGE_ID, id);
    metadata
}

#[test]
fn acks_redeliveries_and_dead_letters_are_counted() {
    let recorder = DebuggingRecorder::new();
    let (captured, stats) = run_recorded(&recorder, || async {
        let server = NatsServer::start_with(ServerOptions {
            jetstream: true,
            ..Default::default()
        });
        let client = connect(&server).await;
        let subscriber = Subscriber::builder(client.clone())
            .stream("ORDERS")
            .subjects(["orders.>"])
            .durable_name("billing")
            .max_deliveries(2)
            .backoff(Backoff {
                initial: Duration::from_millis(50),
                ..Backoff::DEFAULT
            })
            .pull_expiry(Duration::from_millis(200))
            .registry(registry())
            .handler(Billing)
            .build()
            .expect("build subscriber");
        subscriber.start().await.expect("start subscriber");
        let publisher = Publisher::builder(client.clone())
            .name("shop")
            .destination("orders.placed")
            .registry(registry())
            .build()
            .expect("build publisher");
        for id in ["good-1", "good-2", "bad", "good-1"] {
            let order = Order { id: id.to_owned() };
            publisher
                .publish_with_metadata(metadata(id), &order)
                .await
                .expect("publish order");
        }

        wait_until("two processed and one dead letter", || {
            let stats = subscriber.stats();
            stats.dead_lettered == 1 && stats.acked == 3
        })
        .await;
        subscriber.close().await;
        (Captured::take(&recorder.snapshotter()), subscriber.stats())
    });

    let billing = (label::INSTANCE, "billing");
    let acks =
        |kind: &str| captured.counter(names::JETSTREAM_ACKS, &[billing, (label::KIND, kind)]);
    assert_eq!(acks(ack_kind::ACK), stats.acked);
    assert_eq!(acks(ack_kind::NAK), stats.retried);
    assert_eq!(stats.retried, 1, "the bad order is retried once: {stats:?}");
    let ack_errors = captured.counter(names::JETSTREAM_ACK_ERRORS, &[billing]);
    assert_eq!(ack_errors, 0);
    let redeliveries = captured.counter(names::JETSTREAM_REDELIVERIES, &[billing]);
    assert_eq!(redeliveries, 1, "the bad order is delivered twice");
    let dead_letters = captured.counter(
        names::JETSTREAM_DEAD_LETTERS,
        &[billing, (label::OUTCOME, outcome::HANDLER_ERROR)],
    );
    assert_eq!(dead_letters, 1);

    let received = |outcome: &str| {
        let labels = [billing, (label::TYPE, "Order"), (label::OUTCOME, outcome)];
        captured.counter(names::RECEIVED_MESSAGES, &labels)
    };
    assert_eq!(received(outcome::PROCESSED), 2);
    assert_eq!(
        received(outcome::HANDLER_ERROR),
        2,
        "one per delivery of the bad order"
    );

    let shop = (label::INSTANCE, "shop");
    let stream_acks = |outcome: &str| {
        let labels = [shop, (label::TYPE, "Order"), (label::OUTCOME, outcome)];
        captured.counter(names::JETSTREAM_PUBLISH_ACKS, &labels)
    };
    assert_eq!(stream_acks(ack_outcome::STORED), 3);
    assert_eq!(stream_acks(ack_outcome::DUPLICATE), 1);
    assert_eq!(stream_acks(ack_outcome::TIMEOUT), 0);
    let published = captured.counter(
        names::PUBLISHED_MESSAGES,
        &[shop, (label::OUTCOME, outcome::PUBLISHED)],
    );
    assert_eq!(published, 4);
    let ack_durations = captured.histogram_count(names::JETSTREAM_ACK_DURATION, &[shop]);
    assert_eq!(ack_durations, 4);
    let pending = captured.gauge(names::JETSTREAM_PENDING_ACKS, &[shop]);
    assert_eq!(pending, 0.0, "every acknowledgement arrived");
}
