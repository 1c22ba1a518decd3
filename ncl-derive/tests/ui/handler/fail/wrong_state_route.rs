use ncl::{Message, NclPayload, Router};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

struct Node;
struct Orchestrator;

#[ncl::handler]
async fn on_job(message: &Message<JobAssigned>, node: &Node) {
    let _ = (message, node);
}

fn main() {
    let _router = Router::empty(Orchestrator).route::<on_job>();
}
