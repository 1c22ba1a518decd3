//! Publishing and subscribing end to end: payloads, stamped metadata, routing and order.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use ncl::metadata::keys;
use ncl::{
    AnyMessage, EnvelopeSerializer, EnvelopeVersion, MessageHandler, Metadata, NclPayload,
    Publisher, Subscriber,
};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, Recorder, connect, registry, wait_for_settled, within};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
    attempt: u32,
}

/// Registered under a wire name that differs from the Rust identifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
#[ncl(name = "NodeHeartbeat")]
struct Heartbeat {
    node_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Numbered {
    seq: u32,
}

const VERSIONS: [EnvelopeVersion; 2] = [EnvelopeVersion::JsonV1, EnvelopeVersion::ProtobufV1];

/// What a handler saw of one message.
#[derive(Clone, Debug)]
struct Seen {
    metadata: Metadata,
    job: Option<JobAssigned>,
    heartbeat: Option<Heartbeat>,
}

/// Returns a handler that records every message it is given.
fn recording_handler(seen: Recorder<Seen>) -> impl MessageHandler {
    ncl::handler_fn(move |message: &AnyMessage| {
        seen.push(Seen {
            metadata: message.metadata().clone(),
            job: message.payload::<JobAssigned>().cloned(),
            heartbeat: message.payload::<Heartbeat>().cloned(),
        });
        async { Ok(()) }
    })
}

fn job(job_id: &str, attempt: u32) -> JobAssigned {
    JobAssigned {
        job_id: job_id.to_owned(),
        attempt,
    }
}

async fn recording_subscriber(
    client: &async_nats::Client,
    subjects: &[&str],
) -> (Subscriber, Recorder<Seen>) {
    let seen = Recorder::new();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(recording_handler(seen.clone()))
        .build()
        .expect("build subscriber");
    subscriber
        .subscribe(subjects.iter().copied())
        .await
        .expect("subscribe");
    // The server has processed the SUBs once it replies to the PING sent after them.
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    (subscriber, seen)
}

fn publisher_to(client: &async_nats::Client, subject: &str, version: EnvelopeVersion) -> Publisher {
    Publisher::builder(client.clone())
        .name("orchestrator")
        .destination(subject)
        .serializer(EnvelopeSerializer::new(version))
        .registry(registry())
        .build()
        .expect("build publisher")
}

#[tokio::test]
async fn each_version_delivers_payload_and_metadata() {
    let server = NatsServer::start();
    let client = connect(&server).await;

    for version in VERSIONS {
        let subject = format!("roundtrip.{}", version.name());
        let mut raw = client
            .subscribe(subject.clone())
            .await
            .expect("raw subscribe");
        let (subscriber, seen) = recording_subscriber(&client, &[&subject]).await;
        let publisher = publisher_to(&client, &subject, version);

        let sent = [job("j-1", 1), job("j-2", 2), job("j-3", 3)];
        let before = SystemTime::now();
        for payload in &sent {
            publisher.publish(payload).await.expect("publish");
        }
        let after = SystemTime::now();
        wait_for_settled(&subscriber, 3).await;

        let raw_message = within("raw envelope", raw.next())
            .await
            .expect("raw message");
        assert_eq!(
            raw_message.payload[0],
            version.byte(),
            "{version}: version byte"
        );

        let seen = seen.items();
        assert_eq!(seen.len(), 3, "{version}: handled messages");
        let payloads: Vec<_> = seen.iter().map(|s| s.job.clone()).collect();
        let expected: Vec<_> = sent.iter().cloned().map(Some).collect();
        assert_eq!(payloads, expected, "{version}: payloads");

        let mut ids = HashSet::new();
        for Seen { metadata, .. } in &seen {
            assert_eq!(metadata.source(), Some("orchestrator"), "{version}: Source");
            assert_eq!(
                metadata.get(keys::TYPE),
                Some("JobAssigned"),
                "{version}: Type"
            );
            assert_eq!(
                metadata.get(keys::PAYLOAD_ENCODING),
                Some("json"),
                "{version}: PayloadEncoding"
            );
            let id = metadata.message_id().expect("MessageID is set");
            assert!(!id.is_empty(), "{version}: MessageID is empty");
            ids.insert(id.to_owned());
            let event_time = metadata.event_time().expect("EventTime is a Unix time");
            assert!(
                event_time >= before,
                "{version}: EventTime {event_time:?} before publish"
            );
            assert!(
                event_time <= after,
                "{version}: EventTime {event_time:?} after publish"
            );
        }
        assert_eq!(
            ids.len(),
            3,
            "{version}: MessageIDs should be unique: {ids:?}"
        );

        subscriber.close().await;
    }
}

#[tokio::test]
async fn caller_set_metadata_is_kept() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let event_time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);

    for version in VERSIONS {
        let subject = format!("custom.{}", version.name());
        let (subscriber, seen) = recording_subscriber(&client, &[&subject]).await;
        let publisher = publisher_to(&client, &subject, version);

        let mut metadata = Metadata::new();
        metadata.insert(keys::MESSAGE_ID, "caller-id-1");
        metadata.set_event_time(event_time);
        metadata.insert("Region", "eu-west");
        metadata.insert("Trace-Id", "");
        publisher
            .publish_with_metadata(metadata, &job("j-1", 1))
            .await
            .expect("publish");
        wait_for_settled(&subscriber, 1).await;

        let seen = seen.items();
        assert_eq!(seen.len(), 1, "{version}: handled messages");
        let metadata = &seen[0].metadata;
        assert_eq!(
            metadata.message_id(),
            Some("caller-id-1"),
            "{version}: MessageID"
        );
        assert_eq!(
            metadata.event_time(),
            Some(event_time),
            "{version}: EventTime"
        );
        assert_eq!(
            metadata.get("Region"),
            Some("eu-west"),
            "{version}: custom key"
        );
        assert_eq!(
            metadata.get("Trace-Id"),
            Some(""),
            "{version}: empty custom value"
        );
        assert_eq!(metadata.source(), Some("orchestrator"), "{version}: Source");
        assert_eq!(
            metadata.message_type(),
            Some("JobAssigned"),
            "{version}: Type"
        );
        assert_eq!(seen[0].job, Some(job("j-1", 1)), "{version}: payload");

        subscriber.close().await;
    }
}

