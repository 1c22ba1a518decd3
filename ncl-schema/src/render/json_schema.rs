//! One JSON Schema (draft 2020-12) document per message.

use std::collections::BTreeMap;

use super::doc_text;
use super::json::{Json, Object};
use super::schema::{Dialect, SchemaWriter, opaque_key};
use crate::catalog::{Catalog, Message};

/// URI that identifies JSON Schema draft 2020-12, the `$schema` of every document.
const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// Returns the file name of the JSON Schema of `message`: its wire name with characters
/// other than ASCII letters, digits, `.`, `_` and `-` replaced by `_`, followed by
/// `.schema.json`, such as `Heartbeat_v2.schema.json` for the wire name `Heartbeat/v2`.
pub fn schema_file_name(message: &Message) -> String {
    let stem: String = message
        .wire_name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-') {
                ch
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.schema.json")
}

/// Renders the JSON Schema (draft 2020-12) of `message`'s payload: the JSON that serde
/// writes for the type, with every crate type it uses under `$defs`.
///
/// The document's `title` is the wire name and its `description` the type's doc comment.
/// Types from other crates are `$defs` entries that accept any value, with a description
/// that names the type.
///
/// # Panics
///
/// Panics if `message` is not from `catalog`, because its type is then missing.
pub fn json_schema(catalog: &Catalog, message: &Message) -> String {
    let mut writer = SchemaWriter::new(catalog, Dialect::Draft2020, Some(message.type_key.clone()));
    let def = &catalog.types[&message.type_key];

    let mut document = Object::new()
        .with("$schema", DRAFT_2020_12)
        .with("title", message.wire_name.as_str());
    if let Some(docs) = &message.docs {
        document.insert("description", doc_text(docs));
    }
    document.extend(writer.body(&def.body));

    let mut defs: BTreeMap<String, Json> = BTreeMap::new();
    loop {
        let pending: Vec<String> = writer
            .referenced
            .iter()
            .filter(|key| !defs.contains_key(*key))
            .cloned()
            .collect();
        if pending.is_empty() {
            break;
        }
        for key in pending {
            let schema = writer.def(&catalog.types[&key]);
            defs.insert(key, schema.into());
        }
    }
    for path in &writer.opaque {
        defs.insert(opaque_key(path), SchemaWriter::opaque_def(path).into());
    }
    if !defs.is_empty() {
        let mut object = Object::new();
        for (key, schema) in defs {
            object.insert(key, schema);
        }
        document.insert("$defs", object);
    }
    Json::from(document).to_pretty()
}
