// A handler that takes `Message<T>` by value gets a clone of the shared message.
#![deny(warnings)]

use std::sync::atomic::{AtomicUsize, Ordering};

use ncl::metadata::keys;
use ncl::{AnyMessage, Message, MessageHandler, Metadata, NclPayload, Payload, RegisteredHandler, Router};
use serde::{Deserialize, Serialize};

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[ncl::handler]
async fn on_job(message: Message<JobAssigned>) {
    let (_metadata, job) = message.into_parts();
    assert_eq!(job.job_id, "j-1");
    CALLS.fetch_add(1, Ordering::Relaxed);
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
    let router = Router::new(());
    assert!(router.routes_payload("JobAssigned"));
    assert_eq!(router.len(), 1);

    let message = message_of(JobAssigned { job_id: "j-1".to_owned() });
    assert!(block_on(router.should_process(&message)));
    block_on(router.handle_message(&message)).unwrap();
    assert_eq!(CALLS.load(Ordering::Relaxed), 1);

    let registrations = ncl::registrations().unwrap();
    let expected = RegisteredHandler {
        path: concat!(module_path!(), "::on_job"),
        payload: "JobAssigned",
        state: None,
    };
    assert_eq!(registrations.handlers, [expected]);
}
