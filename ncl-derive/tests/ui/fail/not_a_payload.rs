use serde::{Deserialize, Serialize};

// Serde alone does not make a payload: the type has no wire name.
#[derive(Serialize, Deserialize)]
struct JobAssigned {
    job_id: String,
}

fn publish<T: ncl::Payload>(_payload: &T) {}

fn main() {
    publish(&JobAssigned { job_id: "j-1".to_owned() });
}
