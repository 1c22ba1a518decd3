//! The message catalog of a crate: its payloads, the types their fields use, the handlers
//! that consume them, the channels they travel on and which payloads are requests and
//! responses, as the renderers read them.
//!
//! A [`Catalog`] is built by [`Builder::scan`](crate::Builder::scan). Every type in it
//! describes the JSON that serde writes and reads for a Rust type. The serde attributes
//! that change that JSON are already applied, so names are the JSON names, skipped fields
//! and variants are gone, and each field records whether it is required.

use std::collections::BTreeMap;

pub use crate::attr::serde::Tagging;

/// Everything the renderers need, sorted: messages by wire name, types by key, handlers
/// by path and channels by address.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Catalog {
    /// Title of the catalog, also the AsyncAPI `info.title`.
    pub title: String,
    /// Version of the described API, also the AsyncAPI `info.version`.
    pub version: String,
    /// Introduction written under the title, if any.
    pub description: Option<String>,
    /// Each `#[derive(NclPayload)]` type, by wire name, and ncl's error response
    /// `BacError` when some message is a request type.
    pub messages: Vec<Message>,
    /// The types that messages are made of, including each message's own type, by key.
    pub types: BTreeMap<String, TypeDef>,
    /// Each handler found, by path.
    pub handlers: Vec<Handler>,
    /// The channels declared to the builder, by address.
    pub channels: Vec<Channel>,
    /// Descriptions of channel parameters, by parameter name.
    pub parameters: BTreeMap<String, String>,
}

impl Catalog {
    /// Returns the message whose wire name is `wire_name`.
    pub fn message(&self, wire_name: &str) -> Option<&Message> {
        self.messages
            .iter()
            .find(|message| message.wire_name == wire_name)
    }

    /// Returns the message whose own type has the key `key`.
    pub fn message_of_type(&self, key: &str) -> Option<&Message> {
        self.messages.iter().find(|message| message.type_key == key)
    }

    /// Returns the request types whose response is the message `wire_name`.
    pub fn requests_for_response<'a>(
        &'a self,
        wire_name: &'a str,
    ) -> impl Iterator<Item = &'a Message> {
        self.messages
            .iter()
            .filter(move |message| message.response.as_deref() == Some(wire_name))
    }

    /// Returns the request types: the messages that have a response type.
    pub fn requests(&self) -> impl Iterator<Item = &Message> {
        self.messages
            .iter()
            .filter(|message| message.response.is_some())
    }

    /// Returns ncl's error response `BacError`, which the catalog has when some message is
    /// a request type.
    pub fn error_response(&self) -> Option<&Message> {
        self.messages.iter().find(|message| message.error_response)
    }

    /// Returns the handlers that consume the message `wire_name`.
    pub fn handlers_of<'a>(&'a self, wire_name: &'a str) -> impl Iterator<Item = &'a Handler> {
        self.handlers
            .iter()
            .filter(move |handler| handler.payload == wire_name)
    }

    /// Returns the channels that carry the message `wire_name`.
    pub fn channels_of<'a>(&'a self, wire_name: &'a str) -> impl Iterator<Item = &'a Channel> {
        self.channels
            .iter()
            .filter(move |channel| channel.messages.iter().any(|name| name == wire_name))
    }
}

/// A payload type: a struct or enum that derives `NclPayload`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Message {
    /// The wire name, written to the `Type` metadata key of each envelope.
    pub wire_name: String,
    /// Path of the type from the crate root, such as `crate::cluster::messages::Heartbeat`.
    pub rust_path: String,
    /// Key of the message's own type in [`Catalog::types`].
    pub type_key: String,
    /// Payload encoding, the value of the `PayloadEncoding` metadata key: always `json`.
    pub encoding: String,
    /// The type's doc comment.
    pub docs: Option<String>,
    /// File that defines the type, as the builder was given its source directory, or
    /// `ncl` for the error response.
    pub source: String,
    /// Wire name of the response type when the type is a request type: it implements
    /// `ncl::Request`, or a request handler takes it. A responder sends the response to
    /// the reply subject of the request.
    pub response: Option<String>,
    /// Whether this is ncl's error response `BacError` (`ncl::ErrorResponse`), which a
    /// responder sends in place of the response when a request fails. The catalog adds it
    /// when some message is a request type.
    pub error_response: bool,
}

/// A struct or enum of the scanned crate, or one instantiation of a generic one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TypeDef {
    /// Unique key, used in JSON Schema `$defs`, AsyncAPI components and Markdown anchors:
    /// the identifier, prefixed with its module path (`a.b.Status`) when two types share
    /// the identifier, and followed by its type arguments (`Page_JobState`) when generic.
    pub key: String,
    /// Path of the type from the crate root, with its type arguments.
    pub rust_path: String,
    /// The type's doc comment.
    pub docs: Option<String>,
    /// File that defines the type, or `ncl` for the error response's payload type.
    pub source: String,
    /// The JSON shape.
    pub body: TypeBody,
}

