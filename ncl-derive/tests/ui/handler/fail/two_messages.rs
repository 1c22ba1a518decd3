use ncl::{Message, NclPayload};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[derive(Serialize, Deserialize, NclPayload)]
struct JobCancelled {
    job_id: String,
}

#[ncl::handler]
async fn on_job(assigned: &Message<JobAssigned>, cancelled: &Message<JobCancelled>) {
    let _ = (assigned, cancelled);
}

fn main() {}
