//! Metrics of publishers and subscribers against a real nats-server, captured by a
//! debugging recorder: one count per outcome, labelled by instance and registered type.

mod telemetry_support;

use std::time::Duration;

use bytes::Bytes;
use metrics_util::debugging::DebuggingRecorder;
use ncl::metadata::keys;
use ncl::telemetry::names::{self, label, outcome, stage};
use ncl::{
    AnyMessage, BoxError, EnvelopeSerializer, EnvelopeVersion, MessageHandler, Metadata,
    NclPayload, Publisher, RawMessage, Subscriber,
};
use serde::{Deserialize, Serialize};
use telemetry_support::{Captured, run_recorded};
use tests::{NatsServer, connect, registry, wait_for_settled, wait_for_stats, within};

/// What the handler does with a [`Job`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Behaviour {
    Succeed,
    Fail,
    Panic,
    Hang,
    /// Succeeds, but the checkpointer then fails.
    FailCheckpoint,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Job {
    behaviour: Behaviour,
}

/// A registered type that the handler does not want.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Ignored {
    n: u32,
}

/// Carries out each job's behaviour and turns down every other type.
struct JobHandler;

impl MessageHandler for JobHandler {
    async fn should_process(&self, message: &AnyMessage) -> bool {
        message.is::<Job>()
    }

    async fn handle_message(&self, message: &AnyMessage) -> Result<(), BoxError> {
        match message.payload::<Job>().map(|job| job.behaviour) {
            Some(Behaviour::Fail) => Err("job asked to fail".into()),
            Some(Behaviour::Panic) => panic!("job asked to panic"),
            Some(Behaviour::Hang) => std::future::pending().await,
            _ => Ok(()),
        }
    }
}

/// Fails the checkpoint of jobs whose behaviour is [`Behaviour::FailCheckpoint`].
struct PickyCheckpointer;

impl ncl::Checkpointer for PickyCheckpointer {
    async fn checkpoint(&self, message: &AnyMessage) -> Result<(), BoxError> {
        match message.payload::<Job>() {
            Some(job) if job.behaviour == Behaviour::FailCheckpoint => {
                Err("checkpoint store is read-only".into())
            }
            _ => Ok(()),
        }
    }

    async fn last_checkpoint(&self) -> Result<i64, BoxError> {
        Ok(0)
    }
}

/// Metadata with `MessageID` `id`, marked for the filter to drop when `drop` is set.
fn metadata(id: &str, drop: bool) -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert(keys::MESSAGE_ID, id);
    if drop {
        metadata.insert("Drop", "yes");
    }
    metadata
}

/// Returns an envelope whose metadata names `type_name` and whose payload is `payload`.
fn envelope(type_name: &str, payload: &'static [u8]) -> Bytes {
    let mut metadata = metadata("hand-made", false);
    metadata.insert(keys::TYPE, type_name);
    metadata.insert(keys::PAYLOAD_ENCODING, "json");
    EnvelopeSerializer::new(EnvelopeVersion::JsonV1)
        .serialize(&RawMessage::new(metadata, payload))
        .expect("encode the hand-made envelope")
}

const JOBS: [(&str, Behaviour, bool); 9] = [
    ("ok-1", Behaviour::Succeed, false),
    ("ok-2", Behaviour::Succeed, false),
    ("ok-3", Behaviour::Succeed, false),
    ("fail-1", Behaviour::Fail, false),
    ("fail-2", Behaviour::Fail, false),
    ("panic-1", Behaviour::Panic, false),
    ("hang-1", Behaviour::Hang, false),
    ("checkpoint-1", Behaviour::FailCheckpoint, false),
    ("dropped-1", Behaviour::Succeed, true),
];

/// Publishes every kind of message once or more, waits until the subscriber finished
/// them all, and returns what the recorder captured.
async fn run_every_outcome(recorder: &DebuggingRecorder) -> Captured {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let subscriber = Subscriber::builder(client.clone())
        .name("workers")
        .registry(registry())
        .handler_timeout(Duration::from_millis(200))
        .filter(|metadata: &Metadata| metadata.contains_key("Drop"))
        .checkpointer(PickyCheckpointer)
        .handler(JobHandler)
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["jobs"]).await.expect("subscribe");
    let publisher = Publisher::builder(client.clone())
        .name("scheduler")
        .destination("jobs")
        .registry(registry())
        .build()
        .expect("build publisher");

    for (id, behaviour, drop) in JOBS {
        let job = Job { behaviour };
        publisher
            .publish_with_metadata(metadata(id, drop), &job)
            .await
            .expect("publish job");
    }
    publisher
        .publish_with_metadata(metadata("ignored-1", false), &Ignored { n: 1 })
        .await
        .expect("publish ignored");
    let hand_made = [
        Bytes::from_static(b"\x01"),
        Bytes::from_static(b"\x07not an envelope"),
        envelope("Mystery", b"{}"),
        envelope("Job", br#"{"behaviour":"Explode"}"#),
    ];
    for bytes in hand_made {
        client
            .publish("jobs", bytes)
            .await
            .expect("publish raw bytes");
    }
    within("flush", client.flush()).await.expect("flush");

    let stats = wait_for_settled(&subscriber, 14).await;
    assert_eq!(stats.processed, 4, "stats: {stats:?}");
    subscriber.close().await;
    Captured::take(&recorder.snapshotter())
}

