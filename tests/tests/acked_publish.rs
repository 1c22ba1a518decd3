//! Acknowledged publishing against a real nats-server: acknowledgements, negative
//! acknowledgements and retries, every way a pending message fails, and subscriber
//! failures and restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::join_all;
use ncl::acked::AckedPublisherBuilder;
use ncl::jetstream::Backoff;
use ncl::{AckError, AckedPublisher, AnyMessage, BoxError, NclPayload, Subscriber};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, Recorder, connect, registry, within};
use tokio::sync::Semaphore;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Event {
    seq: u64,
}

const SUBJECT: &str = "node-1.events";

fn builder(client: &async_nats::Client) -> AckedPublisherBuilder {
    AckedPublisher::builder(client.clone())
        .name("orchestrator")
        .destination(SUBJECT)
        .registry(registry())
        .ack_wait(Duration::from_secs(5))
}

async fn build(builder: AckedPublisherBuilder) -> AckedPublisher {
    within("build publisher", builder.build())
        .await
        .expect("build publisher")
}

/// Returns a short backoff, so that retries happen within a test's time.
fn fast_backoff() -> Backoff {
    Backoff {
        initial: Duration::from_millis(20),
        factor: 2.0,
        max: Duration::from_millis(100),
    }
}

/// Starts a subscriber on [`SUBJECT`] whose handler records each event's `seq` and then
/// runs `decide` on it: `Ok` handles the event, `Err` fails it.
async fn subscriber(
    client: &async_nats::Client,
    seen: &Recorder<u64>,
    decide: impl Fn(u64) -> Result<(), String> + Send + Sync + 'static,
) -> Subscriber {
    subscriber_with_backoff(client, seen, fast_backoff(), decide).await
}

/// As [`subscriber`], with `backoff` for the retry delays.
async fn subscriber_with_backoff(
    client: &async_nats::Client,
    seen: &Recorder<u64>,
    backoff: Backoff,
    decide: impl Fn(u64) -> Result<(), String> + Send + Sync + 'static,
) -> Subscriber {
    let seen = seen.clone();
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .nack_backoff(backoff)
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            let seq = message.payload::<Event>().map(|event| event.seq);
            let result = match seq {
                Some(seq) => {
                    seen.push(seq);
                    decide(seq).map_err(BoxError::from)
                }
                None => Err(BoxError::from("not an Event")),
            };
            async move { result }
        }))
        .build()
        .expect("build subscriber");
    within("subscribe", subscriber.subscribe([SUBJECT]))
        .await
        .expect("subscribe");
    subscriber
}

/// Returns a `decide` function that fails each event its first `failures` times.
fn failing_first(failures: usize) -> impl Fn(u64) -> Result<(), String> + Send + Sync + 'static {
    let attempts: Mutex<HashMap<u64, usize>> = Mutex::new(HashMap::new());
    move |seq| {
        let mut attempts = attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let attempt = attempts.entry(seq).or_default();
        *attempt += 1;
        if *attempt <= failures {
            Err(format!("event {seq} failed on attempt {attempt}"))
        } else {
            Ok(())
        }
    }
}

/// Subscribes to [`SUBJECT`] without ever replying, so the server has a subscriber but no
/// acknowledgement comes back.
async fn silent_listener(client: &async_nats::Client) -> async_nats::Subscriber {
    let listener = client.subscribe(SUBJECT).await.expect("subscribe");
    within("flush", client.flush()).await.expect("flush");
    listener
}

#[tokio::test]
async fn acks_resolve_in_publish_order() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let _subscriber = subscriber(&connect(&server).await, &seen, |_| Ok(())).await;
    let publisher = build(builder(&client)).await;

    let futures: Vec<_> = (0..200)
        .map(|seq| publisher.publish_async(&Event { seq }).expect("publish"))
        .collect();
    let ids: Vec<String> = futures.iter().map(|f| f.message_id().to_owned()).collect();
    let acks = within("acks", join_all(futures)).await;

    for (ack, id) in acks.into_iter().zip(&ids) {
        let ack = ack.expect("ack");
        assert_eq!(&ack.message_id, id);
        assert_eq!(ack.attempts, 1);
    }
    assert_eq!(seen.items(), (0..200).collect::<Vec<u64>>());
    assert_eq!(publisher.pending(), 0);
    let stats = publisher.stats();
    assert_eq!(
        (
            stats.published,
            stats.acknowledged,
            stats.retries,
            stats.failed
        ),
        (200, 200, 0, 0)
    );
    assert!(stats.published_bytes > 200 * 100, "{stats:?}");
}

