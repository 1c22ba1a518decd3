use ncl::{Message, NclPayload};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

// Debug alone does not make an error type: the router boxes `std::error::Error`s.
#[derive(Debug)]
struct UnknownJob;

#[ncl::handler]
async fn on_job(message: &Message<JobAssigned>) -> Result<(), UnknownJob> {
    let _ = message;
    Err(UnknownJob)
}

fn main() {}
