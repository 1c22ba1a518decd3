//! The pull task: requests as many messages from the consumer as there are free slots
//! and hands each to a delivery task.

use std::collections::VecDeque;
use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::BatchConfig;
use async_nats::jetstream::{self, AckKind};
use async_nats::{StatusCode, Subject};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::dead_letter::Target;
use super::delivery::{self, log_slot};
use super::subscriber::{Engine, Wiring};
use crate::handler::HandlerChain;
use crate::{Checkpointer, MessageFilter};

/// Time after a pull request's expiry at which the subscriber stops waiting for the
/// server's end-of-request status and sends another request.
const PULL_GRACE: Duration = Duration::from_secs(1);
/// Pause before pulling again after a failed pull request or an error status.
const PULL_RETRY_DELAY: Duration = Duration::from_millis(250);
/// How often the pull task checks whether the client reconnected.
const RECONNECT_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// State shared by every delivery task of a started subscriber.
pub(super) struct Session<H, F, C> {
    pub(super) engine: Arc<Engine<H, F, C>>,
    pub(super) js: jetstream::Context,
    pub(super) dead_letter: Target,
}

/// A pull request that the server may still respond to.
#[derive(Debug)]
struct PullRequest {
    /// The last token of the request's reply subject.
    id: u64,
    /// Messages asked for and not yet received.
    remaining: usize,
    /// Time at which the request counts as lost if the server sent no status for it.
    deadline: Instant,
    /// The client's connect count when the request was sent.
    connects: u64,
}

/// Runs the pull task of a started subscriber until shutdown.
pub(super) async fn run<H, F, C>(engine: Arc<Engine<H, F, C>>, wiring: Wiring)
where
    H: HandlerChain,
    F: MessageFilter,
    C: Checkpointer,
{
    let Wiring {
        js,
        dead_letter,
        consumer,
        mut inbox,
        inbox_prefix,
        mut shutdown,
    } = wiring;
    let mut puller = Puller {
        client: js.client(),
        session: Arc::new(Session {
            engine,
            js,
            dead_letter,
        }),
        consumer,
        inbox_prefix,
        next_request_id: 0,
    };
    puller.run(&mut inbox, &mut shutdown).await;
}

/// The state of the pull task that outlives one pull request.
struct Puller<H, F, C> {
    session: Arc<Session<H, F, C>>,
    consumer: PullConsumer,
    inbox_prefix: String,
    client: async_nats::Client,
    next_request_id: u64,
}

