use ncl::NclPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(crate = "missing::ncl")]
struct JobAssigned {
    job_id: String,
}

fn main() {}
