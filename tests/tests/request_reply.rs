//! Request/reply against a real nats-server: typed responses, each error kind, the wire
//! format of error responses, concurrency and the responder's lifecycle.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::join_all;
use ncl::metadata::keys;
use ncl::request::{ResponseDecodeError, codes, keys as error_keys};
use ncl::{
    EnvelopeSerializer, ErrorResponse, Message, Metadata, NclPayload, Publisher, RawMessage,
    Request, RequestError, RequestRouter, Responder, ResponderError,
};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, connect, registry, within};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Ping {
    seq: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Pong {
    seq: u64,
}

impl Request for Ping {
    type Response = Pong;
}

/// What [`work`] does with a [`Job`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
enum Outcome {
    Succeed,
    /// Returns an `ErrorResponse` with code `ResourceInUse`.
    Busy,
    /// Returns an `std::io::Error`.
    DiskFull,
    Panic,
    /// Sleeps for 5 s, past the responder's handler timeout.
    Hang,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Job {
    id: String,
    outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct JobDone {
    id: String,
}

impl Request for Job {
    type Response = JobDone;
}

/// A request type that no handler of this file takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Unrouted {
    value: u8,
}

impl Request for Unrouted {
    type Response = Pong;
}

#[ncl::handler]
async fn ping(request: &Message<Ping>) -> Result<Pong, ErrorResponse> {
    Ok(Pong {
        seq: request.payload.seq,
    })
}

#[ncl::handler]
async fn work(request: Message<Job>) -> Result<JobDone, WorkFailure> {
    let Job { id, outcome } = request.payload;
    match outcome {
        Outcome::Succeed => Ok(JobDone { id }),
        Outcome::Busy => Err(WorkFailure::Remote(
            ErrorResponse::new(codes::RESOURCE_IN_USE, format!("job {id} is running"))
                .with_hint("retry when it finishes"),
        )),
        Outcome::DiskFull => Err(WorkFailure::Io(std::io::Error::other("disk full"))),
        Outcome::Panic => panic!("job {id} panicked"),
        Outcome::Hang => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(JobDone { id })
        }
    }
}

/// The errors of [`work`]: a chosen error response, or any other error.
#[derive(Debug)]
enum WorkFailure {
    Remote(ErrorResponse),
    Io(std::io::Error),
}

impl std::fmt::Display for WorkFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Remote(error) => write!(f, "{}", error.message),
            Self::Io(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for WorkFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Remote(error) => Some(error),
            Self::Io(error) => Some(error),
        }
    }
}

/// A service whose request handler methods keep a count in `self`.
#[derive(Default)]
struct Counter {
    calls: AtomicUsize,
}

#[ncl::handler]
impl Counter {
    async fn count(&self, request: &Message<Ping>) -> Result<Pong, std::io::Error> {
        let calls = self.calls.fetch_add(1, Ordering::Relaxed) as u64;
        Ok(Pong {
            seq: request.payload.seq + calls,
        })
    }
}

fn publisher(client: &async_nats::Client, subject: &str) -> Publisher {
    Publisher::builder(client.clone())
        .name("requester")
        .destination(subject)
        .registry(registry())
        .build()
        .expect("build publisher")
}

fn router() -> RequestRouter {
    RequestRouter::empty(()).route::<ping>().route::<work>()
}

async fn listening_responder(client: &async_nats::Client, subject: &str) -> Responder {
    let responder = Responder::builder(client.clone())
        .name("service")
        .subject(subject)
        .handler(router())
        .handler_timeout(Duration::from_millis(200))
        .registry(registry())
        .build()
        .expect("build responder");
    within("responder to listen", responder.listen())
        .await
        .expect("listen");
    responder
}

fn job(id: &str, outcome: Outcome) -> Job {
    Job {
        id: id.to_owned(),
        outcome,
    }
}

/// Sends `job` and returns the remote error's status, code and message.
async fn remote_error(publisher: &Publisher, job: &Job) -> (u16, String, String) {
    let result = within("request", publisher.request(job)).await;
    match result {
        Err(RequestError::Remote {
            status_code,
            code,
            message,
            ..
        }) => (status_code, code, message),
        other => panic!("expected a remote error, got {other:?}"),
    }
}

