// A handler or handler method removed by `#[cfg]` takes its generated code with it, so
// the payload types it names need not exist.
#![deny(warnings)]

use ncl::metadata::keys;
use ncl::{AnyMessage, Message, MessageHandler, Metadata, NclPayload, Router};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[ncl::handler]
#[cfg(any())]
async fn on_missing(message: &Message<DoesNotExist>) {}

struct Node;

#[ncl::handler]
impl Node {
    async fn on_job(&self, message: &Message<JobAssigned>) {
        assert_eq!(message.payload.job_id, "j-1");
    }

    #[cfg(any())]
    async fn on_missing(&self, message: &Message<DoesNotExist>) {}
}

fn main() {
    let router = Router::new(());
    assert!(router.is_empty());

    let mut metadata = Metadata::new();
    metadata.insert(keys::TYPE, "JobAssigned");
    let message = AnyMessage::new(metadata, JobAssigned { job_id: "j-1".to_owned() });
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert!(runtime.block_on(Node.should_process(&message)));
    runtime.block_on(Node.handle_message(&message)).unwrap();
}
