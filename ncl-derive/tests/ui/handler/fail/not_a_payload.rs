use ncl::Message;
use serde::{Deserialize, Serialize};

// Serde alone does not make a payload: the type has no wire name.
#[derive(Serialize, Deserialize)]
struct JobAssigned {
    job_id: String,
}

#[ncl::handler]
async fn on_job(message: &Message<JobAssigned>) {
    let _ = message;
}

fn main() {}
