//! Measures NCL against raw async-nats on one nats-server, in the same run.
//!
//! ```sh
//! cargo run --release -p examples --example throughput -- --size 128 --count 200000
//! cargo run --release -p examples --example throughput -- --size 128 --rate 20000
//! cargo run --release -p examples --example throughput -- --size 128 --requests 5000
//! ```
//!
//! Throughput mode publishes `--count` messages as fast as the client accepts them and
//! times until the subscriber has received the last one, for raw async-nats and for NCL
//! with envelope versions 1 and 2. The paths alternate over `--rounds` rounds and the
//! median of each is reported. Latency mode (`--rate`) publishes at a fixed rate and
//! reports publish-to-handler latency percentiles. Request mode (`--requests`) times
//! sequential request/reply round trips (raw `Client::request` against NCL's
//! `Publisher::request` and `Responder`) and the throughput of acknowledged publishing
//! (NCL's `AckedPublisher` against raw requests that get `{}` as response, and raw publish of
//! the same messages). A lost message is
//! an error, not a figure. The last line of stdout is one JSON object with the results.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use examples::nats_server::{self, PrivateServer};
use futures_util::StreamExt;
use ncl::acked::AckedPublisher;
use ncl::{
    AnyMessage, EnvelopeSerializer, EnvelopeVersion, ErrorResponse, Message, NclPayload, Publisher,
    Request, RequestRouter, Responder, Subscriber,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// How long a run may wait for its last message before counting the rest as lost.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

const HELP: &str = "\
Measures NCL publish->subscribe against raw async-nats on one nats-server.

Usage: throughput [OPTIONS]

Options:
  --size BYTES     payload size in bytes (JSON of the payload for NCL) [default: 128]
  --count N        messages per run [default: 200000]
  --rounds N       rounds; each round runs every path once, in rotating order [default: 5]
  --rate R         latency mode: publish R messages per second and report latency
                   percentiles instead of throughput (count defaults to 5 s worth)
  --requests N     request mode: time N sequential request/reply round trips, then
                   acknowledged publishing of --count messages beside raw
                   requests and raw publish
  -h, --help       print this help

Uses the server at NATS_URL when it is set; otherwise starts a private nats-server on
a free loopback port and stops it at exit.";

/// Benchmark payload: filler text sized to the wanted JSON length, and a timestamp.
#[derive(Clone, Debug, Serialize, Deserialize, NclPayload)]
#[ncl(name = "ThroughputBlob")]
struct Blob {
    /// Nanoseconds since the run started, at publish time.
    sent_ns: u64,
    /// Filler text.
    data: String,
}

impl Blob {
    fn with_json_size(size: usize, sent_ns: u64) -> Self {
        let mut blob = Self {
            sent_ns,
            data: String::new(),
        };
        let empty = serde_json::to_vec(&blob).map(|v| v.len()).unwrap_or(0);
        blob.data = "x".repeat(size.saturating_sub(empty));
        blob
    }
}

impl Request for Blob {
    type Response = Blob;
}

/// Returns the request's payload as the response, as the raw responder echoes the bytes.
#[ncl::handler]
async fn echo(request: &Message<Blob>) -> Result<Blob, ErrorResponse> {
    Ok(request.payload.clone())
}

#[derive(Clone, Copy, Debug)]
struct Options {
    size: usize,
    count: u64,
    rounds: usize,
    rate: Option<u64>,
    requests: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Raw,
    Ncl(EnvelopeVersion),
}

impl Path {
    const ALL: [Path; 3] = [
        Path::Raw,
        Path::Ncl(EnvelopeVersion::JsonV1),
        Path::Ncl(EnvelopeVersion::ProtobufV1),
    ];

    fn label(self) -> &'static str {
        match self {
            Path::Raw => "raw async-nats",
            Path::Ncl(EnvelopeVersion::JsonV1) => "ncl json-v1",
            Path::Ncl(_) => "ncl protobuf-v1",
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args() -> Result<Option<Options>, String> {
    let mut options = Options {
        size: 128,
        count: 200_000,
        rounds: 5,
        rate: None,
        requests: None,
    };
    let mut count_given = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--size" => options.size = parse(&value("--size")?, "--size")?,
            "--count" => {
                options.count = parse(&value("--count")?, "--count")?;
                count_given = true;
            }
            "--rounds" => options.rounds = parse(&value("--rounds")?, "--rounds")?,
            "--rate" => options.rate = Some(parse(&value("--rate")?, "--rate")?),
            "--requests" => options.requests = Some(parse(&value("--requests")?, "--requests")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if options.count == 0
        || options.rounds == 0
        || options.rate == Some(0)
        || options.requests == Some(0)
    {
        return Err("--count, --rounds, --rate and --requests must be at least 1".to_owned());
    }
    if let (Some(rate), false) = (options.rate, count_given) {
        options.count = rate * 5;
    }
    Ok(Some(options))
}

fn parse<T: std::str::FromStr>(text: &str, name: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{name} expects a non-negative integer, got {text:?}"))
}

async fn run(options: Options) -> Result<(), String> {
    let (url, _server) = server().await?;
    println!(
        "server {url}, payload {} B, {} messages per run, {} rounds",
        options.size, options.count, options.rounds
    );
    match (options.requests, options.rate) {
        (Some(requests), _) => request_reply(&url, options, requests).await,
        (None, None) => throughput(&url, options).await,
        (None, Some(rate)) => latency(&url, options, rate).await,
    }
}

/// Times request/reply round trips and acknowledged publishing, each beside raw
/// async-nats on the same server.
async fn request_reply(url: &str, options: Options, requests: u64) -> Result<(), String> {
    let client = connect(url, options.count).await?;
    let blob = Blob::with_json_size(options.size, 0);
    let body = Bytes::from(serde_json::to_vec(&blob).map_err(|error| error.to_string())?);

    // Raw: a subscription that echoes each request's bytes.
    let raw_subject = format!("bench.raw-request.{}", std::process::id());
    let mut raw_requests = client
        .subscribe(raw_subject.clone())
        .await
        .map_err(|error| error.to_string())?;
    let echo_client = client.clone();
    let raw_echo = tokio::spawn(async move {
        while let Some(request) = raw_requests.next().await {
            if let Some(reply) = request.reply {
                let _ = echo_client.publish(reply, request.payload).await;
            }
        }
    });
    sync_with_server(&client).await?;

    // NCL: a responder routing the request type to `echo`.
    let ncl_subject = format!("bench.ncl-request.{}", std::process::id());
    let responder = Responder::builder(client.clone())
        .name("throughput-responder")
        .subject(ncl_subject.clone())
        .handler(RequestRouter::empty(()).route::<echo>())
        .build()
        .map_err(|error| error.to_string())?;
    responder
        .listen()
        .await
        .map_err(|error| error.to_string())?;
    let requester = Publisher::builder(client.clone())
        .name("throughput-requester")
        .destination(ncl_subject)
        .build()
        .map_err(|error| error.to_string())?;

    let mut raw_ns = Vec::new();
    let mut ncl_ns = Vec::new();
    // Alternate one raw and one NCL request, so both see the same machine load.
    for _ in 0..requests {
        let start = Instant::now();
        client
            .request(raw_subject.clone(), body.clone())
            .await
            .map_err(|error| format!("raw request failed: {error}"))?;
        raw_ns.push(elapsed_ns(start));

        let start = Instant::now();
        requester
            .request(&blob)
            .await
            .map_err(|error| format!("NCL request failed: {error}"))?;
        ncl_ns.push(elapsed_ns(start));
    }
    raw_echo.abort();
    responder.close().await;
    raw_ns.sort_unstable();
    ncl_ns.sort_unstable();
    let (raw_p50, raw_p99) = (percentile(&raw_ns, 0.5), percentile(&raw_ns, 0.99));
    let (ncl_p50, ncl_p99) = (percentile(&ncl_ns, 0.5), percentile(&ncl_ns, 0.99));
    println!(
        "request/reply raw   p50 {:>8.1} us  p99 {:>8.1} us",
        raw_p50 as f64 / 1e3,
        raw_p99 as f64 / 1e3
    );
    println!(
        "request/reply ncl   p50 {:>8.1} us  p99 {:>8.1} us  (p50 ratio {:.2})",
        ncl_p50 as f64 / 1e3,
        ncl_p99 as f64 / 1e3,
        ncl_p50 as f64 / raw_p50.max(1) as f64
    );

    let raw_rate = run_once(url, options, Path::Raw, None).await?.rate;
    let raw_request_rate = raw_request_throughput(url, options).await?;
    let acked_rate = acked_throughput(url, options).await?;
    println!("publish raw         {raw_rate:>12.0} msgs/s");
    println!("request raw         {raw_request_rate:>12.0} msgs/s  ({ACK_WINDOW} in flight)");
    println!(
        "acked publish ncl   {acked_rate:>12.0} msgs/s  (ratio {:.3} to raw publish, \
         {:.3} to raw request)",
        acked_rate / raw_rate,
        acked_rate / raw_request_rate
    );
    println!(
        "{{\"size\":{},\"requests\":{requests},\"raw_request_p50_us\":{:.1},\
         \"raw_request_p99_us\":{:.1},\"ncl_request_p50_us\":{:.1},\"ncl_request_p99_us\":{:.1},\
         \"request_p50_ratio\":{:.3},\"count\":{},\"raw_msgs_per_s\":{raw_rate:.0},\
         \"raw_requests_per_s\":{raw_request_rate:.0},\"acked_msgs_per_s\":{acked_rate:.0},\
         \"acked_ratio\":{:.4},\"acked_to_request_ratio\":{:.4}}}",
        options.size,
        raw_p50 as f64 / 1e3,
        raw_p99 as f64 / 1e3,
        ncl_p50 as f64 / 1e3,
        ncl_p99 as f64 / 1e3,
        ncl_p50 as f64 / raw_p50.max(1) as f64,
        options.count,
        acked_rate / raw_rate,
        acked_rate / raw_request_rate,
    );
    Ok(())
}

/// Messages awaiting acknowledgement (or requests awaiting a response) at once in the
/// throughput runs of request mode, below the acknowledged publisher's default limit of
/// 1,000 pending messages.
const ACK_WINDOW: usize = 900;

/// Sends `--count` raw async-nats requests, [`ACK_WINDOW`] at a time and awaited in
/// order, to a raw subscriber that replies `{}` to each, as a core subscriber
/// acknowledges a message. Returns requests per second: the raw counterpart of
/// [`acked_throughput`].
async fn raw_request_throughput(url: &str, options: Options) -> Result<f64, String> {
    let subject = format!("bench.rawack.{}", std::process::id());
    let responder_client = connect(url, options.count).await?;
    let requester_client = connect(url, options.count).await?;
    let mut requests = responder_client
        .subscribe(subject.clone())
        .await
        .map_err(|error| error.to_string())?;
    sync_with_server(&responder_client).await?;
    let responder = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let _ = responder_client
                    .publish(reply, Bytes::from_static(b"{}"))
                    .await;
            }
        }
    });

    let payload = Bytes::from(
        serde_json::to_vec(&Blob::with_json_size(options.size, 0))
            .map_err(|error| error.to_string())?,
    );
    let start = Instant::now();
    let mut responses = futures_util::stream::iter(0..options.count)
        .map(|_| requester_client.request(subject.clone(), payload.clone()))
        .buffered(ACK_WINDOW);
    let mut responses_received = 0;
    while let Some(response) = responses.next().await {
        response.map_err(|error| format!("raw request failed: {error}"))?;
        responses_received += 1;
    }
    let elapsed = start.elapsed();
    responder.abort();
    if responses_received != options.count {
        return Err(format!(
            "raw request: {responses_received} of {} requests got a response",
            options.count
        ));
    }
    Ok(options.count as f64 / elapsed.as_secs_f64())
}