#[tokio::test]
async fn response_is_typed_and_correlated() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let _responder = listening_responder(&client, "svc.requests").await;
    let requester = connect(&server).await;
    let publisher = publisher(&requester, "svc.requests");

    let mut metadata = Metadata::new();
    metadata.insert(keys::MESSAGE_ID, "request-1");
    let response = within(
        "request",
        publisher.request_with_metadata(metadata, &Ping { seq: 7 }, Duration::from_secs(5)),
    )
    .await
    .expect("request");

    assert_eq!(response.payload, Pong { seq: 7 });
    assert_eq!(response.id(), Some("request-1"));
    assert_eq!(response.message_type(), Some("Pong"));
    assert_eq!(response.source(), Some("service"));
}

#[tokio::test]
async fn no_responders_fails_without_waiting() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let publisher = publisher(&client, "svc.nobody");

    let started = Instant::now();
    let result = within(
        "request",
        publisher.request_with_timeout(&Ping { seq: 1 }, Duration::from_secs(30)),
    )
    .await;

    assert!(
        matches!(&result, Err(RequestError::NoResponders { subject }) if subject == "svc.nobody"),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn silent_listener_times_out() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    // A subscriber that never replies. The server has a subscriber, so it sends no
    // no-responders status.
    let _silent = client.subscribe("svc.silent").await.expect("subscribe");
    within("flush", client.flush()).await.expect("flush");
    let publisher = publisher(&client, "svc.silent");

    let started = Instant::now();
    let result = within(
        "request",
        publisher.request_with_timeout(&Ping { seq: 1 }, Duration::from_millis(300)),
    )
    .await;

    assert!(
        matches!(result, Err(RequestError::Timeout { timeout, .. }) if timeout == Duration::from_millis(300)),
        "{result:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn handler_error_response_keeps_its_code() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let _responder = listening_responder(&client, "svc.requests").await;
    let publisher = publisher(&client, "svc.requests");

    let (status, code, message) = remote_error(&publisher, &job("j-1", Outcome::Busy)).await;

    assert_eq!(status, 409);
    assert_eq!(code, codes::RESOURCE_IN_USE);
    assert_eq!(message, "job j-1 is running");
}

#[tokio::test]
async fn plain_handler_error_is_internal_error() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let _responder = listening_responder(&client, "svc.requests").await;
    let publisher = publisher(&client, "svc.requests");

    let (status, code, message) = remote_error(&publisher, &job("j-1", Outcome::DiskFull)).await;

    assert_eq!(status, 500);
    assert_eq!(code, codes::INTERNAL_ERROR);
    assert_eq!(message, "disk full");
}

#[tokio::test]
async fn handler_panic_and_timeout_get_responses() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let _responder = listening_responder(&client, "svc.requests").await;
    let publisher = publisher(&client, "svc.requests");

    let (status, code, message) = remote_error(&publisher, &job("j-2", Outcome::Panic)).await;
    assert_eq!((status, code.as_str()), (500, codes::INTERNAL_ERROR));
    assert!(message.contains("job j-2 panicked"), "{message}");

    let started = Instant::now();
    let (status, code, message) = remote_error(&publisher, &job("j-3", Outcome::Hang)).await;
    assert_eq!((status, code.as_str()), (500, codes::TIME_OUT));
    assert!(message.contains("timed out after 200ms"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // The responder still responds after both.
    let done = within("request", publisher.request(&job("j-4", Outcome::Succeed)))
        .await
        .expect("request");
    assert_eq!(done.payload.id, "j-4");
}

#[tokio::test]
async fn unknown_type_is_not_found_at_once() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let _responder = listening_responder(&client, "svc.requests").await;
    let publisher = publisher(&client, "svc.requests");

    let started = Instant::now();
    let result = within("request", publisher.request(&Unrouted { value: 1 })).await;

    let Err(RequestError::Remote {
        status_code,
        code,
        message,
        ..
    }) = result
    else {
        panic!("expected a remote error, got {result:?}");
    };
    assert_eq!(status_code, 404);
    assert_eq!(code, codes::NOT_FOUND);
    assert_eq!(message, "no handler found for message type: Unrouted");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn request_without_type_is_bad_request() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let _responder = listening_responder(&client, "svc.requests").await;
    let mut metadata = ncl::Metadata::new();
    metadata.insert(keys::MESSAGE_ID, "no-type-1");
    metadata.insert(keys::PAYLOAD_ENCODING, ncl::JSON_ENCODING);
    let envelope = EnvelopeSerializer::default()
        .serialize(&ncl::RawMessage::new(metadata, Bytes::from_static(b"{}")))
        .expect("encode the request");

    let reply = within("raw request", client.request("svc.requests", envelope))
        .await
        .expect("raw request");
    let raw = EnvelopeSerializer::default()
        .deserialize_bytes(&reply.payload)
        .expect("response envelope");

    assert_eq!(raw.metadata.message_id(), Some("no-type-1"));
    assert_eq!(raw.metadata.get(error_keys::STATUS_CODE), Some("400"));
    assert_eq!(
        raw.metadata.get(error_keys::ERROR_CODE),
        Some(codes::BAD_REQUEST)
    );
    let body: serde_json::Value = serde_json::from_slice(&raw.payload).expect("JSON body");
    assert!(
        body["Cause"]
            .as_str()
            .is_some_and(|cause| cause.starts_with("request has no Type metadata")),
        "{body}"
    );
}

