use ncl::{Message, NclPayload};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[ncl::handler]
async fn on_job(message: &Message<JobAssigned>) -> u32 {
    message.payload.job_id.len() as u32
}

fn main() {}
