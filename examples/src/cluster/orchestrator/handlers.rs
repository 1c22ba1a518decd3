//! The orchestrator's state and the handler functions that update it from the nodes'
//! messages.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use ncl::Message;
use tokio::sync::Notify;

use crate::cluster::jobs::{HealthChange, JobTable, StatusOutcome};
use crate::cluster::messages::{Heartbeat, JobState, JobStatus};

/// The orchestrator's job table and live view, shared by its run loop and its message
/// handlers. Clones share the same state.
#[derive(Clone)]
pub(crate) struct Orchestrator {
    inner: Arc<OrchestratorState>,
}

struct OrchestratorState {
    table: Mutex<JobTable>,
    /// Woken when a job reaches a final state or a node's health changes.
    changed: Notify,
    console: Console,
    bids: BidCounters,
    /// Ids of the nodes of the run. Heartbeats from other ids are rejected.
    node_ids: BTreeSet<String>,
}

/// Counts of the bid requests of a run.
#[derive(Debug, Default)]
pub(crate) struct BidCounters {
    /// Bid requests sent.
    pub(crate) requested: AtomicU64,
    /// Bids that declined the job.
    pub(crate) declined: AtomicU64,
    /// Bid requests that failed: no responder, timeout, error response, or a bid for
    /// another job or from another node.
    pub(crate) failed: AtomicU64,
}

/// Error of an orchestrator handler, which the subscriber counts as a handler error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OrchestratorError {
    /// A status report names a job that this run did not create.
    #[error("status report from {node_id} for unknown job {job_id:?}")]
    UnknownJob {
        /// The job id in the report.
        job_id: String,
        /// The node that sent the report.
        node_id: String,
    },
    /// A heartbeat's node id cannot be used as a subject token, so the orchestrator
    /// could not send jobs to that node.
    #[error("invalid node id {0:?} in heartbeat: use ASCII letters, digits, '-' and '_'")]
    InvalidNodeId(String),
    /// A heartbeat's node id is not one of the run's nodes, so the orchestrator does not
    /// send it jobs.
    #[error("heartbeat from {0:?}, which is not a node of this run; ignored")]
    UnknownNode(String),
}

impl Orchestrator {
    /// Creates the state of a run of `jobs` jobs, of which every `fail_every`th is planned
    /// to fail, on the nodes `node_ids`. The live view goes to stdout when `live_view` is
    /// set.
    pub(crate) fn new(
        jobs: usize,
        fail_every: usize,
        node_ids: impl IntoIterator<Item = String>,
        live_view: bool,
    ) -> Self {
        Self {
            inner: Arc::new(OrchestratorState {
                table: Mutex::new(JobTable::new(jobs, fail_every)),
                changed: Notify::new(),
                console: Console {
                    enabled: live_view,
                    started: Instant::now(),
                },
                bids: BidCounters::default(),
                node_ids: node_ids.into_iter().collect(),
            }),
        }
    }

    /// Locks the job table.
    pub(crate) fn table(&self) -> MutexGuard<'_, JobTable> {
        self.inner
            .table
            .lock()
            // Every critical section leaves the table valid, so a panic in one does not
            // make it unusable.
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns the counts of the bid requests.
    pub(crate) fn bids(&self) -> &BidCounters {
        &self.inner.bids
    }

    /// Waits until a job reaches a final state or a node's health changes.
    pub(crate) async fn changed(&self) {
        self.inner.changed.notified().await;
    }

    /// Returns the time the orchestrator was created, where the live view's clock starts.
    pub(crate) fn started(&self) -> Instant {
        self.inner.console.started
    }

    /// Prints a line of the live view, when it is enabled.
    pub(crate) fn print(&self, text: impl Display) {
        self.inner.console.line(text);
    }

    /// Returns `true` when the live view goes to stdout.
    pub(crate) fn live_view(&self) -> bool {
        self.inner.console.enabled
    }
}

/// Applies a node's report on a job to the job table.
///
/// # Errors
///
/// Returns [`OrchestratorError::UnknownJob`] for a job id that this run did not create.
#[ncl::handler]
pub(crate) async fn on_job_status(
    message: &Message<JobStatus>,
    orchestrator: &Orchestrator,
) -> Result<(), OrchestratorError> {
    let status = &message.payload;
    let outcome = orchestrator.table().apply_status(status, Instant::now());
    match outcome {
        StatusOutcome::Applied { finished } => {
            if status.state == JobState::Failed {
                let reason = status.error.as_deref().unwrap_or("no reason given");
                orchestrator.print(format_args!(
                    "{} failed on {} (attempt {}): {reason}",
                    status.job_id, status.node_id, status.attempt
                ));
            }
            if finished {
                orchestrator.inner.changed.notify_one();
            }
            Ok(())
        }
        StatusOutcome::UnknownJob => Err(OrchestratorError::UnknownJob {
            job_id: status.job_id.clone(),
            node_id: status.node_id.clone(),
        }),
        StatusOutcome::Repeated => {
            tracing::debug!(
                job = %status.job_id,
                node = %status.node_id,
                attempt = status.attempt,
                state = ?status.state,
                "job status repeated, as after a resent assignment"
            );
            Ok(())
        }
        StatusOutcome::Stale => {
            tracing::debug!(
                job = %status.job_id,
                node = %status.node_id,
                attempt = status.attempt,
                state = ?status.state,
                "ignoring report on a reassigned attempt"
            );
            Ok(())
        }
        StatusOutcome::OutOfOrder { phase } => {
            tracing::warn!(
                job = %status.job_id,
                node = %status.node_id,
                state = ?status.state,
                ?phase,
                "ignoring out-of-order job status"
            );
            Ok(())
        }
    }
}

/// Records a heartbeat in the job table.
///
/// # Errors
///
/// Returns [`OrchestratorError::InvalidNodeId`] when the node id cannot be used as a
/// subject token, and [`OrchestratorError::UnknownNode`] when it is not a node of the run.
#[ncl::handler]
pub(crate) async fn on_heartbeat(
    message: &Message<Heartbeat>,
    orchestrator: &Orchestrator,
) -> Result<(), OrchestratorError> {
    let heartbeat = &message.payload;
    let valid_id = !heartbeat.node_id.is_empty()
        && heartbeat
            .node_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_id {
        return Err(OrchestratorError::InvalidNodeId(heartbeat.node_id.clone()));
    }
    if !orchestrator.inner.node_ids.contains(&heartbeat.node_id) {
        return Err(OrchestratorError::UnknownNode(heartbeat.node_id.clone()));
    }
    let change = orchestrator
        .table()
        .record_heartbeat(heartbeat, Instant::now());
    match change {
        Some(HealthChange::Joined) => {
            tracing::debug!(node = %heartbeat.node_id, "node joined");
            orchestrator.print(format_args!("{} joined", heartbeat.node_id));
            orchestrator.inner.changed.notify_one();
        }
        Some(HealthChange::Recovered) => {
            tracing::info!(node = %heartbeat.node_id, "node is healthy again");
            orchestrator.print(format_args!("{} is healthy again", heartbeat.node_id));
            orchestrator.inner.changed.notify_one();
        }
        Some(HealthChange::Unhealthy { .. }) | None => {}
    }
    Ok(())
}

/// Prints lines of the live view to stdout, each prefixed with the time since start.
struct Console {
    enabled: bool,
    started: Instant,
}

impl Console {
    fn line(&self, text: impl Display) {
        if self.enabled {
            println!("{:>6.1}s  {text}", self.started.elapsed().as_secs_f64());
        }
    }
}
