//! A node against a private nats-server: bids, capacity and acknowledgements.

use std::time::Duration;

use ::tests::NatsServer;
use ncl::{AckError, AckedPublisher, Publisher, RequestError};

use super::*;

/// Time a test job runs, long enough for the test to send more while it runs.
const JOB_MILLIS: u64 = 400;

fn job(job_id: &str, attempt: u32) -> JobAssigned {
    JobAssigned {
        job_id: job_id.to_owned(),
        node_id: "node-1".to_owned(),
        command: format!("simulate {job_id}"),
        simulated_exit_code: 0,
        attempt,
    }
}

fn offer(job_id: &str) -> BidRequest {
    BidRequest {
        job_id: job_id.to_owned(),
        command: format!("simulate {job_id}"),
        attempt: 1,
    }
}

/// A node with capacity 1 on a private server, and publishers towards it.
struct Fixture {
    _server: NatsServer,
    node: RunningNode,
    requester: Publisher,
    /// Sends each message once, so that a negative acknowledgement fails it at once.
    assigner: AckedPublisher,
    /// Retries a negatively acknowledged message, the node's backoff (100 ms, doubling)
    /// giving it about 1.5 s in all.
    retrying: AckedPublisher,
}

async fn node_with_capacity_one() -> Fixture {
    let server = tokio::task::spawn_blocking(NatsServer::start)
        .await
        .expect("start nats-server");
    let subjects = Subjects::new("nodetest");
    let config = NodeConfig {
        id: "node-1".to_owned(),
        heartbeat_interval: Duration::from_secs(60),
        heartbeat_limit: None,
        job_millis: JOB_MILLIS..=JOB_MILLIS,
        capacity: 1,
    };
    let client = async_nats::connect(server.url())
        .await
        .expect("connect the node");
    let node = RunningNode::start(client, config, &subjects)
        .await
        .expect("start the node");

    let client = async_nats::connect(server.url())
        .await
        .expect("connect the orchestrator");
    let requester = Publisher::builder(client.clone())
        .name("orchestrator")
        .destination_prefix(subjects.node("node-1"))
        .build()
        .expect("build the bid requester");
    let assigner = |max_attempts| {
        AckedPublisher::builder(client.clone())
            .name("orchestrator")
            .destination_prefix(subjects.node("node-1"))
            .ack_wait(Duration::from_secs(5))
            .max_attempts(max_attempts)
            .build()
    };
    Fixture {
        _server: server,
        node,
        requester,
        assigner: assigner(1).await.expect("build the assigner"),
        retrying: assigner(5).await.expect("build the retrying assigner"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_bids_within_capacity() {
    let Fixture {
        _server,
        node,
        requester,
        assigner,
        retrying,
    } = node_with_capacity_one().await;
    let timeout = Duration::from_secs(5);

    let bid = requester
        .request_with_timeout(&offer("job-0001"), timeout)
        .await
        .expect("bid on an idle node");
    assert!(bid.payload.accepted, "{:?}", bid.payload);
    assert_eq!(bid.payload.node_id, "node-1");
    assert_eq!(bid.payload.job_id, "job-0001");
    assert_eq!((bid.payload.running_jobs, bid.payload.capacity), (0, 1));

    let ack = assigner
        .publish(&job("job-0001", 1))
        .await
        .expect("the first job is acknowledged");
    assert_eq!(ack.attempts, 1);

    // The node runs one job, its capacity, so it declines a second one...
    let bid = requester
        .request_with_timeout(&offer("job-0002"), timeout)
        .await
        .expect("bid on a busy node");
    assert!(!bid.payload.accepted, "{:?}", bid.payload);
    assert_eq!(bid.payload.running_jobs, 1);
    assert_eq!(bid.payload.reason.as_deref(), Some("running 1 of 1 jobs"));

    // ...and rejects its assignment with a negative acknowledgement.
    let error = assigner
        .publish(&job("job-0002", 1))
        .await
        .expect_err("the node is at capacity");
    let AckError::Nack { error, .. } = &error else {
        panic!("expected a negative acknowledgement, got {error:?}");
    };
    assert!(
        error.contains("node-1 runs 1 jobs, its capacity"),
        "{error}"
    );

    // An assignment of the running job is not a new job: it is acknowledged.
    assigner
        .publish(&job("job-0001", 1))
        .await
        .expect("a resent assignment is acknowledged");
    assert_eq!(node.duplicate_assignments(), 1);

    // A publisher that retries gets the node's rejections until the first job finished,
    // then the node takes the same message: the retry is not mistaken for a copy.
    let ack = retrying
        .publish(&job("job-0002", 1))
        .await
        .expect("the node takes the job once it has room");
    assert!(ack.attempts > 1, "{ack:?}");
    assert_eq!(node.duplicate_assignments(), 1);
    let bid = requester
        .request_with_timeout(&offer("job-0003"), timeout)
        .await
        .expect("bid while the second job runs");
    assert_eq!(bid.payload.running_jobs, 1, "{:?}", bid.payload);
    node.stop_publishing().await;
    node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_rejects_invalid_and_late_bids() {
    let Fixture {
        _server,
        node,
        requester,
        ..
    } = node_with_capacity_one().await;
    let timeout = Duration::from_secs(5);

    let invalid = BidRequest {
        attempt: 0,
        ..offer("job-0001")
    };
    let error = requester
        .request_with_timeout(&invalid, timeout)
        .await
        .expect_err("attempt 0 is invalid");
    let RequestError::Remote { code, message, .. } = &error else {
        panic!("expected an error response, got {error:?}");
    };
    assert_eq!(code, codes::BAD_REQUEST);
    assert!(message.contains("attempt 0"), "{message}");

    node.stop_publishing().await;
    let bid = requester
        .request_with_timeout(&offer("job-0001"), timeout)
        .await
        .expect("a stopping node still replies");
    assert!(!bid.payload.accepted);
    assert_eq!(bid.payload.reason.as_deref(), Some("the node is stopping"));

    node.close().await;
    let error = requester
        .request_with_timeout(&offer("job-0001"), timeout)
        .await
        .expect_err("a closed node does not reply");
    assert!(
        matches!(error, RequestError::NoResponders { .. }),
        "{error:?}"
    );
}