#[tokio::test]
async fn nack_with_delay_is_retried_then_acked() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let _subscriber = subscriber(&client, &seen, failing_first(2)).await;
    let publisher = build(builder(&client).max_attempts(3)).await;

    let started = Instant::now();
    let ack = within("ack", publisher.publish(&Event { seq: 1 }))
        .await
        .expect("ack after retries");

    assert_eq!(ack.attempts, 3);
    assert_eq!(seen.items(), [1, 1, 1]);
    let stats = publisher.stats();
    assert_eq!(
        (
            stats.published,
            stats.acknowledged,
            stats.retries,
            stats.failed
        ),
        (3, 1, 2, 0)
    );
    // The subscriber's delays after its first and second consecutive failures.
    assert!(
        started.elapsed() >= Duration::from_millis(20 + 40),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn max_attempts_exhausted_fails() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let _subscriber = subscriber(&client, &seen, failing_first(usize::MAX)).await;
    let publisher = build(builder(&client).max_attempts(3)).await;

    let result = within("ack", publisher.publish(&Event { seq: 4 })).await;

    let Err(AckError::Nack {
        error,
        delay,
        attempts,
        ..
    }) = result
    else {
        panic!("expected a nack, got {result:?}");
    };
    assert_eq!(attempts, 3);
    assert!(error.contains("event 4 failed on attempt 3"), "{error}");
    // The third consecutive failure: 20 ms × 2².
    assert_eq!(delay, Some(Duration::from_millis(80)));
    assert_eq!(seen.items(), [4, 4, 4]);
    let stats = publisher.stats();
    assert_eq!(
        (
            stats.published,
            stats.acknowledged,
            stats.retries,
            stats.failed
        ),
        (3, 0, 2, 1)
    );
}

#[tokio::test]
async fn later_messages_wait_for_a_retried_one() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let handled = Recorder::new();
    let handled_in = handled.clone();
    let fail_once = failing_first(1);
    let backoff = Backoff {
        initial: Duration::from_millis(400),
        factor: 2.0,
        max: Duration::from_secs(1),
    };
    let _subscriber = subscriber_with_backoff(&client, &seen, backoff, move |seq| {
        let result = if seq == 0 { fail_once(seq) } else { Ok(()) };
        if result.is_ok() {
            handled_in.push(seq);
        }
        result
    })
    .await;
    let publisher = build(builder(&client)).await;

    let first = publisher.publish_async(&Event { seq: 0 }).expect("publish");
    within(
        "first attempt",
        tests::wait_until("event 0 to be handled once", || !seen.is_empty()),
    )
    .await;
    // The negative acknowledgement crosses loopback within this wait; the retry comes
    // 400 ms after it.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let rest: Vec<_> = (1..5)
        .map(|seq| publisher.publish_async(&Event { seq }).expect("publish"))
        .collect();

    assert_eq!(within("ack", first).await.expect("ack").attempts, 2);
    for result in within("acks", join_all(rest)).await {
        assert_eq!(result.expect("ack").attempts, 1);
    }
    assert_eq!(handled.items(), [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn no_subscriber_fails_without_waiting() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let publisher = build(builder(&client).ack_wait(Duration::from_secs(30))).await;

    let started = Instant::now();
    let result = within("ack", publisher.publish(&Event { seq: 1 })).await;

    assert!(
        matches!(&result, Err(AckError::NoResponders { subject, .. }) if subject == SUBJECT),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn missing_ack_times_out() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let _listener = silent_listener(&client).await;
    let publisher = build(builder(&client).ack_wait(Duration::from_millis(300))).await;

    let started = Instant::now();
    let result = within("ack", publisher.publish(&Event { seq: 1 })).await;

    assert!(
        matches!(result, Err(AckError::Timeout { ack_wait, .. }) if ack_wait == Duration::from_millis(300)),
        "{result:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(publisher.pending(), 0);
}

#[tokio::test]
async fn pending_bound_fails_at_once() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let _listener = silent_listener(&client).await;
    let publisher = build(builder(&client).max_pending(2)).await;

    let first = publisher.publish_async(&Event { seq: 1 }).expect("publish");
    let second = publisher.publish_async(&Event { seq: 2 }).expect("publish");
    let started = Instant::now();
    let third = publisher.publish_async(&Event { seq: 3 });

    assert!(
        matches!(third, Err(AckError::Full { max_pending: 2 })),
        "{third:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(publisher.pending(), 2);

    // Resolving the pending messages frees their places.
    within("reset", publisher.reset()).await;
    assert!(matches!(within("ack", first).await, Err(AckError::Reset)));
    assert!(matches!(within("ack", second).await, Err(AckError::Reset)));
    assert_eq!(publisher.pending(), 0);
    let fourth = publisher.publish_async(&Event { seq: 4 });
    assert!(fourth.is_ok(), "{fourth:?}");
}

#[tokio::test]
async fn reset_fails_pending_and_ignores_late_acks() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let gate = Arc::new(Semaphore::new(0));
    let handler_gate = Arc::clone(&gate);
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler(ncl::handler_fn(move |_message: &AnyMessage| {
            let gate = Arc::clone(&handler_gate);
            async move {
                gate.acquire().await?.forget();
                Ok(())
            }
        }))
        .build()
        .expect("build subscriber");
    within("subscribe", subscriber.subscribe([SUBJECT]))
        .await
        .expect("subscribe");
    let publisher = build(builder(&client)).await;

    let pending: Vec<_> = (0..5)
        .map(|seq| publisher.publish_async(&Event { seq }).expect("publish"))
        .collect();
    within("reset", publisher.reset()).await;

    for result in within("acks", join_all(pending)).await {
        assert!(matches!(result, Err(AckError::Reset)), "{result:?}");
    }
    assert_eq!(publisher.pending(), 0);

    // The subscriber now handles the five reset messages and acknowledges them late;
    // those acknowledgements match nothing, and a new message is acknowledged.
    gate.add_permits(6);
    let ack = within("ack", publisher.publish(&Event { seq: 5 }))
        .await
        .expect("ack after reset");
    assert_eq!(ack.attempts, 1);
}

#[tokio::test]
async fn close_fails_pending_and_rejects_new() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let _listener = silent_listener(&client).await;
    let publisher = build(builder(&client)).await;
    let clone = publisher.clone();

    let pending = publisher.publish_async(&Event { seq: 1 }).expect("publish");
    within("close", publisher.close()).await;

    assert!(matches!(
        within("ack", pending).await,
        Err(AckError::Closed)
    ));
    assert!(clone.is_closed());
    let after = clone.publish_async(&Event { seq: 2 });
    assert!(matches!(after, Err(AckError::Closed)), "{after:?}");
}

#[tokio::test]
async fn subscriber_failing_first_attempts_then_recovering() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    // Each event fails twice, then succeeds: every message needs three attempts.
    let _subscriber = subscriber(&client, &seen, failing_first(2)).await;
    let publisher = build(builder(&client).max_attempts(3)).await;

    let pending: Vec<_> = (0..10)
        .map(|seq| publisher.publish_async(&Event { seq }).expect("publish"))
        .collect();
    let acks = within("acks", join_all(pending)).await;

    for ack in acks {
        assert_eq!(ack.expect("ack").attempts, 3);
    }
    assert_eq!(seen.len(), 30);
}

