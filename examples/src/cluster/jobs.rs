//! The orchestrator's bookkeeping: job states, node health and assignment choices.
//!
//! Nothing here touches the network, so the rules can be read and tested on their own.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::messages::{Bid, BidRequest, Heartbeat, JobAssigned, JobState, JobStatus};

/// Lifecycle phase of a job, as the orchestrator tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Phase {
    /// Waiting for a healthy node.
    Pending,
    /// Sent to a node, which has not reported on it yet.
    Assigned,
    /// The node reported [`JobState::Accepted`].
    Accepted,
    /// The node reported [`JobState::Running`].
    Running,
    /// The node reported [`JobState::Completed`].
    Completed,
    /// The node reported [`JobState::Failed`].
    Failed,
}

impl Phase {
    fn from_state(state: JobState) -> Self {
        match state {
            JobState::Accepted => Self::Accepted,
            JobState::Running => Self::Running,
            JobState::Completed => Self::Completed,
            JobState::Failed => Self::Failed,
        }
    }

    fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }

    const ALL: [Phase; 6] = [
        Self::Pending,
        Self::Assigned,
        Self::Accepted,
        Self::Running,
        Self::Completed,
        Self::Failed,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Assigned => "assigned",
            Self::Accepted => "accepted",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

/// One job and its current attempt.
#[derive(Debug)]
struct JobRecord {
    id: String,
    command: String,
    planned_exit_code: i32,
    phase: Phase,
    /// Node of the current attempt; `None` while pending.
    node: Option<String>,
    /// Number of the current attempt; 0 before the first assignment.
    attempt: u32,
    /// Time of the current attempt's assignment, last redelivery or last status report.
    /// `None` while the job is pending or finished.
    last_progress: Option<Instant>,
}

/// Orchestrator state of one node.
#[derive(Debug)]
pub(crate) struct NodeRecord {
    last_heartbeat: Instant,
    last_sequence: u64,
    pub(crate) heartbeats: u64,
    pub(crate) healthy: bool,
    /// Jobs whose current attempt runs on this node and has not reached a final state.
    active: usize,
    pub(crate) completed: usize,
    pub(crate) failed: usize,
}

/// A change in a node's health, for the live view and the log.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HealthChange {
    /// The first heartbeat of a node arrived.
    Joined,
    /// A heartbeat arrived from a node marked unhealthy.
    Recovered,
    /// No heartbeat arrived for longer than the timeout. The jobs that the node had not
    /// finished went back to the pending queue.
    Unhealthy {
        /// Time since the node's last heartbeat.
        silence: Duration,
        /// Jobs taken from the node.
        requeued: Vec<String>,
    },
}

/// Result of [`JobTable::apply_status`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StatusOutcome {
    /// The job moved to the reported state.
    Applied {
        /// The new state is final.
        finished: bool,
    },
    /// The report repeats the job's current state, as a node does when it receives an
    /// assignment again, so nothing changed but the job's deadline.
    Repeated,
    /// No job has this id.
    UnknownJob,
    /// The report is about an attempt that is no longer current (the job was requeued or
    /// reassigned), so it was ignored.
    Stale,
    /// The report does not follow the job's current phase, such as `Running` after
    /// `Completed`, or `Completed` after `Failed`, so it was ignored.
    OutOfOrder {
        /// Phase the job was in.
        phase: Phase,
    },
}

/// Jobs, their states and the nodes' health.
#[derive(Debug)]
pub(crate) struct JobTable {
    jobs: Vec<JobRecord>,
    index: HashMap<String, usize>,
    /// Indexes into `jobs`, in assignment order.
    pending: VecDeque<usize>,
    nodes: BTreeMap<String, NodeRecord>,
    finished: usize,
    reassignments: usize,
    redeliveries: usize,
}

