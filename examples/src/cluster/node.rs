//! A compute node: runs the jobs assigned to it and sends heartbeats.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ncl::{BoxError, Publisher, Subscriber, SubscriberStats};
use tokio::task::{JoinHandle, JoinSet};

use super::messages::{Heartbeat, JobAssigned, JobState, JobStatus};
use super::prng::SplitMix64;
use super::{ClusterError, Subjects};
use crate::{CountingPublisher, typed_handler};

/// Range of the simulated delay between a job's `Accepted` and `Running` reports, in
/// milliseconds.
const START_MILLIS: RangeInclusive<u64> = 5..=20;

/// Time a stopping node waits for its running jobs before it aborts them.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

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
}

/// A running compute node with its own NATS connection.
///
/// It receives [`JobAssigned`] on `<root>.node.<id>.JobAssigned`, and publishes
/// [`JobStatus`] and [`Heartbeat`] to `<root>.orchestrator.<type>`.
pub(crate) struct Node {
    worker: Arc<Worker>,
    client: async_nats::Client,
    subscriber: Subscriber,
    heartbeats: JoinHandle<()>,
}

/// The part of a node that handlers and tasks share.
struct Worker {
    config: NodeConfig,
    publisher: CountingPublisher,
    running: Mutex<BTreeSet<String>>,
    jobs: Mutex<JoinSet<()>>,
}

impl Node {
    /// Subscribes to the node's subject and starts its heartbeats.
    ///
    /// The subscription is flushed to the server before the first heartbeat, so the
    /// orchestrator, which assigns jobs only to nodes it has heard from, never sends to
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
        let worker = Arc::new(Worker {
            config,
            publisher: CountingPublisher::new(publisher),
            running: Mutex::default(),
            jobs: Mutex::default(),
        });

        let handler_worker = Arc::clone(&worker);
        let subscriber = Subscriber::builder(client.clone())
            .handler(typed_handler(move |job: JobAssigned| {
                let worker = Arc::clone(&handler_worker);
                async move { worker.on_job_assigned(job) }
            }))
            .build()
            .map_err(build_error)?;
        let subject = format!("{}.>", subjects.node(&worker.config.id));
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

        let heartbeats = tokio::spawn(Arc::clone(&worker).send_heartbeats());
        tracing::debug!(node = %name, "node started");
        Ok(Self {
            worker,
            client,
            subscriber,
            heartbeats,
        })
    }

    /// Returns the node id.
    pub(crate) fn id(&self) -> &str {
        &self.worker.config.id
    }

    /// Stops the heartbeats and waits up to 2 seconds for running jobs, then aborts the
    /// rest. The node still receives messages until [`Node::close`].
    pub(crate) async fn stop_publishing(&self) {
        self.heartbeats.abort();
        let mut jobs = std::mem::take(&mut *lock(&self.worker.jobs));
        let finished = tokio::time::timeout(STOP_TIMEOUT, async {
            while jobs.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                node = %self.id(),
                jobs = jobs.len(),
                "jobs still running after {STOP_TIMEOUT:?}; aborting them"
            );
            jobs.shutdown().await;
        }
    }

    /// Waits until the server has received everything the node published.
    pub(crate) async fn flush(&self) -> Result<(), async_nats::client::FlushError> {
        self.client.flush().await
    }

    /// Unsubscribes, after the message being handled, if any.
    pub(crate) async fn close(&self) {
        self.subscriber.close().await;
    }

    /// Returns the counters of the node's subscriber.
    pub(crate) fn subscriber_stats(&self) -> SubscriberStats {
        self.subscriber.stats()
    }

    /// Returns the node's publisher, for its counters.
    pub(crate) fn publisher(&self) -> &CountingPublisher {
        &self.worker.publisher
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // The tasks hold the worker, so they would keep running after the node is gone.
        self.heartbeats.abort();
        lock(&self.worker.jobs).abort_all();
    }
}

impl Worker {
    /// Handles an assignment: checks that it is for this node and starts the job.
    ///
    /// # Errors
    ///
    /// Returns an error, which the subscriber counts as a handler error, when the job
    /// is assigned to another node.
    fn on_job_assigned(self: Arc<Self>, job: JobAssigned) -> Result<(), BoxError> {
        if job.node_id != self.config.id {
            return Err(format!(
                "{} is assigned to {}, but this is {}",
                job.job_id, job.node_id, self.config.id
            )
            .into());
        }
        tracing::debug!(node = %self.config.id, job = %job.job_id, attempt = job.attempt, "job assigned");
        lock(&self.running).insert(job.job_id.clone());
        let mut jobs = lock(&self.jobs);
        // Finished tasks stay in the set until joined, so reap them to keep it small.
        while jobs.try_join_next().is_some() {}
        jobs.spawn(Arc::clone(&self).run_job(job));
        Ok(())
    }

    /// Simulates a job: reports `Accepted`, waits, reports `Running`, waits, then reports
    /// `Completed` or `Failed` according to the job's simulated exit code. The waits are
    /// drawn from a generator seeded by the job id, so each job takes the same time in
    /// every run.
    async fn run_job(self: Arc<Self>, job: JobAssigned) {
        let mut rng = SplitMix64::from_key(&job.job_id);
        let start_delay = Duration::from_millis(rng.in_range(START_MILLIS));
        let run_time = Duration::from_millis(rng.in_range(self.config.job_millis.clone()));

        self.report(&job, JobState::Accepted, None, None).await;
        tokio::time::sleep(start_delay).await;
        self.report(&job, JobState::Running, None, None).await;
        tokio::time::sleep(run_time).await;

        let code = job.simulated_exit_code;
        lock(&self.running).remove(&job.job_id);
        if code == 0 {
            self.report(&job, JobState::Completed, Some(code), None)
                .await;
        } else {
            let error = format!("command {:?} exited with code {code}", job.command);
            self.report(&job, JobState::Failed, Some(code), Some(error))
                .await;
        }
    }

    /// Publishes a status report and logs a failure, because the job goes on.
    async fn report(
        &self,
        job: &JobAssigned,
        state: JobState,
        exit_code: Option<i32>,
        error: Option<String>,
    ) {
        let status = JobStatus {
            job_id: job.job_id.clone(),
            node_id: self.config.id.clone(),
            attempt: job.attempt,
            state,
            exit_code,
            error,
        };
        if let Err(error) = self.publisher.publish(&status).await {
            tracing::warn!(
                node = %self.config.id,
                job = %job.job_id,
                ?state,
                error = %error,
                "failed to publish job status"
            );
        }
    }

    /// Publishes a heartbeat every interval, starting at once, until the task is aborted
    /// or the heartbeat limit is reached.
    async fn send_heartbeats(self: Arc<Self>) {
        let mut interval = tokio::time::interval(self.config.heartbeat_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sequence = 0;
        loop {
            interval.tick().await;
            if self
                .config
                .heartbeat_limit
                .is_some_and(|limit| sequence >= limit)
            {
                tracing::info!(
                    node = %self.config.id,
                    sent = sequence,
                    "heartbeat limit reached; the node goes silent"
                );
                return;
            }
            sequence += 1;
            let heartbeat = Heartbeat {
                node_id: self.config.id.clone(),
                sequence,
                running_jobs: lock(&self.running).iter().cloned().collect(),
            };
            if let Err(error) = self.publisher.publish(&heartbeat).await {
                tracing::warn!(node = %self.config.id, sequence, error = %error, "failed to publish heartbeat");
            }
        }
    }
}

/// Locks `mutex`, recovering the data if a holder panicked, because every critical
/// section here leaves the set valid.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
