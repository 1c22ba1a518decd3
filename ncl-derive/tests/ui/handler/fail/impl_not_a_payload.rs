use ncl::Message;
use serde::{Deserialize, Serialize};

// Serde alone does not make a payload: the type has no wire name.
#[derive(Clone, Serialize, Deserialize)]
struct Status {
    up: bool,
}

struct Node;

#[ncl::handler]
impl Node {
    async fn on_status(&self, message: Message<Status>) {
        let _ = message;
    }
}

fn main() {}
