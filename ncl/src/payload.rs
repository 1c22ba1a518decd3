//! The [`Payload`] trait and the link-time registration behind `#[derive(NclPayload)]`.

use std::any::{Any, TypeId};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{AnyMessage, Metadata};

/// A message type that can travel in an NCL envelope, under a fixed wire name.
///
/// Derive it with [`NclPayload`](crate::NclPayload): the derive sets [`Payload::NAME`]
/// (the type's name, or `#[ncl(name = "...")]`) and registers the type so that every
/// [`PayloadRegistry`](crate::PayloadRegistry) built with
/// [`PayloadRegistry::from_inventory`](crate::PayloadRegistry::from_inventory) knows it
/// without a call.
///
/// # Examples
///
/// ```
/// use ncl::{NclPayload, Payload};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct JobAssigned {
///     job_id: String,
/// }
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// #[ncl(name = "Heartbeat/v2")]
/// struct Heartbeat {
///     node_id: String,
/// }
///
/// assert_eq!(JobAssigned::NAME, "JobAssigned");
/// assert_eq!(Heartbeat::NAME, "Heartbeat/v2");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an NCL payload; add #[derive(NclPayload)]",
    label = "not an NCL payload",
    note = "NCL payloads are serde types that derive `ncl::NclPayload`, which gives them a wire name"
)]
pub trait Payload: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Wire name of the type, written to the `Type` metadata key.
    const NAME: &'static str;
}

/// Decodes JSON payload bytes into a boxed value of one registered type.
pub(crate) type DecodeFn = fn(&[u8]) -> Result<Box<dyn Any + Send + Sync>, serde_json::Error>;

/// Decodes JSON payload bytes into a message of one registered type; on failure the
/// metadata is handed back with the error.
pub(crate) type DecodeMessageFn =
    fn(Metadata, &[u8]) -> Result<AnyMessage, (Metadata, serde_json::Error)>;

/// A payload type registered at link time through `inventory`.
///
/// `#[derive(NclPayload)]` submits one of these per type; it is public only so that
/// generated code can name it.
#[doc(hidden)]
#[derive(Debug)]
pub struct PayloadRegistration {
    pub(crate) name: &'static str,
    pub(crate) rust_path: &'static str,
    pub(crate) type_id: fn() -> TypeId,
    pub(crate) decode: DecodeFn,
    pub(crate) decode_message: DecodeMessageFn,
}

impl PayloadRegistration {
    /// Describes `T`, whose path in its crate is `rust_path`.
    pub const fn new<T: Payload>(rust_path: &'static str) -> Self {
        Self {
            name: T::NAME,
            rust_path,
            type_id: TypeId::of::<T>,
            decode: decode_json::<T>,
            decode_message: decode_json_message::<T>,
        }
    }
}

inventory::collect!(PayloadRegistration);

/// Decodes JSON bytes into a type-erased [`Message<T>`](crate::Message).
pub(crate) fn decode_json_message<T: DeserializeOwned + Send + Sync + 'static>(
    metadata: Metadata,
    bytes: &[u8],
) -> Result<AnyMessage, (Metadata, serde_json::Error)> {
    match serde_json::from_slice::<T>(bytes) {
        Ok(payload) => Ok(AnyMessage::new(metadata, payload)),
        Err(error) => Err((metadata, error)),
    }
}

/// Decodes JSON bytes into a boxed `T`.
pub(crate) fn decode_json<T: DeserializeOwned + Send + Sync + 'static>(
    bytes: &[u8],
) -> Result<Box<dyn Any + Send + Sync>, serde_json::Error> {
    Ok(Box::new(serde_json::from_slice::<T>(bytes)?))
}
