//! Messages at each stage of decoding: raw bytes, type-erased, and typed.

use std::any::{Any, TypeId};
use std::fmt;

use bytes::Bytes;

use crate::Metadata;

/// Metadata and payload bytes: what an envelope carries, before the payload is decoded.
///
/// The publisher builds one after serializing the payload; the subscriber gets one from
/// the envelope decoder and hands the payload bytes to the registry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawMessage {
    /// String metadata: message id, type, source, event time and any application keys.
    pub metadata: Metadata,
    /// Serialized payload, in the encoding named by the metadata (JSON today).
    pub payload: Bytes,
}

impl RawMessage {
    /// Creates a raw message from metadata and payload bytes.
    pub fn new(metadata: Metadata, payload: impl Into<Bytes>) -> Self {
        Self {
            metadata,
            payload: payload.into(),
        }
    }
}

/// Metadata and a typed payload.
///
/// # Examples
///
/// ```
/// use ncl::{Message, Metadata};
///
/// let message = Message::new(Metadata::new(), String::from("hello"));
/// assert_eq!(message.payload, "hello");
/// assert_eq!(message.id(), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Message<P> {
    /// String metadata of the message.
    pub metadata: Metadata,
    /// The decoded payload.
    pub payload: P,
}

impl<P> Message<P> {
    /// Creates a message from metadata and a payload.
    pub fn new(metadata: Metadata, payload: P) -> Self {
        Self { metadata, payload }
    }

    /// Returns the message id.
    pub fn id(&self) -> Option<&str> {
        self.metadata.message_id()
    }

    /// Returns the payload's wire type name.
    pub fn message_type(&self) -> Option<&str> {
        self.metadata.message_type()
    }

    /// Returns the name of the publisher that sent the message.
    pub fn source(&self) -> Option<&str> {
        self.metadata.source()
    }

    /// Splits the message into its metadata and payload.
    pub fn into_parts(self) -> (Metadata, P) {
        (self.metadata, self.payload)
    }
}

/// A message whose payload type is known only at run time.
///
/// The subscriber decodes each payload through the registry into one of these and hands
/// it to every handler. A handler that expects a particular type requests it with
/// [`AnyMessage::payload`], [`AnyMessage::message`] or [`AnyMessage::downcast`]; the
/// result is checked against the payload's real Rust type, so a handler never sees a
/// payload of the wrong type.
///
/// # Examples
///
/// ```
/// use ncl::{AnyMessage, Metadata};
///
/// let message = AnyMessage::new(Metadata::new(), 7_u32);
/// assert_eq!(message.payload::<u32>(), Some(&7));
/// assert_eq!(message.payload::<i64>(), None);
///
/// let typed = message.downcast::<u32>().unwrap();
/// assert_eq!(typed.payload, 7);
/// ```
pub struct AnyMessage {
    inner: Box<dyn ErasedMessage>,
    /// Sequence of the message in its JetStream stream, when it came from one.
    stream_sequence: Option<u64>,
}

