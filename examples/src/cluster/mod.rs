//! An orchestrator and compute nodes in one process, each with its own NATS connection.
//!
//! The orchestrator assigns jobs in batches. For each job it first requests a bid from
//! every healthy node (request/reply: a [`BidRequest`](messages::BidRequest) and its
//! [`Bid`](messages::Bid) response), and picks the node with the fewest jobs among those that
//! have room for it. It then sends the assignment with an
//! [`AckedPublisher`](ncl::AckedPublisher): the node's subscriber acknowledges it once
//! the node took the job, or replies with a negative acknowledgement (a node that runs as
//! many jobs as its capacity rejects a new one), which the publisher retries after the
//! delay it carries. A job whose assignment is not acknowledged goes back to the queue.
//!
//! Each node reports every job as accepted, running, then completed or failed, and sends
//! a heartbeat each heartbeat interval. A node silent for longer than the heartbeat
//! timeout is marked unhealthy: it gets no more bid requests, and its unfinished jobs are
//! reassigned. [`run`] ends when every job reached a final state, and returns a
//! [`Report`].
//!
//! A run survives a restart of the NATS server. Every connection reconnects without
//! limit. A bid request that fails or times out counts as no bid, and an assignment whose
//! acknowledgement does not arrive goes back to the queue. Core NATS drops the status
//! reports published while a connection is down, so the orchestrator sends an
//! assignment again, with the same attempt number, when it had no status report on the
//! job for the status timeout. A node runs each job attempt at most once. It drops a
//! message whose id it has seen, reports the latest status again when it receives an
//! attempt it already has, and cancels an older attempt of a job before it starts a
//! newer one.
//!
//! Subjects start with `cluster.<run_id>`, so that runs sharing a server stay apart:
//!
//! | Subject | Payload | From → to |
//! | --- | --- | --- |
//! | `cluster.<run_id>.node.<node_id>.BidRequest` | [`BidRequest`](messages::BidRequest), response [`Bid`](messages::Bid) | orchestrator → node, request/reply |
//! | `cluster.<run_id>.node.<node_id>.JobAssigned` | [`JobAssigned`](messages::JobAssigned) | orchestrator → node, acknowledged |
//! | `cluster.<run_id>.orchestrator.JobStatus` | [`JobStatus`](messages::JobStatus) | node → orchestrator |
//! | `cluster.<run_id>.orchestrator.Heartbeat` | [`Heartbeat`](messages::Heartbeat) | node → orchestrator |

pub mod cli;
mod config;
mod dedupe;
mod jobs;
pub mod messages;
mod node;
mod orchestrator;
mod prng;
mod report;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ncl::{AckedPublisherStats, PublisherStats, SubscriberStats};

pub use self::config::Config;
use self::node::RunningNode;
use self::orchestrator::{RunOutcome, RunningOrchestrator};
pub use self::report::{NodeSummary, Report};

/// Time allowed, once the run ended and every publisher was flushed, for subscribers
/// to take the messages still in flight before the counts are read.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Time without a newly received message after which the delivery wait ends early, once
/// a connection was lost during the run. Messages published while a subscriber was
/// disconnected never arrive, so the sent count is out of reach.
const DELIVERY_QUIET_PERIOD: Duration = Duration::from_millis(300);

/// Time allowed for the whole shutdown after a run: stopping the nodes' jobs (up to 2 s),
/// flushing the publishers, awaiting the last acknowledgements and delivery
/// ([`DELIVERY_TIMEOUT`]). Flushes never finish while the server is down, so without this
/// bound a run could outlast its timeout by many flush timeouts.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(6);

/// Added to the delay before each further reconnect attempt after a lost connection.
const RECONNECT_DELAY_STEP: Duration = Duration::from_millis(50);

