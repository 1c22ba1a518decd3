//! An orchestrator and compute nodes in one process, each with its own NATS connection.
//!
//! The orchestrator assigns jobs in batches to the healthy node with the fewest
//! unfinished jobs. Each node reports every job as accepted, running, then completed or
//! failed, and sends a heartbeat each heartbeat interval. A node silent for longer than
//! the heartbeat timeout is marked unhealthy: it gets no more jobs, and its unfinished
//! jobs are reassigned. [`run`] ends when every job reached a final state, and returns
//! a [`Report`].
//!
//! Subjects start with `cluster.<run_id>`, so that runs sharing a server stay apart:
//!
//! | Subject | Payload | From → to |
//! | --- | --- | --- |
//! | `cluster.<run_id>.node.<node_id>.JobAssigned` | [`JobAssigned`](messages::JobAssigned) | orchestrator → node |
//! | `cluster.<run_id>.orchestrator.JobStatus` | [`JobStatus`](messages::JobStatus) | node → orchestrator |
//! | `cluster.<run_id>.orchestrator.Heartbeat` | [`Heartbeat`](messages::Heartbeat) | node → orchestrator |

pub mod cli;
mod config;
mod jobs;
pub mod messages;
mod node;
mod orchestrator;
mod prng;
mod report;

use std::collections::BTreeMap;
use std::time::Duration;

pub use self::config::Config;
use self::node::Node;
use self::orchestrator::{Orchestrator, RunOutcome};
pub use self::report::{NodeSummary, Report};

/// Time allowed, once the run ended and every connection was flushed, for subscribers
/// to take the messages still in flight before the counts are read.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

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
    let mut orchestrator = Orchestrator::start(client, config, &subjects).await?;
    let mut nodes = Vec::with_capacity(config.nodes);
    for node_id in config.node_ids() {
        let client = connect(url, &node_id).await?;
        nodes.push(Node::start(client, config.node_config(&node_id), &subjects).await?);
    }

    let outcome = orchestrator.run().await;
    shut_down(&orchestrator, &nodes).await;
    Ok(build_report(config, &orchestrator, &nodes, outcome))
}

async fn connect(url: &str, name: &str) -> Result<async_nats::Client, ClusterError> {
    async_nats::ConnectOptions::new()
        .name(format!("ncl-cluster-{name}"))
        .connect(url)
        .await
        .map_err(|source| ClusterError::Connect {
            name: name.to_owned(),
            url: url.to_owned(),
            source,
        })
}

/// Stops the nodes' publishing, waits until the subscribers took every message that
/// was sent, then closes the subscribers, so that the sent and received counts can be
/// compared.
async fn shut_down(orchestrator: &Orchestrator, nodes: &[Node]) {
    for node in nodes {
        node.stop_publishing().await;
    }
    for node in nodes {
        if let Err(error) = node.flush().await {
            tracing::warn!(node = node.id(), error = %error, "failed to flush the node's connection");
        }
    }
    if let Err(error) = orchestrator.flush().await {
        tracing::warn!(error = %error, "failed to flush the orchestrator's connection");
    }

    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let (sent, received) = message_counts(orchestrator, nodes);
        if received >= sent {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                sent,
                received,
                "subscribers did not receive every sent message within {DELIVERY_TIMEOUT:?}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    orchestrator.close().await;
    for node in nodes {
        node.close().await;
    }
}

/// Returns the messages sent and received over all participants.
fn message_counts(orchestrator: &Orchestrator, nodes: &[Node]) -> (u64, u64) {
    let sent = orchestrator.sent()
        + nodes
            .iter()
            .map(|node| node.publisher().sent())
            .sum::<u64>();
    let received = orchestrator.subscriber_stats().received
        + nodes
            .iter()
            .map(|node| node.subscriber_stats().received)
            .sum::<u64>();
    (sent, received)
}

fn build_report(
    config: &Config,
    orchestrator: &Orchestrator,
    nodes: &[Node],
    outcome: RunOutcome,
) -> Report {
    let subscriber_stats: Vec<ncl::SubscriberStats> =
        std::iter::once(orchestrator.subscriber_stats())
            .chain(nodes.iter().map(Node::subscriber_stats))
            .collect();
    let decode_errors = subscriber_stats
        .iter()
        .map(|stats| stats.envelope_errors + stats.payload_errors)
        .sum();
    let handler_errors = subscriber_stats
        .iter()
        .map(|stats| stats.handler_errors + stats.handler_panics)
        .sum();
    let (messages_sent, messages_received) = message_counts(orchestrator, nodes);
    let publish_errors = orchestrator.publish_errors()
        + nodes
            .iter()
            .map(|node| node.publisher().failed())
            .sum::<u64>();

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
        nodes: node_summaries,
        messages_sent,
        messages_received,
        publish_errors,
        decode_errors,
        handler_errors,
        timed_out: outcome.timed_out,
        elapsed_ms: u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX),
        success: false,
    };
    report.success = report.problems().is_empty();
    report
}
