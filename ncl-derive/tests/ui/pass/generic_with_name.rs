use ncl::{NclPayload, Payload, PayloadRegistry};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(name = "Page")]
struct Page<T> {
    items: Vec<T>,
}

#[derive(Serialize, Deserialize, NclPayload)]
struct Job {
    id: String,
}

fn main() {
    assert_eq!(Page::<Job>::NAME, "Page");
    assert_eq!(Page::<u32>::NAME, "Page");

    // Generic types are not registered at link time.
    let mut registry = PayloadRegistry::from_inventory().unwrap();
    assert_eq!(registry.name_of::<Job>(), Some("Job"));
    assert_eq!(registry.name_of::<Page<Job>>(), None);

    registry.register_payload::<Page<Job>>().unwrap();
    assert_eq!(registry.name_of::<Page<Job>>(), Some("Page"));
}