/// Publishes `--count` messages with acknowledgements to a core subscriber, keeping
/// the publisher's pending window full, and returns messages per second.
async fn acked_throughput(url: &str, options: Options) -> Result<f64, String> {
    let subject = format!("bench.acked.{}", std::process::id());
    let subscriber_client = connect(url, options.count).await?;
    let publisher_client = connect(url, options.count).await?;
    let start = Instant::now();
    let receiver = Receiver::new(options.count, start, false);
    let handler_receiver = Arc::clone(&receiver);
    let subscriber = Subscriber::builder(subscriber_client)
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            if let Some(blob) = message.payload::<Blob>() {
                handler_receiver.record(blob.sent_ns);
            }
            std::future::ready(Ok(()))
        }))
        .build()
        .map_err(|error| error.to_string())?;
    subscriber
        .subscribe([subject.clone()])
        .await
        .map_err(|error| error.to_string())?;
    let publisher = AckedPublisher::builder(publisher_client)
        .name("throughput-acked")
        .destination(subject)
        .build()
        .await
        .map_err(|error| error.to_string())?;

    let blob = Blob::with_json_size(options.size, 0);
    let mut in_flight = std::collections::VecDeque::new();
    let publish_start = Instant::now();
    for _ in 0..options.count {
        // Keep below the publisher's pending limit (1,000 by default) by waiting for the
        // oldest acknowledgement first.
        if in_flight.len() >= ACK_WINDOW
            && let Some(pending) = in_flight.pop_front()
        {
            let pending: ncl::acked::AckFuture = pending;
            pending
                .await
                .map_err(|error| format!("acked publish failed: {error}"))?;
        }
        let pending = publisher
            .publish_async(&blob)
            .map_err(|error| format!("acked publish failed: {error}"))?;
        in_flight.push_back(pending);
    }
    for pending in in_flight {
        pending
            .await
            .map_err(|error| format!("acked publish failed: {error}"))?;
    }
    let elapsed = publish_start.elapsed();
    publisher.close().await;
    subscriber.close().await;
    let received = receiver.received.load(Ordering::Acquire);
    if received != options.count {
        return Err(format!(
            "acked publish: handled {received} of {} acknowledged messages",
            options.count
        ));
    }
    Ok(options.count as f64 / elapsed.as_secs_f64())
}