#[test]
fn received_messages_are_counted_by_outcome_and_type() {
    let recorder = DebuggingRecorder::new();
    let captured = run_recorded(&recorder, || run_every_outcome(&recorder));

    let received = |type_name: &str, outcome: &str| {
        captured.counter(
            names::RECEIVED_MESSAGES,
            &[
                (label::INSTANCE, "workers"),
                (label::TYPE, type_name),
                (label::OUTCOME, outcome),
            ],
        )
    };
    let cases = [
        ("Job", outcome::PROCESSED, 3),
        ("Ignored", outcome::PROCESSED, 1),
        ("Job", outcome::FILTERED, 1),
        ("unknown", outcome::ENVELOPE_ERROR, 2),
        ("unknown", outcome::PAYLOAD_ERROR, 1),
        ("Job", outcome::PAYLOAD_ERROR, 1),
        ("Job", outcome::HANDLER_ERROR, 2),
        ("Job", outcome::PANIC, 1),
        ("Job", outcome::TIMEOUT, 1),
        ("Job", outcome::CHECKPOINT_ERROR, 1),
    ];
    for (type_name, outcome, expected) in cases {
        assert_eq!(
            received(type_name, outcome),
            expected,
            "{} with type {type_name:?} and outcome {outcome:?}",
            names::RECEIVED_MESSAGES
        );
    }
    let total = captured.counter(names::RECEIVED_MESSAGES, &[]);
    assert_eq!(total, 14, "every received message has exactly one outcome");

    let unhandled = captured.counter(names::UNHANDLED_MESSAGES, &[(label::TYPE, "Ignored")]);
    assert_eq!(unhandled, 1);
    let unhandled_jobs = captured.counter(names::UNHANDLED_MESSAGES, &[(label::TYPE, "Job")]);
    assert_eq!(unhandled_jobs, 0);
}

#[test]
fn processing_durations_and_latency_are_recorded_per_stage() {
    let recorder = DebuggingRecorder::new();
    let captured = run_recorded(&recorder, || run_every_outcome(&recorder));

    let durations = |stage: &str| {
        let labels = [(label::TYPE, "Job"), (label::STAGE, stage)];
        captured.histogram_count(names::PROCESSING_DURATION, &labels)
    };
    // Eleven Job messages arrived: nine published, one filtered among them, and two
    // hand-made ones whose payload did not decode (one of them counted as unknown).
    assert_eq!(durations(stage::TOTAL), 10, "every Job message has a total");
    // Eight reached the handlers: all published jobs but the filtered one.
    assert_eq!(durations(stage::DECODE), 8);
    assert_eq!(durations(stage::HANDLER), 8);
    // Four passed every handler: three successes and the failing checkpoint.
    assert_eq!(durations(stage::CHECKPOINT), 4);
    let unknown_total = captured.histogram_count(
        names::PROCESSING_DURATION,
        &[(label::TYPE, "unknown"), (label::STAGE, stage::TOTAL)],
    );
    assert_eq!(unknown_total, 3, "two bad envelopes and one unknown type");

    let latencies = captured.histogram_values(names::END_TO_END_LATENCY, &[(label::TYPE, "Job")]);
    assert_eq!(latencies.len(), 3, "one latency per processed job");
    for latency in latencies {
        assert!(
            (0.0..60.0).contains(&latency),
            "latency {latency} s is not plausible"
        );
    }
    let in_flight = captured.gauge(names::MESSAGES_IN_FLIGHT, &[(label::INSTANCE, "workers")]);
    assert_eq!(in_flight, 0.0, "no message is in flight after close");
}

#[test]
fn published_messages_and_bytes_are_counted() {
    let recorder = DebuggingRecorder::new();
    let captured = run_recorded(&recorder, || run_every_outcome(&recorder));

    let scheduler = (label::INSTANCE, "scheduler");
    let published = |type_name: &str| {
        let labels = [
            scheduler,
            (label::TYPE, type_name),
            (label::OUTCOME, outcome::PUBLISHED),
        ];
        captured.counter(names::PUBLISHED_MESSAGES, &labels)
    };
    assert_eq!(published("Job"), 9);
    assert_eq!(published("Ignored"), 1);
    let bytes = captured.counter(names::PUBLISHED_BYTES, &[scheduler]);
    assert!(bytes > 10 * 100, "{bytes} bytes for ten envelopes");
    let durations = captured.histogram_count(names::PUBLISH_DURATION, &[scheduler]);
    assert_eq!(durations, 10);
}

