//! Metrics of a JetStream subscriber beyond those of its pipeline.

use async_nats::jetstream::AckKind;
use metrics::Counter;

use super::subscriber::failure_label;
use super::{describe, recorder_installed, shared};
use crate::subscriber::stats::Failure;
use crate::telemetry::names::{self, ack_kind, label};

/// Returns the index in [`ACK_KINDS`] of the `kind` label of an acknowledgement.
fn ack_kind_index(kind: &AckKind) -> usize {
    match kind {
        AckKind::Ack | AckKind::Next => 0,
        AckKind::Nak(_) => 1,
        AckKind::Progress => 2,
        AckKind::Term => 3,
    }
}

const ACK_KINDS: [&str; 4] = [
    ack_kind::ACK,
    ack_kind::NAK,
    ack_kind::PROGRESS,
    ack_kind::TERM,
];

/// The failures a dead letter can record, in the order of its counters.
const DEAD_LETTER_STAGES: [Failure; 6] = [
    Failure::Envelope,
    Failure::Payload,
    Failure::Handler,
    Failure::Panic,
    Failure::Timeout,
    Failure::Checkpoint,
];

/// Metrics of a JetStream subscriber beyond those of its pipeline.
pub(crate) struct DurableMetrics {
    /// `None` when no recorder was installed at build time.
    inner: Option<Box<DurableInner>>,
}

struct DurableInner {
    acks: [Counter; ACK_KINDS.len()],
    ack_errors: [Counter; ACK_KINDS.len()],
    redeliveries: Counter,
    skipped: Counter,
    dead_letters: [Counter; DEAD_LETTER_STAGES.len()],
    dead_letter_errors: Counter,
}

impl DurableMetrics {
    /// Creates the metrics of the JetStream subscriber whose durable name is `instance`.
    pub(crate) fn new(instance: &str) -> Self {
        if !recorder_installed() {
            return Self { inner: None };
        }
        describe();
        let instance = shared(instance);
        let by_kind = |name: &'static str| {
            ACK_KINDS.map(|kind| {
                metrics::counter!(name, label::INSTANCE => instance.clone(), label::KIND => kind)
            })
        };
        let inner = DurableInner {
            acks: by_kind(names::JETSTREAM_ACKS),
            ack_errors: by_kind(names::JETSTREAM_ACK_ERRORS),
            redeliveries: metrics::counter!(
                names::JETSTREAM_REDELIVERIES,
                label::INSTANCE => instance.clone()
            ),
            skipped: metrics::counter!(
                names::JETSTREAM_SKIPPED,
                label::INSTANCE => instance.clone()
            ),
            dead_letters: DEAD_LETTER_STAGES.map(|failure| {
                metrics::counter!(
                    names::JETSTREAM_DEAD_LETTERS,
                    label::INSTANCE => instance.clone(),
                    label::OUTCOME => failure_label(failure)
                )
            }),
            dead_letter_errors: metrics::counter!(
                names::JETSTREAM_DEAD_LETTER_ERRORS,
                label::INSTANCE => instance
            ),
        };
        Self {
            inner: Some(Box::new(inner)),
        }
    }

    /// Counts an acknowledgement of `kind` that was sent (`sent`) or failed.
    pub(crate) fn ack(&self, kind: &AckKind, sent: bool) {
        if let Some(inner) = &self.inner {
            let counters = if sent { &inner.acks } else { &inner.ack_errors };
            counters[ack_kind_index(kind)].increment(1);
        }
    }

    /// Counts a delivery with `deliveries` as the server's delivery count.
    pub(crate) fn delivered(&self, deliveries: i64) {
        if let Some(inner) = &self.inner
            && deliveries > 1
        {
            inner.redeliveries.increment(1);
        }
    }

    /// Counts a delivery skipped because it was at or below the checkpoint.
    pub(crate) fn skipped(&self) {
        if let Some(inner) = &self.inner {
            inner.skipped.increment(1);
        }
    }

    /// Counts a dead letter published (`published`) or failed, for a message that
    /// failed at `stage`.
    pub(crate) fn dead_letter(&self, stage: Failure, published: bool) {
        if let Some(inner) = &self.inner {
            if published {
                let index = DEAD_LETTER_STAGES.iter().position(|&known| known == stage);
                if let Some(index) = index {
                    inner.dead_letters[index].increment(1);
                }
            } else {
                inner.dead_letter_errors.increment(1);
            }
        }
    }
}
