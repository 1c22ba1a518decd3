//! The orchestrator: assigns jobs to healthy nodes, follows their progress and resends
//! assignments it hears nothing about.

mod handlers;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use ncl::{BoxError, Publisher, PublisherStats, Router, Subscriber, SubscriberStats};
use tokio::time::MissedTickBehavior;

use self::handlers::{Orchestrator, on_heartbeat, on_job_status};
use super::jobs::{HealthChange, JobTable};
use super::messages::JobAssigned;
use super::{ClusterError, Config, Subjects};

/// Name of the orchestrator's publishers and connection.
const NAME: &str = "orchestrator";

/// Result of [`RunningOrchestrator::run`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunOutcome {
    /// The run timeout passed before every job reached a final state.
    pub(crate) timed_out: bool,
    /// Time from the orchestrator's start to the end of the run.
    pub(crate) elapsed: Duration,
}

/// The orchestrator with its own NATS connection.
///
/// It receives [`JobStatus`](super::messages::JobStatus) and
/// [`Heartbeat`](super::messages::Heartbeat) on `<root>.orchestrator.>`, through a
/// [`Router`] of the handler functions in [`handlers`], and publishes [`JobAssigned`] to
/// `<root>.node.<node_id>.JobAssigned`, through one publisher per node.
pub(crate) struct RunningOrchestrator {
    orchestrator: Orchestrator,
    client: async_nats::Client,
    subscriber: Subscriber,
    publishers: BTreeMap<String, Publisher>,
    subjects: Subjects,
    config: Config,
}

impl RunningOrchestrator {
    /// Subscribes to the orchestrator's subjects and flushes the subscription to the
    /// server, so that no heartbeat sent after this returns is missed.
    pub(crate) async fn start(
        client: async_nats::Client,
        config: &Config,
        subjects: &Subjects,
    ) -> Result<Self, ClusterError> {
        let orchestrator = Orchestrator::new(config.jobs, config.fail_every, config.live_view);
        // `Router::new` would also take any other handler function in the program whose
        // state is `Orchestrator`, so the router names its two handlers.
        let router = Router::empty(orchestrator.clone())
            .route::<on_job_status>()
            .route::<on_heartbeat>();
        let subscriber = Subscriber::builder(client.clone())
            .handler(router)
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
            orchestrator,
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
    /// sent a heartbeat, and then starts with the nodes it heard from. With each batch it
    /// also checks the nodes' health and resends overdue assignments.
    pub(crate) async fn run(&mut self) -> RunOutcome {
        let started = self.orchestrator.started();
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
                () = self.orchestrator.changed() => {}
                _ = batches.tick() => {
                    self.check_health();
                    self.resend_overdue().await;
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
                () = self.orchestrator.changed() => {}
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
            self.orchestrator.print(format_args!(
                "{node_id} is UNHEALTHY: no heartbeat for {:.1} s; {requeued}",
                silence.as_secs_f64()
            ));
        }
    }

    /// Sends again, with the same attempt number, the assignments of jobs that had no
    /// status report for the status timeout. A resend that fails to publish is logged and
    /// tried again after another status timeout.
    async fn resend_overdue(&mut self) {
        let timeout = self.config.status_timeout;
        let overdue = self.table().take_overdue(Instant::now(), timeout);
        if overdue.is_empty() {
            return;
        }
        let ids: Vec<&str> = overdue.iter().map(|job| job.job_id.as_str()).collect();
        tracing::info!(
            jobs = ?ids,
            ?timeout,
            "no job status within the status timeout; resending the assignments"
        );
        self.orchestrator.print(format_args!(
            "no status for {:.1} s; resent {}",
            timeout.as_secs_f64(),
            ids.join(", ")
        ));
        for job in &overdue {
            if let Err(error) = self.publish(job).await {
                tracing::warn!(
                    job = %job.job_id,
                    node = %job.node_id,
                    attempt = job.attempt,
                    error = %error,
                    "failed to resend job assignment"
                );
            }
        }
    }

    /// Sends the next batch of assignments. A job whose assignment fails to publish goes
    /// back to the front of the queue.
    async fn assign_batch(&mut self) {
        let assignments = self
            .table()
            .assign_batch(self.config.batch_size, Instant::now());
        for job in assignments {
            match self.publish(&job).await {
                Ok(()) => {
                    tracing::debug!(
                        job = %job.job_id,
                        node = %job.node_id,
                        attempt = job.attempt,
                        "job assigned"
                    );
                }
                Err(error) => {
                    tracing::warn!(
                        job = %job.job_id,
                        node = %job.node_id,
                        error = %error,
                        "failed to publish job assignment; requeued the job"
                    );
                    self.table().unassign(&job);
                }
            }
        }
    }

    /// Publishes `job` to its node, building the node's publisher on first use.
    async fn publish(&mut self, job: &JobAssigned) -> Result<(), BoxError> {
        let publisher = match self.publishers.entry(job.node_id.clone()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let publisher = Publisher::builder(self.client.clone())
                    .name(NAME)
                    .destination_prefix(self.subjects.node(&job.node_id))
                    .build()?;
                entry.insert(publisher)
            }
        };
        publisher.publish(job).await?;
        Ok(())
    }

    fn print_view(&self) {
        if self.orchestrator.live_view() {
            let line = self.table().view_line();
            self.orchestrator.print(line);
        }
    }

    /// Locks the job table.
    pub(crate) fn table(&self) -> MutexGuard<'_, JobTable> {
        self.orchestrator.table()
    }

    /// Returns the counters of the orchestrator's publishers, one per node it sent to.
    pub(crate) fn publisher_stats(&self) -> Vec<PublisherStats> {
        self.publishers.values().map(Publisher::stats).collect()
    }

    /// Returns the counters of the orchestrator's subscriber.
    pub(crate) fn subscriber_stats(&self) -> SubscriberStats {
        self.subscriber.stats()
    }

    /// Returns the number of times the orchestrator's connection was re-established
    /// after a loss.
    pub(crate) fn reconnects(&self) -> u64 {
        super::reconnects(&self.client)
    }

    /// Closes the publishers, which flushes what they sent.
    pub(crate) async fn close_publishers(&self) {
        for (node_id, publisher) in &self.publishers {
            if let Err(error) = publisher.close().await {
                tracing::warn!(
                    node = %node_id,
                    error = %error,
                    "failed to flush the orchestrator's publisher"
                );
            }
        }
    }

    /// Unsubscribes, after the message being handled, if any.
    pub(crate) async fn close(&self) {
        self.subscriber.close().await;
    }
}
