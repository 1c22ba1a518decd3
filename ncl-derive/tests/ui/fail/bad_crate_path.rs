use ncl::NclPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(crate = "my-ncl")]
struct JobAssigned {
    job_id: String,
}

fn main() {}
