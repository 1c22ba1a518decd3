// A handler may take the router's state after an owned message.
#![deny(warnings)]

use std::sync::Mutex;

use ncl::metadata::keys;
use ncl::{AnyMessage, Message, MessageHandler, Metadata, NclPayload, Payload, Router};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[derive(Default)]
struct Node {
    jobs: Mutex<Vec<String>>,
}

#[ncl::handler]
async fn on_job(message: Message<JobAssigned>, node: &Node) {
    node.jobs.lock().unwrap().push(message.payload.job_id);
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
    let router = Router::empty(Node::default()).route::<on_job>();
    for job_id in ["j-1", "j-2"] {
        let message = message_of(JobAssigned { job_id: job_id.to_owned() });
        block_on(router.handle_message(&message)).unwrap();
    }
    assert_eq!(*router.state().jobs.lock().unwrap(), ["j-1", "j-2"]);
}
