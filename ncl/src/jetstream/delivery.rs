//! One delivery: skip, process, then ack, retry or dead-letter.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use tokio::time::Instant;

use super::dead_letter::{self, DeadLetter, Origin};
use super::puller::Session;
use crate::handler::HandlerChain;
use crate::subscriber::pipeline::Outcome;
use crate::subscriber::stats::Failure;
use crate::{Checkpointer, MessageFilter};

/// Slots of the engine's log rate limiter, one per kind of line. The limiter has
/// seven slots.
pub(super) mod log_slot {
    pub(in crate::jetstream) const PULL: usize = 0;
    pub(in crate::jetstream) const ACK: usize = 1;
    pub(in crate::jetstream) const DEAD_LETTERED: usize = 2;
    pub(in crate::jetstream) const DEAD_LETTER_FAILED: usize = 3;
    pub(in crate::jetstream) const NOT_JETSTREAM: usize = 4;
    pub(in crate::jetstream) const CHECKPOINT: usize = 5;
}

/// How long publishing a dead letter on core NATS may wait for the flush.
const DEAD_LETTER_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Shortest interval between in-progress notices while a handler runs.
const MIN_PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Handles one delivery from start to acknowledgement.
pub(super) async fn handle<H, F, C>(session: Arc<Session<H, F, C>>, message: jetstream::Message)
where
    H: HandlerChain,
    F: MessageFilter,
    C: Checkpointer,
{
    let engine = &*session.engine;
    let (stream_sequence, deliveries) = match message.info() {
        Ok(info) => (info.stream_sequence, info.delivered),
        Err(error) => {
            if let Some(suppressed) = engine.log_limiter.allow(log_slot::NOT_JETSTREAM) {
                tracing::warn!(
                    subject = %message.subject,
                    error = %error,
                    suppressed,
                    "ignoring a message on the pull inbox that is not a JetStream delivery"
                );
            }
            return;
        }
    };
    let delivery = Delivery {
        session: &session,
        message: &message,
        stream_sequence,
        deliveries,
    };

    engine.metrics.delivered(deliveries);
    if engine.settings.skips_checkpointed() {
        match engine.pipeline.checkpointer.last_checkpoint().await {
            Ok(last) if is_at_or_below(stream_sequence, last) => {
                tracing::trace!(
                    subject = %message.subject,
                    stream_sequence,
                    checkpoint = last,
                    "skipping message at or below the checkpoint"
                );
                engine.counters.skipped();
                engine.metrics.skipped();
                delivery.ack().await;
                return;
            }
            Ok(_) => {}
            Err(error) => {
                if let Some(suppressed) = engine.log_limiter.allow(log_slot::CHECKPOINT) {
                    tracing::warn!(
                        subject = %message.subject,
                        stream_sequence,
                        error = %error,
                        suppressed,
                        "failed to read the last checkpoint; delivering the message again later"
                    );
                }
                delivery.retry().await;
                return;
            }
        }
    }

    match delivery.process().await {
        Outcome::Processed | Outcome::Filtered | Outcome::Unhandled { .. } => delivery.ack().await,
        // A message that does not decode fails the same way on every delivery.
        Outcome::Failed {
            stage: stage @ (Failure::Envelope | Failure::Payload),
            error,
        } => delivery.dead_letter(stage, &error).await,
        Outcome::Failed { stage, error }
            if deliveries >= i64::from(engine.settings.max_deliveries) =>
        {
            delivery.dead_letter(stage, &error).await;
        }
        Outcome::Failed { .. } => delivery.retry().await,
    }
}

/// Returns `true` when `sequence` is at or below the checkpoint `last`.
fn is_at_or_below(sequence: u64, last: i64) -> bool {
    i64::try_from(sequence).is_ok_and(|sequence| sequence <= last)
}

struct Delivery<'a, H, F, C> {
    session: &'a Session<H, F, C>,
    message: &'a jetstream::Message,
    stream_sequence: u64,
    /// The server's delivery count, 1 for the first delivery.
    deliveries: i64,
}