#[tokio::test]
async fn prefix_routes_by_type_name() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut raw = client.subscribe("routing.>").await.expect("raw subscribe");
    let (jobs, seen_jobs) = recording_subscriber(&client, &["routing.JobAssigned"]).await;
    let (heartbeats, seen_heartbeats) =
        recording_subscriber(&client, &["routing.NodeHeartbeat"]).await;
    let publisher = Publisher::builder(client.clone())
        .name("node-1")
        .destination_prefix("routing")
        .registry(registry())
        .build()
        .expect("build publisher");

    let heartbeat = Heartbeat {
        node_id: "node-1".to_owned(),
    };
    publisher
        .publish(&heartbeat)
        .await
        .expect("publish heartbeat");
    publisher
        .publish(&job("j-1", 1))
        .await
        .expect("publish job");
    publisher
        .publish(&heartbeat)
        .await
        .expect("publish heartbeat");

    let mut subjects = Vec::new();
    for _ in 0..3 {
        let message = within("raw message", raw.next())
            .await
            .expect("raw message");
        subjects.push(message.subject.to_string());
    }
    assert_eq!(
        subjects,
        [
            "routing.NodeHeartbeat",
            "routing.JobAssigned",
            "routing.NodeHeartbeat"
        ]
    );

    wait_for_settled(&jobs, 1).await;
    wait_for_settled(&heartbeats, 2).await;
    let seen_jobs = seen_jobs.items();
    assert_eq!(seen_jobs.len(), 1, "messages on routing.JobAssigned");
    assert_eq!(seen_jobs[0].job, Some(job("j-1", 1)));
    let seen_heartbeats = seen_heartbeats.items();
    assert_eq!(
        seen_heartbeats.len(),
        2,
        "messages on routing.NodeHeartbeat"
    );
    for seen in &seen_heartbeats {
        assert_eq!(seen.heartbeat.as_ref(), Some(&heartbeat));
        assert_eq!(seen.metadata.message_type(), Some("NodeHeartbeat"));
    }
}

#[tokio::test]
async fn fixed_destination_carries_every_type() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut raw = client.subscribe("fixed.>").await.expect("raw subscribe");
    let (subscriber, seen) = recording_subscriber(&client, &["fixed.events"]).await;
    let publisher = publisher_to(&client, "fixed.events", EnvelopeVersion::JsonV1);

    let heartbeat = Heartbeat {
        node_id: "node-7".to_owned(),
    };
    publisher
        .publish(&job("j-9", 9))
        .await
        .expect("publish job");
    publisher
        .publish(&heartbeat)
        .await
        .expect("publish heartbeat");

    for _ in 0..2 {
        let message = within("raw message", raw.next())
            .await
            .expect("raw message");
        assert_eq!(message.subject.as_str(), "fixed.events");
    }
    wait_for_settled(&subscriber, 2).await;
    let seen = seen.items();
    assert_eq!(seen.len(), 2, "handled messages");
    assert_eq!(seen[0].job, Some(job("j-9", 9)));
    assert_eq!(seen[0].metadata.message_type(), Some("JobAssigned"));
    assert_eq!(seen[1].heartbeat, Some(heartbeat));
    assert_eq!(seen[1].metadata.message_type(), Some("NodeHeartbeat"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_handled_in_arrival_order() {
    const COUNT: u32 = 200;
    let server = NatsServer::start();
    let client = connect(&server).await;
    let order = Recorder::new();
    let handler_order = order.clone();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            let seq = message.payload::<Numbered>().map(|numbered| numbered.seq);
            handler_order.push(seq);
            async move {
                // Yielding gives a reordering bug the chance to show.
                tokio::task::yield_now().await;
                Ok(())
            }
        }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["ordered"]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    let publisher = publisher_to(&client, "ordered", EnvelopeVersion::JsonV1);

    for seq in 0..COUNT {
        publisher.publish(&Numbered { seq }).await.expect("publish");
    }
    let stats = wait_for_settled(&subscriber, u64::from(COUNT)).await;

    assert_eq!(stats.processed, u64::from(COUNT));
    let expected: Vec<_> = (0..COUNT).map(Some).collect();
    assert_eq!(order.items(), expected);
}
