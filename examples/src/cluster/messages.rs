//! Messages exchanged by the orchestrator and the compute nodes of the cluster example.
//!
//! Before it assigns a job, the orchestrator sends a [`BidRequest`] to each healthy node
//! at `<root>.node.<node_id>.BidRequest` and each node replies with a [`Bid`]. The
//! orchestrator then publishes [`JobAssigned`] to `<root>.node.<node_id>.JobAssigned`,
//! and the node acknowledges it. Nodes publish [`JobStatus`] and [`Heartbeat`] to
//! `<root>.orchestrator.<type>`.

use serde::{Deserialize, Serialize};

/// A request from the orchestrator to one compute node: would it take this job now?
///
/// The node replies with a [`Bid`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ncl::NclPayload)]
pub struct BidRequest {
    /// Job identifier, as in the [`JobAssigned`] message that may follow.
    pub job_id: String,
    /// Command line of the job.
    pub command: String,
    /// Attempt number that the assignment will carry.
    pub attempt: u32,
}

impl ncl::Request for BidRequest {
    type Response = Bid;
}

/// A compute node's response to a [`BidRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ncl::NclPayload)]
pub struct Bid {
    /// Node that sent the bid.
    pub node_id: String,
    /// Job identifier, as in the request.
    pub job_id: String,
    /// The node would take the job: it runs fewer jobs than its capacity and is not
    /// stopping.
    pub accepted: bool,
    /// Jobs the node was running when it sent the bid.
    pub running_jobs: u32,
    /// Jobs the node runs at most at once.
    pub capacity: u32,
    /// Reason the node declined the job, set only when it declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An order from the orchestrator to one compute node to run a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ncl::NclPayload)]
pub struct JobAssigned {
    /// Job identifier, unique within a run, such as `job-0007`.
    pub job_id: String,
    /// Node that should run the job.
    pub node_id: String,
    /// Command line of the job. The example's nodes only simulate running it.
    pub command: String,
    /// Exit code that the simulated run ends with. A non-zero code fails the job.
    pub simulated_exit_code: i32,
    /// Attempt number: 1 for the first assignment, increased by one each time the job
    /// is reassigned because its node became unhealthy. An assignment resent because its
    /// status reports stopped keeps the number, so the node does not run the job again.
    pub attempt: u32,
}

/// Lifecycle state of a job on a compute node.
///
/// A node reports `Accepted`, then `Running`, then one of the final states `Completed`
/// and `Failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobState {
    /// The node took the job and will start it.
    Accepted,
    /// The job's command is running.
    Running,
    /// The command exited with code 0.
    Completed,
    /// The command exited with a non-zero code or could not run.
    Failed,
}

impl JobState {
    /// Returns `true` for `Completed` and `Failed`, after which the state no longer changes.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// A report from a compute node on the progress of one attempt of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ncl::NclPayload)]
pub struct JobStatus {
    /// Job identifier, as in the [`JobAssigned`] message.
    pub job_id: String,
    /// Node that runs the job.
    pub node_id: String,
    /// Attempt number, as in the [`JobAssigned`] message, so that the orchestrator can
    /// ignore reports on attempts it has since reassigned.
    pub attempt: u32,
    /// State the job entered.
    pub state: JobState,
    /// Exit code of the command, set in the `Completed` and `Failed` states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Reason for the failure, set in the `Failed` state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A periodic sign of life from a compute node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ncl::NclPayload)]
pub struct Heartbeat {
    /// Node that sent the heartbeat.
    pub node_id: String,
    /// Heartbeat number: 1 for a node's first heartbeat, increased by one with each
    /// later one.
    pub sequence: u64,
    /// Identifiers of the jobs the node was running when it sent the heartbeat.
    pub running_jobs: Vec<String>,
}
