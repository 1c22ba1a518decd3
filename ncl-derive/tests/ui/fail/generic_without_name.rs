use ncl::NclPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct Page<T> {
    items: Vec<T>,
}

fn main() {}
