//! Message counters and rate-limited logging for the subscriber.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counts of what a subscriber did with the messages it received, from
/// [`Subscriber::stats`](crate::Subscriber::stats).
///
/// Every received message ends in exactly one of `processed`, `filtered` or one of the
/// failure counts, so they add up to `received` once no message is in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriberStats {
    /// Messages taken from NATS.
    pub received: u64,
    /// Messages handled by every interested handler and checkpointed.
    pub processed: u64,
    /// Processed messages that no handler wanted: every `should_process` returned
    /// `false`. They are included in `processed`; a growing count usually means a
    /// subscription receives types the application does not handle.
    pub unhandled: u64,
    /// Messages the filter dropped.
    pub filtered: u64,
    /// Messages whose envelope did not decode (too short, unknown version, bad CRC,
    /// malformed body).
    pub envelope_errors: u64,
    /// Messages whose payload did not decode (unknown type or encoding, bad JSON).
    pub payload_errors: u64,
    /// Messages for which a handler returned an error.
    pub handler_errors: u64,
    /// Messages for which a handler (`handle_message` or `should_process`) or the
    /// filter panicked. A panic in a payload's `Deserialize` counts as a payload error
    /// and one in the checkpointer as a checkpoint error.
    pub handler_panics: u64,
    /// Messages whose handler ran past the handler timeout and was cancelled.
    pub handler_timeouts: u64,
    /// Messages whose checkpoint failed.
    pub checkpoint_errors: u64,
    /// Messages dropped before processing because the subscription's pending queue was
    /// full (a slow consumer). They are not counted in `received`.
    pub dropped: u64,
}

impl SubscriberStats {
    /// Returns the number of messages that failed at any step.
    pub fn failed(&self) -> u64 {
        self.envelope_errors
            + self.payload_errors
            + self.handler_errors
            + self.handler_panics
            + self.handler_timeouts
            + self.checkpoint_errors
    }
}

/// The step at which a message failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    Envelope,
    Payload,
    Handler,
    Panic,
    Timeout,
    Checkpoint,
}

impl Failure {
    const COUNT: usize = 6;

