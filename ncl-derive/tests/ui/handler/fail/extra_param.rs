use ncl::{Message, NclPayload};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[ncl::handler]
async fn on_job(message: &Message<JobAssigned>, retries: u32) {
    let _ = (message, retries);
}

fn main() {}
