//! The subscriber's pipeline: filter, several handlers, handler failures and checkpoints.

use bytes::Bytes;
use ncl::metadata::keys;
use ncl::{
    AnyMessage, BoxError, Checkpointer, MessageHandler, Metadata, NclPayload, Publisher, Subscriber,
};
use serde::{Deserialize, Serialize};
use tests::{
    NatsServer, Recorder, RecordingCheckpointer, connect, registry, wait_for_settled, within,
};

/// What a handler does with a [`Task`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Action {
    Succeed,
    Fail,
    Panic,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Task {
    seq: u32,
    action: Action,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Heartbeat {
    node_id: String,
}

fn task(seq: u32, action: Action) -> Task {
    Task { seq, action }
}

fn publisher(client: &async_nats::Client, subject: &str) -> Publisher {
    Publisher::builder(client.clone())
        .name("orchestrator")
        .destination(subject)
        .registry(registry())
        .build()
        .expect("build publisher")
}

/// Publishes `payload` with `MessageID` set to `id`.
async fn publish_with_id(publisher: &Publisher, id: &str, payload: &Task) {
    let mut metadata = Metadata::new();
    metadata.insert(keys::MESSAGE_ID, id);
    publisher
        .publish_with_metadata(metadata, payload)
        .await
        .expect("publish");
}

async fn subscribe(subscriber: &Subscriber, client: &async_nats::Client, subject: &str) {
    subscriber.subscribe([subject]).await.expect("subscribe");
    // The server has processed the SUB once it replies to the PING sent after it.
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
}

/// Records the ids of the messages it is given, and carries out each [`Task`]'s action.
fn task_handler(seen: Recorder<String>) -> impl MessageHandler {
    ncl::handler_fn(move |message: &AnyMessage| {
        seen.push(message.id().unwrap_or("<none>").to_owned());
        let action = message.payload::<Task>().map(|task| task.action);
        async move {
            match action {
                Some(Action::Fail) => Err(BoxError::from("task asked to fail")),
                Some(Action::Panic) => panic!("task asked to panic"),
                Some(Action::Succeed) | None => Ok(()),
            }
        }
    })
}

/// A handler that takes only [`Task`] messages.
struct TasksOnly {
    seen: Recorder<String>,
}

impl MessageHandler for TasksOnly {
    async fn should_process(&self, message: &AnyMessage) -> bool {
        message.is::<Task>()
    }

    async fn handle_message(&self, message: &AnyMessage) -> Result<(), BoxError> {
        self.seen.push(message.id().unwrap_or("<none>").to_owned());
        Ok(())
    }
}

/// A checkpointer whose store is always unavailable.
struct FailingCheckpointer;

impl Checkpointer for FailingCheckpointer {
    async fn checkpoint(&self, _message: &AnyMessage) -> Result<(), BoxError> {
        Err("checkpoint store unavailable".into())
    }

    async fn last_checkpoint(&self) -> Result<i64, BoxError> {
        Ok(0)
    }
}

#[tokio::test]
async fn filter_drops_messages_before_handlers() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let checkpointer = RecordingCheckpointer::default();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .filter(|metadata: &Metadata| metadata.get("Skip") == Some("yes"))
        .handler(task_handler(seen.clone()))
        .checkpointer(checkpointer.clone())
        .build()
        .expect("build subscriber");
    subscribe(&subscriber, &client, "filtered").await;
    let publisher = publisher(&client, "filtered");

    for (id, skip) in [("m-0", false), ("m-1", true), ("m-2", false), ("m-3", true)] {
        let mut metadata = Metadata::new();
        metadata.insert(keys::MESSAGE_ID, id);
        if skip {
            metadata.insert("Skip", "yes");
        }
        publisher
            .publish_with_metadata(metadata, &task(0, Action::Succeed))
            .await
            .expect("publish");
    }
    let stats = wait_for_settled(&subscriber, 4).await;

    assert_eq!(stats.filtered, 2, "filtered");
    assert_eq!(stats.processed, 2, "processed");
    assert_eq!(stats.failed(), 0, "failed");
    assert_eq!(seen.items(), ["m-0", "m-2"], "handled ids");
    assert_eq!(checkpointer.ids.items(), ["m-0", "m-2"], "checkpointed ids");
}