#[tokio::test]
async fn subscriber_restart_while_messages_pending() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    // The first subscriber takes messages and never finishes handling them.
    let stuck = Subscriber::builder(connect(&server).await)
        .registry(registry())
        .close_timeout(Duration::from_millis(50))
        .handler(ncl::handler_fn(|_message: &AnyMessage| {
            std::future::pending::<Result<(), BoxError>>()
        }))
        .build()
        .expect("build subscriber");
    within("subscribe", stuck.subscribe([SUBJECT]))
        .await
        .expect("subscribe");
    let publisher = build(builder(&client).ack_wait(Duration::from_millis(500))).await;

    let pending: Vec<_> = (0..3)
        .map(|seq| publisher.publish_async(&Event { seq }).expect("publish"))
        .collect();
    tests::wait_until("the stuck subscriber to take a message", || {
        stuck.stats().received > 0
    })
    .await;
    within("close", stuck.close()).await;
    drop(stuck);

    let seen = Recorder::new();
    let _restarted = subscriber(&connect(&server).await, &seen, |_| Ok(())).await;

    // Messages taken by the stopped subscriber are never acknowledged; the caller learns
    // it from the timeout and publishes them again.
    for result in within("acks", join_all(pending)).await {
        assert!(
            matches!(result, Err(AckError::Timeout { .. })),
            "{result:?}"
        );
    }
    let again: Vec<_> = (0..4)
        .map(|seq| publisher.publish_async(&Event { seq }).expect("publish"))
        .collect();
    for result in within("acks", join_all(again)).await {
        assert_eq!(result.expect("ack").attempts, 1);
    }
    assert_eq!(seen.items(), [0, 1, 2, 3]);
}

