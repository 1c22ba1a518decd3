// On an impl block, the methods that take a message become one `MessageHandler` for the
// type; other methods are left alone.
#![deny(warnings)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::fmt;

use ncl::metadata::keys;
use ncl::{AnyMessage, HandlerError, Message, MessageHandler, Metadata, NclPayload, Payload};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[derive(Clone, Serialize, Deserialize, NclPayload)]
enum Status {
    Up,
    Down,
}

#[derive(Serialize, Deserialize, NclPayload)]
struct Unhandled;

#[derive(Debug)]
struct NodeDown;

impl fmt::Display for NodeDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("node is down")
    }
}

impl std::error::Error for NodeDown {}

#[derive(Default)]
struct Node {
    jobs: AtomicUsize,
    up: AtomicUsize,
}

#[ncl::handler]
impl Node {
    async fn on_job(&self, message: &Message<JobAssigned>) -> Result<(), NodeDown> {
        if self.up.load(Ordering::Relaxed) == 0 {
            return Err(NodeDown);
        }
        assert_eq!(message.payload.job_id, "j-1");
        self.jobs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn on_status(&self, message: Message<Status>) {
        let up = match message.payload {
            Status::Up => 1,
            Status::Down => 0,
        };
        self.up.store(up, Ordering::Relaxed);
    }

    fn jobs(&self) -> usize {
        self.jobs.load(Ordering::Relaxed)
    }
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
    let node = Node::default();
    assert_eq!(MessageHandler::name(&node), "Node");

    let job = message_of(JobAssigned { job_id: "j-1".to_owned() });
    let up = message_of(Status::Up);
    let unhandled = message_of(Unhandled);
    assert!(block_on(node.should_process(&job)));
    assert!(block_on(node.should_process(&up)));
    assert!(!block_on(node.should_process(&unhandled)));
    block_on(node.handle_message(&unhandled)).unwrap();

    let error = block_on(node.handle_message(&job)).unwrap_err();
    let error = error.downcast_ref::<HandlerError>().unwrap();
    assert_eq!(error.handler(), "Node::on_job");
    assert!(error.inner().is::<NodeDown>());

    block_on(node.handle_message(&up)).unwrap();
    block_on(node.handle_message(&job)).unwrap();
    assert_eq!(node.jobs(), 1);

    block_on(node.handle_message(&message_of(Status::Down))).unwrap();
    assert!(block_on(node.handle_message(&job)).is_err());
    assert_eq!(node.jobs(), 1);
}
