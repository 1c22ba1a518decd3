//! The summary of a cluster run.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Serialize;

/// The outcome of a cluster run, printed as text or as one JSON object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Jobs in the run.
    pub jobs: usize,
    /// Jobs that completed.
    pub completed: usize,
    /// Jobs that failed.
    pub failed: usize,
    /// Jobs planned to fail by `--fail-every`.
    pub planned_failures: usize,
    /// Jobs that did not reach a final state before the run ended.
    pub unfinished: usize,
    /// Finished jobs whose final state differs from the planned one.
    pub unexpected_outcomes: usize,
    /// Assignments after a job's first one, made after its node became unhealthy or an
    /// assignment failed to publish.
    pub reassignments: usize,
    /// Assignments sent again, with the same attempt number, because the orchestrator had
    /// no status report on the job for the status timeout.
    pub redeliveries: usize,
    /// Assignments that nodes did not run because they had seen the message id, or had
    /// that attempt of the job or a newer one.
    pub duplicate_assignments: u64,
    /// Times a participant's connection was re-established after a loss, over all
    /// participants.
    pub reconnects: u64,
    /// Per node, by id.
    pub nodes: BTreeMap<String, NodeSummary>,
    /// Bid requests the orchestrator sent: one per healthy node for each job it tried to
    /// assign.
    pub bids_requested: u64,
    /// Bids in which a node declined the job, because it ran as many jobs as its
    /// capacity or was stopping.
    pub bids_declined: u64,
    /// Bid requests that got no bid: no responder, timeout, error response, or a bid for
    /// another job.
    pub bid_errors: u64,
    /// Assignments that nodes acknowledged.
    pub assignments_acknowledged: u64,
    /// Sends of assignments after a node's negative acknowledgement.
    pub assignment_retries: u64,
    /// Assignments that failed: negatively acknowledged on every send, not acknowledged
    /// in time, or sent to a node that no longer listened. Each went back to the queue.
    pub assignment_failures: u64,
    /// Messages that publishers handed to their NATS clients, over all publishers,
    /// retries included; bid requests and responses are not counted.
    pub messages_sent: u64,
    /// Envelope bytes that publishers handed to their NATS clients, over all publishers.
    pub bytes_sent: u64,
    /// Messages that subscribers took from NATS, over all subscribers
    /// (`SubscriberStats::received`).
    pub messages_received: u64,
    /// Publishes that returned an error, over all publishers.
    pub publish_errors: u64,
    /// Messages whose envelope or payload failed to decode, over all subscribers.
    pub decode_errors: u64,
    /// Messages for which a handler returned an error, panicked or timed out, over all
    /// subscribers.
    pub handler_errors: u64,
    /// Messages that no handler of their subscriber takes, over all subscribers. Each
    /// subscription receives only the types its handlers take, so this is 0 unless
    /// something else publishes to the cluster's subjects.
    pub unhandled_messages: u64,
    /// Messages dropped because a subscriber's pending queue was full, over all
    /// subscribers.
    pub dropped_messages: u64,
    /// The run timeout passed before every job reached a final state.
    pub timed_out: bool,
    /// Duration of the run in milliseconds, from the orchestrator's start to the last
    /// job's final state or the timeout.
    pub elapsed_ms: u64,
    /// Every job reached its planned final state and no message failed to decode.
    pub success: bool,
}

/// Counts and health of one node at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeSummary {
    /// The node was healthy when the run ended.
    pub healthy: bool,
    /// Heartbeats the orchestrator received from the node.
    pub heartbeats: u64,
    /// Jobs the node completed.
    pub completed: usize,
    /// Jobs the node failed.
    pub failed: usize,
}

impl Report {
    /// Returns the reasons the run did not succeed, or an empty list for a successful run.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.unfinished > 0 {
            let cause = if self.timed_out {
                "the run timed out"
            } else {
                "the run stopped"
            };
            let unfinished = plural(self.unfinished as u64, "job");
            problems.push(format!("{cause} with {unfinished} unfinished"));
        }
        if self.unexpected_outcomes > 0 {
            let unexpected = plural(self.unexpected_outcomes as u64, "job");
            problems.push(format!(
                "{unexpected} ended in a state other than the planned one"
            ));
        }
        if self.decode_errors > 0 {
            let messages = plural(self.decode_errors, "message");
            problems.push(format!("{messages} failed to decode"));
        }
        problems
    }

    /// Returns the report as one line of JSON.
    pub fn to_json(&self) -> String {
        // serde_json fails only on maps with non-string keys and on failing Serialize
        // impls, and this struct has neither, so the fallback is not expected to run.
        serde_json::to_string(self).unwrap_or_else(|error| {
            let message = format!("failed to serialize the report: {error}");
            serde_json::json!({ "error": message }).to_string()
        })
    }
}

