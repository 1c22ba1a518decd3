//! Turning a typed event into envelope bytes, as a publisher does before sending.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use crate::metadata::{keys, unix_nanos};
use crate::{EnvelopeSerializer, Metadata, Payload, PayloadRegistry, RegistryError};

/// Stamps metadata and encodes events into envelopes, without sending them.
///
/// [`Publisher`](crate::Publisher) uses one; it is public for programs that move
/// envelopes by other means (files, another transport) and for benchmarks.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// use ncl::{Encoder, EnvelopeSerializer, Metadata, NclPayload, PayloadRegistry};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct Ping {
///     seq: u64,
/// }
///
/// let mut registry = PayloadRegistry::new();
/// registry.register_payload::<Ping>()?;
/// let encoder = Encoder::new("node-1", EnvelopeSerializer::default(), Arc::new(registry));
///
/// let mut metadata = Metadata::new();
/// let envelope = encoder.encode(&mut metadata, &Ping { seq: 1 })?;
/// assert_eq!(envelope[0], 1);
/// assert_eq!(metadata.source(), Some("node-1"));
/// assert!(metadata.message_id().is_some());
/// # Ok::<(), ncl::RegistryError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Encoder {
    source: String,
    serializer: EnvelopeSerializer,
    registry: Arc<PayloadRegistry>,
}

impl Encoder {
    /// Creates an encoder that writes `source` as the `Source` of every message.
    pub fn new(
        source: impl Into<String>,
        serializer: EnvelopeSerializer,
        registry: Arc<PayloadRegistry>,
    ) -> Self {
        Self {
            source: source.into(),
            serializer,
            registry,
        }
    }

    /// Returns the name written as `Source`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Returns the envelope serializer.
    pub fn serializer(&self) -> EnvelopeSerializer {
        self.serializer
    }

    /// Returns the payload registry.
    pub fn registry(&self) -> &Arc<PayloadRegistry> {
        &self.registry
    }

    /// Stamps `metadata` and encodes `event` into an envelope.
    ///
    /// Sets `Source`; sets `EventTime` (now) and `MessageID` (a random UUID) unless
    /// present; sets `Type` and `PayloadEncoding` from the registry. With the
    /// `opentelemetry` feature it also writes the trace context of the current span
    /// (`traceparent`, and `tracestate` when not empty) unless `traceparent` is present.
    /// The payload is serialized straight into the envelope buffer.
    ///
    /// # Errors
    ///
    /// Returns [`RegistryError::UnregisteredType`] when the registry does not know `T`
    /// and [`RegistryError::Serialize`] when the payload does not serialize.
    pub fn encode<T: Payload>(
        &self,
        metadata: &mut Metadata,
        event: &T,
    ) -> Result<Bytes, RegistryError> {
        // Keys are set in bytewise order where possible, because appending a key that
        // sorts last skips the search for its place.
        if !metadata.contains_key(keys::EVENT_TIME) {
            metadata.set_i64(keys::EVENT_TIME, unix_nanos(SystemTime::now()));
        }
        if !metadata.contains_key(keys::MESSAGE_ID) {
            let mut buffer = uuid::Uuid::encode_buffer();
            let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
            metadata.set(keys::MESSAGE_ID, id);
        }
        metadata.set(keys::SOURCE, &self.source);
        let name = self.registry.stamp::<T>(metadata)?;
        crate::telemetry::inject_current_context(metadata);
        self.serializer
            .serialize_with(metadata, |out| crate::go_json::to_writer(out, event))
            .map_err(|source| RegistryError::Serialize {
                name: name.to_owned(),
                source,
            })
    }
}