#[tokio::test]
async fn every_interested_handler_sees_each_message() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let first = Recorder::new();
    let second = Recorder::new();
    let tasks_only = Recorder::new();
    let checkpointer = RecordingCheckpointer::default();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(task_handler(first.clone()))
        .handler(TasksOnly {
            seen: tasks_only.clone(),
        })
        .handler(task_handler(second.clone()))
        .checkpointer(checkpointer.clone())
        .build()
        .expect("build subscriber");
    subscribe(&subscriber, &client, "handlers").await;
    let publisher = publisher(&client, "handlers");

    publish_with_id(&publisher, "task-1", &task(1, Action::Succeed)).await;
    let mut metadata = Metadata::new();
    metadata.insert(keys::MESSAGE_ID, "heartbeat-1");
    let heartbeat = Heartbeat {
        node_id: "node-1".to_owned(),
    };
    publisher
        .publish_with_metadata(metadata, &heartbeat)
        .await
        .expect("publish heartbeat");
    let stats = wait_for_settled(&subscriber, 2).await;

    assert_eq!(stats.processed, 2, "processed");
    assert_eq!(first.items(), ["task-1", "heartbeat-1"], "first handler");
    assert_eq!(second.items(), ["task-1", "heartbeat-1"], "last handler");
    assert_eq!(
        tasks_only.items(),
        ["task-1"],
        "handler whose should_process skips heartbeats"
    );
    assert_eq!(
        checkpointer.ids.items(),
        ["task-1", "heartbeat-1"],
        "checkpointed ids"
    );
}

#[tokio::test]
async fn failing_handler_stops_later_handlers() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let first = Recorder::new();
    let second = Recorder::new();
    let checkpointer = RecordingCheckpointer::default();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(task_handler(first.clone()))
        .handler(TasksOnly {
            seen: second.clone(),
        })
        .checkpointer(checkpointer.clone())
        .build()
        .expect("build subscriber");
    subscribe(&subscriber, &client, "failing").await;
    let publisher = publisher(&client, "failing");

    publish_with_id(&publisher, "task-fail", &task(0, Action::Fail)).await;
    publish_with_id(&publisher, "task-panic", &task(1, Action::Panic)).await;
    publish_with_id(&publisher, "task-ok", &task(2, Action::Succeed)).await;
    let stats = wait_for_settled(&subscriber, 3).await;

    assert_eq!(stats.handler_errors, 1, "handler_errors");
    assert_eq!(stats.handler_panics, 1, "handler_panics");
    assert_eq!(
        first.items(),
        ["task-fail", "task-panic", "task-ok"],
        "first handler"
    );
    assert_eq!(second.items(), ["task-ok"], "handler after the failing one");
    assert_eq!(checkpointer.ids.items(), ["task-ok"], "checkpointed ids");
}

#[tokio::test]
async fn checkpoint_recorded_once_per_processed_message() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let checkpointer = RecordingCheckpointer::default();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(task_handler(seen.clone()))
        .checkpointer(checkpointer.clone())
        .build()
        .expect("build subscriber");
    subscribe(&subscriber, &client, "checkpoints").await;
    let publisher = publisher(&client, "checkpoints");

    let actions = [
        Action::Succeed,
        Action::Fail,
        Action::Succeed,
        Action::Panic,
        Action::Succeed,
        Action::Fail,
        Action::Succeed,
    ];
    for (seq, action) in (0..).zip(actions) {
        publish_with_id(&publisher, &format!("task-{seq}"), &task(seq, action)).await;
    }
    let stats = wait_for_settled(&subscriber, 7).await;

    assert_eq!(stats.processed, 4, "processed");
    assert_eq!(stats.handler_errors, 2, "handler_errors");
    assert_eq!(stats.handler_panics, 1, "handler_panics");
    assert_eq!(stats.checkpoint_errors, 0, "checkpoint_errors");
    let all: Vec<String> = (0..7).map(|seq| format!("task-{seq}")).collect();
    assert_eq!(seen.items(), all, "the handler went on after each failure");
    assert_eq!(
        checkpointer.ids.items(),
        ["task-0", "task-2", "task-4", "task-6"],
        "checkpointed ids"
    );
}