impl JobTable {
    /// Creates `count` pending jobs named `job-0001` and up. Job number `n` is planned to
    /// fail when `fail_every` is non-zero and divides `n`.
    pub(crate) fn new(count: usize, fail_every: usize) -> Self {
        let mut jobs = Vec::with_capacity(count);
        let mut index = HashMap::with_capacity(count);
        for number in 1..=count {
            let id = format!("job-{number:04}");
            let fails = fail_every > 0 && number % fail_every == 0;
            index.insert(id.clone(), jobs.len());
            jobs.push(JobRecord {
                command: format!("simulate {id}"),
                id,
                planned_exit_code: if fails { 1 } else { 0 },
                phase: Phase::Pending,
                node: None,
                attempt: 0,
                last_progress: None,
            });
        }
        Self {
            pending: (0..count).collect(),
            jobs,
            index,
            nodes: BTreeMap::new(),
            finished: 0,
            reassignments: 0,
            redeliveries: 0,
        }
    }

    /// Records a heartbeat received at `now` and returns the health change it caused, if
    /// any.
    ///
    /// A heartbeat whose sequence number is not above the node's last one arrived out of
    /// order. It is counted but does not refresh the node's health.
    pub(crate) fn record_heartbeat(
        &mut self,
        heartbeat: &Heartbeat,
        now: Instant,
    ) -> Option<HealthChange> {
        let Some(node) = self.nodes.get_mut(&heartbeat.node_id) else {
            self.nodes.insert(
                heartbeat.node_id.clone(),
                NodeRecord {
                    last_heartbeat: now,
                    last_sequence: heartbeat.sequence,
                    heartbeats: 1,
                    healthy: true,
                    active: 0,
                    completed: 0,
                    failed: 0,
                },
            );
            return Some(HealthChange::Joined);
        };
        node.heartbeats += 1;
        if heartbeat.sequence <= node.last_sequence {
            return None;
        }
        node.last_sequence = heartbeat.sequence;
        node.last_heartbeat = now;
        if node.healthy {
            return None;
        }
        node.healthy = true;
        Some(HealthChange::Recovered)
    }

    /// Marks unhealthy every healthy node whose last heartbeat is older than `timeout`
    /// at `now`, and requeues the unfinished jobs of those nodes.
    pub(crate) fn check_health(
        &mut self,
        now: Instant,
        timeout: Duration,
    ) -> Vec<(String, HealthChange)> {
        let mut changes = Vec::new();
        for (node_id, node) in &mut self.nodes {
            let silence = now.saturating_duration_since(node.last_heartbeat);
            if !node.healthy || silence <= timeout {
                continue;
            }
            node.healthy = false;
            node.active = 0;
            let mut requeued = Vec::new();
            for (position, job) in self.jobs.iter_mut().enumerate() {
                if job.node.as_deref() != Some(node_id.as_str()) || job.phase.is_final() {
                    continue;
                }
                job.phase = Phase::Pending;
                job.node = None;
                job.last_progress = None;
                self.pending.push_front(position);
                requeued.push(job.id.clone());
            }
            changes.push((
                node_id.clone(),
                HealthChange::Unhealthy { silence, requeued },
            ));
        }
        changes
    }

    /// Applies a node's report on a job, received at `now`.
    ///
    /// A report that moves an unfinished job forward or repeats its state restarts the
    /// job's deadline (see [`JobTable::take_overdue`]), because it shows that the node has
    /// the job.
    pub(crate) fn apply_status(&mut self, status: &JobStatus, now: Instant) -> StatusOutcome {
        let Some(&position) = self.index.get(&status.job_id) else {
            return StatusOutcome::UnknownJob;
        };
        let job = &mut self.jobs[position];
        let current =
            job.node.as_deref() == Some(status.node_id.as_str()) && job.attempt == status.attempt;
        if !current {
            return StatusOutcome::Stale;
        }

        let phase = Phase::from_state(status.state);
        if phase == job.phase {
            if !phase.is_final() {
                job.last_progress = Some(now);
            }
            return StatusOutcome::Repeated;
        }
        if job.phase.is_final() || phase < job.phase {
            return StatusOutcome::OutOfOrder { phase: job.phase };
        }
        job.phase = phase;
        if !phase.is_final() {
            job.last_progress = Some(now);
            return StatusOutcome::Applied { finished: false };
        }

        job.last_progress = None;
        self.finished += 1;
        if let Some(node) = self.nodes.get_mut(&status.node_id) {
            node.active = node.active.saturating_sub(1);
            match phase {
                Phase::Completed => node.completed += 1,
                _ => node.failed += 1,
            }
        }
        StatusOutcome::Applied { finished: true }
    }

