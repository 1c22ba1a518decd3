//! Runs the cluster example's logic against a private nats-server on a free loopback
//! port.

use std::time::Duration;

use examples::cluster::{self, Config, Report};
use examples::nats_server::{self, PrivateServer};

/// Upper bound on one cluster run, far above the second or so that each run takes.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

async fn start_server() -> PrivateServer {
    let binary = nats_server::find_binary()
        .unwrap_or_else(|| panic!("nats-server not found; {}", nats_server::INSTALL_HINT));
    PrivateServer::start(&binary)
        .await
        .unwrap_or_else(|error| panic!("failed to start nats-server: {error}"))
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

async fn run_cluster(server: &PrivateServer, config: &Config) -> Report {
    tokio::time::timeout(TEST_TIMEOUT, cluster::run(config, &server.url()))
        .await
        .expect("cluster run timed out")
        .expect("cluster run failed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_completes() {
    let server = start_server().await;
    let config = fast_config();

    let report = run_cluster(&server, &config).await;

    assert_eq!(report.completed, 12, "{report}");
    assert_eq!(report.failed, 0, "{report}");
    assert_eq!(report.unfinished, 0, "{report}");
    assert_eq!(report.decode_errors, 0, "{report}");
    assert_eq!(report.handler_errors, 0, "{report}");
    assert_eq!(report.publish_errors, 0, "{report}");
    assert_eq!(report.messages_received, report.messages_sent, "{report}");
    let per_node: usize = report.nodes.values().map(|node| node.completed).sum();
    assert_eq!(per_node, 12, "{report}");
    assert_eq!(report.nodes.len(), 3, "{report}");
    assert!(report.success, "{report}");
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

    let report = run_cluster(&server, &config).await;

    assert_eq!(report.failed, 6, "{report}");
    assert_eq!(report.completed, 24, "{report}");
    assert_eq!(report.unexpected_outcomes, 0, "{report}");
    assert_eq!(report.decode_errors, 0, "{report}");
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

    let report = run_cluster(&server, &config).await;
    garbage.abort();

    assert_eq!(report.completed, 12, "{report}");
    assert!(report.decode_errors > 0, "{report}");
    assert!(!report.success, "{report}");
    assert!(report.to_string().contains("failed to decode"), "{report}");
}
