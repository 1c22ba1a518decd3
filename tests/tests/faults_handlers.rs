//! Handlers that panic or never finish: each fails only its own message, is counted under
//! its own kind, and the subscriber handles the next message.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ncl::metadata::keys;
use ncl::{AnyMessage, Metadata, NclPayload, Publisher, Subscriber};
use serde::{Deserialize, Serialize};
use tests::{
    NatsServer, Recorder, RecordingCheckpointer, connect, registry, wait_for_settled, within,
};

/// What the handler does with a [`Job`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Behaviour {
    Succeed,
    PanicWithText,
    PanicWithNonString,
    Hang,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Job {
    behaviour: Behaviour,
}

/// Sets its flag when dropped, which shows that a cancelled future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Records each message id, then carries out the job's behaviour. A hanging job sets
/// `cancelled` once its future is dropped.
fn job_handler(seen: Recorder<String>, cancelled: Arc<AtomicBool>) -> impl ncl::MessageHandler {
    ncl::handler_fn(move |message: &AnyMessage| {
        seen.push(message.id().unwrap_or("<none>").to_owned());
        let behaviour = message.payload::<Job>().map(|job| job.behaviour);
        let flag = (behaviour == Some(Behaviour::Hang)).then(|| DropFlag(cancelled.clone()));
        async move {
            match behaviour {
                Some(Behaviour::PanicWithText) => panic!("job asked to panic"),
                Some(Behaviour::PanicWithNonString) => std::panic::panic_any(42_u32),
                Some(Behaviour::Hang) => {
                    let _flag = flag;
                    std::future::pending::<()>().await;
                }
                Some(Behaviour::Succeed) | None => {}
            }
            Ok(())
        }
    })
}

async fn subscribed(
    client: &async_nats::Client,
    subject: &str,
    handler_timeout: Duration,
) -> (
    Subscriber,
    Recorder<String>,
    RecordingCheckpointer,
    Arc<AtomicBool>,
) {
    let seen = Recorder::new();
    let checkpointer = RecordingCheckpointer::default();
    let cancelled = Arc::new(AtomicBool::new(false));
    let subscriber = Subscriber::builder(client.clone())
        .registry(registry())
        .handler_timeout(handler_timeout)
        .handler(job_handler(seen.clone(), cancelled.clone()))
        .checkpointer(checkpointer.clone())
        .build()
        .expect("build subscriber");
    subscriber.subscribe([subject]).await.expect("subscribe");
    within("flush after subscribe", client.flush())
        .await
        .expect("flush");
    (subscriber, seen, checkpointer, cancelled)
}

async fn publish_jobs(client: &async_nats::Client, subject: &str, jobs: &[(&str, Behaviour)]) {
    let publisher = Publisher::builder(client.clone())
        .name("scheduler")
        .destination(subject)
        .registry(registry())
        .build()
        .expect("build publisher");
    for (id, behaviour) in jobs {
        let mut metadata = Metadata::new();
        metadata.insert(keys::MESSAGE_ID, *id);
        publisher
            .publish_with_metadata(
                metadata,
                &Job {
                    behaviour: *behaviour,
                },
            )
            .await
            .expect("publish job");
    }
}

#[tokio::test]
async fn panicking_handlers_fail_only_their_messages() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let (subscriber, seen, checkpointer, _) =
        subscribed(&client, "jobs", Duration::from_secs(30)).await;

    publish_jobs(
        &client,
        "jobs",
        &[
            ("text-panic", Behaviour::PanicWithText),
            ("after-text", Behaviour::Succeed),
            ("value-panic", Behaviour::PanicWithNonString),
            ("after-value", Behaviour::Succeed),
        ],
    )
    .await;
    let stats = wait_for_settled(&subscriber, 4).await;

    assert_eq!(stats.handler_panics, 2, "handler_panics; stats: {stats:?}");
    assert_eq!(stats.processed, 2, "processed; stats: {stats:?}");
    assert_eq!(stats.failed(), 2, "failed(); stats: {stats:?}");
    assert_eq!(
        seen.items(),
        ["text-panic", "after-text", "value-panic", "after-value"],
        "handled ids"
    );
    assert_eq!(
        checkpointer.ids.items(),
        ["after-text", "after-value"],
        "checkpointed ids"
    );
}

#[tokio::test]
async fn stuck_handler_cancelled_at_timeout() {
    const HANDLER_TIMEOUT: Duration = Duration::from_millis(100);
    let server = NatsServer::start();
    let client = connect(&server).await;
    let (subscriber, seen, checkpointer, cancelled) =
        subscribed(&client, "jobs", HANDLER_TIMEOUT).await;

    let started = Instant::now();
    publish_jobs(
        &client,
        "jobs",
        &[("stuck", Behaviour::Hang), ("next", Behaviour::Succeed)],
    )
    .await;
    let stats = wait_for_settled(&subscriber, 2).await;
    let elapsed = started.elapsed();

    assert_eq!(
        stats.handler_timeouts, 1,
        "handler_timeouts; stats: {stats:?}"
    );
    assert_eq!(stats.processed, 1, "processed; stats: {stats:?}");
    assert_eq!(stats.failed(), 1, "failed(); stats: {stats:?}");
    assert!(
        cancelled.load(Ordering::SeqCst),
        "the stuck handler's future was not dropped"
    );
    assert!(
        elapsed >= HANDLER_TIMEOUT,
        "both messages finished in {elapsed:?}, before the handler timeout"
    );
    assert_eq!(seen.items(), ["stuck", "next"], "handled ids");
    assert_eq!(checkpointer.ids.items(), ["next"], "checkpointed ids");
}
