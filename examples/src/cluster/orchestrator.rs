//! The orchestrator: requests bids from healthy nodes, assigns each job to the best bidder
//! with acknowledged publishing, follows the jobs' progress and resends assignments it
//! hears nothing about.

mod handlers;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::MutexGuard;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use ncl::{
    AckedPublisher, AckedPublisherStats, BoxError, Publisher, Router, Subscriber, SubscriberStats,
};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use self::handlers::{Orchestrator, on_heartbeat, on_job_status};
use super::jobs::{HealthChange, JobTable, pick_bid};
use super::messages::{Bid, BidRequest, JobAssigned};
use super::{ClusterError, Config, Subjects};

pub(crate) use self::handlers::BidCounters;

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
/// [`Router`] of the handler functions in [`handlers`]. Per node, it sends
/// [`BidRequest`]s to `<root>.node.<node_id>.BidRequest` through a [`Publisher`], and
/// [`JobAssigned`] to `<root>.node.<node_id>.JobAssigned` through an [`AckedPublisher`].
pub(crate) struct RunningOrchestrator {
    orchestrator: Orchestrator,
    client: async_nats::Client,
    subscriber: Subscriber,
    /// Bid request publishers, by node id.
    requesters: BTreeMap<String, Publisher>,
    /// Assignment publishers, by node id.
    assigners: BTreeMap<String, AckedPublisher>,
    /// Tasks that await the acknowledgement of an assignment.
    acks: JoinSet<()>,
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
        let orchestrator = Orchestrator::new(
            config.jobs,
            config.fail_every,
            config.node_ids(),
            config.live_view,
        );
        // `Router::new` would also take any other handler function in the program whose
        // state is `Orchestrator`, so the router names its two handlers.
        let router = Router::empty(orchestrator.clone())
            .route::<on_job_status>()
            .route::<on_heartbeat>();
        let subscriber = Subscriber::builder(client.clone())
            .name(NAME)
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
            requesters: BTreeMap::new(),
            assigners: BTreeMap::new(),
            acks: JoinSet::new(),
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
    ///
    /// Bids are awaited within the batch, which delays the next tick by up to the reply
    /// timeout when a node does not reply. Acknowledgements are awaited by tasks.
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
        for job in overdue {
            self.send_assignment(job).await;
        }
    }

    /// Assigns the next batch of pending jobs. For each job, in queue order, it requests a
    /// bid from every healthy node, picks one with [`pick_bid`] and sends the assignment. The
    /// batch ends early at a job that no node has room for, because no later job would
    /// find room either.
    async fn assign_batch(&mut self) {
        while self.acks.try_join_next().is_some() {}
        let (offers, nodes) = {
            let table = self.table();
            (
                table.pending_offers(self.config.batch_size),
                table.healthy_nodes(),
            )
        };
        if offers.is_empty() || nodes.is_empty() {
            return;
        }
        // Jobs assigned in this batch, by node, which the nodes' later bids may not count
        // yet.
        let mut planned: HashMap<String, u32> = HashMap::new();
        for offer in offers {
            let bids = self.collect_bids(&nodes, &offer).await;
            let Some(bid) = pick_bid(&bids, &planned) else {
                tracing::debug!(
                    job = %offer.job_id,
                    bids = bids.len(),
                    "no node has room for the job; it stays pending"
                );
                break;
            };
            let node_id = bid.node_id.clone();
            let assigned = self.table().assign(&offer.job_id, &node_id, Instant::now());
            let Some(job) = assigned else {
                // The node became unhealthy while the bids were collected.
                continue;
            };
            *planned.entry(node_id).or_default() += 1;
            self.send_assignment(job).await;
        }
    }

    /// Requests a bid on `offer` from each of `nodes`, all at once, and returns the bids that
    /// arrived within the reply timeout. A failed request counts as no bid.
    async fn collect_bids(&mut self, nodes: &[String], offer: &BidRequest) -> Vec<Bid> {
        let mut requesters = Vec::with_capacity(nodes.len());
        for node_id in nodes {
            match self.requester(node_id) {
                Ok(requester) => requesters.push((node_id.as_str(), requester.clone())),
                Err(error) => {
                    tracing::warn!(node = %node_id, error = %error, "failed to set up bid requests");
                }
            }
        }
        let timeout = self.config.reply_timeout;
        let requests = requesters
            .iter()
            .map(|(_, requester)| requester.request_with_timeout(offer, timeout));
        let responses = join_all(requests).await;

        let counters = self.orchestrator.bids();
        let mut bids = Vec::with_capacity(responses.len());
        for ((node_id, _), response) in requesters.iter().zip(responses) {
            counters.requested.fetch_add(1, Ordering::Relaxed);
            let bid = match response {
                Ok(message) => message.payload,
                Err(error) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        node = %node_id,
                        job = %offer.job_id,
                        error = %error,
                        "bid request failed; the node gets no job this round"
                    );
                    continue;
                }
            };
            if bid.node_id != *node_id || bid.job_id != offer.job_id {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    node = %node_id,
                    job = %offer.job_id,
                    bid_node = %bid.node_id,
                    bid_job = %bid.job_id,
                    "ignoring a bid for another job or from another node"
                );
                continue;
            }
            if !bid.accepted {
                counters.declined.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    node = %node_id,
                    job = %offer.job_id,
                    reason = bid.reason.as_deref().unwrap_or("none given"),
                    "node declined the job"
                );
            }
            bids.push(bid);
        }
        bids
    }

    /// Sends `job` to its node with acknowledged publishing, and spawns a task that awaits
    /// the acknowledgement. When the assignment fails, the job goes back to the front of
    /// the queue, unless the node has reported on it since.
    async fn send_assignment(&mut self, job: JobAssigned) {
        let queued = match self.assigner(&job.node_id).await {
            Ok(assigner) => assigner.publish_async(&job).map_err(BoxError::from),
            Err(error) => Err(error),
        };
        let acknowledgement = match queued {
            Ok(acknowledgement) => acknowledgement,
            Err(error) => {
                tracing::warn!(
                    job = %job.job_id,
                    node = %job.node_id,
                    attempt = job.attempt,
                    error = %error,
                    "failed to send job assignment; requeued the job"
                );
                self.table().unassign(&job);
                return;
            }
        };
        let orchestrator = self.orchestrator.clone();
        self.acks.spawn(async move {
            match acknowledgement.await {
                Ok(ack) => tracing::debug!(
                    job = %job.job_id,
                    node = %job.node_id,
                    attempt = job.attempt,
                    sends = ack.attempts,
                    "job assignment acknowledged"
                ),
                Err(error) => {
                    tracing::warn!(
                        job = %job.job_id,
                        node = %job.node_id,
                        attempt = job.attempt,
                        error = %error,
                        "job assignment not acknowledged; requeued the job"
                    );
                    orchestrator.table().unassign(&job);
                }
            }
        });
    }

    /// Returns the bid request publisher of `node_id`, building it on first use.
    fn requester(&mut self, node_id: &str) -> Result<&Publisher, ncl::BuildError> {
        match self.requesters.entry(node_id.to_owned()) {
            Entry::Occupied(entry) => Ok(entry.into_mut()),
            Entry::Vacant(entry) => {
                let publisher = Publisher::builder(self.client.clone())
                    .name(NAME)
                    .destination_prefix(self.subjects.node(node_id))
                    .build()?;
                Ok(entry.insert(publisher))
            }
        }
    }

    /// Returns the assignment publisher of `node_id`, building it on first use. Its ack
    /// wait is the reply timeout.
    async fn assigner(&mut self, node_id: &str) -> Result<&AckedPublisher, BoxError> {
        match self.assigners.entry(node_id.to_owned()) {
            Entry::Occupied(entry) => Ok(entry.into_mut()),
            Entry::Vacant(entry) => {
                let publisher = AckedPublisher::builder(self.client.clone())
                    .name(NAME)
                    .destination_prefix(self.subjects.node(node_id))
                    .ack_wait(self.config.reply_timeout)
                    .build()
                    .await?;
                Ok(entry.insert(publisher))
            }
        }
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

    /// Returns the counters of the orchestrator's assignment publishers, one per node it
    /// sent to.
    pub(crate) fn assignment_stats(&self) -> Vec<AckedPublisherStats> {
        self.assigners.values().map(AckedPublisher::stats).collect()
    }

    /// Returns the counts of the orchestrator's bid requests.
    pub(crate) fn bid_counters(&self) -> &BidCounters {
        self.orchestrator.bids()
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

    /// Waits up to the reply timeout for the acknowledgements still awaited, then
    /// closes the publishers, which flushes what they sent and fails the assignments
    /// still unacknowledged.
    pub(crate) async fn close_publishers(&mut self) {
        let acks = &mut self.acks;
        let settled = tokio::time::timeout(self.config.reply_timeout, async {
            while acks.join_next().await.is_some() {}
        })
        .await;
        if settled.is_err() {
            tracing::warn!(
                pending = self.acks.len(),
                "assignments still unacknowledged at the end of the run"
            );
        }
        let requesters = self
            .requesters
            .iter()
            .map(|(node_id, publisher)| async move {
                if let Err(error) = publisher.close().await {
                    tracing::warn!(
                        node = %node_id,
                        error = %error,
                        "failed to flush the orchestrator's bid requests"
                    );
                }
            });
        join_all(requesters).await;
        join_all(self.assigners.values().map(AckedPublisher::close)).await;
        self.acks.shutdown().await;
    }

    /// Unsubscribes, after the message being handled, if any.
    pub(crate) async fn close(&self) {
        self.subscriber.close().await;
    }
}
