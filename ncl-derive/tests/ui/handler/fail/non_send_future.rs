use std::rc::Rc;

use ncl::{Message, NclPayload};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

async fn upload() {}

#[ncl::handler]
async fn on_job(message: &Message<JobAssigned>) {
    // An `Rc` held across an await makes the future `!Send`.
    let job_id = Rc::new(message.payload.job_id.clone());
    upload().await;
    let _ = job_id;
}

fn main() {}
