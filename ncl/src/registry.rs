//! The payload registry: wire type names mapped to Rust types.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::metadata::KeyGeneration;
use crate::payload::{
    DecodeFn, DecodeMessageFn, PayloadRegistration, decode_json, decode_json_message,
};
use crate::{AnyMessage, Metadata, Payload, RawMessage, go_json};

/// The only payload encoding defined by NCL.
pub const JSON_ENCODING: &str = "json";

/// Error returned by [`PayloadRegistry`] operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The metadata names a payload encoding other than `json`.
    #[error("unsupported payload encoding {encoding:?}: only \"json\" is supported")]
    UnsupportedEncoding {
        /// Encoding found in the metadata (empty when the key is missing).
        encoding: String,
    },
    /// The metadata has no `Type` (or `Bacalhau-Type`) key.
    #[error("message has no Type metadata key, so its payload type is unknown")]
    MissingType,
    /// The metadata names a type that is not registered.
    #[error("unknown payload type {name:?}; registered: {registered}")]
    UnknownType {
        /// Type name found in the metadata.
        name: String,
        /// The registered names, or their count when there are many.
        registered: String,
    },
    /// A Rust type was serialized that the registry does not know.
    #[error(
        "payload type {rust_type} is not registered; derive NclPayload on it or call \
         PayloadRegistry::register"
    )]
    UnregisteredType {
        /// Rust type name.
        rust_type: &'static str,
    },
    /// A registration used an empty or all-whitespace name.
    #[error("blank wire name for payload type {rust_type}; give it a non-empty name")]
    BlankName {
        /// Rust type being registered.
        rust_type: &'static str,
    },
    /// Two Rust types were registered under one wire name.
    #[error(
        "wire name {name:?} is registered twice, by {existing} and by {new}; give one of \
         them another name with #[ncl(name = \"...\")]"
    )]
    DuplicateName {
        /// The contested wire name.
        name: String,
        /// Rust type registered first.
        existing: &'static str,
        /// Rust type registered second.
        new: &'static str,
    },
    /// One Rust type was registered under two wire names.
    #[error("payload type {rust_type} is already registered as {existing:?}, not {new:?}")]
    DuplicateType {
        /// The Rust type.
        rust_type: &'static str,
        /// Name it was registered under first.
        existing: String,
        /// Name of the second registration.
        new: String,
    },
    /// The payload could not be serialized as JSON.
    #[error("failed to serialize payload of type {name:?} as JSON: {source}")]
    Serialize {
        /// Wire name of the payload type.
        name: String,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// The payload bytes do not decode as the named type.
    #[error("failed to deserialize payload of type {name:?} from JSON: {source}")]
    Deserialize {
        /// Wire name of the payload type.
        name: String,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
}

/// Hashes a [`TypeId`], which is already a hash, by keeping the bits it writes; the
/// publish path looks a type up on every message.
#[derive(Default)]
pub(crate) struct TypeIdHasher(u64);

impl Hasher for TypeIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // TypeId writes one u64 or u128 today; fold any bytes in to stay correct if
        // that changes.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }

    fn write_u128(&mut self, value: u128) {
        self.0 ^= (value as u64) ^ ((value >> 64) as u64);
    }
}

/// Hashes wire names with FNV-1a, which costs less than the default SipHash on short
/// names. The receive path looks a name up on every message.
///
/// The map is filled once at start-up and only read afterwards. Names that a remote
/// sender chooses to collide can therefore lengthen one lookup's probe but not grow the
/// table.
pub(crate) struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        // The FNV-1a 64-bit offset basis.
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }
}

/// Registry entry for one payload type.
#[derive(Clone, Copy)]
struct Entry {
    rust_path: &'static str,
    type_id: TypeId,
    decode: DecodeFn,
    decode_message: DecodeMessageFn,
}

/// A description of one registered payload type, from [`PayloadRegistry::entries`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredPayload {
    /// Wire name.
    pub name: String,
    /// Rust path of the type (`crate::module::Type` for derived types, the compiler's
    /// type name for types registered at run time).
    pub rust_path: &'static str,
}

/// Maps wire type names to Rust types, and serializes and deserializes payloads.
///
/// Types that derive [`NclPayload`](crate::NclPayload) are collected at start-up by
/// [`PayloadRegistry::from_inventory`]; others are added with
/// [`PayloadRegistry::register`]. The registry is immutable once shared: publishers and
/// subscribers hold it behind an `Arc`.
///
/// # Linker caveat
///
/// `inventory` collects registrations from every object file the linker keeps. A crate
/// whose items are never referenced may be dropped, and its payload types with it; a
/// message of such a type then fails with [`RegistryError::UnknownType`]. Use
/// [`PayloadRegistry::entries`] to see what was collected, and
/// [`PayloadRegistry::register`] to add a type by hand.
///
/// # Examples
///
/// ```
/// use ncl::{Metadata, PayloadRegistry};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Ping {
///     seq: u64,
/// }
///
/// let mut registry = PayloadRegistry::new();
/// registry.register::<Ping>("Ping")?;
///
/// let mut metadata = Metadata::new();
/// let bytes = registry.serialize_payload(&mut metadata, &Ping { seq: 1 })?;
/// assert_eq!(metadata.message_type(), Some("Ping"));
///
/// let payload = registry.deserialize_payload(&metadata, &bytes)?;
/// assert_eq!(payload.downcast_ref::<Ping>(), Some(&Ping { seq: 1 }));
/// # Ok::<(), ncl::RegistryError>(())
/// ```
#[derive(Clone, Default)]
pub struct PayloadRegistry {
    by_name: HashMap<Box<str>, Entry, BuildHasherDefault<NameHasher>>,
    by_type: HashMap<TypeId, Box<str>, BuildHasherDefault<TypeIdHasher>>,
    key_generation: KeyGeneration,
}

