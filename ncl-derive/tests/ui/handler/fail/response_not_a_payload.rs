use ncl::{Message, NclPayload, Request};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct GetJob {
    job_id: String,
}

// Serde alone does not make a payload: the response type has no wire name.
#[derive(Serialize, Deserialize)]
struct JobInfo {
    state: String,
}

impl Request for GetJob {
    type Response = JobInfo;
}

#[ncl::handler]
async fn get_job(request: &Message<GetJob>) -> Result<JobInfo, std::io::Error> {
    Ok(JobInfo { state: request.payload.job_id.clone() })
}

fn main() {}
