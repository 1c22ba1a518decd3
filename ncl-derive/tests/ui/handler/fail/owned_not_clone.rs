use ncl::{Message, NclPayload};
use serde::{Deserialize, Serialize};

// Not `Clone`, so a handler cannot take it by value.
#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[ncl::handler]
async fn on_job(message: Message<JobAssigned>) {
    let _ = message;
}

fn main() {}