impl<H: HandlerChain, F: MessageFilter, C: Checkpointer> Puller<H, F, C> {
    /// Pulls and dispatches messages until shutdown, then drains.
    ///
    /// At most one pull request is outstanding, and it requests no more messages than
    /// there are free slots (`concurrency` minus the messages running or queued). All
    /// requests reply to subjects under one inbox subscription, each with its own last
    /// token, so a late status of an abandoned request is told apart from the current
    /// one. A message of an abandoned request is still queued and handled, but no
    /// sooner than a slot is free.
    async fn run(
        &mut self,
        inbox: &mut async_nats::Subscriber,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        let concurrency = self.session.engine.settings.concurrency;
        let mut running = JoinSet::new();
        let mut queued: VecDeque<jetstream::Message> = VecDeque::new();
        let mut request: Option<PullRequest> = None;
        let mut paused_until: Option<Instant> = None;
        let mut reconnect_check = tokio::time::interval(RECONNECT_CHECK_INTERVAL);
        reconnect_check.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            while running.len() < concurrency {
                let Some(message) = queued.pop_front() else {
                    break;
                };
                running.spawn(delivery::handle(Arc::clone(&self.session), message));
            }
            let busy = running.len() + queued.len();
            if request.is_none() && busy < concurrency && paused_until.is_none() {
                request = self.pull(concurrency - busy).await;
                if request.is_none() {
                    paused_until = Some(Instant::now() + PULL_RETRY_DELAY);
                }
            }
            let deadline = request.as_ref().map(|request| request.deadline);
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|closed| *closed) => break,
                Some(joined) = running.join_next() => {
                    if let Err(error) = joined {
                        tracing::error!(error = %error, "JetStream delivery task failed");
                    }
                }
                message = inbox.next() => match message {
                    Some(message) => {
                        self.receive(message, &mut request, &mut queued, &mut paused_until);
                    }
                    None => {
                        tracing::debug!("pull inbox closed; the client is closing");
                        break;
                    }
                },
                () = sleep_until(deadline) => {
                    tracing::debug!(
                        durable = %self.session.engine.settings.durable,
                        "pull request got no answer within its expiry; sending another"
                    );
                    request = None;
                }
                () = sleep_until(paused_until) => paused_until = None,
                _ = reconnect_check.tick() => {
                    let connects = self.connects();
                    if request.as_ref().is_some_and(|request| request.connects != connects) {
                        // A restarted server forgot the request. If the server did not
                        // restart, a second request costs nothing.
                        tracing::debug!("client reconnected; sending a new pull request");
                        request = None;
                    }
                }
            }
        }
        self.drain(inbox, running, queued).await;
    }

    /// Sends a pull request for `batch` messages, returning `None` when it failed.
    async fn pull(&mut self, batch: usize) -> Option<PullRequest> {
        let id = self.next_request_id;
        self.next_request_id += 1;
        let expiry = self.session.engine.settings.pull_expiry;
        let config = BatchConfig {
            batch,
            expires: Some(expiry),
            ..Default::default()
        };
        let reply = Subject::from(format!("{}.{id}", self.inbox_prefix));
        let connects = self.connects();
        match self.consumer.request_batch(config, reply).await {
            Ok(()) => Some(PullRequest {
                id,
                remaining: batch,
                deadline: Instant::now() + expiry + PULL_GRACE,
                connects,
            }),
            Err(error) => {
                let engine = &self.session.engine;
                if let Some(suppressed) = engine.log_limiter.allow(log_slot::PULL) {
                    tracing::warn!(
                        stream = %engine.settings.stream,
                        durable = %engine.settings.durable,
                        error = %error,
                        suppressed,
                        "failed to send pull request; retrying"
                    );
                }
                None
            }
        }
    }

    /// Sorts one message of the inbox. A delivery is queued and counted against the
    /// current request. A status ends the current request, or is ignored when it
    /// belongs to an abandoned one.
    ///
    /// A delivery carries the subject it was published to, so it cannot be matched to
    /// its request. A status carries the request's reply subject.
    fn receive(
        &self,
        message: async_nats::Message,
        request: &mut Option<PullRequest>,
        queued: &mut VecDeque<jetstream::Message>,
        paused_until: &mut Option<Instant>,
    ) {
        let status = message.status.unwrap_or(StatusCode::OK);
        if status == StatusCode::OK {
            if let Some(current) = request.as_mut() {
                current.remaining = current.remaining.saturating_sub(1);
                if current.remaining == 0 {
                    *request = None;
                }
            }
            queued.push_back(jetstream::Message {
                message,
                context: self.session.js.clone(),
            });
            return;
        }

        let request_id = message
            .subject
            .rsplit('.')
            .next()
            .and_then(|token| token.parse::<u64>().ok());
        let is_current = match (request.as_ref(), request_id) {
            (Some(request), Some(id)) => request.id == id,
            _ => false,
        };
        if status == StatusCode::IDLE_HEARTBEAT || !is_current {
            return;
        }

        *request = None;
        // 408: the request expired; 404: no messages. Both are the normal end of a
        // request, so the next one is sent at once.
        if status == StatusCode::TIMEOUT || status == StatusCode::NOT_FOUND {
            return;
        }

        // 503 (JetStream not ready, for example after a server restart), 409 (the
        // request was terminated, for example by a leader change) and anything else.
        *paused_until = Some(Instant::now() + PULL_RETRY_DELAY);
        let engine = &self.session.engine;
        if let Some(suppressed) = engine.log_limiter.allow(log_slot::PULL) {
            tracing::warn!(
                stream = %engine.settings.stream,
                durable = %engine.settings.durable,
                status = %status,
                description = message.description.as_deref().unwrap_or(""),
                suppressed,
                "pull request ended with an error status; retrying"
            );
        }
    }

    /// Negatively acknowledges queued messages, waits for running ones up to the close
    /// timeout, and unsubscribes the inbox.
    async fn drain(
        &self,
        inbox: &mut async_nats::Subscriber,
        mut running: JoinSet<()>,
        queued: VecDeque<jetstream::Message>,
    ) {
        let settings = &self.session.engine.settings;
        tracing::debug!(
            stream = %settings.stream,
            durable = %settings.durable,
            running = running.len(),
            queued = queued.len(),
            "closing durable subscriber"
        );
        for message in queued {
            self.release(&message).await;
        }
        let close_timeout = settings.close_timeout;
        let finished = async { while running.join_next().await.is_some() {} };
        if tokio::time::timeout(close_timeout, finished).await.is_err() {
            tracing::warn!(
                timeout = ?close_timeout,
                "handler still running at close timeout; cancelling it"
            );
            running.abort_all();
        }
        if let Err(error) = inbox.unsubscribe().await {
            tracing::debug!(error = %error, "unsubscribe failed; the connection is closing");
        }
        // Deliveries that arrived for the last pull request are released, not left to
        // wait for the ack wait.
        while let Some(Some(message)) = inbox.next().now_or_never() {
            if message.status.is_none() {
                let message = jetstream::Message {
                    message,
                    context: self.session.js.clone(),
                };
                self.release(&message).await;
            }
        }
    }

    /// Negatively acknowledges `message` without delay, so the server delivers it again
    /// at once.
    async fn release(&self, message: &jetstream::Message) {
        if let Err(error) = message.ack_with(AckKind::Nak(None)).await {
            self.session.engine.counters.ack_failed();
            tracing::debug!(error = %error, "failed to release an unhandled message");
        }
    }

    fn connects(&self) -> u64 {
        self.client.statistics().connects.load(Ordering::Relaxed)
    }
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => pending().await,
    }
}
