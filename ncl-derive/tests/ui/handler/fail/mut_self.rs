use ncl::{Message, NclPayload};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

struct Node {
    jobs: usize,
}

#[ncl::handler]
impl Node {
    async fn on_job(&mut self, message: &Message<JobAssigned>) {
        let _ = message;
        self.jobs += 1;
    }
}

fn main() {}