#[test]
fn label_values_come_from_bounded_sets() {
    let recorder = DebuggingRecorder::new();
    let captured = run_recorded(&recorder, || run_every_outcome(&recorder));

    let types = captured.label_values("ncl_", label::TYPE);
    let expected: Vec<&str> = vec!["Ignored", "Job", "unknown"];
    assert_eq!(
        types.iter().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    let instances = captured.label_values("ncl_", label::INSTANCE);
    let expected: Vec<&str> = vec!["scheduler", "workers"];
    assert_eq!(
        instances.iter().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    for (id, _, _) in JOBS {
        for label in [label::TYPE, label::INSTANCE, label::OUTCOME, label::STAGE] {
            let values = captured.label_values("ncl_", label);
            assert!(!values.contains(id), "message id {id} is a {label} label");
        }
    }
}

#[test]
fn publish_errors_are_counted_by_outcome() {
    let recorder = DebuggingRecorder::new();
    let captured = run_recorded(&recorder, || async {
        let server = NatsServer::start();
        let client = connect(&server).await;
        let publisher = Publisher::builder(client.clone())
            .name("closing")
            .destination("jobs")
            .registry(registry())
            .build()
            .expect("build publisher");
        publisher.close().await.expect("close publisher");
        let job = Job {
            behaviour: Behaviour::Succeed,
        };
        let error = publisher
            .publish(&job)
            .await
            .expect_err("publisher is closed");
        assert!(matches!(error, ncl::PublishError::Closed), "{error:?}");
        Captured::take(&recorder.snapshotter())
    });

    let labels = [
        (label::INSTANCE, "closing"),
        (label::TYPE, "Job"),
        (label::OUTCOME, outcome::CLOSED),
    ];
    assert_eq!(captured.counter(names::PUBLISHED_MESSAGES, &labels), 1);
    let published = captured.counter(names::PUBLISHED_BYTES, &[(label::INSTANCE, "closing")]);
    assert_eq!(published, 0);
}

#[test]
fn slow_consumer_drops_are_counted() {
    let recorder = DebuggingRecorder::new();
    let (captured, dropped) = run_recorded(&recorder, || async {
        let server = NatsServer::start();
        let client = connect(&server).await;
        let subscriber = Subscriber::builder(client.clone())
            .name("slow")
            .registry(registry())
            .max_pending(1)
            .handler_timeout(Duration::from_millis(300))
            .handler(JobHandler)
            .build()
            .expect("build subscriber");
        subscriber.subscribe(["slow"]).await.expect("subscribe");
        let publisher = Publisher::builder(client.clone())
            .name("flood")
            .destination("slow")
            .registry(registry())
            .build()
            .expect("build publisher");
        let hang = Job {
            behaviour: Behaviour::Hang,
        };
        for _ in 0..20 {
            publisher.publish(&hang).await.expect("publish");
        }
        within("flush", client.flush()).await.expect("flush");
        wait_for_stats(&subscriber, "a dropped message", |stats| stats.dropped > 0).await;
        subscriber.close().await;
        let dropped = subscriber.stats().dropped;
        (Captured::take(&recorder.snapshotter()), dropped)
    });

    let counted = captured.counter(names::DROPPED_MESSAGES, &[(label::INSTANCE, "slow")]);
    assert_eq!(
        counted, dropped,
        "the metric matches SubscriberStats::dropped"
    );
    assert!(counted > 0);
}

#[test]
fn subscriber_built_before_the_recorder_records_nothing() {
    let recorder = DebuggingRecorder::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build the test runtime");
    let server = NatsServer::start();
    let (client, subscriber) = runtime.block_on(async {
        let client = connect(&server).await;
        let subscriber = Subscriber::builder(client.clone())
            .registry(registry())
            .handler(JobHandler)
            .build()
            .expect("build subscriber");
        subscriber.subscribe(["early"]).await.expect("subscribe");
        (client, subscriber)
    });

    let captured = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let job = serde_json::to_vec(&Job {
                behaviour: Behaviour::Succeed,
            })
            .expect("serialize job");
            let mut metadata = metadata("early-1", false);
            metadata.insert(keys::TYPE, "Job");
            metadata.insert(keys::PAYLOAD_ENCODING, "json");
            let bytes = EnvelopeSerializer::default()
                .serialize(&RawMessage::new(metadata, job))
                .expect("encode");
            client.publish("early", bytes).await.expect("publish");
            wait_for_settled(&subscriber, 1).await;
            Captured::take(&recorder.snapshotter())
        })
    });
    assert_eq!(
        captured.count_named("ncl_"),
        0,
        "a subscriber built without a recorder must record nothing: {captured:?}"
    );
}