#[tokio::test]
async fn subscriber_sends_go_result_json() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let seen = Recorder::new();
    let _subscriber = subscriber(&client, &seen, |seq| match seq {
        0 => Ok(()),
        _ => Err("no room <left>".to_owned()),
    })
    .await;
    let encode = |seq: u64| {
        let encoder = ncl::Encoder::new("raw", ncl::EnvelopeSerializer::default(), registry());
        encoder
            .encode(&mut ncl::Metadata::new(), &Event { seq })
            .expect("encode")
    };

    let mut bodies = Vec::new();
    for seq in [0, 1, 2, 0] {
        let reply = within("raw request", client.request(SUBJECT, encode(seq)))
            .await
            .expect("raw request");
        bodies.push(String::from_utf8(reply.payload.to_vec()).expect("UTF-8 body"));
    }

    // Go's encoding/json escapes `<` and `>`, and the delay is in nanoseconds: 20 ms
    // after the first consecutive failure, 40 ms after the second.
    let nack = |nanos: u64| format!(r#"{{"error":"no room \u003cleft\u003e","delay":{nanos}}}"#);
    assert_eq!(
        bodies,
        [
            "{}".to_owned(),
            nack(20_000_000),
            nack(40_000_000),
            "{}".to_owned()
        ]
    );
}

#[tokio::test]
async fn go_style_replies_are_understood() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut requests = client.subscribe(SUBJECT).await.expect("subscribe");
    within("flush", client.flush()).await.expect("flush");
    let replier = client.clone();
    let bodies: [&'static [u8]; 3] = [
        br#"{"error":"invalid job spec"}"#,
        b"not json",
        br#"{"delay":5}"#,
    ];
    let task = tokio::spawn(async move {
        for body in bodies {
            let Some(request) = requests.next().await else {
                return;
            };
            if let Some(reply) = request.reply {
                replier
                    .publish(reply, Bytes::from_static(body))
                    .await
                    .expect("reply");
            }
        }
    });
    let publisher = build(builder(&client)).await;

    let nack = within("ack", publisher.publish(&Event { seq: 1 })).await;
    let invalid = within("ack", publisher.publish(&Event { seq: 2 })).await;
    let ack = within("ack", publisher.publish(&Event { seq: 3 })).await;

    // A negative acknowledgement without a delay is final.
    assert!(
        matches!(&nack, Err(AckError::Nack { error, delay: None, attempts: 1, .. }) if error == "invalid job spec"),
        "{nack:?}"
    );
    assert!(
        matches!(invalid, Err(AckError::InvalidAck { .. })),
        "{invalid:?}"
    );
    // A body without an error is an acknowledgement, whatever its delay.
    assert_eq!(ack.expect("ack").attempts, 1);
    task.abort();
}

#[tokio::test]
async fn subscriber_with_acks_off_stays_silent() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .acks(false)
        .handler(ncl::handler_fn(|_message: &AnyMessage| async { Ok(()) }))
        .build()
        .expect("build subscriber");
    within("subscribe", subscriber.subscribe([SUBJECT]))
        .await
        .expect("subscribe");
    let publisher = build(builder(&client).ack_wait(Duration::from_millis(200))).await;

    let result = within("ack", publisher.publish(&Event { seq: 1 })).await;

    assert!(
        matches!(result, Err(AckError::Timeout { .. })),
        "{result:?}"
    );
    assert_eq!(subscriber.stats().processed, 1);
}

#[tokio::test]
async fn invalid_nack_backoff_is_rejected() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let built = Subscriber::builder(client)
        .nack_backoff(Backoff {
            initial: Duration::from_secs(2),
            factor: 2.0,
            max: Duration::from_secs(1),
        })
        .handler(ncl::handler_fn(|_message: &AnyMessage| async { Ok(()) }))
        .build();
    assert!(
        matches!(built, Err(ncl::BuildError::InvalidBackoff { .. })),
        "{built:?}"
    );
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Unwanted {
    seq: u64,
}

#[tokio::test]
async fn message_no_handler_takes_fails_at_once() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    // The router has no handler, so every message is unhandled.
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .nack_backoff(fast_backoff())
        .handler(ncl::Router::empty(()))
        .build()
        .expect("build subscriber");
    within("subscribe", subscriber.subscribe([SUBJECT]))
        .await
        .expect("subscribe");
    let publisher = build(builder(&client).max_attempts(3)).await;

    let result = within("ack", publisher.publish(&Unwanted { seq: 1 })).await;

    let Err(AckError::Nack {
        error,
        delay,
        attempts,
        ..
    }) = result
    else {
        panic!("expected a nack, got {result:?}");
    };
    assert_eq!(attempts, 1, "no retry");
    assert_eq!(delay, None);
    assert!(error.contains("no handler"), "{error}");
    assert!(error.contains("\"Unwanted\""), "{error}");
    let stats = subscriber.stats();
    assert_eq!(stats.unhandled, 1);
    assert_eq!(stats.processed, 1);
}