#[tokio::test]
async fn checkpoint_error_is_counted() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(task_handler(seen.clone()))
        .checkpointer(FailingCheckpointer)
        .build()
        .expect("build subscriber");
    subscribe(&subscriber, &client, "checkpoint.errors").await;
    let publisher = publisher(&client, "checkpoint.errors");

    publish_with_id(&publisher, "task-0", &task(0, Action::Succeed)).await;
    publish_with_id(&publisher, "task-1", &task(1, Action::Succeed)).await;
    let stats = wait_for_settled(&subscriber, 2).await;

    assert_eq!(stats.checkpoint_errors, 2, "checkpoint_errors");
    assert_eq!(stats.processed, 0, "processed");
    assert_eq!(seen.items(), ["task-0", "task-1"], "handled ids");
}

#[tokio::test]
async fn stats_add_up_across_every_outcome() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let checkpointer = RecordingCheckpointer::default();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .filter(|metadata: &Metadata| metadata.get("Skip") == Some("yes"))
        .handler(task_handler(Recorder::new()))
        .checkpointer(checkpointer.clone())
        .build()
        .expect("build subscriber");
    subscribe(&subscriber, &client, "outcomes").await;
    let publisher = publisher(&client, "outcomes");

    publish_with_id(&publisher, "ok-0", &task(0, Action::Succeed)).await;
    publish_with_id(&publisher, "fail", &task(1, Action::Fail)).await;
    publish_with_id(&publisher, "panic", &task(2, Action::Panic)).await;
    let mut metadata = Metadata::new();
    metadata.insert("Skip", "yes");
    publisher
        .publish_with_metadata(metadata, &task(3, Action::Succeed))
        .await
        .expect("publish filtered message");
    client
        .publish("outcomes", Bytes::from_static(b"\x09not an envelope"))
        .await
        .expect("publish raw bytes");
    let mut metadata = Metadata::new();
    metadata.insert(keys::TYPE, "NoSuchType");
    metadata.insert(keys::PAYLOAD_ENCODING, "json");
    let unknown = ncl::EnvelopeSerializer::default()
        .serialize(&ncl::RawMessage::new(metadata, &b"{}"[..]))
        .expect("encode envelope");
    client
        .publish("outcomes", unknown)
        .await
        .expect("publish unknown type");
    publish_with_id(&publisher, "ok-1", &task(4, Action::Succeed)).await;
    let stats = wait_for_settled(&subscriber, 7).await;

    assert_eq!(stats.received, 7, "received");
    assert_eq!(stats.processed, 2, "processed");
    assert_eq!(stats.filtered, 1, "filtered");
    assert_eq!(stats.envelope_errors, 1, "envelope_errors");
    assert_eq!(stats.payload_errors, 1, "payload_errors");
    assert_eq!(stats.handler_errors, 1, "handler_errors");
    assert_eq!(stats.handler_panics, 1, "handler_panics");
    assert_eq!(stats.checkpoint_errors, 0, "checkpoint_errors");
    assert_eq!(stats.failed(), 4, "failed()");
    assert_eq!(
        stats.received,
        stats.processed + stats.filtered + stats.failed()
    );
    assert_eq!(
        checkpointer.ids.items(),
        ["ok-0", "ok-1"],
        "checkpointed ids"
    );
}
