use ncl::{Message, NclPayload};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[ncl::handler]
fn on_job(message: &Message<JobAssigned>) {
    let _ = message;
}

fn main() {}