/// Waits until the server has processed this client's subscriptions: `Client::flush`
/// only waits for the bytes to leave the socket, so without this the first messages
/// from the other connection could arrive before the subscription and be lost.
async fn sync_with_server(client: &async_nats::Client) -> Result<(), String> {
    let inbox = client.new_inbox();
    let mut probe = client
        .subscribe(inbox.clone())
        .await
        .map_err(|error| error.to_string())?;
    client
        .publish(inbox, Bytes::new())
        .await
        .map_err(|error| error.to_string())?;
    tokio::time::timeout(Duration::from_secs(5), probe.next())
        .await
        .map_err(|_| "the server did not confirm the subscription within 5 s".to_owned())?;
    Ok(())
}

fn elapsed_ns(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Returns the server URL, and the private server when one had to be started.
async fn server() -> Result<(String, Option<PrivateServer>), String> {
    if let Ok(url) = std::env::var("NATS_URL")
        && !url.trim().is_empty()
    {
        return Ok((url, None));
    }
    let binary = nats_server::find_binary()
        .ok_or_else(|| format!("nats-server not found; {}", nats_server::INSTALL_HINT))?;
    let server = PrivateServer::start(&binary)
        .await
        .map_err(|error| error.to_string())?;
    Ok((server.url(), Some(server)))
}

async fn connect(url: &str, count: u64) -> Result<async_nats::Client, String> {
    // Room for a whole run in the client's subscription buffer, so the client never
    // drops messages as a slow consumer while the handler catches up.
    let capacity = usize::try_from(count).unwrap_or(usize::MAX).max(1024);
    async_nats::ConnectOptions::new()
        .subscription_capacity(capacity)
        .connect(url)
        .await
        .map_err(|error| format!("failed to connect to {url}: {error}"))
}

async fn throughput(url: &str, options: Options) -> Result<(), String> {
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); Path::ALL.len()];
    for round in 0..options.rounds {
        for offset in 0..Path::ALL.len() {
            let index = (round + offset) % Path::ALL.len();
            let path = Path::ALL[index];
            let rate = run_once(url, options, path, None).await?.rate;
            rates[index].push(rate);
            println!(
                "round {} {:<16} {:>12.0} msgs/s",
                round + 1,
                path.label(),
                rate
            );
        }
    }
    let medians: Vec<f64> = rates.iter_mut().map(|r| median(r)).collect();
    println!();
    println!("{:<16} {:>14} {:>8}", "path", "median msgs/s", "ratio");
    for (path, rate) in Path::ALL.iter().zip(&medians) {
        println!(
            "{:<16} {:>14.0} {:>8.3}",
            path.label(),
            rate,
            rate / medians[0]
        );
    }
    println!(
        "{{\"size\":{},\"count\":{},\"raw_msgs_per_s\":{:.0},\"ncl_msgs_per_s\":{:.0},\
         \"ratio\":{:.4},\"ncl_v2_msgs_per_s\":{:.0},\"ratio_v2\":{:.4}}}",
        options.size,
        options.count,
        medians[0],
        medians[1],
        medians[1] / medians[0],
        medians[2],
        medians[2] / medians[0],
    );
    Ok(())
}

