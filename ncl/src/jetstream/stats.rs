//! Counters of what a JetStream subscriber did with its deliveries.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::SubscriberStats;

/// Counts of what a JetStream subscriber did, from
/// [`Subscriber::stats`](super::Subscriber::stats).
///
/// `pipeline` counts the deliveries that went through the steps shared with the core
/// subscriber (a redelivered message is counted once per delivery). The other fields
/// count what happened around them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DurableStats {
    /// Per-delivery counts of the decode, filter, handler and checkpoint steps.
    pub pipeline: SubscriberStats,
    /// Deliveries acknowledged: processed, filtered, skipped or dead-lettered.
    pub acked: u64,
    /// Deliveries acknowledged without handling because their stream sequence was at or
    /// below the last checkpoint.
    pub skipped: u64,
    /// Deliveries negatively acknowledged so that the server delivers them again later.
    pub retried: u64,
    /// Messages published to the dead-letter subject.
    pub dead_lettered: u64,
    /// Dead-letter publishes that failed. The message is retried.
    pub dead_letter_errors: u64,
    /// Acknowledgements (positive, negative or progress) that the client failed to send.
    pub ack_errors: u64,
}

#[derive(Debug, Default)]
pub(super) struct DurableCounters {
    acked: AtomicU64,
    skipped: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    dead_letter_errors: AtomicU64,
    ack_errors: AtomicU64,
}

impl DurableCounters {
    pub(super) fn acked(&self) {
        self.acked.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn skipped(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn retried(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn dead_lettered(&self) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn dead_letter_failed(&self) {
        self.dead_letter_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn ack_failed(&self) {
        self.ack_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self, pipeline: SubscriberStats) -> DurableStats {
        DurableStats {
            pipeline,
            acked: self.acked.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            dead_letter_errors: self.dead_letter_errors.load(Ordering::Relaxed),
            ack_errors: self.ack_errors.load(Ordering::Relaxed),
        }
    }
}
