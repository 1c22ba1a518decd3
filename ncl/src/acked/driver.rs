//! The task behind an acknowledged publisher: sends messages in order, matches
//! acknowledgements to them, retries negative ones and expires the rest.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::{StatusCode, Subject};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::protocol::AckBody;
use super::publisher::Counters;
use super::{Ack, AckError};
use crate::PublishError;
use crate::telemetry::AckedMetrics;

/// A message waiting to be sent, awaiting its acknowledgement, or waiting to be retried.
pub(super) struct Entry {
    pub(super) subject: Subject,
    pub(super) payload: Bytes,
    pub(super) message_id: String,
    pub(super) done: oneshot::Sender<Result<Ack, AckError>>,
    /// Releases the message's place in the publisher's pending count when dropped.
    pub(super) _slot: PendingSlot,
    /// Position in publish order, set by the driver.
    pub(super) sequence: u64,
    /// How many times the message was sent.
    pub(super) attempts: u32,
    /// Set once the message was negatively acknowledged. While any such message is
    /// unresolved, the driver sends no new messages, so none overtakes it.
    pub(super) nacked: bool,
}

/// One place in an acknowledged publisher's pending count.
pub(super) struct PendingSlot(Arc<AtomicUsize>);

impl PendingSlot {
    /// Takes a place in `pending`, or returns `None` when `max` places are taken.
    pub(super) fn acquire(pending: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < max).then_some(count + 1)
            })
            .ok()
            .map(|_| Self(Arc::clone(pending)))
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request from an [`AckedPublisher`](super::AckedPublisher) to its driver.
pub(super) enum Command {
    /// Send a message after those sent before it.
    Publish(Entry),
    /// Fail every pending message with [`AckError::Reset`], then confirm.
    Reset(oneshot::Sender<()>),
    /// Fail every pending message with [`AckError::Closed`], confirm and stop.
    Close(oneshot::Sender<()>),
}

/// Settings the driver runs with.
pub(super) struct DriverSettings {
    pub(super) publisher: String,
    pub(super) inbox: String,
    pub(super) ack_wait: Duration,
    pub(super) max_attempts: u32,
    pub(super) publish_timeout: Duration,
    pub(super) metrics: AckedMetrics,
    pub(super) counters: Arc<Counters>,
}

pub(super) struct Driver {
    client: async_nats::Client,
    subscription: async_nats::Subscriber,
    commands: mpsc::UnboundedReceiver<Command>,
    settings: DriverSettings,
    /// Messages not sent yet, in publish order.
    outbox: VecDeque<Entry>,
    /// Sent messages awaiting acknowledgement, by the token of their reply subject.
    in_flight: HashMap<u64, Entry>,
    /// Ack deadlines of sent messages in send order, which is deadline order; tokens no
    /// longer in flight are skipped.
    deadlines: VecDeque<(Instant, u64)>,
    /// Negatively acknowledged messages and when to send them again.
    retries: Vec<(Instant, Entry)>,
    /// Number of unresolved messages with `nacked` set.
    unresolved_nacks: usize,
    next_token: u64,
    next_sequence: u64,
}

impl Driver {
    pub(super) fn new(
        client: async_nats::Client,
        subscription: async_nats::Subscriber,
        commands: mpsc::UnboundedReceiver<Command>,
        settings: DriverSettings,
    ) -> Self {
        Self {
            client,
            subscription,
            commands,
            settings,
            outbox: VecDeque::new(),
            in_flight: HashMap::new(),
            deadlines: VecDeque::new(),
            retries: Vec::new(),
            unresolved_nacks: 0,
            next_token: 0,
            next_sequence: 0,
        }
    }

