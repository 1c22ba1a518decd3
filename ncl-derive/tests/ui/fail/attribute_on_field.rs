use ncl::NclPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    #[ncl(name = "id")]
    job_id: String,
}

fn main() {}
