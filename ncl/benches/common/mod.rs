//! Payloads and encoders shared by the benches.

use std::sync::Arc;

use ncl::{Encoder, EnvelopeSerializer, EnvelopeVersion, Metadata, NclPayload, PayloadRegistry};
use serde::{Deserialize, Serialize};

/// The benchmark payload: a string padded to reach the wanted JSON size, and a number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
pub(crate) struct Blob {
    /// Filler text.
    pub(crate) data: String,
    /// Sequence number.
    pub(crate) seq: u64,
}

impl Blob {
    /// Returns a blob whose JSON form is `size` bytes long (for `size` ≥ 32).
    pub(crate) fn with_json_size(size: usize) -> Self {
        // `{"data":"","seq":1234567}` is 25 bytes around the filler.
        let filler = size.saturating_sub(25);
        let blob = Self {
            data: "x".repeat(filler),
            seq: 1_234_567,
        };
        debug_assert_eq!(serde_json::to_vec(&blob).map(|v| v.len()).ok(), Some(size));
        blob
    }
}

/// Returns a registry that contains [`Blob`].
pub(crate) fn registry() -> Arc<PayloadRegistry> {
    let mut registry = PayloadRegistry::new();
    registry
        .register_payload::<Blob>()
        .expect("register the bench payload");
    Arc::new(registry)
}

/// Returns an encoder for `version` writing `Source` = "bench".
pub(crate) fn encoder(version: EnvelopeVersion) -> Encoder {
    Encoder::new("bench", EnvelopeSerializer::new(version), registry())
}

/// Returns metadata sized for the five keys a publisher stamps, as `publish` makes it.
pub(crate) fn fresh_metadata() -> Metadata {
    Metadata::with_capacity(6, 160)
}