async fn latency(url: &str, options: Options, rate: u64) -> Result<(), String> {
    let mut results = Vec::new();
    for path in [Path::Raw, Path::Ncl(EnvelopeVersion::JsonV1)] {
        let run = run_once(url, options, path, Some(rate)).await?;
        let mut latencies = run.latencies_ns;
        latencies.sort_unstable();
        let p50 = percentile(&latencies, 0.50);
        let p99 = percentile(&latencies, 0.99);
        let max = latencies.last().copied().unwrap_or(0);
        println!(
            "{:<16} p50 {:>8.1} us  p99 {:>8.1} us  max {:>8.1} us",
            path.label(),
            p50 as f64 / 1e3,
            p99 as f64 / 1e3,
            max as f64 / 1e3
        );
        results.push((p50, p99, max));
    }
    let (raw, ncl) = (results[0], results[1]);
    println!(
        "{{\"size\":{},\"count\":{},\"rate\":{rate},\"raw_p50_us\":{:.1},\"raw_p99_us\":{:.1},\
         \"raw_max_us\":{:.1},\"ncl_p50_us\":{:.1},\"ncl_p99_us\":{:.1},\"ncl_max_us\":{:.1}}}",
        options.size,
        options.count,
        raw.0 as f64 / 1e3,
        raw.1 as f64 / 1e3,
        raw.2 as f64 / 1e3,
        ncl.0 as f64 / 1e3,
        ncl.1 as f64 / 1e3,
        ncl.2 as f64 / 1e3,
    );
    Ok(())
}

