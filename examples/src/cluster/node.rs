//! A compute node: replies to bid requests, runs the jobs assigned to it and sends
//! heartbeats.

use std::collections::{BTreeSet, HashMap};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ncl::request::codes;
use ncl::{
    ErrorResponse, Message, Publisher, PublisherStats, Responder, Subscriber, SubscriberStats,
};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

use super::dedupe::{Admission, RecentIds, admit};
use super::messages::{Bid, BidRequest, Heartbeat, JobAssigned, JobState, JobStatus};
use super::prng::SplitMix64;
use super::{ClusterError, Subjects};

/// Range of the simulated delay between a job's `Accepted` and `Running` reports, in
/// milliseconds.
const START_MILLIS: RangeInclusive<u64> = 5..=20;

/// Time a stopping node waits for its running jobs before it aborts them.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// Number of assignment message ids a node remembers to recognize a message delivered
/// twice.
const REMEMBERED_MESSAGE_IDS: usize = 4096;

/// Settings of one compute node.
#[derive(Clone, Debug)]
pub(crate) struct NodeConfig {
    /// Node id, used in subjects and messages.
    pub(crate) id: String,
    /// Time between two heartbeats.
    pub(crate) heartbeat_interval: Duration,
    /// Number of heartbeats after which the node goes silent, or `None` to send them
    /// until the node stops.
    pub(crate) heartbeat_limit: Option<u64>,
    /// Range of a job's simulated run time, in milliseconds.
    pub(crate) job_millis: RangeInclusive<u64>,
    /// Jobs the node runs at most at once. It declines bids beyond that, and rejects an
    /// assignment of a new job, which the subscriber then acknowledges negatively.
    pub(crate) capacity: usize,
}

/// Error of a node's handler, which the subscriber counts as a handler error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NodeError {
    /// The assignment names another node, so it reached this node's subject by mistake.
    #[error("{job_id} is assigned to {assigned_to}, but this is {node_id}")]
    WrongNode {
        /// The job.
        job_id: String,
        /// The node the assignment names.
        assigned_to: String,
        /// This node.
        node_id: String,
    },
    /// The node runs as many jobs as it can, so it does not start another. The
    /// orchestrator assigns only jobs that the node bid for, so this happens only when
    /// two assignments crossed the node's bids.
    #[error("{node_id} runs {running} jobs, its capacity; {job_id} not started")]
    AtCapacity {
        /// The job.
        job_id: String,
        /// This node.
        node_id: String,
        /// Jobs the node runs.
        running: usize,
    },
}

/// The logic of a compute node, shared by its subscriber, its heartbeat task and its job
/// tasks. Clones share the same node.
#[derive(Clone)]
pub(crate) struct Node {
    inner: Arc<NodeState>,
}

struct NodeState {
    config: NodeConfig,
    publisher: Publisher,
    /// Ids of the jobs whose latest attempt has not reached a final state, for heartbeats.
    running: Mutex<BTreeSet<String>>,
    /// The latest attempt of each job the node received, by job id.
    attempts: Mutex<HashMap<String, AttemptRecord>>,
    recent_ids: Mutex<RecentIds>,
    tasks: Mutex<JoinSet<()>>,
    /// Assignments not run because the node had seen their message id, or had their
    /// attempt of the job or a newer one.
    duplicates: AtomicU64,
    /// Set once the node stops publishing, after which it declines every bid.
    stopping: AtomicBool,
}

/// The latest attempt of one job on a node.
struct AttemptRecord {
    attempt: u32,
    /// The attempt's latest status report, or `None` before the first. The job task holds
    /// the lock while it publishes, and so does a resend of the report, so the reports of
    /// one attempt leave the node in the order of its states.
    last_status: Arc<tokio::sync::Mutex<Option<JobStatus>>>,
    task: AbortHandle,
}

#[ncl::handler]
impl Node {
    /// Handles an assignment: starts the job, unless the node has already seen the message
    /// or the job attempt. For an attempt it already has, it reports the latest state again,
    /// because the orchestrator resends an assignment when it lost the reports.
    ///
    /// # Errors
    ///
    /// Returns [`NodeError::WrongNode`] when the job is assigned to another node.
    async fn on_job_assigned(&self, message: &Message<JobAssigned>) -> Result<(), NodeError> {
        let job = &message.payload;
        let node_id = &self.inner.config.id;
        if job.node_id != *node_id {
            return Err(NodeError::WrongNode {
                job_id: job.job_id.clone(),
                assigned_to: job.node_id.clone(),
                node_id: node_id.clone(),
            });
        }
        // Checked before the message id is remembered, so that the publisher's retry of
        // the same message, after the negative acknowledgement, is not taken for a copy.
        self.check_capacity(job)?;
        if let Some(id) = message.id()
            && !lock(&self.inner.recent_ids).insert(id)
        {
            self.inner.duplicates.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                node = %node_id,
                job = %job.job_id,
                message_id = id,
                "ignoring a message received twice"
            );
            return Ok(());
        }

