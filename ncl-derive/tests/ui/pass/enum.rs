use ncl::{NclPayload, Payload, PayloadRegistry};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
enum NodeState {
    Healthy,
    Draining { until: u64 },
    Failed(String),
}

fn main() {
    assert_eq!(NodeState::NAME, "NodeState");

    let registry = PayloadRegistry::from_inventory().unwrap();
    assert_eq!(registry.name_of::<NodeState>(), Some("NodeState"));
}