/// A [`Message`] of some payload type, behind a trait object.
trait ErasedMessage: Send + Sync {
    fn payload_type_id(&self) -> TypeId;
    fn metadata(&self) -> &Metadata;
    fn metadata_mut(&mut self) -> &mut Metadata;
    fn payload_type_name(&self) -> &'static str;
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<P: Any + Send + Sync> ErasedMessage for Message<P> {
    fn payload_type_id(&self) -> TypeId {
        TypeId::of::<P>()
    }

    fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    fn payload_type_name(&self) -> &'static str {
        std::any::type_name::<P>()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl AnyMessage {
    /// Wraps a typed payload.
    pub fn new<P: Any + Send + Sync>(metadata: Metadata, payload: P) -> Self {
        Self::from_message(Message::new(metadata, payload))
    }

    /// Wraps a typed message.
    pub fn from_message<P: Any + Send + Sync>(message: Message<P>) -> Self {
        Self {
            inner: Box::new(message),
            stream_sequence: None,
        }
    }

    /// Returns the message's sequence in its JetStream stream: set by
    /// [`jetstream::Subscriber`](crate::jetstream::Subscriber), `None` for messages from
    /// core NATS. The stream checkpointers record it. It is not carried over by
    /// [`AnyMessage::downcast`].
    pub fn stream_sequence(&self) -> Option<u64> {
        self.stream_sequence
    }

    /// Sets the stream sequence, for example to test a checkpointer.
    pub fn set_stream_sequence(&mut self, sequence: Option<u64>) {
        self.stream_sequence = sequence;
    }

    /// Returns the metadata.
    pub fn metadata(&self) -> &Metadata {
        self.inner.metadata()
    }

    /// Returns the metadata for changing it.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        self.inner.metadata_mut()
    }

    /// Returns the message id.
    pub fn id(&self) -> Option<&str> {
        self.metadata().message_id()
    }

    /// Returns the payload's wire type name.
    pub fn message_type(&self) -> Option<&str> {
        self.metadata().message_type()
    }

    /// Returns the Rust type name of the payload, for logs and error messages.
    pub fn payload_type_name(&self) -> &'static str {
        self.inner.payload_type_name()
    }

    /// Returns the [`TypeId`] of the payload's Rust type.
    ///
    /// Routers compare it instead of the `Type` metadata key: the registry chose the
    /// payload type from that key, and comparing ids needs no metadata lookup.
    pub fn payload_type_id(&self) -> TypeId {
        self.inner.payload_type_id()
    }

    /// Returns `true` when the payload is a `P`.
    pub fn is<P: Any>(&self) -> bool {
        self.payload_type_id() == TypeId::of::<P>()
    }

    /// Returns the payload when it is a `P`.
    pub fn payload<P: Any>(&self) -> Option<&P> {
        self.message::<P>().map(|message| &message.payload)
    }

    /// Returns the typed message when the payload is a `P`, without copying it.
    pub fn message<P: Any>(&self) -> Option<&Message<P>> {
        self.inner.as_any().downcast_ref()
    }

    /// Converts into a typed message when the payload is a `P`, and returns `self`
    /// unchanged otherwise.
    ///
    /// # Errors
    ///
    /// Returns the message itself when its payload is of another type.
    pub fn downcast<P: Any + Send + Sync>(self) -> Result<Message<P>, Self> {
        if !self.is::<P>() {
            return Err(self);
        }
        match self.inner.into_any().downcast::<Message<P>>() {
            Ok(message) => Ok(*message),
            // Unreachable: the type was checked just above, and a message of another
            // type cannot be rebuilt from `Box<dyn Any>`.
            Err(_) => unreachable!("payload type checked before downcast"),
        }
    }

    /// Converts into a typed message when the payload is a `P`, cloning it out of the
    /// shared message.
    pub fn to_typed<P: Any + Clone>(&self) -> Option<Message<P>> {
        self.message::<P>().cloned()
    }
}

impl fmt::Debug for AnyMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyMessage")
            .field("metadata", self.metadata())
            .field("payload_type", &self.payload_type_name())
            .field("stream_sequence", &self.stream_sequence)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downcast_to_wrong_type_returns_message() {
        let message = AnyMessage::new(Metadata::new(), String::from("x"));
        let message = message.downcast::<u8>().unwrap_err();
        assert!(message.is::<String>());
        assert_eq!(message.payload_type_name(), "alloc::string::String");
    }

    #[test]
    fn to_typed_clones_payload() {
        let mut metadata = Metadata::new();
        metadata.insert("MessageID", "m-1");
        let message = AnyMessage::new(metadata, vec![1, 2, 3]);
        let typed = message.to_typed::<Vec<i32>>().unwrap();
        assert_eq!(typed.payload, [1, 2, 3]);
        assert_eq!(typed.id(), Some("m-1"));
        assert!(message.to_typed::<Vec<u8>>().is_none());
    }
}