#[tokio::test]
async fn error_response_wire_format() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let _responder = listening_responder(&client, "svc.requests").await;

    // A request that is not an envelope, sent with the plain client.
    let reply = within(
        "raw request",
        client.request("svc.requests", Bytes::from_static(b"not an envelope")),
    )
    .await
    .expect("raw request");
    let raw = EnvelopeSerializer::default()
        .deserialize_bytes(&reply.payload)
        .expect("response envelope");

    assert_eq!(raw.metadata.message_type(), Some("BacError"));
    assert_eq!(raw.metadata.get(error_keys::STATUS_CODE), Some("400"));
    assert_eq!(
        raw.metadata.get(error_keys::ERROR_CODE),
        Some(codes::BAD_REQUEST)
    );
    let body: serde_json::Value = serde_json::from_slice(&raw.payload).expect("JSON body");
    assert_eq!(body["Code"], "BadRequest");
    assert_eq!(body["HTTPStatusCode"], 400);
    assert!(
        body["Cause"]
            .as_str()
            .is_some_and(|cause| cause.starts_with("failed to decode request envelope")),
        "{body}"
    );
}

/// Replies to every request on `subject` with `respond(request MessageID)`.
async fn raw_responder(
    client: &async_nats::Client,
    subject: &str,
    respond: impl Fn(&str) -> Bytes + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let mut requests = client
        .subscribe(subject.to_owned())
        .await
        .expect("subscribe");
    within("flush", client.flush()).await.expect("flush");
    let client = client.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let id = request
                .headers
                .as_ref()
                .and_then(|headers| headers.get(keys::MESSAGE_ID))
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default();
            if let Some(reply) = request.reply {
                client.publish(reply, respond(&id)).await.expect("reply");
            }
        }
    })
}

fn envelope(id: &str, message_type: &str, payload: &str) -> Bytes {
    let metadata: Metadata = [
        (keys::MESSAGE_ID, id),
        (keys::TYPE, message_type),
        (keys::PAYLOAD_ENCODING, "json"),
    ]
    .into_iter()
    .collect();
    let raw = RawMessage::new(metadata, payload.as_bytes().to_vec());
    EnvelopeSerializer::default()
        .serialize(&raw)
        .expect("encode envelope")
}

/// Builds a reply body from the request's `MessageID`.
type ReplyFn = fn(&str) -> Bytes;

