use ncl::NclPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(rename = "Job")]
struct JobAssigned {
    job_id: String,
}

fn main() {}
