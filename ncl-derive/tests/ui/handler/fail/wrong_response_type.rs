use ncl::{Message, NclPayload, Request};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct GetJob {
    job_id: String,
}

#[derive(Serialize, Deserialize, NclPayload)]
struct JobInfo {
    state: String,
}

#[derive(Serialize, Deserialize, NclPayload)]
struct NodeInfo {
    healthy: bool,
}

impl Request for GetJob {
    type Response = JobInfo;
}

struct Node;

// The method responds to `GetJob` with a payload other than `GetJob`'s response type.
#[ncl::handler]
impl Node {
    async fn get_job(&self, request: &Message<GetJob>) -> Result<NodeInfo, std::io::Error> {
        let _ = request;
        Ok(NodeInfo { healthy: true })
    }
}

fn main() {}