    /// Takes the assignments to send again: those of unfinished jobs on healthy nodes
    /// whose current attempt had no assignment, redelivery or status report for longer than
    /// `timeout` at `now`. Each keeps its attempt number, and its deadline restarts at `now`.
    ///
    /// Core NATS drops the messages of a connection that is down, so an assignment or every
    /// status report of a job can be lost while the server restarts. Sending the assignment
    /// again recovers both: a node that never received it runs the job, and a node that
    /// already has that attempt reports its latest state again instead of running it twice.
    /// Jobs of unhealthy nodes are not resent here, because [`JobTable::check_health`]
    /// already requeued them for a new attempt on another node.
    pub(crate) fn take_overdue(&mut self, now: Instant, timeout: Duration) -> Vec<JobAssigned> {
        let mut overdue = Vec::new();
        for job in &mut self.jobs {
            let Some(last_progress) = job.last_progress else {
                continue;
            };
            let Some(node_id) = job.node.as_deref() else {
                continue;
            };
            let healthy = self.nodes.get(node_id).is_some_and(|node| node.healthy);
            if !healthy || now.saturating_duration_since(last_progress) <= timeout {
                continue;
            }
            job.last_progress = Some(now);
            self.redeliveries += 1;
            overdue.push(assignment(job, node_id.to_owned()));
        }
        overdue
    }

    /// Returns the bid requests for up to `max` jobs at the front of the pending queue,
    /// each with the attempt number its next assignment gets. The jobs stay pending until
    /// [`JobTable::assign`] takes them.
    pub(crate) fn pending_offers(&self, max: usize) -> Vec<BidRequest> {
        self.pending
            .iter()
            .take(max)
            .map(|&position| {
                let job = &self.jobs[position];
                BidRequest {
                    job_id: job.id.clone(),
                    command: job.command.clone(),
                    attempt: job.attempt + 1,
                }
            })
            .collect()
    }