/// The JSON shape of a [`TypeDef`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TypeBody {
    /// A struct with named fields: a JSON object.
    Struct(StructBody),
    /// A struct that serializes as one value: a tuple struct with one field, a
    /// `#[serde(transparent)]` struct, or a type with `#[serde(into = "...")]`.
    Newtype(TypeRef),
    /// A tuple struct with several fields: a JSON array of fixed length.
    Tuple(Vec<TypeRef>),
    /// A unit struct: `null`.
    Unit,
    /// An enum.
    Enum(EnumBody),
}

/// The fields of a struct, or of a struct variant.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StructBody {
    /// Fields in declaration order, without fields that are neither written nor read.
    pub fields: Vec<Field>,
    /// Whether `#[serde(deny_unknown_fields)]` makes other properties an error on input.
    pub deny_unknown_fields: bool,
}

/// One field of a struct or struct variant.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Field {
    /// The field's Rust name.
    pub rust_name: String,
    /// The property name in JSON, after `rename` and `rename_all`.
    pub json_name: String,
    /// Other property names accepted on input (`alias`).
    pub aliases: Vec<String>,
    /// The field's type.
    pub ty: TypeRef,
    /// The field's doc comment.
    pub docs: Option<String>,
    /// Whether every valid value has the property: false for an `Option`, a field with a
    /// default, a field that `skip_serializing_if` may leave out, and a field that is
    /// written or read only one way.
    pub required: bool,
    /// Whether the field's own properties are written into the parent object
    /// (`#[serde(flatten)]`).
    pub flatten: bool,
    /// When the property is written.
    pub written: Written,
    /// Whether the property is read on input (false with `skip_deserializing`).
    pub read: bool,
}

/// When serialization writes a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Written {
    /// Always.
    Always,
    /// Unless its `skip_serializing_if` function returns true.
    Sometimes,
    /// Never (`skip_serializing`), though it is read on input.
    Never,
}

/// The variants of an enum and how they are tagged.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnumBody {
    /// The representation from `tag`, `content` and `untagged`.
    pub tagging: Tagging,
    /// Variants in declaration order, without variants that are never written.
    pub variants: Vec<Variant>,
}

/// One enum variant.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Variant {
    /// The variant's Rust name.
    pub rust_name: String,
    /// The tag value in JSON, after `rename` and `rename_all`.
    pub json_name: String,
    /// Other tag values accepted on input (`alias`).
    pub aliases: Vec<String>,
    /// The variant's doc comment.
    pub docs: Option<String>,
    /// The variant's content.
    pub body: VariantBody,
    /// Whether the variant is written without a tag (`#[serde(untagged)]` on the variant).
    pub untagged: bool,
    /// Whether the variant is read only as the catch-all for unknown tags
    /// (`#[serde(other)]`).
    pub other: bool,
    /// Whether the variant is read on input (false with `skip_deserializing`).
    pub read: bool,
}

/// The content of an enum variant.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum VariantBody {
    /// No content.
    Unit,
    /// One unnamed field.
    Newtype(TypeRef),
    /// Several unnamed fields.
    Tuple(Vec<TypeRef>),
    /// Named fields.
    Struct(StructBody),
}

/// The JSON shape of a Rust type written in a field or a type argument.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypeRef {
    /// `bool`.
    Bool,
    /// `char`: a string of one character.
    Char,
    /// `String`, `str`, `PathBuf` and the `std::net` address types; the `format`, if any,
    /// is a JSON Schema format such as `ipv4`.
    String {
        /// JSON Schema `format` of the string.
        format: Option<&'static str>,
    },
    /// An integer type, or its `NonZero` form.
    Integer {
        /// The integer type.
        ty: IntegerType,
        /// Whether the type is a `NonZero` integer, which excludes 0.
        nonzero: bool,
    },
    /// `f32` or `f64`, by Rust name.
    Float(&'static str),
    /// `()` and `PhantomData`: `null`.
    Unit,
    /// `Option<T>`: the value or `null`, and a struct field of this type may be missing.
    Option(Box<TypeRef>),
    /// `Vec`, `VecDeque`, slices and sets: a JSON array.
    Seq {
        /// Type of the items.
        item: Box<TypeRef>,
        /// Whether the items are distinct (`HashSet`, `BTreeSet`).
        unique: bool,
    },
    /// `[T; N]`: a JSON array of exactly `len` items.
    Array {
        /// Type of the items.
        item: Box<TypeRef>,
        /// Number of items.
        len: u64,
    },
    /// A tuple of two or more types: a JSON array of fixed length.
    Tuple(Vec<TypeRef>),
    /// `HashMap` and `BTreeMap`: a JSON object whose property names are the keys.
    Map {
        /// Type of the keys, which JSON writes as strings.
        key: Box<TypeRef>,
        /// Type of the values.
        value: Box<TypeRef>,
    },
    /// `Result<T, E>`: `{"Ok": T}` or `{"Err": E}`.
    Result {
        /// Type of the `Ok` value.
        ok: Box<TypeRef>,
        /// Type of the `Err` value.
        err: Box<TypeRef>,
    },
    /// A standard-library struct with fixed properties, such as `Duration`, which serde
    /// writes as `{"secs": u64, "nanos": u32}`. Every property is required.
    Object(Vec<(String, TypeRef)>),
    /// `serde_json::Value`: any JSON value.
    Any,
    /// A type of the scanned crate, by its key in [`Catalog::types`].
    Named(String),
    /// A type parameter of a generic payload, which can hold any value.
    Param(String),
    /// A type from another crate, or one the scanner cannot describe, by its path as
    /// written. Its JSON shape is unknown.
    Opaque(String),
}

