// A handler may take the router's state before the message. `Router::new(state)` takes
// the handlers whose state is that type or none, and leaves out the others.
#![deny(warnings)]

use std::sync::atomic::{AtomicUsize, Ordering};

use ncl::metadata::keys;
use ncl::{AnyMessage, Message, MessageHandler, Metadata, NclPayload, Payload, Router};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[derive(Serialize, Deserialize, NclPayload)]
struct Heartbeat;

#[derive(Default)]
struct Node {
    jobs: AtomicUsize,
}

struct Orchestrator;

static HEARTBEATS: AtomicUsize = AtomicUsize::new(0);

#[ncl::handler]
async fn on_job(node: &Node, message: &Message<JobAssigned>) {
    assert_eq!(message.payload.job_id, "j-1");
    node.jobs.fetch_add(1, Ordering::Relaxed);
}

#[ncl::handler]
async fn on_heartbeat(_message: &Message<Heartbeat>) {
    HEARTBEATS.fetch_add(1, Ordering::Relaxed);
}

#[ncl::handler]
async fn on_job_elsewhere(_orchestrator: &Orchestrator, _message: &Message<JobAssigned>) {
    unreachable!("a router with state Node leaves this handler out");
}

fn message_of<T: Payload>(payload: T) -> AnyMessage {
    let mut metadata = Metadata::new();
    metadata.insert(keys::TYPE, T::NAME);
    metadata.insert(keys::PAYLOAD_ENCODING, ncl::JSON_ENCODING);
    AnyMessage::new(metadata, payload)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
}

fn main() {
    let router = Router::new(Node::default());
    assert_eq!(router.len(), 2);

    let job = message_of(JobAssigned { job_id: "j-1".to_owned() });
    block_on(router.handle_message(&job)).unwrap();
    assert_eq!(router.state().jobs.load(Ordering::Relaxed), 1);

    block_on(router.handle_message(&message_of(Heartbeat))).unwrap();
    assert_eq!(HEARTBEATS.load(Ordering::Relaxed), 1);

    let registrations = ncl::registrations().unwrap();
    let states: Vec<Option<&str>> = registrations.handlers.iter().map(|h| h.state).collect();
    // Sorted by payload wire name, then path.
    assert_eq!(states, [None, Some("Node"), Some("Orchestrator")]);
}
