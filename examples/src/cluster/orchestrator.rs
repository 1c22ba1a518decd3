//! The orchestrator: assigns jobs to healthy nodes and follows their progress.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt::Display;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ncl::{BoxError, Publisher, Subscriber, SubscriberStats};
use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;

use super::jobs::{HealthChange, JobTable, StatusOutcome};
use super::messages::{Heartbeat, JobState, JobStatus};
use super::{ClusterError, Config, Subjects};
use crate::{CountingPublisher, typed_handler};

/// Name of the orchestrator's publishers and connection.
const NAME: &str = "orchestrator";

/// Result of [`Orchestrator::run`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunOutcome {
    /// The run timeout passed before every job reached a final state.
    pub(crate) timed_out: bool,
    /// Time from the orchestrator's start to the end of the run.
    pub(crate) elapsed: Duration,
}

/// The orchestrator, with its own NATS connection.
///
/// It receives [`JobStatus`] and [`Heartbeat`] on `<root>.orchestrator.>` and publishes
/// [`JobAssigned`](super::messages::JobAssigned) to `<root>.node.<node_id>.JobAssigned`,
/// through one publisher per node.
pub(crate) struct Orchestrator {
    shared: Arc<Shared>,
    client: async_nats::Client,
    subscriber: Subscriber,
    publishers: BTreeMap<String, CountingPublisher>,
    subjects: Subjects,
    config: Config,
}

/// The part of the orchestrator that its handlers share.
struct Shared {
    table: Mutex<JobTable>,
    /// Woken when a job reaches a final state or a node's health changes.
    changed: Notify,
    console: Console,
}

impl Orchestrator {
    /// Subscribes to the orchestrator's subjects and flushes the subscription to the
    /// server, so that no heartbeat sent after this returns is missed.
    pub(crate) async fn start(
        client: async_nats::Client,
        config: &Config,
        subjects: &Subjects,
    ) -> Result<Self, ClusterError> {
        let shared = Arc::new(Shared {
            table: Mutex::new(JobTable::new(config.jobs, config.fail_every)),
            changed: Notify::new(),
            console: Console {
                enabled: config.live_view,
                started: Instant::now(),
            },
        });
        let status_shared = Arc::clone(&shared);
        let heartbeat_shared = Arc::clone(&shared);
        let subscriber = Subscriber::builder(client.clone())
            .handler(typed_handler(move |status: JobStatus| {
                let result = status_shared.on_job_status(status);
                async move { result }
            }))
            .handler(typed_handler(move |heartbeat: Heartbeat| {
                let result = heartbeat_shared.on_heartbeat(heartbeat);
                async move { result }
            }))
            .build()
            .map_err(|source| ClusterError::Build {
                name: NAME.to_owned(),
                source,
            })?;
        let subject = format!("{}.>", subjects.orchestrator());
        subscriber
            .subscribe([subject])
            .await
            .map_err(|source| ClusterError::Subscribe {
                name: NAME.to_owned(),
                source,
            })?;
        client.flush().await.map_err(|source| ClusterError::Flush {
            name: NAME.to_owned(),
            source,
        })?;
        Ok(Self {
            shared,
            client,
            subscriber,
            publishers: BTreeMap::new(),
            subjects: subjects.clone(),
            config: config.clone(),
        })
    }

    /// Assigns jobs in batches until every job reached a final state or the run
    /// timeout passed, printing the live view each view interval.
    ///
    /// It first waits, up to the heartbeat timeout, until every configured node has
    /// sent a heartbeat, and then starts with the nodes it heard from.
    pub(crate) async fn run(&mut self) -> RunOutcome {
        let started = self.shared.console.started;
        let deadline = tokio::time::Instant::from_std(started + self.config.run_timeout);
        self.wait_for_nodes(deadline).await;

        let mut batches = tokio::time::interval(self.config.batch_interval);
        batches.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let view_interval = self.config.view_interval;
        let mut views = tokio::time::interval_at(
            tokio::time::Instant::from_std(started + view_interval),
            view_interval,
        );
        views.set_missed_tick_behavior(MissedTickBehavior::Delay);

        let timed_out = loop {
            if self.table().all_finished() {
                break false;
            }
            tokio::select! {
                () = self.shared.changed.notified() => {}
                _ = batches.tick() => {
                    self.check_health();
                    self.assign_batch().await;
                }
                _ = views.tick() => {
                    self.check_health();
                    self.print_view();
                }
                () = tokio::time::sleep_until(deadline) => break true,
            }
        };
        self.print_view();
        let elapsed = started.elapsed();
        if timed_out {
            let unfinished = self.table().unfinished();
            tracing::warn!(
                timeout = ?self.config.run_timeout,
                unfinished,
                "run timed out before every job reached a final state"
            );
        }
        RunOutcome { timed_out, elapsed }
    }