/// The Rust integer types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(
    missing_docs,
    reason = "each variant is the Rust type of the same name"
)]
pub enum IntegerType {
    I8,
    I16,
    I32,
    I64,
    I128,
    Isize,
    U8,
    U16,
    U32,
    U64,
    U128,
    Usize,
}

impl IntegerType {
    /// Every integer type, in the order of [`IntegerType::rust_name`]'s table.
    const ALL: [Self; 12] = [
        Self::I8,
        Self::I16,
        Self::I32,
        Self::I64,
        Self::I128,
        Self::Isize,
        Self::U8,
        Self::U16,
        Self::U32,
        Self::U64,
        Self::U128,
        Self::Usize,
    ];

    /// Returns the integer type named `name`, such as `"u32"`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|ty| ty.rust_name() == name)
    }

    /// Returns the Rust name, such as `"u32"`.
    pub fn rust_name(self) -> &'static str {
        match self {
            Self::I8 => "i8",
            Self::I16 => "i16",
            Self::I32 => "i32",
            Self::I64 => "i64",
            Self::I128 => "i128",
            Self::Isize => "isize",
            Self::U8 => "u8",
            Self::U16 => "u16",
            Self::U32 => "u32",
            Self::U64 => "u64",
            Self::U128 => "u128",
            Self::Usize => "usize",
        }
    }

    /// Returns the minimum and maximum value, or `None` for the 128-bit types, whose
    /// bounds JSON Schema validators cannot compare exactly because they hold numbers as
    /// 64-bit integers or floats.
    ///
    /// `isize` and `usize` get the 64-bit bounds. On a 32-bit target their real range is
    /// smaller, and a larger value fails when it is deserialized.
    pub fn range(self) -> Option<(i128, i128)> {
        let range = match self {
            Self::I8 => (i8::MIN.into(), i8::MAX.into()),
            Self::I16 => (i16::MIN.into(), i16::MAX.into()),
            Self::I32 => (i32::MIN.into(), i32::MAX.into()),
            Self::I64 | Self::Isize => (i64::MIN.into(), i64::MAX.into()),
            Self::U8 => (0, u8::MAX.into()),
            Self::U16 => (0, u16::MAX.into()),
            Self::U32 => (0, u32::MAX.into()),
            Self::U64 | Self::Usize => (0, u64::MAX.into()),
            Self::I128 | Self::U128 => return None,
        };
        Some(range)
    }

    /// Returns whether the type is unsigned.
    pub fn is_unsigned(self) -> bool {
        matches!(
            self,
            Self::U8 | Self::U16 | Self::U32 | Self::U64 | Self::U128 | Self::Usize
        )
    }
}

/// A function or method under `#[ncl::handler]` that consumes a message, or that responds
/// to a request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Handler {
    /// Path of the function, or of the method through its type, from the crate root:
    /// `crate::node::on_job` or `crate::node::Worker::on_job`.
    pub path: String,
    /// Whether it is a free function or a method, with the state it reads.
    pub kind: HandlerKind,
    /// Wire name of the message it takes.
    pub payload: String,
    /// Whether it takes `&Message<T>` (true) or an owned `Message<T>` (false).
    pub by_ref: bool,
    /// Wire name of the response of a request handler, which returns `Result<R, E>` with
    /// a payload `R`; `None` for a message handler.
    pub response: Option<String>,
    /// File that defines the handler.
    pub source: String,
}

/// The two forms of `#[ncl::handler]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandlerKind {
    /// A free `async fn`, routed by `ncl::Router`.
    Function {
        /// The router state type `S` of its `&S` parameter, as written, if it has one.
        state: Option<String>,
    },
    /// A method of an impl block under `#[ncl::handler]`.
    Method {
        /// The type of the impl block, as written, which is the `MessageHandler`.
        self_ty: String,
    },
}

/// A subject pattern that messages are published on, declared to the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Channel {
    /// Key of the channel in the AsyncAPI document, made from the address.
    pub id: String,
    /// The subject, with each varying token written as `{parameter}`, such as
    /// `cluster.{run_id}.node.{node_id}.JobAssigned`.
    pub address: String,
    /// Names of the parameters in the address, in order of appearance.
    pub parameters: Vec<String>,
    /// Wire names of the messages published on the channel, sorted.
    pub messages: Vec<String>,
}