impl PayloadRegistry {
    /// Creates an empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a registry holding every type that derives
    /// [`NclPayload`](crate::NclPayload) in the linked program.
    ///
    /// # Errors
    ///
    /// Returns [`RegistryError::DuplicateName`], naming both Rust types, when two types
    /// share a wire name, and [`RegistryError::BlankName`] for an empty name.
    pub fn from_inventory() -> Result<Self, RegistryError> {
        let mut registry = Self::new();
        let mut registrations: Vec<&PayloadRegistration> =
            inventory::iter::<PayloadRegistration>.into_iter().collect();
        // Sorted so that the error for a duplicate names the types in a stable order.
        registrations.sort_by_key(|r| (r.name, r.rust_path));
        for registration in registrations {
            registry.insert(
                registration.name,
                Entry {
                    rust_path: registration.rust_path,
                    type_id: (registration.type_id)(),
                    decode: registration.decode,
                    decode_message: registration.decode_message,
                },
            )?;
        }
        Ok(registry)
    }

    /// Returns a shared registry built once by [`PayloadRegistry::from_inventory`].
    ///
    /// Publishers and subscribers use it when no registry is given.
    ///
    /// # Errors
    ///
    /// As [`PayloadRegistry::from_inventory`]; the error is computed once and returned
    /// as a copy of its message on later calls.
    pub fn global() -> Result<Arc<Self>, Arc<RegistryError>> {
        static GLOBAL: OnceLock<Result<Arc<PayloadRegistry>, Arc<RegistryError>>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| Self::from_inventory().map(Arc::new).map_err(Arc::new))
            .clone()
    }

    /// Sets which spellings of the `Type` and `PayloadEncoding` keys
    /// [`PayloadRegistry::serialize_payload`] writes.
    pub fn with_key_generation(mut self, generation: KeyGeneration) -> Self {
        self.key_generation = generation;
        self
    }

    /// Registers `T` under the wire name `name`.
    ///
    /// Registering the same type under the same name again does nothing.
    ///
    /// # Errors
    ///
    /// Returns [`RegistryError::BlankName`] for an empty name,
    /// [`RegistryError::DuplicateName`] when another type has the name, and
    /// [`RegistryError::DuplicateType`] when `T` already has another name.
    pub fn register<T>(&mut self, name: &str) -> Result<(), RegistryError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        self.insert(
            name,
            Entry {
                rust_path: std::any::type_name::<T>(),
                type_id: TypeId::of::<T>(),
                decode: decode_json::<T>,
                decode_message: decode_json_message::<T>,
            },
        )
    }

    /// Registers the [`Payload`] type `T` under its own wire name.
    ///
    /// # Errors
    ///
    /// As [`PayloadRegistry::register`].
    pub fn register_payload<T: Payload>(&mut self) -> Result<(), RegistryError> {
        self.register::<T>(T::NAME)
    }

    fn insert(&mut self, name: &str, entry: Entry) -> Result<(), RegistryError> {
        if name.trim().is_empty() {
            return Err(RegistryError::BlankName {
                rust_type: entry.rust_path,
            });
        }
        if let Some(existing) = self.by_name.get(name) {
            if existing.type_id == entry.type_id {
                return Ok(());
            }
            return Err(RegistryError::DuplicateName {
                name: name.to_owned(),
                existing: existing.rust_path,
                new: entry.rust_path,
            });
        }
        if let Some(existing) = self.by_type.get(&entry.type_id) {
            return Err(RegistryError::DuplicateType {
                rust_type: entry.rust_path,
                existing: existing.to_string(),
                new: name.to_owned(),
            });
        }
        self.by_name.insert(name.into(), entry);
        self.by_type.insert(entry.type_id, name.into());
        Ok(())
    }

    /// Returns the wire name `T` is registered under.
    pub fn name_of<T: Any>(&self) -> Option<&str> {
        self.by_type.get(&TypeId::of::<T>()).map(|name| &**name)
    }

    /// Returns `true` when `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Returns the number of registered types.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Returns `true` when no type is registered.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Lists the registered types, sorted by wire name.
    pub fn entries(&self) -> Vec<RegisteredPayload> {
        let mut entries: Vec<RegisteredPayload> = self
            .by_name
            .iter()
            .map(|(name, entry)| RegisteredPayload {
                name: name.to_string(),
                rust_path: entry.rust_path,
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries
    }

    /// Serializes `payload` as JSON and records its type and encoding in `metadata`.
    ///
    /// # Errors
    ///
    /// Returns [`RegistryError::UnregisteredType`] when `T` is not registered,
    /// [`RegistryError::UnsupportedEncoding`] when `metadata` already names an encoding
    /// other than `json`, and [`RegistryError::Serialize`] when serde fails.
    pub fn serialize_payload<T: Serialize + Any>(
        &self,
        metadata: &mut Metadata,
        payload: &T,
    ) -> Result<Vec<u8>, RegistryError> {
        let name = self.stamp::<T>(metadata)?;
        let mut out = Vec::with_capacity(128);
        go_json::to_writer(&mut out, payload).map_err(|source| RegistryError::Serialize {
            name: name.to_owned(),
            source,
        })?;
        Ok(out)
    }

    /// Records `T`'s wire name and the JSON encoding in `metadata`; returns the name.
    ///
    /// As Bacalhau's Go registry does, an encoding the caller already set (under either
    /// key spelling) is kept rather than rewritten, so only an empty one is filled in.
    pub(crate) fn stamp<T: Any>(&self, metadata: &mut Metadata) -> Result<&str, RegistryError> {
        let name = self.name_of::<T>().ok_or(RegistryError::UnregisteredType {
            rust_type: std::any::type_name::<T>(),
        })?;
        match metadata.payload_encoding().unwrap_or_default() {
            "" => metadata.set_payload_encoding(JSON_ENCODING, self.key_generation),
            JSON_ENCODING => {}
            other => {
                return Err(RegistryError::UnsupportedEncoding {
                    encoding: other.to_owned(),
                });
            }
        }
        metadata.set_message_type(name, self.key_generation);
        Ok(name)
    }

    /// Deserializes payload bytes into the type that `metadata` names.
    ///
    /// Checks the encoding first, then the type, as Bacalhau's Go registry does.
    ///
    /// # Errors
    ///
    /// Returns [`RegistryError::UnsupportedEncoding`], [`RegistryError::MissingType`],
    /// [`RegistryError::UnknownType`] or [`RegistryError::Deserialize`].
    pub fn deserialize_payload(
        &self,
        metadata: &Metadata,
        bytes: &[u8],
    ) -> Result<Box<dyn Any + Send + Sync>, RegistryError> {
        let (name, entry) = self.lookup(metadata)?;
        (entry.decode)(bytes).map_err(|source| RegistryError::Deserialize {
            name: name.to_owned(),
            source,
        })
    }

    /// Deserializes a raw message's payload into a type-erased message.
    ///
    /// # Errors
    ///
    /// As [`PayloadRegistry::deserialize_payload`].
    pub fn deserialize(&self, message: RawMessage) -> Result<AnyMessage, RegistryError> {
        self.decode_message(message).map_err(|(error, _)| error)
    }

    /// Deserializes a raw message; on failure hands the metadata back for logging.
    pub(crate) fn decode_message(
        &self,
        message: RawMessage,
    ) -> Result<AnyMessage, (RegistryError, Metadata)> {
        let (name, entry) = match self.lookup(&message.metadata) {
            Ok(found) => found,
            Err(error) => return Err((error, message.metadata)),
        };
        (entry.decode_message)(message.metadata, &message.payload).map_err(|(metadata, source)| {
            let error = RegistryError::Deserialize {
                name: name.to_owned(),
                source,
            };
            (error, metadata)
        })
    }

    /// Finds the entry for the encoding and type named in `metadata`.
    fn lookup(&self, metadata: &Metadata) -> Result<(&str, &Entry), RegistryError> {
        let encoding = metadata.payload_encoding().unwrap_or_default();
        if encoding != JSON_ENCODING {
            return Err(RegistryError::UnsupportedEncoding {
                encoding: encoding.to_owned(),
            });
        }
        let name = metadata.message_type().ok_or(RegistryError::MissingType)?;
        let (name, entry) =
            self.by_name
                .get_key_value(name)
                .ok_or_else(|| RegistryError::UnknownType {
                    name: name.to_owned(),
                    registered: self.describe_registered(),
                })?;
        Ok((name, entry))
    }

    /// Lists the registered names for an error message, or counts them when many.
    fn describe_registered(&self) -> String {
        const MAX_LISTED: usize = 10;
        if self.by_name.is_empty() {
            return "none".to_owned();
        }
        if self.by_name.len() > MAX_LISTED {
            return format!(
                "{} types (see PayloadRegistry::entries)",
                self.by_name.len()
            );
        }
        let mut names: Vec<&str> = self.by_name.keys().map(|name| &**name).collect();
        names.sort_unstable();
        names.join(", ")
    }
}

impl fmt::Debug for PayloadRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayloadRegistry")
            .field("types", &self.entries())
            .field("key_generation", &self.key_generation)
            .finish()
    }
}

#[cfg(test)]
mod tests;