        let admission = self.admit(job);
        match admission {
            Admission::Start | Admission::Supersede { .. } => {
                tracing::debug!(
                    node = %node_id,
                    job = %job.job_id,
                    attempt = job.attempt,
                    ?admission,
                    "job assigned"
                );
            }
            Admission::Duplicate => {
                self.inner.duplicates.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    node = %node_id,
                    job = %job.job_id,
                    attempt = job.attempt,
                    "assignment received again; reporting the latest state"
                );
                self.report_again(job).await;
            }
            Admission::Stale { current } => {
                self.inner.duplicates.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    node = %node_id,
                    job = %job.job_id,
                    attempt = job.attempt,
                    current,
                    "ignoring an assignment older than the attempt the node has"
                );
            }
        }
        Ok(())
    }

    /// Replies to a bid request: the node accepts the job while it runs fewer jobs than its
    /// capacity and is not stopping.
    ///
    /// # Errors
    ///
    /// Returns a `BadRequest` error response for a request without a job id or with
    /// attempt 0.
    async fn bid(&self, request: &Message<BidRequest>) -> Result<Bid, ErrorResponse> {
        let offer = &request.payload;
        if offer.job_id.is_empty() || offer.attempt == 0 {
            return Err(ErrorResponse::new(
                codes::BAD_REQUEST,
                format!(
                    "bid request for job {:?}, attempt {}: a job id and an attempt of 1 or \
                     more are required",
                    offer.job_id, offer.attempt
                ),
            ));
        }
        let config = &self.inner.config;
        let running = lock(&self.inner.running).len();
        let reason = if self.inner.stopping.load(Ordering::Relaxed) {
            Some("the node is stopping".to_owned())
        } else if running >= config.capacity {
            Some(format!("running {running} of {} jobs", config.capacity))
        } else {
            None
        };
        tracing::debug!(
            node = %config.id,
            job = %offer.job_id,
            attempt = offer.attempt,
            running,
            declined = reason.as_deref(),
            "bid"
        );
        Ok(Bid {
            node_id: config.id.clone(),
            job_id: offer.job_id.clone(),
            accepted: reason.is_none(),
            running_jobs: saturating_u32(running),
            capacity: saturating_u32(config.capacity),
            reason,
        })
    }
}

impl Node {
    /// Returns [`NodeError::AtCapacity`] when `job` would add a running job while the
    /// node runs as many jobs as its capacity. An assignment that the node has already
    /// seen, or that replaces a running attempt of the same job, adds none.
    fn check_capacity(&self, job: &JobAssigned) -> Result<(), NodeError> {
        let known = lock(&self.inner.attempts)
            .get(&job.job_id)
            .map(|record| record.attempt);
        if known.is_some_and(|known| known >= job.attempt) {
            return Ok(());
        }
        let running = lock(&self.inner.running);
        if running.contains(&job.job_id) || running.len() < self.inner.config.capacity {
            return Ok(());
        }
        let running = running.len();
        Err(NodeError::AtCapacity {
            job_id: job.job_id.clone(),
            node_id: self.inner.config.id.clone(),
            running,
        })
    }

    /// Checks `job` against the attempt of the job the node has. When `job` is a new or
    /// newer attempt, cancels the older attempt, if any, and starts `job`.
    fn admit(&self, job: &JobAssigned) -> Admission {
        let mut attempts = lock(&self.inner.attempts);
        let known = attempts.get(&job.job_id);
        let admission = admit(known.map(|record| record.attempt), job.attempt);
        if !matches!(admission, Admission::Start | Admission::Supersede { .. }) {
            return admission;
        }
        if let Some(previous) = known {
            previous.task.abort();
        }
        lock(&self.inner.running).insert(job.job_id.clone());
        let last_status = Arc::default();
        let task = {
            let mut tasks = lock(&self.inner.tasks);
            // Finished tasks stay in the set until joined, so reap them to keep it small.
            while tasks.try_join_next().is_some() {}
            tasks.spawn(self.clone().run_job(job.clone(), Arc::clone(&last_status)))
        };
        let record = AttemptRecord {
            attempt: job.attempt,
            last_status,
            task,
        };
        attempts.insert(job.job_id.clone(), record);
        admission
    }

