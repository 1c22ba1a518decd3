//! Building and starting a JetStream subscriber: required settings, invalid values, and
//! a stream that would store its own dead letters.

mod jetstream_support;

use std::time::Duration;

use jetstream_support::{jetstream_server, recording_handler};
use ncl::jetstream::{Backoff, BuildError, StartError, Subscriber, SubscriberBuilder};
use ncl::{HandlerChain, MessageHandler, NoopCheckpointer, NoopFilter};
use tests::{NatsServer, Recorder, connect, registry};

/// Returns a builder with every required setting, ready to build.
fn complete_builder(
    client: &async_nats::Client,
) -> SubscriberBuilder<((), impl MessageHandler), NoopFilter, NoopCheckpointer> {
    Subscriber::builder(client.clone())
        .stream("ORDERS")
        .subjects(["orders.>"])
        .durable_name("billing")
        .registry(registry())
        .handler(recording_handler(Recorder::new()))
}

fn build_error<H: HandlerChain>(
    builder: SubscriberBuilder<H, NoopFilter, NoopCheckpointer>,
) -> BuildError {
    builder.build().expect_err("build should fail")
}

/// Starts a server without JetStream and connects to it: building takes a client but
/// needs no JetStream.
async fn client() -> (NatsServer, async_nats::Client) {
    let server = NatsServer::start();
    let client = connect(&server).await;
    (server, client)
}

#[tokio::test]
async fn missing_settings_are_rejected() {
    let (_server, client) = client().await;

    let no_handler = Subscriber::builder(client.clone())
        .stream("ORDERS")
        .subjects(["orders.>"])
        .durable_name("billing");
    assert!(matches!(
        build_error(no_handler),
        BuildError::Core(ncl::BuildError::NoHandlers)
    ));

    let no_stream = Subscriber::builder(client.clone())
        .subjects(["orders.>"])
        .durable_name("billing")
        .handler(recording_handler(Recorder::new()));
    assert!(matches!(build_error(no_stream), BuildError::MissingStream));

    let no_durable = Subscriber::builder(client.clone())
        .stream("ORDERS")
        .subjects(["orders.>"])
        .handler(recording_handler(Recorder::new()));
    assert!(matches!(
        build_error(no_durable),
        BuildError::MissingDurableName
    ));

    let no_subjects = Subscriber::builder(client.clone())
        .stream("ORDERS")
        .durable_name("billing")
        .handler(recording_handler(Recorder::new()));
    assert!(matches!(build_error(no_subjects), BuildError::NoSubjects));
}

#[tokio::test]
async fn invalid_settings_are_rejected() {
    let (_server, client) = client().await;

    let dotted_stream = complete_builder(&client).stream("ORDERS.v2");
    assert!(matches!(
        build_error(dotted_stream),
        BuildError::InvalidName { kind: "stream", .. }
    ));

    let wildcard_durable = complete_builder(&client).durable_name("billing*");
    assert!(matches!(
        build_error(wildcard_durable),
        BuildError::InvalidName {
            kind: "durable consumer",
            ..
        }
    ));

    let bad_subject = complete_builder(&client).subjects(["orders..created"]);
    assert!(matches!(
        build_error(bad_subject),
        BuildError::InvalidSubject(_)
    ));

    let shrinking = complete_builder(&client).backoff(Backoff {
        factor: 0.5,
        ..Backoff::DEFAULT
    });
    assert!(matches!(
        build_error(shrinking),
        BuildError::InvalidBackoff { .. }
    ));

    let inverted = complete_builder(&client).backoff(Backoff {
        initial: Duration::from_secs(10),
        factor: 2.0,
        max: Duration::from_secs(1),
    });
    assert!(matches!(
        build_error(inverted),
        BuildError::InvalidBackoff { .. }
    ));
}

#[tokio::test]
async fn dead_letter_subject_inside_stream_is_rejected() {
    let (_server, client) = client().await;

    // The default, ORDERS.dead-letter, matches ORDERS.>.
    let builder = complete_builder(&client).subjects(["ORDERS.>"]);
    match build_error(builder) {
        BuildError::DeadLetterCaptured {
            dead_letter_subject,
            stream_subject,
        } => {
            assert_eq!(dead_letter_subject, "ORDERS.dead-letter");
            assert_eq!(stream_subject, "ORDERS.>");
        }
        other => panic!("expected DeadLetterCaptured, got {other:?}"),
    }

    let explicit = complete_builder(&client).dead_letter_subject("orders.failed");
    assert!(matches!(
        build_error(explicit),
        BuildError::DeadLetterCaptured { .. }
    ));
}

#[tokio::test]
async fn start_rejects_stream_storing_dead_letters() {
    let server = jetstream_server();
    let client = connect(&server).await;
    async_nats::jetstream::new(client.clone())
        .create_stream(async_nats::jetstream::stream::Config {
            name: "ORDERS".to_owned(),
            subjects: vec!["orders.>".to_owned(), "failed.*".to_owned()],
            ..Default::default()
        })
        .await
        .expect("create stream");
    let subscriber = complete_builder(&client)
        .dead_letter_subject("failed.orders")
        .build()
        .expect("build subscriber");

    let error = subscriber.start().await.expect_err("start should fail");

    match error {
        StartError::DeadLetterCaptured { stream_subject, .. } => {
            assert_eq!(stream_subject, "failed.*");
        }
        other => panic!("expected DeadLetterCaptured, got {other:?}"),
    }
}

#[tokio::test]
async fn start_without_jetstream_fails() {
    let (_server, client) = client().await;
    let subscriber = complete_builder(&client).build().expect("build subscriber");

    let error = subscriber.start().await.expect_err("JetStream is disabled");

    assert!(matches!(error, StartError::Stream { .. }), "{error:?}");
}

#[tokio::test]
async fn second_start_and_start_after_close_are_rejected() {
    let server = jetstream_server();
    let client = connect(&server).await;
    let subscriber = complete_builder(&client).build().expect("build subscriber");

    subscriber.start().await.expect("first start");
    let again = subscriber.start().await.expect_err("second start");
    assert!(matches!(again, StartError::AlreadyStarted), "{again:?}");

    subscriber.close().await;
    let closed = subscriber.start().await.expect_err("start after close");
    assert!(matches!(closed, StartError::Closed), "{closed:?}");
}

#[tokio::test]
async fn restart_with_new_concurrency_updates_consumer() {
    let server = jetstream_server();
    let client = connect(&server).await;
    let first = complete_builder(&client).build().expect("build subscriber");
    first.start().await.expect("start the first subscriber");
    first.close().await;

    let second = complete_builder(&client)
        .concurrency(3)
        .ack_wait(Duration::from_secs(7))
        .build()
        .expect("build subscriber");
    second.start().await.expect("start the second subscriber");
    second.close().await;

    let info = async_nats::jetstream::new(client.clone())
        .get_stream("ORDERS")
        .await
        .expect("get stream")
        .consumer_info("billing")
        .await
        .expect("consumer info");
    assert_eq!(info.config.max_ack_pending, 3);
    assert_eq!(info.config.ack_wait, Duration::from_secs(7));
    assert_eq!(info.config.max_deliver, -1);
}
