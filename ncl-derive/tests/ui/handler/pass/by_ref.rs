// A handler that takes `&Message<T>` borrows the message the subscriber decoded, without
// a copy, and can be added to a router by name.
#![deny(warnings)]

use std::sync::atomic::{AtomicUsize, Ordering};

use ncl::metadata::keys;
use ncl::{AnyMessage, Message, MessageHandler, Metadata, NclPayload, Payload, Router};
use serde::{Deserialize, Serialize};

// Address of the message the handler saw.
static SEEN_AT: AtomicUsize = AtomicUsize::new(0);

// Not `Clone`: a borrowed message needs no copy.
#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(name = "Job/v2")]
pub struct JobAssigned {
    job_id: String,
}

#[ncl::handler]
pub async fn on_job(message: &Message<JobAssigned>) {
    assert_eq!(message.payload.job_id, "j-1");
    SEEN_AT.store(message as *const Message<JobAssigned> as usize, Ordering::Relaxed);
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
    // A handler without state goes into a router of any state type.
    let router = Router::empty(String::from("any state")).route::<on_job>();
    assert!(router.routes_payload("Job/v2"));
    assert_eq!(router.len(), 1);

    let message = message_of(JobAssigned { job_id: "j-1".to_owned() });
    block_on(router.handle_message(&message)).unwrap();
    let shared = message.message::<JobAssigned>().unwrap();
    assert_eq!(SEEN_AT.load(Ordering::Relaxed), shared as *const Message<JobAssigned> as usize);
}