struct RunResult {
    rate: f64,
    latencies_ns: Vec<u64>,
}

/// Counters and latencies the receiving side of one run shares with the sending side.
struct Receiver {
    received: AtomicU64,
    expected: u64,
    done: Notify,
    start: Instant,
    record_latency: bool,
    latencies_ns: Mutex<Vec<u64>>,
}

impl Receiver {
    fn new(expected: u64, start: Instant, record_latency: bool) -> Arc<Self> {
        Arc::new(Self {
            received: AtomicU64::new(0),
            expected,
            done: Notify::new(),
            start,
            record_latency,
            latencies_ns: Mutex::new(Vec::new()),
        })
    }

    fn record(&self, sent_ns: u64) {
        if self.record_latency {
            let now = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            if let Ok(mut latencies) = self.latencies_ns.lock() {
                latencies.push(now.saturating_sub(sent_ns));
            }
        }
        if self.received.fetch_add(1, Ordering::AcqRel) + 1 == self.expected {
            self.done.notify_one();
        }
    }
}

async fn run_once(
    url: &str,
    options: Options,
    path: Path,
    rate: Option<u64>,
) -> Result<RunResult, String> {
    let subject = format!("bench.{}", std::process::id());
    let publisher_client = connect(url, options.count).await?;
    let subscriber_client = connect(url, options.count).await?;
    let start = Instant::now();
    let receiver = Receiver::new(options.count, start, rate.is_some());

    // Subscribe first, and wait until the server has registered the subscription.
    let ncl_subscriber;
    let raw_task;
    match path {
        Path::Raw => {
            let mut subscription = subscriber_client
                .subscribe(subject.clone())
                .await
                .map_err(|error| error.to_string())?;
            let receiver = Arc::clone(&receiver);
            raw_task = Some(tokio::spawn(async move {
                while let Some(message) = subscription.next().await {
                    let sent_ns = message
                        .payload
                        .get(..8)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_be_bytes)
                        .unwrap_or(0);
                    receiver.record(sent_ns);
                }
            }));
            ncl_subscriber = None;
        }
        Path::Ncl(_) => {
            let receiver = Arc::clone(&receiver);
            let subscriber = Subscriber::builder(subscriber_client.clone())
                .max_pending(usize::try_from(options.count).unwrap_or(usize::MAX))
                .handler(ncl::handler_fn(move |message: &AnyMessage| {
                    if let Some(blob) = message.payload::<Blob>() {
                        receiver.record(blob.sent_ns);
                    }
                    std::future::ready(Ok(()))
                }))
                .build()
                .map_err(|error| error.to_string())?;
            subscriber
                .subscribe([subject.clone()])
                .await
                .map_err(|error| error.to_string())?;
            ncl_subscriber = Some(subscriber);
            raw_task = None;
        }
    }
    sync_with_server(&subscriber_client).await?;

    let publish_start = Instant::now();
    match path {
        Path::Raw => publish_raw(&publisher_client, &subject, options, rate, start).await?,
        Path::Ncl(version) => {
            let publisher = Publisher::builder(publisher_client.clone())
                .name("throughput")
                .destination(subject.clone())
                .serializer(EnvelopeSerializer::new(version))
                .build()
                .map_err(|error| error.to_string())?;
            publish_ncl(&publisher, options, rate, start).await?;
        }
    }
    publisher_client
        .flush()
        .await
        .map_err(|error| error.to_string())?;

    let finished = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while receiver.received.load(Ordering::Acquire) < options.count {
            receiver.done.notified().await;
        }
    })
    .await;
    let elapsed = publish_start.elapsed();
    let received = receiver.received.load(Ordering::Acquire);
    if let Some(subscriber) = &ncl_subscriber {
        subscriber.close().await;
        let stats = subscriber.stats();
        if stats.failed() > 0 || stats.dropped > 0 {
            return Err(format!("{}: subscriber reported {stats:?}", path.label()));
        }
    }
    if let Some(task) = raw_task {
        task.abort();
    }
    if finished.is_err() || received != options.count {
        return Err(format!(
            "{}: lost messages: received {received} of {} within {DRAIN_TIMEOUT:?}",
            path.label(),
            options.count
        ));
    }
    let latencies_ns = std::mem::take(
        &mut *receiver
            .latencies_ns
            .lock()
            .map_err(|_| "latency recorder poisoned".to_owned())?,
    );
    Ok(RunResult {
        rate: options.count as f64 / elapsed.as_secs_f64(),
        latencies_ns,
    })
}