impl fmt::Display for Report {
    /// Writes the summary as a few lines of text, without a final newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "summary: {} jobs in {:.1} s: {} completed, {} failed ({} planned), {} unfinished, \
             {} reassigned",
            self.jobs,
            self.elapsed_ms as f64 / 1000.0,
            self.completed,
            self.failed,
            self.planned_failures,
            self.unfinished,
            self.reassignments
        )?;
        // By number, so that node-10 follows node-9: ids differ only in their number.
        let mut nodes: Vec<_> = self.nodes.iter().collect();
        nodes.sort_by_key(|(node_id, _)| (node_id.len(), *node_id));
        for (node_id, node) in nodes {
            let health = if node.healthy { "healthy" } else { "UNHEALTHY" };
            writeln!(
                f,
                "  {node_id:<8} {health:<9}  {} completed, {} failed, {} received",
                node.completed,
                node.failed,
                plural(node.heartbeats, "heartbeat")
            )?;
        }
        writeln!(
            f,
            "bids: {} requested, {} declined, {} failed; assignments: {} acknowledged, \
             {} retried, {} failed",
            self.bids_requested,
            self.bids_declined,
            self.bid_errors,
            self.assignments_acknowledged,
            self.assignment_retries,
            self.assignment_failures
        )?;
        writeln!(
            f,
            "messages: {} sent ({} bytes), {} received, {} publish errors, {} decode errors, \
             {} handler errors, {} unhandled, {} dropped",
            self.messages_sent,
            self.bytes_sent,
            self.messages_received,
            self.publish_errors,
            self.decode_errors,
            self.handler_errors,
            self.unhandled_messages,
            self.dropped_messages
        )?;
        writeln!(
            f,
            "recovery: {}, {} resent, {} ignored as duplicates",
            plural(self.reconnects, "reconnect"),
            plural(self.redeliveries as u64, "assignment"),
            self.duplicate_assignments
        )?;
        let mut result = String::from(if self.success {
            "result: success"
        } else {
            "result: FAILED"
        });
        for problem in self.problems() {
            let _ = write!(result, "; {problem}");
        }
        f.write_str(&result)
    }
}

/// Formats `count` and `noun`, adding an `s` to the noun unless the count is 1.
fn plural(count: u64, noun: &str) -> String {
    let suffix = if count == 1 { "" } else { "s" };
    format!("{count} {noun}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            jobs: 3,
            completed: 2,
            failed: 1,
            planned_failures: 1,
            unfinished: 0,
            unexpected_outcomes: 0,
            reassignments: 0,
            redeliveries: 0,
            duplicate_assignments: 0,
            reconnects: 0,
            bids_requested: 9,
            bids_declined: 1,
            bid_errors: 0,
            assignments_acknowledged: 3,
            assignment_retries: 0,
            assignment_failures: 0,
            nodes: BTreeMap::from([(
                "node-1".to_owned(),
                NodeSummary {
                    healthy: true,
                    heartbeats: 2,
                    completed: 2,
                    failed: 1,
                },
            )]),
            messages_sent: 12,
            bytes_sent: 3456,
            messages_received: 12,
            publish_errors: 0,
            decode_errors: 0,
            handler_errors: 0,
            unhandled_messages: 0,
            dropped_messages: 0,
            timed_out: false,
            elapsed_ms: 1234,
            success: true,
        }
    }

    #[test]
    fn json_is_one_line_with_every_field() {
        let json = report().to_json();
        assert!(!json.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["completed"], 2);
        assert_eq!(value["nodes"]["node-1"]["completed"], 2);
        assert_eq!(value["decode_errors"], 0);
        assert_eq!(value["unhandled_messages"], 0);
        assert_eq!(value["bytes_sent"], 3456);
        assert_eq!(value["success"], true);
    }

    #[test]
    fn text_ends_with_result() {
        let text = report().to_string();
        assert!(text.starts_with("summary: 3 jobs in 1.2 s: 2 completed, 1 failed (1 planned)"));
        assert!(text.ends_with("result: success"), "{text}");
    }

    #[test]
    fn text_lists_bids_and_acknowledgements() {
        let text = report().to_string();
        let expected = "bids: 9 requested, 1 declined, 0 failed; \
                        assignments: 3 acknowledged, 0 retried, 0 failed";
        assert!(text.contains(expected), "{text}");
        let json = report().to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["bids_requested"], 9);
        assert_eq!(value["assignments_acknowledged"], 3);
    }

    #[test]
    fn text_lists_recovery_counts() {
        let mut recovered = report();
        recovered.reconnects = 4;
        recovered.redeliveries = 1;
        recovered.duplicate_assignments = 2;
        let text = recovered.to_string();
        let expected = "recovery: 4 reconnects, 1 assignment resent, 2 ignored as duplicates";
        assert!(text.contains(expected), "{text}");
    }

    #[test]
    fn problems_name_each_cause() {
        let mut failed = report();
        failed.unfinished = 2;
        failed.timed_out = true;
        failed.decode_errors = 1;
        failed.success = false;
        assert_eq!(
            failed.problems(),
            [
                "the run timed out with 2 jobs unfinished",
                "1 message failed to decode"
            ]
        );
        let text = failed.to_string();
        let expected_end = "result: FAILED; the run timed out with 2 jobs unfinished; \
                            1 message failed to decode";
        assert!(text.ends_with(expected_end), "{text}");
    }
}
