use serde::{Deserialize, Serialize};

use super::*;
use crate::metadata::keys;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Ping {
    seq: u64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Pong {
    seq: u64,
}

fn registry() -> PayloadRegistry {
    let mut registry = PayloadRegistry::new();
    registry.register::<Ping>("Ping").unwrap();
    registry
}

fn json_metadata(type_name: &str) -> Metadata {
    [(keys::TYPE, type_name), (keys::PAYLOAD_ENCODING, "json")]
        .into_iter()
        .collect()
}

#[test]
fn serialize_stamps_type_and_encoding() {
    let mut metadata = Metadata::new();
    let bytes = registry()
        .serialize_payload(&mut metadata, &Ping { seq: 7 })
        .unwrap();
    assert_eq!(bytes, br#"{"seq":7}"#);
    assert_eq!(metadata.get(keys::TYPE), Some("Ping"));
    assert_eq!(metadata.get(keys::PAYLOAD_ENCODING), Some("json"));
    assert!(!metadata.contains_key(keys::BACALHAU_TYPE));
}

#[test]
fn current_generation_stamps_both_spellings() {
    let registry = registry().with_key_generation(KeyGeneration::Current);
    let mut metadata = Metadata::new();
    registry
        .serialize_payload(&mut metadata, &Ping { seq: 7 })
        .unwrap();
    assert_eq!(metadata.get(keys::BACALHAU_TYPE), Some("Ping"));
    assert_eq!(metadata.get(keys::BACALHAU_PAYLOAD_ENCODING), Some("json"));
    assert_eq!(metadata.get(keys::TYPE), Some("Ping"));
}

#[test]
fn deserialize_returns_registered_type() {
    let payload = registry()
        .deserialize_payload(&json_metadata("Ping"), br#"{"seq":3}"#)
        .unwrap();
    assert_eq!(payload.downcast_ref::<Ping>(), Some(&Ping { seq: 3 }));
}

#[test]
fn deserialize_into_any_message_keeps_metadata() {
    let raw = RawMessage::new(json_metadata("Ping"), &br#"{"seq":3}"#[..]);
    let message = registry().deserialize(raw).unwrap();
    assert_eq!(message.message_type(), Some("Ping"));
    assert_eq!(message.payload::<Ping>(), Some(&Ping { seq: 3 }));
}

#[test]
fn unknown_type_lists_registered_names() {
    let error = registry()
        .deserialize_payload(&json_metadata("Nope"), b"{}")
        .unwrap_err();
    let RegistryError::UnknownType { name, registered } = error else {
        panic!("expected UnknownType, got {error:?}");
    };
    assert_eq!(name, "Nope");
    assert_eq!(registered, "Ping");
}

#[test]
fn unknown_type_counts_long_lists() {
    let mut registry = PayloadRegistry::new();
    macro_rules! register_many {
        ($($t:ident)*) => {$(
            #[derive(Serialize, Deserialize)]
            struct $t;
            registry.register::<$t>(stringify!($t)).unwrap();
        )*};
    }
    register_many!(A B C D E F G H I J K L);
    let error = registry
        .deserialize_payload(&json_metadata("Nope"), b"{}")
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::UnknownType { ref registered, .. } if registered.starts_with("12 types"))
    );
}

#[test]
fn encoding_is_checked_before_type() {
    let metadata: Metadata = [(keys::TYPE, "Nope"), (keys::PAYLOAD_ENCODING, "cbor")]
        .into_iter()
        .collect();
    let error = registry()
        .deserialize_payload(&metadata, b"{}")
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::UnsupportedEncoding { ref encoding } if encoding == "cbor")
    );
}

#[test]
fn missing_encoding_is_unsupported() {
    let metadata: Metadata = [(keys::TYPE, "Ping")].into_iter().collect();
    let error = registry()
        .deserialize_payload(&metadata, b"{}")
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::UnsupportedEncoding { ref encoding } if encoding.is_empty())
    );
}

#[test]
fn missing_type_is_its_own_error() {
    let metadata: Metadata = [(keys::PAYLOAD_ENCODING, "json")].into_iter().collect();
    let error = registry()
        .deserialize_payload(&metadata, b"{}")
        .unwrap_err();
    assert!(matches!(error, RegistryError::MissingType));
}

#[test]
fn bad_payload_json_is_deserialize_error() {
    for bytes in [&b""[..], b"{", br#"{"seq":"x"}"#, b"[]"] {
        let error = registry()
            .deserialize_payload(&json_metadata("Ping"), bytes)
            .unwrap_err();
        assert!(
            matches!(error, RegistryError::Deserialize { .. }),
            "{bytes:?}"
        );
    }
}

#[test]
fn duplicate_name_names_both_types() {
    let mut registry = registry();
    let error = registry.register::<Pong>("Ping").unwrap_err();
    let RegistryError::DuplicateName {
        name,
        existing,
        new,
    } = error
    else {
        panic!("expected DuplicateName, got {error:?}");
    };
    assert_eq!(name, "Ping");
    assert!(existing.ends_with("Ping"));
    assert!(new.ends_with("Pong"));
}

#[test]
fn same_type_twice_under_one_name_is_accepted() {
    let mut registry = registry();
    registry.register::<Ping>("Ping").unwrap();
    assert_eq!(registry.len(), 1);
}

#[test]
fn same_type_under_second_name_is_rejected() {
    let mut registry = registry();
    let error = registry.register::<Ping>("Ping2").unwrap_err();
    assert!(matches!(error, RegistryError::DuplicateType { .. }));
}

#[test]
fn blank_name_is_rejected() {
    for name in ["", "  ", "\t"] {
        let error = PayloadRegistry::new().register::<Ping>(name).unwrap_err();
        assert!(matches!(error, RegistryError::BlankName { .. }), "{name:?}");
    }
}

#[test]
fn serializing_unregistered_type_fails() {
    let error = registry()
        .serialize_payload(&mut Metadata::new(), &Pong { seq: 1 })
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::UnregisteredType { rust_type } if rust_type.ends_with("Pong"))
    );
}

#[test]
fn entries_are_sorted_by_name() {
    let mut registry = registry();
    registry.register::<Pong>("Alpha").unwrap();
    let names: Vec<String> = registry.entries().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["Alpha", "Ping"]);
}
