// A crate that reaches ncl only through a re-export names that path with `crate = "..."`.
#![deny(warnings)]

mod reexport {
    pub use ::ncl;
}

use std::sync::atomic::{AtomicUsize, Ordering};

use reexport::ncl::metadata::keys;
use reexport::ncl::{AnyMessage, Message, MessageHandler, Metadata, NclPayload, Router};
use serde::{Deserialize, Serialize};

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(crate = "reexport::ncl")]
struct JobAssigned {
    job_id: String,
}

#[reexport::ncl::handler(crate = "reexport::ncl")]
async fn on_job(_message: &Message<JobAssigned>) {
    CALLS.fetch_add(1, Ordering::Relaxed);
}

struct Node;

#[reexport::ncl::handler(crate = "crate::reexport::ncl")]
impl Node {
    async fn on_job(&self, _message: &Message<JobAssigned>) {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() {
    let mut metadata = Metadata::new();
    metadata.insert(keys::TYPE, "JobAssigned");
    let message = AnyMessage::new(metadata, JobAssigned { job_id: "j-1".to_owned() });

    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let router = Router::empty(()).route::<on_job>();
    runtime.block_on(router.handle_message(&message)).unwrap();
    runtime.block_on(Node.handle_message(&message)).unwrap();
    assert_eq!(CALLS.load(Ordering::Relaxed), 2);
}