    /// Returns the ids of the healthy nodes, in id order.
    pub(crate) fn healthy_nodes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, node)| node.healthy)
            .map(|(node_id, _)| node_id.clone())
            .collect()
    }

    /// Assigns pending job `job_id` to `node_id` at `now`, as a new attempt, and returns
    /// the assignment to send.
    ///
    /// Returns `None`, and changes nothing, when the job is no longer pending or the node
    /// is not healthy: both can change while the orchestrator waits for bids.
    pub(crate) fn assign(
        &mut self,
        job_id: &str,
        node_id: &str,
        now: Instant,
    ) -> Option<JobAssigned> {
        let &position = self.index.get(job_id)?;
        let node = self.nodes.get_mut(node_id).filter(|node| node.healthy)?;
        let queued = self.pending.iter().position(|&queued| queued == position)?;
        self.pending.remove(queued);
        node.active += 1;
        let job = &mut self.jobs[position];
        if job.attempt > 0 {
            self.reassignments += 1;
        }
        job.attempt += 1;
        job.phase = Phase::Assigned;
        job.node = Some(node_id.to_owned());
        job.last_progress = Some(now);
        Some(assignment(job, node_id.to_owned()))
    }

    /// Puts a job whose assignment failed to publish or was not acknowledged back at the
    /// front of the queue, unless the node has reported on it since.
    pub(crate) fn unassign(&mut self, assignment: &JobAssigned) {
        let Some(&position) = self.index.get(&assignment.job_id) else {
            return;
        };
        let job = &mut self.jobs[position];
        if job.attempt != assignment.attempt || job.phase != Phase::Assigned {
            return;
        }
        job.phase = Phase::Pending;
        job.node = None;
        job.last_progress = None;
        self.pending.push_front(position);
        if let Some(node) = self.nodes.get_mut(&assignment.node_id) {
            node.active = node.active.saturating_sub(1);
        }
    }

    /// Returns `true` when every job reached a final state.
    pub(crate) fn all_finished(&self) -> bool {
        self.finished == self.jobs.len()
    }

    /// Returns the number of jobs.
    pub(crate) fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Returns the number of jobs not yet in a final state.
    pub(crate) fn unfinished(&self) -> usize {
        self.jobs.len() - self.finished
    }

    /// Returns the number of jobs in `phase`.
    pub(crate) fn count(&self, phase: Phase) -> usize {
        self.jobs.iter().filter(|job| job.phase == phase).count()
    }

    /// Returns the number of jobs planned to fail.
    pub(crate) fn planned_failures(&self) -> usize {
        self.jobs
            .iter()
            .filter(|job| job.planned_exit_code != 0)
            .count()
    }

    /// Returns the number of finished jobs whose final state is not the planned one.
    pub(crate) fn unexpected_outcomes(&self) -> usize {
        let unexpected = |job: &&JobRecord| match job.phase {
            Phase::Completed => job.planned_exit_code != 0,
            Phase::Failed => job.planned_exit_code == 0,
            _ => false,
        };
        self.jobs.iter().filter(unexpected).count()
    }

    /// Returns the number of assignments after the first one of a job.
    pub(crate) fn reassignments(&self) -> usize {
        self.reassignments
    }

    /// Returns the number of assignments sent again by [`JobTable::take_overdue`].
    pub(crate) fn redeliveries(&self) -> usize {
        self.redeliveries
    }

    /// Returns the nodes by id.
    pub(crate) fn nodes(&self) -> &BTreeMap<String, NodeRecord> {
        &self.nodes
    }

    /// Renders one line of the live view: job counts per phase, then each node's health,
    /// unfinished jobs and finished jobs.
    pub(crate) fn view_line(&self) -> String {
        let mut line = String::from("jobs:");
        for (i, phase) in Phase::ALL.into_iter().enumerate() {
            let separator = if i == 0 { " " } else { ", " };
            let _ = write!(line, "{separator}{} {}", self.count(phase), phase.label());
        }
        line.push_str("  |");
        for (node_id, node) in &self.nodes {
            let health = if node.healthy { "healthy" } else { "UNHEALTHY" };
            let done = node.completed + node.failed;
            let _ = write!(
                line,
                "  {node_id} {health} ({} active, {done} done)",
                node.active
            );
        }
        line
    }
}

/// Returns the bid to assign a job to, among `bids` for that job. It is the accepting
/// bid from the node with the fewest jobs that still has room, and ties go to the first
/// node by id. `planned` counts, per node, the jobs assigned since the bids were made,
/// which the bids' counts do not include yet.
pub(crate) fn pick_bid<'a>(bids: &'a [Bid], planned: &HashMap<String, u32>) -> Option<&'a Bid> {
    bids.iter()
        .filter(|bid| bid.accepted)
        .map(|bid| {
            let load = bid.running_jobs + planned.get(&bid.node_id).copied().unwrap_or(0);
            (load, bid)
        })
        .filter(|(load, bid)| *load < bid.capacity)
        .min_by(|(load_a, a), (load_b, b)| {
            load_a.cmp(load_b).then_with(|| a.node_id.cmp(&b.node_id))
        })
        .map(|(_, bid)| bid)
}

/// Returns the assignment of `job`'s current attempt to `node_id`.
fn assignment(job: &JobRecord, node_id: String) -> JobAssigned {
    JobAssigned {
        job_id: job.id.clone(),
        node_id,
        command: job.command.clone(),
        simulated_exit_code: job.planned_exit_code,
        attempt: job.attempt,
    }
}

#[cfg(test)]
mod tests;
