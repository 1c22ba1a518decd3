//! Duplicate detection for the assignments a compute node receives.
//!
//! The orchestrator sends an assignment again when it hears nothing about the job for a
//! while (see [`Config::status_timeout`](super::Config::status_timeout)), so a node can
//! receive one job attempt several times. A node checks each assignment twice: by
//! message id, which catches one message delivered twice, and by job id and attempt,
//! which catches a resent assignment, because a resend is a new message with a new id.

use std::collections::{HashSet, VecDeque};

/// The action a node takes on an assignment, given the attempt of the job it already has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The node has no attempt of this job, so it starts one.
    Start,
    /// The node has an older attempt of this job. It cancels that attempt, whose reports
    /// the orchestrator would ignore anyway, and starts this one, so that the job never
    /// runs twice at once on one node.
    Supersede {
        /// The attempt to cancel.
        previous: u32,
    },
    /// The node already has this attempt. It reports the attempt's latest state again
    /// instead of running the job a second time.
    Duplicate,
    /// The node already has a newer attempt, so this assignment is out of date.
    Stale {
        /// The attempt the node has.
        current: u32,
    },
}

/// Decides what to do with attempt `attempt` of a job, when the node already has attempt
/// `known` of it, or none.
pub(crate) fn admit(known: Option<u32>, attempt: u32) -> Admission {
    match known {
        None => Admission::Start,
        Some(known) if known < attempt => Admission::Supersede { previous: known },
        Some(known) if known == attempt => Admission::Duplicate,
        Some(known) => Admission::Stale { current: known },
    }
}

/// The ids of the last `capacity` messages a node received, to recognize a message
/// delivered twice.
///
/// The memory is bounded, so a duplicate that arrives after `capacity` newer messages is
/// not recognized here. The job id and attempt check still stops it from running the job
/// again.
#[derive(Debug)]
pub(crate) struct RecentIds {
    ids: HashSet<String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl RecentIds {
    /// Creates an empty set that remembers up to `capacity` ids (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            ids: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records `id` and returns `true` when it was not among the remembered ids.
    pub(crate) fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.ids.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admit_compares_attempts() {
        assert_eq!(admit(None, 1), Admission::Start);
        assert_eq!(admit(Some(1), 2), Admission::Supersede { previous: 1 });
        assert_eq!(admit(Some(2), 2), Admission::Duplicate);
        assert_eq!(admit(Some(3), 2), Admission::Stale { current: 3 });
    }

    #[test]
    fn repeated_id_is_rejected() {
        let mut ids = RecentIds::new(8);
        assert!(ids.insert("a"));
        assert!(ids.insert("b"));
        assert!(!ids.insert("a"));
        assert!(!ids.insert("b"));
    }

    #[test]
    fn oldest_id_is_forgotten_at_capacity() {
        let mut ids = RecentIds::new(2);
        assert!(ids.insert("a"));
        assert!(ids.insert("b"));
        assert!(ids.insert("c"));
        assert!(!ids.insert("c"));
        assert!(ids.insert("a"), "a should have been forgotten");
    }
}
