//! Runs the cluster example's logic against a private nats-server on a free loopback
//! port.

use std::collections::HashMap;
use std::time::Duration;

use examples::cluster::messages::{Heartbeat, JobState, JobStatus};
use examples::cluster::{self, Config, Report};
use futures_util::StreamExt;
use ncl::{AnyMessage, Subscriber};
use tests::{NatsServer, Recorder};

/// Upper bound on one cluster run, far above the second or so that each run takes.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts a private server on a thread that may block, because the helper waits for the
/// server with blocking sleeps.
async fn start_server() -> NatsServer {
    tokio::task::spawn_blocking(NatsServer::start)
        .await
        .expect("start nats-server")
}

/// Settings that finish in about a second: short batches, heartbeats and jobs.
fn fast_config() -> Config {
    Config {
        jobs: 12,
        batch_size: 4,
        batch_interval: Duration::from_millis(50),
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_timeout: Duration::from_secs(1),
        job_millis: 5..=20,
        run_timeout: Duration::from_secs(30),
        live_view: false,
        ..Config::default()
    }
}

async fn run_cluster(url: &str, config: &Config) -> Report {
    tokio::time::timeout(TEST_TIMEOUT, cluster::run(config, url))
        .await
        .expect("cluster run timed out")
        .expect("cluster run failed")
}