/// Maximum delay between two reconnect attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// Error that stops a cluster run before it can produce a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The configuration cannot make a run.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A participant failed to connect to the server.
    #[error("failed to connect {name} to {url}: {source}")]
    Connect {
        /// The orchestrator or node that connects.
        name: String,
        /// The server URL.
        url: String,
        /// The client's error.
        #[source]
        source: async_nats::ConnectError,
    },
    /// A publisher or subscriber could not be built.
    #[error("failed to set up {name}: {source}")]
    Build {
        /// The orchestrator or node.
        name: String,
        /// ncl's error.
        #[source]
        source: ncl::BuildError,
    },
    /// A node's responder could not be built or failed to listen.
    #[error("failed to start the responder of {name}: {source}")]
    Responder {
        /// The node.
        name: String,
        /// ncl's error.
        #[source]
        source: ncl::ResponderError,
    },
    /// The orchestrator's acknowledged publisher could not be built.
    #[error("failed to set up the acknowledged publisher of {name}: {source}")]
    AckedPublisher {
        /// The orchestrator.
        name: String,
        /// ncl's error.
        #[source]
        source: ncl::acked::BuildError,
    },
    /// A subscription failed.
    #[error("failed to subscribe {name}: {source}")]
    Subscribe {
        /// The orchestrator or node.
        name: String,
        /// ncl's error.
        #[source]
        source: ncl::SubscribeError,
    },
    /// A connection failed to flush its subscriptions to the server.
    #[error("failed to flush the connection of {name}: {source}")]
    Flush {
        /// The orchestrator or node.
        name: String,
        /// The client's error.
        #[source]
        source: async_nats::client::FlushError,
    },
}

/// Subject prefixes of one run.
#[derive(Clone, Debug)]
pub struct Subjects {
    root: String,
}

impl Subjects {
    /// Returns the prefixes of the run `run_id`, whose subjects start with
    /// `cluster.<run_id>`.
    pub fn new(run_id: &str) -> Self {
        Self {
            root: format!("cluster.{run_id}"),
        }
    }

    /// Returns the prefix of the subjects that node `node_id` receives on.
    pub fn node(&self, node_id: &str) -> String {
        format!("{}.node.{node_id}", self.root)
    }

    /// Returns the prefix of the subjects that the orchestrator receives on.
    pub fn orchestrator(&self) -> String {
        format!("{}.orchestrator", self.root)
    }
}

/// Runs the orchestrator and `config.nodes` compute nodes against the server at `url`
/// until every job reached a final state or the run timed out.
///
/// Each participant opens its own connection. The live view goes to stdout when
/// `config.live_view` is set.
///
/// # Errors
///
/// Returns a [`ClusterError`] when the configuration is invalid or a participant cannot
/// connect, subscribe or flush. Jobs that fail or time out do not make an error: the
/// [`Report`] describes them.
///
/// # Cancel safety
///
/// Dropping the future closes every connection and aborts the nodes' tasks.
pub async fn run(config: &Config, url: &str) -> Result<Report, ClusterError> {
    config.validate().map_err(ClusterError::InvalidConfig)?;
    let subjects = Subjects::new(&config.run_id);
    tracing::debug!(url, root = %subjects.root, "starting cluster");

    // The orchestrator subscribes first, so that it hears every node's first heartbeat.
    let client = connect(url, "orchestrator").await?;
    let mut orchestrator = RunningOrchestrator::start(client, config, &subjects).await?;
    let mut nodes = Vec::with_capacity(config.nodes);
    for node_id in config.node_ids() {
        let client = connect(url, &node_id).await?;
        let node = RunningNode::start(client, config.node_config(&node_id), &subjects).await?;
        nodes.push(node);
    }

    let outcome = orchestrator.run().await;
    let shutdown = tokio::time::timeout(SHUTDOWN_TIMEOUT, shut_down(&mut orchestrator, &nodes));
    if shutdown.await.is_err() {
        tracing::warn!(
            "shutdown did not finish within {SHUTDOWN_TIMEOUT:?}, as when the server is \
             down; the report counts what was sent and received until then"
        );
    }
    Ok(build_report(config, &orchestrator, &nodes, outcome))
}