    /// Runs until the publisher is closed or dropped, or the connection ends.
    pub(super) async fn run(mut self) {
        loop {
            self.send_due().await;
            let wake = self.next_wake();
            let sleep = async move {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            // Acknowledgements first: they free places for new messages.
            tokio::select! {
                biased;
                reply = self.subscription.next() => match reply {
                    Some(reply) => self.on_reply(&reply),
                    None => {
                        tracing::debug!(
                            publisher = %self.settings.publisher,
                            "acknowledgement inbox closed; the connection ended"
                        );
                        self.fail_all(|| AckError::Closed);
                        return;
                    }
                },
                command = self.commands.recv() => match command {
                    Some(Command::Publish(mut entry)) => {
                        entry.sequence = self.next_sequence;
                        self.next_sequence += 1;
                        self.outbox.push_back(entry);
                    }
                    Some(Command::Reset(done)) => {
                        tracing::debug!(
                            publisher = %self.settings.publisher,
                            pending = self.pending(),
                            "publisher reset; failing pending messages"
                        );
                        self.fail_all(|| AckError::Reset);
                        let _ = done.send(());
                    }
                    Some(Command::Close(done)) => {
                        self.fail_all(|| AckError::Closed);
                        let _ = done.send(());
                        return;
                    }
                    // Every publisher handle was dropped.
                    None => {
                        self.fail_all(|| AckError::Closed);
                        return;
                    }
                },
                () = sleep => {}
            }
            self.expire(Instant::now());
        }
    }

    fn pending(&self) -> usize {
        self.outbox.len() + self.in_flight.len() + self.retries.len()
    }

    /// Sends the retries that are due, in publish order, then, unless a negatively
    /// acknowledged message is unresolved, every message of the outbox.
    async fn send_due(&mut self) {
        if !self.retries.is_empty() {
            let now = Instant::now();
            let (mut due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retries)
                .into_iter()
                .partition(|(at, _)| *at <= now);
            self.retries = waiting;
            due.sort_by_key(|(_, entry)| entry.sequence);
            for (_, entry) in due {
                self.send(entry).await;
            }
        }
        while self.unresolved_nacks == 0 {
            let Some(entry) = self.outbox.pop_front() else {
                break;
            };
            self.send(entry).await;
        }
    }

    /// Publishes `entry` with a fresh reply subject and starts its ack deadline.
    async fn send(&mut self, mut entry: Entry) {
        let token = self.next_token;
        self.next_token += 1;
        let reply = format!("{}.{token}", self.settings.inbox);
        entry.attempts += 1;
        let publish =
            self.client
                .publish_with_reply(entry.subject.clone(), reply, entry.payload.clone());
        let timeout = self.settings.publish_timeout;
        let error = match crate::timeout::timeout_after_first_poll(timeout, publish).await {
            Ok(Ok(())) => {
                tracing::trace!(
                    publisher = %self.settings.publisher,
                    subject = %entry.subject,
                    message_id = %entry.message_id,
                    attempt = entry.attempts,
                    "published message awaiting acknowledgement"
                );
                let deadline = Instant::now() + self.settings.ack_wait;
                self.deadlines.push_back((deadline, token));
                self.settings
                    .counters
                    .sent(entry.payload.len(), entry.attempts);
                self.in_flight.insert(token, entry);
                self.settings.metrics.sent(self.pending());
                return;
            }
            Ok(Err(source)) => PublishError::Nats {
                subject: entry.subject.to_string(),
                source,
            },
            Err(()) => PublishError::Timeout {
                subject: entry.subject.to_string(),
                timeout,
            },
        };
        self.resolve(entry, Err(error.into()));
    }

    /// Matches a reply to its message and resolves or retries the message.
    fn on_reply(&mut self, reply: &async_nats::Message) {
        let token = reply
            .subject
            .strip_prefix(self.settings.inbox.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|token| token.parse::<u64>().ok());
        let Some(mut entry) = token.and_then(|token| self.in_flight.remove(&token)) else {
            // A late reply to a message that timed out or was reset, or a second
            // subscriber's reply.
            tracing::debug!(
                publisher = %self.settings.publisher,
                reply = %reply.subject,
                "ignoring acknowledgement of a message that is no longer pending"
            );
            return;
        };
        if reply.status == Some(StatusCode::NO_RESPONDERS) {
            let error = AckError::NoResponders {
                message_id: entry.message_id.clone(),
                subject: entry.subject.to_string(),
            };
            self.resolve(entry, Err(error));
            return;
        }
        let body: AckBody = match serde_json::from_slice(&reply.payload) {
            Ok(body) => body,
            Err(source) => {
                let error = AckError::InvalidAck {
                    message_id: entry.message_id.clone(),
                    source,
                };
                self.resolve(entry, Err(error));
                return;
            }
        };
        if body.error.is_empty() {
            let ack = Ack {
                message_id: entry.message_id.clone(),
                attempts: entry.attempts,
            };
            self.resolve(entry, Ok(ack));
            return;
        }
        let delay = body.delay();
        match delay {
            Some(delay) if entry.attempts < self.settings.max_attempts => {
                tracing::debug!(
                    publisher = %self.settings.publisher,
                    message_id = %entry.message_id,
                    attempt = entry.attempts,
                    delay = ?delay,
                    error = %body.error,
                    "message negatively acknowledged; retrying after the delay"
                );
                if !entry.nacked {
                    entry.nacked = true;
                    self.unresolved_nacks += 1;
                }
                self.retries.push((Instant::now() + delay, entry));
                self.settings.metrics.retried();
            }
            _ => {
                let error = AckError::Nack {
                    message_id: entry.message_id.clone(),
                    error: body.error,
                    delay,
                    attempts: entry.attempts,
                };
                self.resolve(entry, Err(error));
            }
        }
    }

    /// Fails the messages whose ack deadline passed.
    fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, token)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            if let Some(entry) = self.in_flight.remove(&token) {
                let error = AckError::Timeout {
                    message_id: entry.message_id.clone(),
                    ack_wait: self.settings.ack_wait,
                };
                self.resolve(entry, Err(error));
            }
        }
    }

    /// Returns the earliest ack deadline or retry time.
    fn next_wake(&mut self) -> Option<Instant> {
        // Deadlines of resolved messages would only wake the task for nothing.
        while let Some((_, token)) = self.deadlines.front() {
            if self.in_flight.contains_key(token) {
                break;
            }
            self.deadlines.pop_front();
        }
        let deadline = self.deadlines.front().map(|(at, _)| *at);
        let retry = self.retries.iter().map(|(at, _)| *at).min();
        match (deadline, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Completes `entry`'s future with `result`.
    fn resolve(&mut self, entry: Entry, result: Result<Ack, AckError>) {
        if entry.nacked {
            self.unresolved_nacks -= 1;
        }
        // Reset and close are logged once, not per message.
        if let Err(error) = &result
            && !matches!(error, AckError::Reset | AckError::Closed)
        {
            tracing::debug!(
                publisher = %self.settings.publisher,
                message_id = %entry.message_id,
                attempts = entry.attempts,
                error = %error,
                "acknowledged publish failed"
            );
        }
        self.settings.metrics.resolved(&result, self.pending());
        self.settings.counters.resolved(&result);
        // The caller may have dropped the future; the message is resolved either way.
        let _ = entry.done.send(result);
    }

    /// Fails every pending message, in publish order, with the error `make_error` builds.
    fn fail_all(&mut self, make_error: impl Fn() -> AckError) {
        let mut entries: Vec<Entry> = self.outbox.drain(..).collect();
        entries.extend(self.in_flight.drain().map(|(_, entry)| entry));
        entries.extend(self.retries.drain(..).map(|(_, entry)| entry));
        entries.sort_by_key(|entry| entry.sequence);
        self.deadlines.clear();
        for entry in entries {
            self.resolve(entry, Err(make_error()));
        }
        debug_assert_eq!(self.unresolved_nacks, 0);
    }
}
