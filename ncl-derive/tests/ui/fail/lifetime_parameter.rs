use ncl::NclPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(name = "JobAssigned")]
struct JobAssigned<'a> {
    job_id: &'a str,
}

fn main() {}