/// Subscribes to the job status reports of run `run_id` and records each, in the order
/// they arrive.
async fn record_statuses(url: &str, run_id: &str) -> (Subscriber, Recorder<JobStatus>) {
    let client = async_nats::connect(url).await.expect("connect the watcher");
    let statuses = Recorder::new();
    let recorder = statuses.clone();
    let subscriber = Subscriber::builder(client.clone())
        .handler(ncl::handler_fn(move |message: &AnyMessage| {
            if let Some(status) = message.payload::<JobStatus>() {
                recorder.push(status.clone());
            }
            async { Ok(()) }
        }))
        .build()
        .expect("build the watcher");
    subscriber
        .subscribe([format!("cluster.{run_id}.orchestrator.JobStatus")])
        .await
        .expect("subscribe the watcher");
    client
        .flush()
        .await
        .expect("flush the watcher's subscription");
    (subscriber, statuses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_completes() {
    let server = start_server().await;
    let config = fast_config();

    let report = run_cluster(&server.url(), &config).await;

    assert_eq!(report.completed, 12, "{report}");
    assert_eq!(report.failed, 0, "{report}");
    assert_eq!(report.unfinished, 0, "{report}");
    assert_eq!(report.decode_errors, 0, "{report}");
    assert_eq!(report.handler_errors, 0, "{report}");
    assert_eq!(report.unhandled_messages, 0, "{report}");
    assert_eq!(report.dropped_messages, 0, "{report}");
    assert_eq!(report.publish_errors, 0, "{report}");
    assert_eq!(report.reconnects, 0, "{report}");
    assert_eq!(report.redeliveries, 0, "{report}");
    assert_eq!(report.messages_received, report.messages_sent, "{report}");
    assert!(report.bytes_sent > report.messages_sent, "{report}");
    let per_node: usize = report.nodes.values().map(|node| node.completed).sum();
    assert_eq!(per_node, 12, "{report}");
    assert_eq!(report.nodes.len(), 3, "{report}");
    // Each job was offered to the three nodes at least once, and each assignment was
    // acknowledged on its first send.
    assert!(report.bids_requested >= 36, "{report}");
    assert_eq!(report.bid_errors, 0, "{report}");
    assert_eq!(report.assignments_acknowledged, 12, "{report}");
    assert_eq!(report.assignment_retries, 0, "{report}");
    assert_eq!(report.assignment_failures, 0, "{report}");
    assert!(report.success, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_decline_jobs_beyond_their_capacity() {
    let server = start_server().await;
    let url = server.url();
    // Batches of six jobs for three nodes that run one job at a time, with jobs that
    // outlast a batch interval: most bids are declines.
    let config = Config {
        run_id: "capacity".to_owned(),
        batch_size: 6,
        node_capacity: 1,
        job_millis: 60..=90,
        ..fast_config()
    };
    let (watcher, statuses) = record_statuses(&url, "capacity").await;

    let report = run_cluster(&url, &config).await;
    watcher.close().await;

    assert_eq!(report.completed, 12, "{report}");
    assert!(report.bids_declined > 0, "{report}");
    assert_eq!(report.bid_errors, 0, "{report}");
    assert_eq!(report.assignment_failures, 0, "{report}");
    assert_eq!(report.handler_errors, 0, "{report}");
    assert!(report.success, "{report}");
    // Each node's reports arrive in the order it sent them, so replaying them gives the
    // jobs it ran at once: never more than one.
    let statuses = statuses.items();
    let started = statuses
        .iter()
        .filter(|status| status.state == JobState::Accepted)
        .count();
    assert_eq!(started, 12, "{statuses:?}");
    let mut running: HashMap<&str, Vec<&str>> = HashMap::new();
    for status in &statuses {
        let jobs = running.entry(status.node_id.as_str()).or_default();
        match status.state {
            JobState::Accepted => {
                jobs.push(&status.job_id);
                assert!(jobs.len() <= 1, "{} ran {jobs:?} at once", status.node_id);
            }
            JobState::Running => {}
            JobState::Completed | JobState::Failed => jobs.retain(|job| *job != status.job_id),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_node_and_planned_failures() {
    let server = start_server().await;
    let config = Config {
        jobs: 30,
        fail_every: 5,
        silent_node: Some("node-2".to_owned()),
        batch_size: 2,
        heartbeat_interval: Duration::from_millis(50),
        heartbeat_timeout: Duration::from_millis(300),
        ..fast_config()
    };

    let report = run_cluster(&server.url(), &config).await;

    assert_eq!(report.failed, 6, "{report}");
    assert_eq!(report.completed, 24, "{report}");
    assert_eq!(report.unexpected_outcomes, 0, "{report}");
    assert_eq!(report.decode_errors, 0, "{report}");
    assert_eq!(report.unhandled_messages, 0, "{report}");
    let silent = &report.nodes["node-2"];
    assert!(!silent.healthy, "{report}");
    assert_eq!(silent.heartbeats, 1, "{report}");
    assert!(report.nodes["node-1"].healthy, "{report}");
    assert!(report.success, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_message_fails_run() {
    let server = start_server().await;
    let config = Config {
        run_id: "garbage".to_owned(),
        ..fast_config()
    };
    // Publishes bytes that are not an NCL envelope to the orchestrator's subjects until the
    // run ends, so that some arrive while the orchestrator is subscribed.
    let client = async_nats::connect(server.url())
        .await
        .expect("connect the test client");
    let garbage = tokio::spawn(async move {
        loop {
            let subject = "cluster.garbage.orchestrator.Heartbeat";
            client
                .publish(subject, "not an envelope".into())
                .await
                .expect("publish garbage");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });

    let report = run_cluster(&server.url(), &config).await;
    garbage.abort();

    assert_eq!(report.completed, 12, "{report}");
    assert!(report.decode_errors > 0, "{report}");
    assert!(!report.success, "{report}");
    assert!(report.to_string().contains("failed to decode"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_mid_run_loses_no_job() {
    let mut server = start_server().await;
    let url = server.url();
    let config = Config {
        jobs: 30,
        run_id: "restart".to_owned(),
        batch_size: 2,
        // Resends lost assignments soon after the server is back.
        status_timeout: Duration::from_millis(500),
        ..fast_config()
    };
    // The test waits for the first 6 status reports, so that the server restarts once the
    // run is under way and while most jobs are still pending or running.
    let watcher = async_nats::connect(&url)
        .await
        .expect("connect the watcher");
    let mut statuses = watcher
        .subscribe("cluster.restart.orchestrator.JobStatus")
        .await
        .expect("subscribe the watcher");
    watcher.flush().await.expect("flush the watcher");
    let run = tokio::spawn({
        let url = url.clone();
        async move { cluster::run(&config, &url).await }
    });

    tokio::time::timeout(TEST_TIMEOUT, statuses.by_ref().take(6).count())
        .await
        .expect("timed out waiting for the first status reports");
    drop(statuses);
    drop(watcher);
    // Down long enough for several reconnect attempts and lost messages.
    server = tokio::task::spawn_blocking(move || {
        server.stop();
        std::thread::sleep(Duration::from_millis(300));
        server.restart();
        server
    })
    .await
    .expect("restart nats-server");

    let report = tokio::time::timeout(TEST_TIMEOUT, run)
        .await
        .expect("cluster run timed out")
        .expect("cluster task panicked")
        .expect("cluster run failed");

    assert_eq!(report.completed, 30, "{report}");
    assert_eq!(report.unfinished, 0, "{report}");
    assert!(!report.timed_out, "{report}");
    assert_eq!(report.unexpected_outcomes, 0, "{report}");
    assert_eq!(report.decode_errors, 0, "{report}");
    assert_eq!(report.handler_errors, 0, "{report}");
    assert_eq!(report.unhandled_messages, 0, "{report}");
    // The orchestrator and the three nodes each reconnected at least once.
    assert!(report.reconnects >= 4, "{report}");
    let per_node: usize = report.nodes.values().map(|node| node.completed).sum();
    assert_eq!(per_node, 30, "{report}");
    assert!(report.success, "{report}");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_delivered_twice_runs_once() {
    let server = start_server().await;
    let url = server.url();
    let config = Config {
        run_id: "twice".to_owned(),
        ..fast_config()
    };
    let (watcher, statuses) = record_statuses(&url, "twice").await;
    // Publishes every assignment a second time, byte for byte, so each node receives
    // each message twice with the same message id. Without echo, the client does not
    // receive its own copies.
    let echo = async_nats::ConnectOptions::new()
        .no_echo()
        .connect(&url)
        .await
        .expect("connect the echo client");
    let mut assignments = echo
        .subscribe("cluster.twice.node.*.JobAssigned")
        .await
        .expect("subscribe the echo client");
    echo.flush().await.expect("flush the echo client");
    let echo_task = tokio::spawn(async move {
        while let Some(message) = assignments.next().await {
            echo.publish(message.subject, message.payload)
                .await
                .expect("publish the copy");
        }
    });

    let report = run_cluster(&url, &config).await;
    echo_task.abort();
    watcher.close().await;

    assert_eq!(report.completed, 12, "{report}");
    assert_eq!(report.handler_errors, 0, "{report}");
    assert!(report.duplicate_assignments > 0, "{report}");
    assert!(report.success, "{report}");
    let mut accepted: HashMap<(String, u32), usize> = HashMap::new();
    for status in statuses.items() {
        if status.state == JobState::Accepted {
            *accepted.entry((status.job_id, status.attempt)).or_default() += 1;
        }
    }
    assert_eq!(accepted.len(), 12, "{accepted:?}");
    for (job, count) in &accepted {
        assert_eq!(*count, 1, "{job:?} was accepted {count} times");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_server_run_ends_near_timeout() {
    let mut server = start_server().await;
    let url = server.url();
    let run_timeout = Duration::from_secs(2);
    let config = Config {
        jobs: 200,
        run_id: "gone".to_owned(),
        batch_size: 1,
        job_millis: 50..=100,
        run_timeout,
        ..fast_config()
    };
    let watcher = async_nats::connect(&url)
        .await
        .expect("connect the watcher");
    let mut statuses = watcher
        .subscribe("cluster.gone.orchestrator.JobStatus")
        .await
        .expect("subscribe the watcher");
    watcher.flush().await.expect("flush the watcher");
    let started = std::time::Instant::now();
    let run = tokio::spawn({
        let url = url.clone();
        async move { cluster::run(&config, &url).await }
    });

    tokio::time::timeout(TEST_TIMEOUT, statuses.next())
        .await
        .expect("timed out waiting for the first status report");
    drop(statuses);
    drop(watcher);
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("stop nats-server");

    let report = tokio::time::timeout(TEST_TIMEOUT, run)
        .await
        .expect("cluster run timed out")
        .expect("cluster task panicked")
        .expect("cluster run failed");

    assert!(report.timed_out, "{report}");
    assert!(report.unfinished > 0, "{report}");
    assert!(!report.success, "{report}");
    // The run timeout, then at most the 6 s shutdown bound, with a margin for a loaded
    // machine. Each of the seven publishers' flushes would otherwise wait 10 s.
    let elapsed = started.elapsed();
    assert!(
        elapsed < run_timeout + Duration::from_secs(10),
        "the run took {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_from_unknown_node_is_rejected() {
    let server = start_server().await;
    let url = server.url();
    let config = Config {
        run_id: "stranger".to_owned(),
        ..fast_config()
    };
    // Sends well-formed heartbeats from a node that is not part of the run until the run
    // ends, so that some arrive while the orchestrator is subscribed.
    let client = async_nats::connect(&url)
        .await
        .expect("connect the stranger");
    let stranger = ncl::Publisher::builder(client)
        .name("node-99")
        .destination_prefix("cluster.stranger.orchestrator")
        .build()
        .expect("build the stranger's publisher");
    let heartbeats = tokio::spawn(async move {
        for sequence in 1.. {
            let heartbeat = Heartbeat {
                node_id: "node-99".to_owned(),
                sequence,
                running_jobs: Vec::new(),
            };
            stranger
                .publish(&heartbeat)
                .await
                .expect("publish heartbeat");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });

    let report = run_cluster(&url, &config).await;
    heartbeats.abort();

    assert_eq!(report.completed, 12, "{report}");
    assert!(report.handler_errors > 0, "{report}");
    assert!(!report.nodes.contains_key("node-99"), "{report}");
    assert_eq!(report.bid_errors, 0, "{report}");
    assert!(report.success, "{report}");
}