    /// Every kind, in slot order.
    const ALL: [Self; Self::COUNT] = [
        Self::Envelope,
        Self::Payload,
        Self::Handler,
        Self::Panic,
        Self::Timeout,
        Self::Checkpoint,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// Returns the rate limiter slot of this failure kind.
    pub(crate) fn log_slot(self) -> usize {
        self.index()
    }

    pub(crate) fn description(self) -> &'static str {
        match self {
            Self::Envelope => "dropping message: envelope failed to decode",
            Self::Payload => "dropping message: payload failed to decode",
            Self::Handler => "message handler failed",
            Self::Panic => "message handler panicked",
            Self::Timeout => "message handler timed out",
            Self::Checkpoint => "checkpoint failed after handling message",
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    received: AtomicU64,
    processed: AtomicU64,
    unhandled: AtomicU64,
    filtered: AtomicU64,
    dropped: AtomicU64,
    failures: [AtomicU64; Failure::COUNT],
}

impl Counters {
    pub(crate) fn received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn processed(&self) {
        self.processed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unhandled(&self) {
        self.unhandled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn filtered(&self) {
        self.filtered.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self, failure: Failure) {
        self.failures[failure.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> SubscriberStats {
        let failures = |failure: Failure| self.failures[failure.index()].load(Ordering::Relaxed);
        SubscriberStats {
            received: self.received.load(Ordering::Relaxed),
            processed: self.processed.load(Ordering::Relaxed),
            unhandled: self.unhandled.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
            envelope_errors: failures(Failure::Envelope),
            payload_errors: failures(Failure::Payload),
            handler_errors: failures(Failure::Handler),
            handler_panics: failures(Failure::Panic),
            handler_timeouts: failures(Failure::Timeout),
            checkpoint_errors: failures(Failure::Checkpoint),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// Number of rate limiter slots: one per failure kind, then one for dropped messages.
const LOG_SLOTS: usize = Failure::COUNT + 1;

/// Lets one log line per kind through per interval and counts the rest.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    start: Instant,
    interval: Duration,
    /// Per slot: the interval number of the last line let through, plus one (0 means
    /// never).
    last_interval: [AtomicU64; LOG_SLOTS],
    suppressed: [AtomicU64; LOG_SLOTS],
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(Duration::from_secs(1))
    }
}

impl RateLimiter {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            start: Instant::now(),
            interval,
            last_interval: Default::default(),
            suppressed: Default::default(),
        }
    }

    /// The slot for messages dropped by a full pending queue.
    pub(crate) const DROPPED_SLOT: usize = Failure::COUNT;

    /// Returns `Some(n)` when a line of kind `slot` may be logged now, where `n` lines
    /// of that kind were suppressed since the last one; returns `None` to suppress it.
    pub(crate) fn allow(&self, slot: usize) -> Option<u64> {
        let i = slot;
        let elapsed = self.start.elapsed().as_nanos() / self.interval.as_nanos().max(1);
        let current = u64::try_from(elapsed).unwrap_or(u64::MAX - 1) + 1;
        let last = self.last_interval[i].load(Ordering::Relaxed);
        if last != current
            && self.last_interval[i]
                .compare_exchange(last, current, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed[i].swap(0, Ordering::Relaxed));
        }
        self.suppressed[i].fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Logs one line per kind whose last lines were suppressed and not yet reported, and
    /// resets those counts. A subscriber calls it when it closes, so that the count of
    /// failures after the last logged line is not lost.
    pub(crate) fn report_suppressed(&self) {
        for failure in Failure::ALL {
            let suppressed = self.suppressed[failure.log_slot()].swap(0, Ordering::Relaxed);
            if suppressed > 0 {
                tracing::warn!(
                    suppressed,
                    "{}: {suppressed} more not logged since the last line",
                    failure.description()
                );
            }
        }
        let dropped = self.suppressed[Self::DROPPED_SLOT].swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                suppressed = dropped,
                "dropping message: {dropped} more drops not logged since the last line"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_lets_one_line_through_per_interval() {
        let limiter = RateLimiter::new(Duration::from_secs(3600));
        assert_eq!(limiter.allow(Failure::Envelope.log_slot()), Some(0));
        assert_eq!(limiter.allow(Failure::Envelope.log_slot()), None);
        assert_eq!(limiter.allow(Failure::Envelope.log_slot()), None);
        // Another kind has its own budget.
        assert_eq!(limiter.allow(Failure::Handler.log_slot()), Some(0));
    }

    #[test]
    fn report_suppressed_takes_pending_counts() {
        let limiter = RateLimiter::new(Duration::from_millis(20));
        let slot = Failure::Handler.log_slot();
        assert_eq!(limiter.allow(slot), Some(0));
        assert_eq!(limiter.allow(slot), None);
        assert_eq!(limiter.allow(RateLimiter::DROPPED_SLOT), Some(0));
        assert_eq!(limiter.allow(RateLimiter::DROPPED_SLOT), None);
        limiter.report_suppressed();
        std::thread::sleep(Duration::from_millis(30));
        // The counts were reported at close, so the next line reports none.
        assert_eq!(limiter.allow(slot), Some(0));
        assert_eq!(limiter.allow(RateLimiter::DROPPED_SLOT), Some(0));
    }

    #[test]
    fn limiter_reports_suppressed_count() {
        let limiter = RateLimiter::new(Duration::from_millis(20));
        assert_eq!(limiter.allow(Failure::Payload.log_slot()), Some(0));
        assert_eq!(limiter.allow(Failure::Payload.log_slot()), None);
        assert_eq!(limiter.allow(Failure::Payload.log_slot()), None);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(limiter.allow(Failure::Payload.log_slot()), Some(2));
    }

    #[test]
    fn failures_add_up() {
        let counters = Counters::default();
        counters.failed(Failure::Envelope);
        counters.failed(Failure::Panic);
        counters.failed(Failure::Checkpoint);
        let stats = counters.snapshot();
        assert_eq!(stats.failed(), 3);
        assert_eq!(stats.handler_panics, 1);
    }
}