#[tokio::test]
async fn invalid_responses_are_decode_errors() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let cases: [(&str, ReplyFn); 4] = [
        ("bad.envelope", |_| Bytes::from_static(b"garbage")),
        ("bad.type", |id| envelope(id, "Ping", r#"{"seq":1}"#)),
        ("bad.payload", |id| envelope(id, "Pong", r#"{"seq":"one"}"#)),
        ("bad.id", |_| {
            envelope("someone-else", "Pong", r#"{"seq":1}"#)
        }),
    ];
    let mut tasks = Vec::new();
    for (subject, respond) in cases {
        tasks.push(raw_responder(&client, subject, respond).await);
    }

    let mut kinds = Vec::new();
    for (subject, _) in cases {
        let result = within(
            "request",
            publisher(&client, subject).request(&Ping { seq: 1 }),
        )
        .await;
        let Err(RequestError::Decode {
            expected, source, ..
        }) = result
        else {
            panic!("{subject}: expected a decode error, got {result:?}");
        };
        assert_eq!(expected, "Pong", "{subject}");
        kinds.push(match source {
            ResponseDecodeError::Envelope(_) => "envelope",
            ResponseDecodeError::UnexpectedType { found } => {
                assert_eq!(found.as_deref(), Some("Ping"));
                "type"
            }
            ResponseDecodeError::InvalidPayload(_) => "payload",
            ResponseDecodeError::MessageIdMismatch { response, .. } => {
                assert_eq!(response.as_deref(), Some("someone-else"));
                "id"
            }
            other => panic!("{subject}: unexpected decode error {other:?}"),
        });
    }
    assert_eq!(kinds, ["envelope", "type", "payload", "id"]);
    for task in tasks {
        task.abort();
    }
}

#[tokio::test]
async fn thousand_concurrent_requests_are_matched() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let _responder = listening_responder(&client, "svc.requests").await;
    let requester = connect(&server).await;
    let publisher = publisher(&requester, "svc.requests");

    let started = Instant::now();
    let requests = (0..1_000_u64).map(|seq| {
        let publisher = publisher.clone();
        async move {
            let mut metadata = Metadata::new();
            metadata.insert(keys::MESSAGE_ID, format!("request-{seq}"));
            let response = publisher
                .request_with_metadata(metadata, &Ping { seq }, Duration::from_secs(10))
                .await;
            (seq, response)
        }
    });
    let responses = within("1000 requests", join_all(requests)).await;

    for (seq, response) in responses {
        let response = response.unwrap_or_else(|error| panic!("request {seq}: {error}"));
        assert_eq!(response.payload, Pong { seq });
        assert_eq!(response.id(), Some(format!("request-{seq}").as_str()));
    }
    println!(
        "1000 concurrent requests got responses in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn responder_closes_and_listens_again() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let responder = listening_responder(&client, "svc.requests").await;
    let publisher = publisher(&client, "svc.requests");
    assert!(responder.is_listening().await);

    let again = within("second listen", responder.listen()).await;
    assert!(
        matches!(again, Err(ResponderError::AlreadyListening { .. })),
        "{again:?}"
    );

    within("request", publisher.request(&Ping { seq: 1 }))
        .await
        .expect("request while listening");

    within("close", responder.close()).await;
    assert!(!responder.is_listening().await);
    // The unsubscribe went out on this connection before the request, so the server
    // has no responder left when the request arrives.
    let closed = within(
        "request",
        publisher.request_with_timeout(&Ping { seq: 2 }, Duration::from_secs(30)),
    )
    .await;
    assert!(
        matches!(closed, Err(RequestError::NoResponders { .. })),
        "{closed:?}"
    );

    within("listen again", responder.listen())
        .await
        .expect("listen again");
    let response = within("request", publisher.request(&Ping { seq: 3 }))
        .await
        .expect("request after listening again");
    assert_eq!(response.payload, Pong { seq: 3 });
}

#[tokio::test]
async fn impl_block_handles_requests() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let responder = Responder::builder(client.clone())
        .name("counter")
        .subject("counter.requests")
        .handler(Counter::default())
        .registry(registry())
        .build()
        .expect("build responder");
    within("listen", responder.listen()).await.expect("listen");
    let publisher = publisher(&client, "counter.requests");

    let first = within("request", publisher.request(&Ping { seq: 10 }))
        .await
        .expect("request");
    let second = within("request", publisher.request(&Ping { seq: 10 }))
        .await
        .expect("request");

    assert_eq!(first.payload, Pong { seq: 10 });
    assert_eq!(second.payload, Pong { seq: 11 });
    let other = within("request", publisher.request(&job("j-1", Outcome::Succeed))).await;
    assert!(
        matches!(&other, Err(RequestError::Remote { code, .. }) if code == codes::NOT_FOUND),
        "{other:?}"
    );
}

#[tokio::test]
async fn queue_group_spreads_requests() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut responders = Vec::new();
    for name in ["a", "b"] {
        let responder = Responder::builder(connect(&server).await)
            .name(name)
            .subject("svc.requests")
            .queue_group("workers")
            .handler(router())
            .registry(registry())
            .build()
            .expect("build responder");
        within("listen", responder.listen()).await.expect("listen");
        responders.push(responder);
    }
    let publisher = publisher(&client, "svc.requests");

    let mut sources = Vec::new();
    for seq in 0..40 {
        let response = within("request", publisher.request(&Ping { seq }))
            .await
            .expect("request");
        assert_eq!(response.payload, Pong { seq });
        sources.push(response.source().unwrap_or_default().to_owned());
    }

    // NOTE: the server picks a queue member at random, so each of two members responding to
    // none of 40 requests has a probability of 2^-40.
    assert!(sources.iter().any(|source| source == "a"), "{sources:?}");
    assert!(sources.iter().any(|source| source == "b"), "{sources:?}");
}

#[test]
fn handler_functions_are_routed() {
    let router = router();
    assert_eq!(router.len(), 2);
    assert!(ncl::RequestHandler::handles(&router, "Ping"));
    assert!(ncl::RequestHandler::handles(&router, "Job"));
    assert!(!ncl::RequestHandler::handles(&router, "Unrouted"));
}