    /// Publishes the latest status of `job`'s attempt again, if it has one. An attempt
    /// without a status yet reports `Accepted` soon on its own.
    async fn report_again(&self, job: &JobAssigned) {
        let last_status = {
            let attempts = lock(&self.inner.attempts);
            match attempts.get(&job.job_id) {
                Some(record) if record.attempt == job.attempt => Arc::clone(&record.last_status),
                _ => return,
            }
        };
        let last_status = last_status.lock().await;
        if let Some(status) = last_status.as_ref() {
            self.publish_status(status).await;
        }
    }

    /// Simulates a job: reports `Accepted`, waits, reports `Running`, waits, then reports
    /// `Completed` or `Failed` according to the job's simulated exit code. The waits are
    /// drawn from a generator seeded by the job id, so each job takes the same time in
    /// every run.
    async fn run_job(
        self,
        job: JobAssigned,
        last_status: Arc<tokio::sync::Mutex<Option<JobStatus>>>,
    ) {
        let mut rng = SplitMix64::from_key(&job.job_id);
        let start_delay = Duration::from_millis(rng.in_range(START_MILLIS));
        let run_time = Duration::from_millis(rng.in_range(self.inner.config.job_millis.clone()));
        let report = |state, exit_code, error| JobStatus {
            job_id: job.job_id.clone(),
            node_id: self.inner.config.id.clone(),
            attempt: job.attempt,
            state,
            exit_code,
            error,
        };

        self.record_and_publish(&last_status, report(JobState::Accepted, None, None))
            .await;
        tokio::time::sleep(start_delay).await;
        self.record_and_publish(&last_status, report(JobState::Running, None, None))
            .await;
        tokio::time::sleep(run_time).await;

        let code = job.simulated_exit_code;
        lock(&self.inner.running).remove(&job.job_id);
        let result = if code == 0 {
            report(JobState::Completed, Some(code), None)
        } else {
            let error = format!("command {:?} exited with code {code}", job.command);
            report(JobState::Failed, Some(code), Some(error))
        };
        self.record_and_publish(&last_status, result).await;
    }

    /// Stores `status` as the attempt's latest and publishes it, holding the attempt's lock
    /// until the publisher took the message.
    async fn record_and_publish(
        &self,
        last_status: &tokio::sync::Mutex<Option<JobStatus>>,
        status: JobStatus,
    ) {
        let mut last_status = last_status.lock().await;
        self.publish_status(&status).await;
        *last_status = Some(status);
    }

    /// Publishes a status report and logs a failure, because the job goes on.
    async fn publish_status(&self, status: &JobStatus) {
        if self.inner.publisher.is_closed() {
            tracing::debug!(
                node = %self.inner.config.id,
                job = %status.job_id,
                state = ?status.state,
                "node is stopping; status report not sent"
            );
            return;
        }
        if let Err(error) = self.inner.publisher.publish(status).await {
            tracing::warn!(
                node = %self.inner.config.id,
                job = %status.job_id,
                state = ?status.state,
                error = %error,
                "failed to publish job status"
            );
        }
    }

