//! The README's first example, kept here so that it is built and can be run:
//! `cargo run -p examples --example quickstart` (needs a NATS server at 127.0.0.1:4222).
//! `tests/readme.rs` checks that the README shows exactly this code.

use std::sync::Arc;
use std::time::Duration;

use ncl::{Message, NclPayload, Publisher, Router, Subscriber};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// A job sent by the orchestrator to one compute node.
#[derive(Clone, Debug, Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
    command: String,
}

/// Runs on the compute node for every `JobAssigned` message. The second argument is the
/// router's state, here a signal that the job arrived.
#[ncl::handler]
async fn on_job(message: &Message<JobAssigned>, received: &Arc<Notify>) {
    println!(
        "running {} ({})",
        message.payload.job_id, message.payload.command
    );
    received.notify_one();
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = async_nats::connect("nats://127.0.0.1:4222").await?;

    // The node: every #[ncl::handler] function whose state is an Arc<Notify>, routed
    // by payload type.
    let received = Arc::new(Notify::new());
    let node = Subscriber::builder(client.clone())
        .handler(Router::new(Arc::clone(&received)))
        .build()?;
    node.subscribe(["jobs.node-1.>"]).await?;

    // The orchestrator: messages go to "jobs.node-1.<type name>".
    let orchestrator = Publisher::builder(client)
        .name("orchestrator")
        .destination_prefix("jobs.node-1")
        .build()?;
    orchestrator
        .publish(&JobAssigned {
            job_id: "j-1".into(),
            command: "echo hi".into(),
        })
        .await?;

    // Delivery is asynchronous: wait for the handler before closing the node, which
    // would drop a message still on its way.
    tokio::time::timeout(Duration::from_secs(5), received.notified()).await?;
    node.close().await;
    Ok(())
}