/// Connects participant `name` to `url`, with reconnection after a lost connection
/// without limit, quickly (see [`reconnect_delay`]), and logged.
///
/// The first connection is not retried, so that a wrong URL fails the run at once. The
/// caller has just seen a server respond at `url`.
async fn connect(url: &str, name: &str) -> Result<async_nats::Client, ClusterError> {
    let participant = name.to_owned();
    async_nats::ConnectOptions::new()
        .name(format!("ncl-cluster-{name}"))
        .max_reconnects(None)
        .reconnect_delay_callback(reconnect_delay)
        .event_callback(move |event| {
            let participant = participant.clone();
            async move { log_connection_event(&participant, &event) }
        })
        .connect(url)
        .await
        .map_err(|source| ClusterError::Connect {
            name: name.to_owned(),
            url: url.to_owned(),
            source,
        })
}

/// Returns the delay before reconnect attempt `attempts`, counted from 1 after each lost
/// connection: none for the first attempt, then 50 ms more for each further one, up to
/// 500 ms. The client's default (async-nats 0.52) doubles the delay up to 4 s, which can
/// leave a run idle for seconds after the server is back.
fn reconnect_delay(attempts: usize) -> Duration {
    let steps = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
    RECONNECT_DELAY_STEP
        .saturating_mul(steps)
        .min(MAX_RECONNECT_DELAY)
}

fn log_connection_event(participant: &str, event: &async_nats::Event) {
    match event {
        async_nats::Event::Disconnected => {
            tracing::warn!(participant, "lost the NATS connection; reconnecting");
        }
        async_nats::Event::Connected => {
            tracing::info!(participant, "connected to NATS");
        }
        other => tracing::info!(participant, event = %other, "NATS connection event"),
    }
}

/// Returns the number of times `client` re-established its connection after a loss.
fn reconnects(client: &async_nats::Client) -> u64 {
    let connects = client
        .statistics()
        .connects
        .load(std::sync::atomic::Ordering::Relaxed);
    connects.saturating_sub(1)
}

/// Stops the nodes' publishing and closes every publisher, waits until the subscribers
/// took every message that was sent, then closes the subscribers, so that the sent and
/// received counts can be compared.
async fn shut_down(orchestrator: &mut RunningOrchestrator, nodes: &[RunningNode]) {
    futures_util::future::join_all(nodes.iter().map(RunningNode::stop_publishing)).await;
    orchestrator.close_publishers().await;
    wait_for_delivery(orchestrator, nodes).await;
    orchestrator.close().await;
    for node in nodes {
        node.close().await;
    }
}

