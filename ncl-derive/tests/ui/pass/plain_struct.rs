use ncl::{NclPayload, Payload, PayloadRegistry};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct JobAssigned {
    job_id: String,
}

#[derive(Serialize, Deserialize, NclPayload)]
struct Heartbeat;

fn main() {
    assert_eq!(JobAssigned::NAME, "JobAssigned");
    assert_eq!(Heartbeat::NAME, "Heartbeat");

    let registry = PayloadRegistry::from_inventory().unwrap();
    assert_eq!(registry.name_of::<JobAssigned>(), Some("JobAssigned"));
    assert_eq!(registry.name_of::<Heartbeat>(), Some("Heartbeat"));

    // The registered path is the module path of the test binary and the type's name.
    let entry = registry
        .entries()
        .into_iter()
        .find(|entry| entry.name == "JobAssigned")
        .unwrap();
    assert_eq!(entry.rust_path, concat!(module_path!(), "::JobAssigned"));
}
