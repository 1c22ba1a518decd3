//! Panics in user code other than `handle_message`: in a filter, in `should_process`, in
//! a checkpointer and in a payload's `Deserialize`. Each should fail only its own message,
//! as a panic in `handle_message` does, and the subscriber should go on to the next one.

use ncl::metadata::keys;
use ncl::{
    AnyMessage, BoxError, Checkpointer, MessageHandler, Metadata, NclPayload, Publisher, Subscriber,
};
use serde::{Deserialize, Deserializer, Serialize};
use tests::{NatsServer, Recorder, connect, registry, wait_for_settled, within};

/// The `seq` whose message makes the user code under test panic.
const PANIC_SEQ: u32 = 0;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Step {
    seq: u32,
}

/// A payload whose `Deserialize` panics on a `poison` value of `true`.
#[derive(Clone, Debug, PartialEq, Serialize, NclPayload)]
struct Fragile {
    poison: bool,
}

impl<'de> Deserialize<'de> for Fragile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Fields {
            poison: bool,
        }
        let fields = Fields::deserialize(deserializer)?;
        assert!(
            !fields.poison,
            "Fragile payload asked to panic while decoding"
        );
        Ok(Self {
            poison: fields.poison,
        })
    }
}

/// Records the ids of the messages it handles.
fn recording_handler(seen: Recorder<String>) -> impl MessageHandler {
    ncl::handler_fn(move |message: &AnyMessage| {
        seen.push(message.id().unwrap_or("<none>").to_owned());
        async { Ok(()) }
    })
}

fn seq_of(message: &AnyMessage) -> Option<u32> {
    message.payload::<Step>().map(|step| step.seq)
}

/// A handler whose `should_process` panics for the message with [`PANIC_SEQ`].
struct PanickyInterest {
    seen: Recorder<String>,
}

impl MessageHandler for PanickyInterest {
    async fn should_process(&self, message: &AnyMessage) -> bool {
        assert_ne!(
            seq_of(message),
            Some(PANIC_SEQ),
            "should_process asked to panic"
        );
        true
    }

    async fn handle_message(&self, message: &AnyMessage) -> Result<(), BoxError> {
        self.seen.push(message.id().unwrap_or("<none>").to_owned());
        Ok(())
    }
}

/// A checkpointer that panics for the message with [`PANIC_SEQ`].
struct PanickyCheckpointer {
    ids: Recorder<String>,
}

impl Checkpointer for PanickyCheckpointer {
    async fn checkpoint(&self, message: &AnyMessage) -> Result<(), BoxError> {
        assert_ne!(
            seq_of(message),
            Some(PANIC_SEQ),
            "checkpointer asked to panic"
        );
        self.ids.push(message.id().unwrap_or("<none>").to_owned());
        Ok(())
    }

    async fn last_checkpoint(&self) -> Result<i64, BoxError> {
        Ok(0)
    }
}

/// Subscribes `subscriber` to `subject` and publishes two [`Step`]s to it: `step-0`,
/// which triggers the panic, then `step-1`.
async fn run_two_steps(client: &async_nats::Client, subscriber: &Subscriber, subject: &str) {
    subscriber.subscribe([subject]).await.expect("subscribe");
    // The server has processed the SUB once it replies to the PING sent after it.
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    let publisher = publisher(client, subject);
    for seq in [PANIC_SEQ, PANIC_SEQ + 1] {
        let mut metadata = Metadata::new();
        metadata.insert(keys::MESSAGE_ID, format!("step-{seq}"));
        publisher
            .publish_with_metadata(metadata, &Step { seq })
            .await
            .expect("publish");
    }
}

fn publisher(client: &async_nats::Client, subject: &str) -> Publisher {
    Publisher::builder(client.clone())
        .name("orchestrator")
        .destination(subject)
        .registry(registry())
        .build()
        .expect("build publisher")
}

#[tokio::test]
async fn panic_in_filter_fails_only_its_message() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .filter(|metadata: &Metadata| {
            assert_ne!(
                metadata.message_id(),
                Some("step-0"),
                "filter asked to panic"
            );
            false
        })
        .handler(recording_handler(seen.clone()))
        .build()
        .expect("build subscriber");

    run_two_steps(&client, &subscriber, "panic.filter").await;
    let stats = wait_for_settled(&subscriber, 2).await;

    assert_eq!(stats.failed(), 1, "failed()");
    assert_eq!(stats.processed, 1, "processed");
    assert_eq!(seen.items(), ["step-1"], "handled ids");
}

#[tokio::test]
async fn panic_in_should_process_counts_as_handler_panic() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(PanickyInterest { seen: seen.clone() })
        .build()
        .expect("build subscriber");

    run_two_steps(&client, &subscriber, "panic.interest").await;
    let stats = wait_for_settled(&subscriber, 2).await;

    assert_eq!(stats.handler_panics, 1, "handler_panics");
    assert_eq!(stats.processed, 1, "processed");
    assert_eq!(seen.items(), ["step-1"], "handled ids");
}

#[tokio::test]
async fn panic_in_checkpointer_counts_as_checkpoint_error() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let checkpoints = Recorder::new();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(recording_handler(seen.clone()))
        .checkpointer(PanickyCheckpointer {
            ids: checkpoints.clone(),
        })
        .build()
        .expect("build subscriber");

    run_two_steps(&client, &subscriber, "panic.checkpoint").await;
    let stats = wait_for_settled(&subscriber, 2).await;

    assert_eq!(stats.checkpoint_errors, 1, "checkpoint_errors");
    assert_eq!(stats.processed, 1, "processed");
    assert_eq!(seen.items(), ["step-0", "step-1"], "handled ids");
    assert_eq!(checkpoints.items(), ["step-1"], "checkpointed ids");
}

#[tokio::test]
async fn panic_in_payload_deserialize_counts_as_payload_error() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(recording_handler(seen.clone()))
        .build()
        .expect("build subscriber");
    subscriber
        .subscribe(["panic.decode"])
        .await
        .expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    let publisher = publisher(&client, "panic.decode");

    for (id, poison) in [("fragile-0", true), ("fragile-1", false)] {
        let mut metadata = Metadata::new();
        metadata.insert(keys::MESSAGE_ID, id);
        publisher
            .publish_with_metadata(metadata, &Fragile { poison })
            .await
            .expect("publish");
    }
    let stats = wait_for_settled(&subscriber, 2).await;

    assert_eq!(stats.payload_errors, 1, "payload_errors");
    assert_eq!(stats.processed, 1, "processed");
    assert_eq!(seen.items(), ["fragile-1"], "handled ids");
}
