// A crate that reaches ncl only through a re-export names that path with `crate = "..."`.
mod reexport {
    pub use ::ncl;
}

use reexport::ncl::{NclPayload, Payload, PayloadRegistry};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(crate = "reexport::ncl")]
struct JobAssigned {
    job_id: String,
}

mod nested {
    use super::reexport::ncl::NclPayload;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, NclPayload)]
    #[ncl(crate = "crate::reexport::ncl", name = "Nested")]
    pub struct JobCancelled;
}

fn main() {
    assert_eq!(JobAssigned::NAME, "JobAssigned");
    assert_eq!(nested::JobCancelled::NAME, "Nested");

    let registry = PayloadRegistry::from_inventory().unwrap();
    assert_eq!(registry.name_of::<JobAssigned>(), Some("JobAssigned"));
    assert_eq!(registry.name_of::<nested::JobCancelled>(), Some("Nested"));

    let entry = registry
        .entries()
        .into_iter()
        .find(|entry| entry.name == "Nested")
        .unwrap();
    assert_eq!(entry.rust_path, concat!(module_path!(), "::nested::JobCancelled"));
}
