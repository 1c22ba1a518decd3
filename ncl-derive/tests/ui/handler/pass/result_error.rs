// A handler may return `Result<(), E>` with its own error type. The router wraps the
// error in a `HandlerError` that names the handler.
#![deny(warnings)]

use std::fmt;

use ncl::metadata::keys;
use ncl::{AnyMessage, HandlerError, Message, MessageHandler, Metadata, NclPayload, Payload, Router};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[derive(Debug)]
struct UnknownJob(String);

impl fmt::Display for UnknownJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown job {}", self.0)
    }
}

impl std::error::Error for UnknownJob {}

#[ncl::handler]
async fn on_job(message: &Message<JobAssigned>) -> Result<(), UnknownJob> {
    if message.payload.job_id.starts_with("j-") {
        Ok(())
    } else {
        Err(UnknownJob(message.payload.job_id.clone()))
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
    let router = Router::new(());

    let good = message_of(JobAssigned { job_id: "j-1".to_owned() });
    block_on(router.handle_message(&good)).unwrap();

    let bad = message_of(JobAssigned { job_id: "x-9".to_owned() });
    let error = block_on(router.handle_message(&bad)).unwrap_err();
    let error = error.downcast_ref::<HandlerError>().unwrap();
    assert_eq!(error.handler(), "on_job");
    let inner = error.inner().downcast_ref::<UnknownJob>().unwrap();
    assert_eq!(inner.0, "x-9");
}