async fn publish_raw(
    client: &async_nats::Client,
    subject: &str,
    options: Options,
    rate: Option<u64>,
    start: Instant,
) -> Result<(), String> {
    let subject = async_nats::Subject::from(subject);
    let filler = Blob::with_json_size(options.size, 0);
    let body = serde_json::to_vec(&filler).map_err(|error| error.to_string())?;
    let mut ticker = rate.map(interval_for);
    for _ in 0..options.count {
        if let Some(ticker) = ticker.as_mut() {
            ticker.tick().await;
        }
        // The raw payload has the NCL payload's length; its first 8 bytes carry the
        // send time for latency mode.
        let mut payload = body.clone();
        let sent_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if let Some(head) = payload.get_mut(..8) {
            head.copy_from_slice(&sent_ns.to_be_bytes());
        }
        client
            .publish(subject.clone(), Bytes::from(payload))
            .await
            .map_err(|error| error.to_string())?;
    }
    Ok(())
}

async fn publish_ncl(
    publisher: &Publisher,
    options: Options,
    rate: Option<u64>,
    start: Instant,
) -> Result<(), String> {
    let mut blob = Blob::with_json_size(options.size, 0);
    let mut ticker = rate.map(interval_for);
    for _ in 0..options.count {
        if let Some(ticker) = ticker.as_mut() {
            ticker.tick().await;
        }
        blob.sent_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        publisher
            .publish(&blob)
            .await
            .map_err(|error| error.to_string())?;
    }
    Ok(())
}

fn interval_for(rate: u64) -> tokio::time::Interval {
    let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    interval
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn percentile(sorted: &[u64], quantile: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
