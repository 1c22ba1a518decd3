use ncl::{Message, NclPayload};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

struct Node;

#[ncl::handler]
impl Node {
    async fn on_job(&self, message: &Message<JobAssigned>) {
        let _ = message;
    }

    async fn log_job(&self, message: Message<JobAssigned>) {
        let _ = message;
    }
}

fn main() {}
