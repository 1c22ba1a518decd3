use ncl::NclPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(name = JobAssigned)]
struct JobAssigned {
    job_id: String,
}

fn main() {}