    /// Publishes a heartbeat every interval, starting at once, until the task is aborted
    /// or the heartbeat limit is reached.
    async fn send_heartbeats(self) {
        let config = &self.inner.config;
        let mut interval = tokio::time::interval(config.heartbeat_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sequence = 0;
        loop {
            interval.tick().await;
            if config
                .heartbeat_limit
                .is_some_and(|limit| sequence >= limit)
            {
                tracing::info!(
                    node = %config.id,
                    sent = sequence,
                    "heartbeat limit reached; the node goes silent"
                );
                return;
            }
            sequence += 1;
            let heartbeat = Heartbeat {
                node_id: config.id.clone(),
                sequence,
                running_jobs: lock(&self.inner.running).iter().cloned().collect(),
            };
            if let Err(error) = self.inner.publisher.publish(&heartbeat).await {
                tracing::warn!(
                    node = %config.id,
                    sequence,
                    error = %error,
                    "failed to publish heartbeat"
                );
            }
        }
    }
}

/// A compute node with its own NATS connection, responder, subscriber and heartbeat
/// task.
///
/// It replies to [`BidRequest`]s on `<root>.node.<id>.BidRequest`, receives and acknowledges
/// [`JobAssigned`] on `<root>.node.<id>.JobAssigned`, and publishes [`JobStatus`] and
/// [`Heartbeat`] to `<root>.orchestrator.<type>`.
pub(crate) struct RunningNode {
    node: Node,
    client: async_nats::Client,
    responder: Responder,
    subscriber: Subscriber,
    heartbeats: JoinHandle<()>,
}

impl RunningNode {
    /// Starts replying to bid requests, subscribes to the node's assignments and starts its
    /// heartbeats.
    ///
    /// Both subscriptions are flushed to the server before the first heartbeat, so the
    /// orchestrator, which requests bids only from nodes it has heard from, never sends to
    /// a node that does not listen yet.
    pub(crate) async fn start(
        client: async_nats::Client,
        config: NodeConfig,
        subjects: &Subjects,
    ) -> Result<Self, ClusterError> {
        let name = config.id.clone();
        let build_error = |source| ClusterError::Build {
            name: name.clone(),
            source,
        };
        let publisher = Publisher::builder(client.clone())
            .name(config.id.as_str())
            .destination_prefix(subjects.orchestrator())
            .build()
            .map_err(build_error)?;
        let node = Node {
            inner: Arc::new(NodeState {
                config,
                publisher,
                running: Mutex::default(),
                attempts: Mutex::default(),
                recent_ids: Mutex::new(RecentIds::new(REMEMBERED_MESSAGE_IDS)),
                tasks: Mutex::default(),
                duplicates: AtomicU64::new(0),
                stopping: AtomicBool::new(false),
            }),
        };

        let responder = Responder::builder(client.clone())
            .name(name.as_str())
            .subject(format!("{}.BidRequest", subjects.node(&name)))
            .handler(node.clone())
            .build()
            .map_err(|source| ClusterError::Responder {
                name: name.clone(),
                source,
            })?;
        responder
            .listen()
            .await
            .map_err(|source| ClusterError::Responder {
                name: name.clone(),
                source,
            })?;
        // A core subscriber acknowledges each message that has a reply subject, so it must
        // not share a subject with the responder, whose requests have one too.
        let subscriber = Subscriber::builder(client.clone())
            .name(name.as_str())
            .handler(node.clone())
            .build()
            .map_err(build_error)?;
        let subject = format!("{}.JobAssigned", subjects.node(&name));
        subscriber
            .subscribe([subject])
            .await
            .map_err(|source| ClusterError::Subscribe {
                name: name.clone(),
                source,
            })?;
        client.flush().await.map_err(|source| ClusterError::Flush {
            name: name.clone(),
            source,
        })?;

        let heartbeats = tokio::spawn(node.clone().send_heartbeats());
        tracing::debug!(node = %name, "node started");
        Ok(Self {
            node,
            client,
            responder,
            subscriber,
            heartbeats,
        })
    }

    /// Returns the node id.
    pub(crate) fn id(&self) -> &str {
        &self.node.inner.config.id
    }

    /// Declines every later bid, stops the heartbeats, waits up to 2 seconds for running
    /// jobs and aborts the rest,
    /// then closes the publisher, which flushes what it sent. The node still receives
    /// messages until [`RunningNode::close`], but publishes nothing more.
    pub(crate) async fn stop_publishing(&self) {
        self.node.inner.stopping.store(true, Ordering::Relaxed);
        self.heartbeats.abort();
        let mut tasks = std::mem::take(&mut *lock(&self.node.inner.tasks));
        let finished = tokio::time::timeout(STOP_TIMEOUT, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                node = %self.id(),
                jobs = tasks.len(),
                "jobs still running after {STOP_TIMEOUT:?}; aborting them"
            );
            tasks.shutdown().await;
        }
        if let Err(error) = self.node.inner.publisher.close().await {
            tracing::warn!(
                node = %self.id(),
                error = %error,
                "failed to flush the node's publisher"
            );
        }
    }

    /// Stops replying to bid requests and unsubscribes, after the request and the message
    /// being handled, if any.
    pub(crate) async fn close(&self) {
        self.responder.close().await;
        self.subscriber.close().await;
    }

    /// Returns the counters of the node's subscriber.
    pub(crate) fn subscriber_stats(&self) -> SubscriberStats {
        self.subscriber.stats()
    }

    /// Returns the counters of the node's publisher.
    pub(crate) fn publisher_stats(&self) -> PublisherStats {
        self.node.inner.publisher.stats()
    }

    /// Returns the number of assignments the node did not run because it had seen their
    /// message id, or had their attempt of the job or a newer one.
    pub(crate) fn duplicate_assignments(&self) -> u64 {
        self.node.inner.duplicates.load(Ordering::Relaxed)
    }

    /// Returns the number of times the node's connection was re-established after a loss.
    pub(crate) fn reconnects(&self) -> u64 {
        super::reconnects(&self.client)
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        // The tasks hold clones of the node, so they would keep running after it is gone.
        self.heartbeats.abort();
        lock(&self.node.inner.tasks).abort_all();
    }
}

/// Converts a job count for a [`Bid`], saturating at `u32::MAX`.
fn saturating_u32(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Locks `mutex`, recovering the data if a holder panicked, because every critical
/// section here leaves the data valid.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