/// Waits until the subscribers received as many messages as the publishers sent, for up to
/// [`DELIVERY_TIMEOUT`]. After a lost connection some messages never arrive, so the wait
/// then also ends after [`DELIVERY_QUIET_PERIOD`] without a newly received message.
async fn wait_for_delivery(orchestrator: &RunningOrchestrator, nodes: &[RunningNode]) {
    let reconnected = total_reconnects(orchestrator, nodes) > 0;
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    let mut last_received = 0;
    let mut last_progress = tokio::time::Instant::now();
    loop {
        let counts = MessageCounts::collect(orchestrator, nodes);
        let (sent, received) = (counts.published(), counts.received());
        if received >= sent {
            return;
        }
        let now = tokio::time::Instant::now();
        if received != last_received {
            last_received = received;
            last_progress = now;
        }
        if reconnected && now >= last_progress + DELIVERY_QUIET_PERIOD {
            tracing::info!(
                sent,
                received,
                "stopped waiting for the messages lost while a connection was down"
            );
            return;
        }
        if now >= deadline {
            tracing::warn!(
                sent,
                received,
                "subscribers did not receive every sent message within {DELIVERY_TIMEOUT:?}"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn total_reconnects(orchestrator: &RunningOrchestrator, nodes: &[RunningNode]) -> u64 {
    orchestrator.reconnects() + nodes.iter().map(RunningNode::reconnects).sum::<u64>()
}

/// The counters of every publisher and subscriber of a run. Bid requests and their
/// responses are not messages of a publisher or a subscriber, so they are not counted
/// here.
struct MessageCounts {
    /// The nodes' publishers of status reports and heartbeats.
    publishers: Vec<PublisherStats>,
    /// The orchestrator's publishers of assignments.
    assigners: Vec<AckedPublisherStats>,
    subscribers: Vec<SubscriberStats>,
}

impl MessageCounts {
    fn collect(orchestrator: &RunningOrchestrator, nodes: &[RunningNode]) -> Self {
        let publishers = nodes.iter().map(RunningNode::publisher_stats).collect();
        let subscribers = std::iter::once(orchestrator.subscriber_stats())
            .chain(nodes.iter().map(RunningNode::subscriber_stats))
            .collect();
        Self {
            publishers,
            assigners: orchestrator.assignment_stats(),
            subscribers,
        }
    }

    /// Sends over all publishers, the retries of assignments included.
    fn published(&self) -> u64 {
        self.publishers_sum(|stats| stats.published) + self.assigners_sum(|stats| stats.published)
    }

    fn published_bytes(&self) -> u64 {
        self.publishers_sum(|stats| stats.published_bytes)
            + self.assigners_sum(|stats| stats.published_bytes)
    }

    /// Adds up `count` over the assignment publishers.
    fn assigners_sum(&self, count: impl Fn(&AckedPublisherStats) -> u64) -> u64 {
        self.assigners.iter().map(count).sum()
    }

    fn received(&self) -> u64 {
        self.subscribers_sum(|stats| stats.received)
    }

    /// Adds up `count` over the publishers.
    fn publishers_sum(&self, count: impl Fn(&PublisherStats) -> u64) -> u64 {
        self.publishers.iter().map(count).sum()
    }

    /// Adds up `count` over the subscribers.
    fn subscribers_sum(&self, count: impl Fn(&SubscriberStats) -> u64) -> u64 {
        self.subscribers.iter().map(count).sum()
    }
}

fn build_report(
    config: &Config,
    orchestrator: &RunningOrchestrator,
    nodes: &[RunningNode],
    outcome: RunOutcome,
) -> Report {
    let counts = MessageCounts::collect(orchestrator, nodes);
    let bids = orchestrator.bid_counters();
    let table = orchestrator.table();
    // Nodes that never sent a heartbeat are listed too, with zero counts.
    let mut node_summaries: BTreeMap<String, NodeSummary> = config
        .node_ids()
        .into_iter()
        .map(|node_id| (node_id, NodeSummary::default()))
        .collect();
    for (node_id, node) in table.nodes() {
        node_summaries.insert(
            node_id.clone(),
            NodeSummary {
                healthy: node.healthy,
                heartbeats: node.heartbeats,
                completed: node.completed,
                failed: node.failed,
            },
        );
    }

    let mut report = Report {
        jobs: table.len(),
        completed: table.count(jobs::Phase::Completed),
        failed: table.count(jobs::Phase::Failed),
        planned_failures: table.planned_failures(),
        unfinished: table.unfinished(),
        unexpected_outcomes: table.unexpected_outcomes(),
        reassignments: table.reassignments(),
        redeliveries: table.redeliveries(),
        duplicate_assignments: nodes.iter().map(RunningNode::duplicate_assignments).sum(),
        reconnects: total_reconnects(orchestrator, nodes),
        nodes: node_summaries,
        bids_requested: bids.requested.load(Ordering::Relaxed),
        bids_declined: bids.declined.load(Ordering::Relaxed),
        bid_errors: bids.failed.load(Ordering::Relaxed),
        assignments_acknowledged: counts.assigners_sum(|stats| stats.acknowledged),
        assignment_retries: counts.assigners_sum(|stats| stats.retries),
        assignment_failures: counts.assigners_sum(|stats| stats.failed),
        messages_sent: counts.published(),
        bytes_sent: counts.published_bytes(),
        messages_received: counts.received(),
        publish_errors: counts.publishers_sum(|stats| stats.failed),
        decode_errors: counts.subscribers_sum(|stats| stats.envelope_errors + stats.payload_errors),
        handler_errors: counts.subscribers_sum(|stats| {
            stats.handler_errors + stats.handler_panics + stats.handler_timeouts
        }),
        unhandled_messages: counts.subscribers_sum(|stats| stats.unhandled),
        dropped_messages: counts.subscribers_sum(|stats| stats.dropped),
        timed_out: outcome.timed_out,
        elapsed_ms: u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX),
        success: false,
    };
    report.success = report.problems().is_empty();
    report
}
