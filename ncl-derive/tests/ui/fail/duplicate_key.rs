use ncl::NclPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(name = "JobAssigned")]
#[ncl(name = "JobAssigned/v2")]
struct JobAssigned {
    job_id: String,
}

fn main() {}
