use ncl::{NclPayload, Payload, PayloadRegistry};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(name = "Heartbeat/v2")]
struct Heartbeat {
    node_id: String,
}

// A raw identifier is named without its `r#` prefix.
#[allow(non_camel_case_types)]
#[derive(Serialize, Deserialize, NclPayload)]
struct r#type {
    kind: String,
}

fn main() {
    assert_eq!(Heartbeat::NAME, "Heartbeat/v2");
    assert_eq!(r#type::NAME, "type");

    let registry = PayloadRegistry::from_inventory().unwrap();
    assert_eq!(registry.name_of::<Heartbeat>(), Some("Heartbeat/v2"));
    assert!(!registry.contains("Heartbeat"));
    assert_eq!(registry.name_of::<r#type>(), Some("type"));
}
