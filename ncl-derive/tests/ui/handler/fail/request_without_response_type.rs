use ncl::{Message, NclPayload};
use serde::{Deserialize, Serialize};

// The request type does not name its response type with `impl ncl::Request`.
#[derive(Serialize, Deserialize, NclPayload)]
struct GetJob {
    job_id: String,
}

#[derive(Serialize, Deserialize, NclPayload)]
struct JobInfo {
    state: String,
}

#[ncl::handler]
async fn get_job(request: &Message<GetJob>) -> Result<JobInfo, std::io::Error> {
    Ok(JobInfo { state: request.payload.job_id.clone() })
}

fn main() {}