impl<H: HandlerChain, F: MessageFilter, C: Checkpointer> Delivery<'_, H, F, C> {
    /// Runs the pipeline, telling the server every half ack wait that the message is
    /// still being worked on.
    async fn process(&self) -> Outcome {
        let engine = &self.session.engine;
        let process = engine.pipeline.process_with(
            &self.message.subject,
            &self.message.payload,
            Some(self.stream_sequence),
        );
        tokio::pin!(process);
        let interval = (engine.settings.ack_wait / 2).max(MIN_PROGRESS_INTERVAL);
        let mut progress = tokio::time::interval_at(Instant::now() + interval, interval);
        loop {
            tokio::select! {
                biased;
                outcome = &mut process => return outcome,
                _ = progress.tick() => {
                    self.send(AckKind::Progress).await;
                }
            }
        }
    }

    async fn ack(&self) {
        if self.send(AckKind::Ack).await {
            self.session.engine.counters.acked();
        }
    }

    /// Negatively acknowledges with the backoff delay of this delivery.
    async fn retry(&self) {
        let engine = &self.session.engine;
        let delivery = u32::try_from(self.deliveries).unwrap_or(u32::MAX);
        let delay = engine.settings.backoff.delay(delivery);
        tracing::debug!(
            subject = %self.message.subject,
            stream_sequence = self.stream_sequence,
            deliveries = self.deliveries,
            ?delay,
            "message failed; the server will deliver it again after the delay"
        );
        if self.send(AckKind::Nak(Some(delay))).await {
            engine.counters.retried();
        }
    }

    /// Publishes the dead letter and acknowledges the original, or retries the original
    /// when the publish fails.
    async fn dead_letter(&self, stage: Failure, error: &str) {
        let engine = &self.session.engine;
        let settings = &engine.settings;
        let origin = Origin {
            subject: &self.message.subject,
            stream: &settings.stream,
            consumer: &settings.durable,
            stream_sequence: self.stream_sequence,
            deliveries: self.deliveries,
        };
        let dead_letter = DeadLetter::new(&self.message.payload, &origin, stage, error);
        let target = &self.session.dead_letter;
        let published = dead_letter::publish(
            &self.session.js,
            target,
            &dead_letter,
            &origin,
            DEAD_LETTER_FLUSH_TIMEOUT,
        )
        .await;
        match published {
            Ok(()) => {
                engine.counters.dead_lettered();
                engine.metrics.dead_letter(stage, true);
                if let Some(suppressed) = engine.log_limiter.allow(log_slot::DEAD_LETTERED) {
                    tracing::warn!(
                        subject = %self.message.subject,
                        message_id = dead_letter.message_id.as_deref(),
                        message_type = dead_letter.message_type.as_deref(),
                        stream_sequence = self.stream_sequence,
                        deliveries = self.deliveries,
                        dead_letter_subject = %target.subject(),
                        error,
                        suppressed,
                        "message dead-lettered"
                    );
                }
                self.ack().await;
            }
            Err(publish_error) => {
                engine.counters.dead_letter_failed();
                engine.metrics.dead_letter(stage, false);
                if let Some(suppressed) = engine.log_limiter.allow(log_slot::DEAD_LETTER_FAILED) {
                    tracing::error!(
                        subject = %self.message.subject,
                        message_id = dead_letter.message_id.as_deref(),
                        message_type = dead_letter.message_type.as_deref(),
                        stream_sequence = self.stream_sequence,
                        dead_letter_subject = %target.subject(),
                        error = %publish_error,
                        suppressed,
                        "failed to publish dead letter; delivering the message again later"
                    );
                }
                self.retry().await;
            }
        }
    }

    /// Sends an acknowledgement of `kind`, returning `false` when the client failed.
    async fn send(&self, kind: AckKind) -> bool {
        let sent = self.message.ack_with(kind).await;
        self.session.engine.metrics.ack(&kind, sent.is_ok());
        match sent {
            Ok(()) => true,
            Err(error) => {
                let engine = &self.session.engine;
                engine.counters.ack_failed();
                if let Some(suppressed) = engine.log_limiter.allow(log_slot::ACK) {
                    tracing::warn!(
                        subject = %self.message.subject,
                        stream_sequence = self.stream_sequence,
                        ?kind,
                        error = %error,
                        suppressed,
                        "failed to send acknowledgement; the server will deliver the \
                         message again after the ack wait"
                    );
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_at_or_below_checkpoint() {
        assert!(is_at_or_below(5, 5));
        assert!(is_at_or_below(4, 5));
        assert!(!is_at_or_below(6, 5));
        assert!(!is_at_or_below(1, 0));
        assert!(!is_at_or_below(u64::MAX, i64::MAX));
    }
}
