//! Settings of a cluster run.

use std::ops::RangeInclusive;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::node::NodeConfig;

/// Settings of a cluster run. [`Config::default`] gives the settings of
/// `cargo run -p examples --example cluster` without options.
#[derive(Clone, Debug)]
pub struct Config {
    /// Number of jobs to run.
    pub jobs: usize,
    /// Number of compute nodes, named `node-1` and up.
    pub nodes: usize,
    /// Divisor that plans failures: job number `n` fails when this divides `n`. 0 plans
    /// none.
    pub fail_every: usize,
    /// Node that stops sending heartbeats after its first one.
    pub silent_node: Option<String>,
    /// Maximum number of jobs assigned per batch.
    pub batch_size: usize,
    /// Time between two batches of assignments.
    pub batch_interval: Duration,
    /// Time between two heartbeats of a node.
    pub heartbeat_interval: Duration,
    /// Time without a heartbeat after which the orchestrator marks a node unhealthy.
    pub heartbeat_timeout: Duration,
    /// Time without a status report on an unfinished job after which the orchestrator
    /// sends its assignment again, with the same attempt number. It recovers messages
    /// lost while the NATS server or a connection restarts.
    pub status_timeout: Duration,
    /// Jobs a node runs at most at once. A node at capacity declines bids and rejects
    /// assignments of new jobs.
    pub node_capacity: usize,
    /// Time the orchestrator waits for a node's bid, and for a node's acknowledgement of
    /// an assignment after each send. A node that does not bid in time gets no job from
    /// that round; an assignment that is not acknowledged goes back to the queue.
    pub reply_timeout: Duration,
    /// Range of a job's simulated run time in milliseconds. A node also waits 5 to 20 ms
    /// between a job's `Accepted` and `Running` reports.
    pub job_millis: RangeInclusive<u64>,
    /// Time after which the run stops, finished or not.
    pub run_timeout: Duration,
    /// Time between two lines of the live view.
    pub view_interval: Duration,
    /// Switch for the live view and the job and node events on stdout.
    pub live_view: bool,
    /// Identifier that keeps this run's subjects apart from other runs on the same
    /// server. Subjects start with `cluster.<run_id>`.
    pub run_id: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            jobs: 20,
            nodes: 3,
            fail_every: 0,
            silent_node: None,
            batch_size: 3,
            batch_interval: Duration::from_millis(500),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(3),
            status_timeout: Duration::from_secs(2),
            node_capacity: 4,
            reply_timeout: Duration::from_secs(1),
            job_millis: 20..=80,
            run_timeout: Duration::from_secs(60),
            view_interval: Duration::from_secs(1),
            live_view: true,
            run_id: new_run_id(),
        }
    }
}

impl Config {
    /// Returns the node ids: `node-1` to `node-<nodes>`.
    pub fn node_ids(&self) -> Vec<String> {
        (1..=self.nodes)
            .map(|number| format!("node-{number}"))
            .collect()
    }

    /// Checks that the settings can make a run.
    ///
    /// # Errors
    ///
    /// Returns a message naming the first invalid setting.
    pub fn validate(&self) -> Result<(), String> {
        let positive_counts = [
            ("jobs", self.jobs),
            ("nodes", self.nodes),
            ("batch size", self.batch_size),
            ("node capacity", self.node_capacity),
        ];
        for (name, value) in positive_counts {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        let positive_times = [
            ("batch interval", self.batch_interval),
            ("heartbeat interval", self.heartbeat_interval),
            ("heartbeat timeout", self.heartbeat_timeout),
            ("status timeout", self.status_timeout),
            ("reply timeout", self.reply_timeout),
            ("run timeout", self.run_timeout),
            ("view interval", self.view_interval),
        ];
        for (name, value) in positive_times {
            if value.is_zero() {
                return Err(format!("{name} must be greater than zero"));
            }
        }
        if self.heartbeat_timeout <= self.heartbeat_interval {
            return Err(format!(
                "heartbeat timeout ({:?}) must be longer than the heartbeat interval ({:?}), \
                 or every node would be marked unhealthy between two heartbeats",
                self.heartbeat_timeout, self.heartbeat_interval
            ));
        }
        if self.job_millis.is_empty() {
            return Err(format!(
                "job duration range {:?} ms is empty",
                self.job_millis
            ));
        }
        if self.run_id.is_empty() || !self.run_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "run id {:?} must be non-empty and contain only ASCII letters and digits",
                self.run_id
            ));
        }
        if let Some(silent) = &self.silent_node
            && !self.node_ids().contains(silent)
        {
            return Err(format!(
                "silent node {silent:?} is not one of the nodes node-1 to node-{}",
                self.nodes
            ));
        }
        Ok(())
    }

    /// Returns the settings of node `node_id`.
    pub(crate) fn node_config(&self, node_id: &str) -> NodeConfig {
        let silent = self.silent_node.as_deref() == Some(node_id);
        NodeConfig {
            id: node_id.to_owned(),
            heartbeat_interval: self.heartbeat_interval,
            heartbeat_limit: silent.then_some(1),
            job_millis: self.job_millis.clone(),
            capacity: self.node_capacity,
        }
    }
}

/// Returns 8 hex digits derived from the clock and the process id, so that concurrent
/// runs on one server use different subjects.
fn new_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    let mut rng = super::prng::SplitMix64::from_key(&mixed.to_string());
    format!("{:08x}", rng.next_u64() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn unknown_silent_node_is_rejected() {
        let config = Config {
            silent_node: Some("node-9".into()),
            ..Config::default()
        };
        let error = config.validate().unwrap_err();
        assert!(error.contains("node-9"), "{error}");
    }

    #[test]
    fn zero_jobs_is_rejected() {
        let config = Config {
            jobs: 0,
            ..Config::default()
        };
        assert_eq!(config.validate(), Err("jobs must be at least 1".to_owned()));
    }

    #[test]
    fn zero_capacity_and_reply_timeout_are_rejected() {
        let config = Config {
            node_capacity: 0,
            ..Config::default()
        };
        assert_eq!(
            config.validate(),
            Err("node capacity must be at least 1".to_owned())
        );
        let config = Config {
            reply_timeout: Duration::ZERO,
            ..Config::default()
        };
        assert_eq!(
            config.validate(),
            Err("reply timeout must be greater than zero".to_owned())
        );
    }

    #[test]
    fn timeout_not_above_interval_is_rejected() {
        let config = Config {
            heartbeat_timeout: Duration::from_secs(1),
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn silent_node_gets_heartbeat_limit() {
        let config = Config {
            silent_node: Some("node-2".into()),
            ..Config::default()
        };
        assert_eq!(config.node_config("node-2").heartbeat_limit, Some(1));
        assert_eq!(config.node_config("node-1").heartbeat_limit, None);
    }
}
