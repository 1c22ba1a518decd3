use ncl::NclPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(name = "  ")]
struct JobAssigned {
    job_id: String,
}

fn main() {}