    async fn wait_for_nodes(&self, run_deadline: tokio::time::Instant) {
        let join_deadline = tokio::time::Instant::now() + self.config.heartbeat_timeout;
        let deadline = join_deadline.min(run_deadline);
        loop {
            let joined = self.table().nodes().len();
            if joined >= self.config.nodes {
                return;
            }
            tokio::select! {
                () = self.shared.changed.notified() => {}
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(
                        joined,
                        expected = self.config.nodes,
                        "not every node sent a heartbeat in time; starting without them"
                    );
                    return;
                }
            }
        }
    }

    /// Marks silent nodes unhealthy, which requeues their unfinished jobs.
    fn check_health(&self) {
        let changes = self
            .table()
            .check_health(Instant::now(), self.config.heartbeat_timeout);
        for (node_id, change) in changes {
            let HealthChange::Unhealthy { silence, requeued } = change else {
                continue;
            };
            tracing::info!(node = %node_id, ?silence, ?requeued, "node marked unhealthy");
            let requeued = if requeued.is_empty() {
                "no jobs to requeue".to_owned()
            } else {
                format!("requeued {}", requeued.join(", "))
            };
            self.shared.console.line(format_args!(
                "{node_id} is UNHEALTHY: no heartbeat for {:.1} s; {requeued}",
                silence.as_secs_f64()
            ));
        }
    }

    /// Sends the next batch of assignments. A job whose assignment fails to publish goes
    /// back to the front of the queue.
    async fn assign_batch(&mut self) {
        let assignments = self.table().assign_batch(self.config.batch_size);
        for job in assignments {
            let result = match self.publisher_for(&job.node_id) {
                Ok(publisher) => publisher.publish(&job).await.map_err(BoxError::from),
                Err(error) => Err(error),
            };
            match result {
                Ok(()) => {
                    tracing::debug!(job = %job.job_id, node = %job.node_id, attempt = job.attempt, "job assigned");
                }
                Err(error) => {
                    tracing::warn!(job = %job.job_id, node = %job.node_id, error = %error, "failed to publish job assignment, requeued the job");
                    self.table().unassign(&job);
                }
            }
        }
    }

    /// Returns the publisher to `node_id`, building it on first use.
    fn publisher_for(&mut self, node_id: &str) -> Result<&CountingPublisher, BoxError> {
        match self.publishers.entry(node_id.to_owned()) {
            Entry::Occupied(entry) => Ok(entry.into_mut()),
            Entry::Vacant(entry) => {
                let publisher = Publisher::builder(self.client.clone())
                    .name(NAME)
                    .destination_prefix(self.subjects.node(node_id))
                    .build()?;
                Ok(entry.insert(CountingPublisher::new(publisher)))
            }
        }
    }

    fn print_view(&self) {
        if self.shared.console.enabled {
            let line = self.table().view_line();
            self.shared.console.line(line);
        }
    }

    /// Locks the job table.
    pub(crate) fn table(&self) -> MutexGuard<'_, JobTable> {
        lock(&self.shared.table)
    }

    /// Returns the number of assignments published, over all nodes.
    pub(crate) fn sent(&self) -> u64 {
        self.publishers.values().map(CountingPublisher::sent).sum()
    }

    /// Returns the number of assignments that failed to publish, over all nodes.
    pub(crate) fn publish_errors(&self) -> u64 {
        self.publishers
            .values()
            .map(CountingPublisher::failed)
            .sum()
    }

    /// Returns the counters of the orchestrator's subscriber.
    pub(crate) fn subscriber_stats(&self) -> SubscriberStats {
        self.subscriber.stats()
    }

    /// Waits until the server has received everything the orchestrator published.
    pub(crate) async fn flush(&self) -> Result<(), async_nats::client::FlushError> {
        self.client.flush().await
    }

    /// Unsubscribes, after the message being handled, if any.
    pub(crate) async fn close(&self) {
        self.subscriber.close().await;
    }
}

impl Shared {
    /// Applies a node's report on a job.
    ///
    /// # Errors
    ///
    /// Returns an error, which the subscriber counts as a handler error, for a job id
    /// that this run did not create.
    fn on_job_status(&self, status: JobStatus) -> Result<(), BoxError> {
        let outcome = lock(&self.table).apply_status(&status);
        match outcome {
            StatusOutcome::Applied { finished } => {
                if status.state == JobState::Failed {
                    let reason = status.error.as_deref().unwrap_or("no reason given");
                    self.console.line(format_args!(
                        "{} failed on {} (attempt {}): {reason}",
                        status.job_id, status.node_id, status.attempt
                    ));
                }
                if finished {
                    self.changed.notify_one();
                }
                Ok(())
            }
            StatusOutcome::UnknownJob => {
                Err(format!("status report for unknown job {:?}", status.job_id).into())
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

    /// Records a heartbeat.
    ///
    /// # Errors
    ///
    /// Returns an error, which the subscriber counts as a handler error, when the node
    /// id cannot be used as a subject token, because the orchestrator could not send
    /// jobs to that node.
    fn on_heartbeat(&self, heartbeat: Heartbeat) -> Result<(), BoxError> {
        let valid_id = !heartbeat.node_id.is_empty()
            && heartbeat
                .node_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_id {
            return Err(format!(
                "invalid node id {:?} in heartbeat: use ASCII letters, digits, '-' and '_'",
                heartbeat.node_id
            )
            .into());
        }
        let change = lock(&self.table).record_heartbeat(&heartbeat, Instant::now());
        match change {
            Some(HealthChange::Joined) => {
                tracing::debug!(node = %heartbeat.node_id, "node joined");
                self.console
                    .line(format_args!("{} joined", heartbeat.node_id));
                self.changed.notify_one();
            }
            Some(HealthChange::Recovered) => {
                tracing::info!(node = %heartbeat.node_id, "node is healthy again");
                self.console
                    .line(format_args!("{} is healthy again", heartbeat.node_id));
                self.changed.notify_one();
            }
            Some(HealthChange::Unhealthy { .. }) | None => {}
        }
        Ok(())
    }
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

/// Locks `mutex`, recovering the data if a holder panicked, because every critical
/// section here leaves the table valid.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
