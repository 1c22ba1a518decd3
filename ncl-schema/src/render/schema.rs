//! JSON Schemas of catalog types, shared by the JSON Schema and AsyncAPI renderers.

use std::collections::BTreeSet;

use super::doc_text;
use super::json::{Json, Object};
use crate::catalog::{
    Catalog, EnumBody, Field, StructBody, Tagging, TypeBody, TypeDef, TypeRef, Variant,
    VariantBody, Written,
};

/// The schema language a document uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// JSON Schema draft 2020-12, with definitions under `$defs`.
    Draft2020,
    /// The AsyncAPI 3.0 Schema Object, a superset of JSON Schema draft 07, with
    /// definitions under `components.schemas`. Tuples use draft 07's array form of `items`.
    AsyncApi,
}

/// Builds schemas and records which definitions they reference.
pub(crate) struct SchemaWriter<'c> {
    catalog: &'c Catalog,
    dialect: Dialect,
    /// Key of the type at the document root, which references reach as `#`.
    root: Option<String>,
    /// Keys of the catalog types referenced so far.
    pub(crate) referenced: BTreeSet<String>,
    /// Paths of the opaque types referenced so far.
    pub(crate) opaque: BTreeSet<String>,
}

impl<'c> SchemaWriter<'c> {
    pub(crate) fn new(catalog: &'c Catalog, dialect: Dialect, root: Option<String>) -> Self {
        Self {
            catalog,
            dialect,
            root,
            referenced: BTreeSet::new(),
            opaque: BTreeSet::new(),
        }
    }

    fn ref_prefix(&self) -> &'static str {
        match self.dialect {
            Dialect::Draft2020 => "#/$defs/",
            Dialect::AsyncApi => "#/components/schemas/",
        }
    }

    /// Returns the schema of `def`, with its doc comment as the description.
    pub(crate) fn def(&mut self, def: &TypeDef) -> Object {
        let mut schema = Object::new();
        if let Some(docs) = &def.docs {
            schema.insert("description", doc_text(docs));
        }
        schema.extend(self.body(&def.body));
        schema
    }

    /// Returns the schema of a type's body, without its description.
    pub(crate) fn body(&mut self, body: &TypeBody) -> Object {
        match body {
            TypeBody::Struct(body) => {
                let mut parts = ObjectParts::default();
                self.add_fields(&body.fields, false, &mut parts, &mut BTreeSet::new());
                parts.finish(body.deny_unknown_fields)
            }
            TypeBody::Newtype(inner) => self.type_ref(inner),
            TypeBody::Tuple(items) => self.tuple(items),
            TypeBody::Unit => Object::new().with("type", "null"),
            TypeBody::Enum(body) => self.enumeration(body),
        }
    }

    /// Returns the schema of an opaque type, which accepts any value.
    pub(crate) fn opaque_def(path: &str) -> Object {
        Object::new().with(
            "description",
            format!(
                "`{path}`: a type the scanner did not describe, such as one from another \
                 crate. Any JSON value is accepted here."
            ),
        )
    }

    /// Returns the schema of a field or argument type.
    pub(crate) fn type_ref(&mut self, ty: &TypeRef) -> Object {
        let string = || Object::new().with("type", "string");
        match ty {
            TypeRef::Bool => Object::new().with("type", "boolean"),
            TypeRef::Char => string().with("minLength", 1_u64).with("maxLength", 1_u64),
            TypeRef::String { format } => {
                let mut schema = string();
                if let Some(format) = format {
                    schema.insert("format", *format);
                }
                schema
            }
            TypeRef::Integer { ty, nonzero } => {
                let mut schema = Object::new().with("type", "integer");
                if let Some((min, max)) = ty.range() {
                    let min = if *nonzero && ty.is_unsigned() { 1 } else { min };
                    schema.insert("minimum", min);
                    schema.insert("maximum", max);
                } else if ty.is_unsigned() {
                    schema.insert("minimum", if *nonzero { 1_u64 } else { 0_u64 });
                }
                if *nonzero && !ty.is_unsigned() {
                    schema.insert("not", Object::new().with("const", 0_u64));
                }
                schema
            }
            TypeRef::Float(_) => Object::new().with("type", "number"),
            TypeRef::Unit => Object::new().with("type", "null"),
            TypeRef::Option(inner) => nullable(self.type_ref(inner)),
            TypeRef::Seq { item, unique } => {
                let mut schema = Object::new()
                    .with("type", "array")
                    .with("items", self.type_ref(item));
                if *unique {
                    schema.insert("uniqueItems", true);
                }
                schema
            }
            TypeRef::Array { item, len } => Object::new()
                .with("type", "array")
                .with("items", self.type_ref(item))
                .with("minItems", *len)
                .with("maxItems", *len),
            TypeRef::Tuple(items) => self.tuple(items),
            TypeRef::Map { key, value } => {
                let mut schema = Object::new()
                    .with("type", "object")
                    .with("additionalProperties", self.type_ref(value));
                if let Some(names) = self.property_names(key) {
                    schema.insert("propertyNames", names);
                }
                schema
            }
            TypeRef::Result { ok, err } => {
                let ok = self.type_ref(ok);
                let err = self.type_ref(err);
                Object::new().with(
                    "oneOf",
                    vec![
                        single_property("Ok", ok).into(),
                        single_property("Err", err).into(),
                    ],
                )
            }
            TypeRef::Object(properties) => {
                let mut parts = ObjectParts::default();
                for (name, ty) in properties {
                    parts.required.push(name.clone());
                    parts.properties.insert(name.clone(), self.type_ref(ty));
                }
                parts.finish(false)
            }
            TypeRef::Any => Object::new(),
            TypeRef::Named(key) => self.named(key),
            TypeRef::Param(name) => Object::new().with(
                "description",
                format!("Any value: the type parameter `{name}` of a generic payload."),
            ),
            TypeRef::Opaque(path) => {
                self.opaque.insert(path.clone());
                Object::new().with("$ref", format!("{}{}", self.ref_prefix(), opaque_key(path)))
            }
        }
    }

    fn named(&mut self, key: &str) -> Object {
        if self.root.as_deref() == Some(key) {
            return Object::new().with("$ref", "#");
        }
        self.referenced.insert(key.to_owned());
        Object::new().with("$ref", format!("{}{key}", self.ref_prefix()))
    }

    fn tuple(&mut self, items: &[TypeRef]) -> Object {
        let schemas: Vec<Json> = items
            .iter()
            .map(|item| self.type_ref(item).into())
            .collect();
        let len = schemas.len();
        let schema = Object::new().with("type", "array");
        let schema = match self.dialect {
            Dialect::Draft2020 => schema.with("prefixItems", schemas).with("items", false),
            Dialect::AsyncApi => schema.with("items", schemas).with("additionalItems", false),
        };
        schema.with("minItems", len).with("maxItems", len)
    }

    /// Returns the `propertyNames` schema for map keys of type `key`: serde_json writes
    /// integer and bool keys as their decimal or `true`/`false` text.
    fn property_names(&mut self, key: &TypeRef) -> Option<Object> {
        match key {
            TypeRef::Integer { ty, .. } if ty.is_unsigned() => {
                Some(Object::new().with("pattern", "^(0|[1-9][0-9]*)$"))
            }
            TypeRef::Integer { .. } => Some(Object::new().with("pattern", "^(0|-?[1-9][0-9]*)$")),
            TypeRef::Bool => Some(Object::new().with("enum", Json::strings(["true", "false"]))),
            TypeRef::Char => Some(
                Object::new()
                    .with("minLength", 1_u64)
                    .with("maxLength", 1_u64),
            ),
            TypeRef::Named(name) if self.is_string_enum(name) => Some(self.named(name)),
            _ => None,
        }
    }

    /// Returns whether the catalog type `key` is an externally tagged enum of unit
    /// variants, which serializes as a string.
    fn is_string_enum(&self, key: &str) -> bool {
        match self.catalog.types.get(key).map(|def| &def.body) {
            Some(TypeBody::Enum(body)) => {
                body.tagging == Tagging::External
                    && body.variants.iter().all(|variant| {
                        matches!(variant.body, VariantBody::Unit) && !variant.untagged
                    })
            }
            _ => false,
        }
    }

    /// Adds the properties of `fields` to `parts`; `optional` makes none of them
    /// required, for the fields of a flattened `Option`. `flattened` contains the keys of
    /// the structs flattened on the way here, so that a recursive flatten ends.
    fn add_fields(
        &mut self,
        fields: &[Field],
        optional: bool,
        parts: &mut ObjectParts,
        flattened: &mut BTreeSet<String>,
    ) {
        for field in fields {
            if field.flatten {
                parts.has_flatten = true;
                self.flatten_into(&field.ty, optional || !field.required, parts, flattened);
                continue;
            }
            let mut schema = Object::new();
            if let Some(docs) = &field.docs {
                schema.insert("description", doc_text(docs));
            }
            schema.extend(self.type_ref(&field.ty));
            if field.written == Written::Never {
                schema.insert("writeOnly", true);
            }
            if !field.read {
                schema.insert("readOnly", true);
            }
            if field.required && !optional {
                parts.required.push(field.json_name.clone());
            }
            parts.properties.insert(field.json_name.clone(), schema);
        }
    }

    /// Adds the properties that a `#[serde(flatten)]` field of type `ty` writes.
    fn flatten_into(
        &mut self,
        ty: &TypeRef,
        optional: bool,
        parts: &mut ObjectParts,
        flattened: &mut BTreeSet<String>,
    ) {
        match ty {
            TypeRef::Option(inner) => self.flatten_into(inner, true, parts, flattened),
            TypeRef::Named(key) => {
                let catalog = self.catalog;
                match catalog.types.get(key).map(|def| &def.body) {
                    Some(TypeBody::Struct(body)) if flattened.insert(key.clone()) => {
                        self.add_fields(&body.fields, optional, parts, flattened);
                        flattened.remove(key);
                    }
                    Some(TypeBody::Newtype(inner)) => {
                        self.flatten_into(inner, optional, parts, flattened);
                    }
                    _ => self.flatten_other(ty, optional, parts),
                }
            }
            TypeRef::Map { key, value } => {
                parts.additional = Some(self.type_ref(value).into());
                if let Some(names) = self.property_names(key) {
                    parts.property_names = Some(names);
                }
            }
            TypeRef::Any => parts.additional = Some(Object::new().into()),
            other => self.flatten_other(other, optional, parts),
        }
    }

    /// Adds a flattened enum, or a type with no properties of its own to merge, as one
    /// more schema the whole object must match. An optional one adds nothing, because
    /// its absence is valid too.
    fn flatten_other(&mut self, ty: &TypeRef, optional: bool, parts: &mut ObjectParts) {
        if !optional {
            let schema = self.type_ref(ty);
            parts.all_of.push(schema.into());
        }
    }

    fn enumeration(&mut self, body: &EnumBody) -> Object {
        let simple = body.tagging == Tagging::External
            && body.variants.iter().all(|variant| {
                matches!(variant.body, VariantBody::Unit)
                    && !variant.untagged
                    && variant.docs.is_none()
            });
        if simple && !body.variants.is_empty() {
            let names = body
                .variants
                .iter()
                .map(|variant| variant.json_name.as_str());
            return Object::new()
                .with("type", "string")
                .with("enum", Json::strings(names));
        }

        let mut branches: Vec<Json> = Vec::new();
        for variant in &body.variants {
            let branch = if variant.untagged {
                self.untagged(variant)
            } else {
                match &body.tagging {
                    Tagging::External => self.external(variant),
                    Tagging::Internal { tag } => self.internal(variant, tag),
                    Tagging::Adjacent { tag, content } => self.adjacent(variant, tag, content),
                    Tagging::Untagged => self.untagged(variant),
                }
            };
            let mut described = Object::new();
            if let Some(docs) = &variant.docs {
                described.insert("description", doc_text(docs));
            }
            described.extend(branch);
            branches.push(described.into());
        }
        if branches.is_empty() {
            // An enum without variants has no values.
            return Object::new().with("not", Object::new());
        }
        let any_untagged = body.tagging == Tagging::Untagged
            || body.variants.iter().any(|variant| variant.untagged);
        // Untagged branches may overlap, and serde takes the first that matches.
        let keyword = if any_untagged { "anyOf" } else { "oneOf" };
        Object::new().with(keyword, branches)
    }

    fn content(&mut self, body: &VariantBody) -> Object {
        match body {
            VariantBody::Unit => Object::new().with("type", "null"),
            VariantBody::Newtype(inner) => self.type_ref(inner),
            VariantBody::Tuple(items) => self.tuple(items),
            VariantBody::Struct(body) => self.struct_object(body),
        }
    }

    fn struct_object(&mut self, body: &StructBody) -> Object {
        let mut parts = ObjectParts::default();
        self.add_fields(&body.fields, false, &mut parts, &mut BTreeSet::new());
        parts.finish(body.deny_unknown_fields)
    }

    fn external(&mut self, variant: &Variant) -> Object {
        match &variant.body {
            VariantBody::Unit => Object::new()
                .with("type", "string")
                .with("const", variant.json_name.as_str()),
            body => {
                let content = self.content(body);
                single_property(&variant.json_name, content)
            }
        }
    }

    fn internal(&mut self, variant: &Variant, tag: &str) -> Object {
        let mut parts = ObjectParts::default();
        parts.required.push(tag.to_owned());
        parts.properties.insert(
            tag,
            Object::new()
                .with("type", "string")
                .with("const", variant.json_name.as_str()),
        );
        let mut deny = false;
        match &variant.body {
            // serde_derive rejects tuple variants in internally tagged enums.
            VariantBody::Unit | VariantBody::Tuple(_) => {}
            VariantBody::Newtype(inner) => {
                parts.has_flatten = true;
                self.flatten_into(inner, false, &mut parts, &mut BTreeSet::new());
            }
            VariantBody::Struct(body) => {
                self.add_fields(&body.fields, false, &mut parts, &mut BTreeSet::new());
                deny = body.deny_unknown_fields;
            }
        }
        parts.finish(deny)
    }

    fn adjacent(&mut self, variant: &Variant, tag: &str, content: &str) -> Object {
        let mut parts = ObjectParts::default();
        parts.required.push(tag.to_owned());
        parts.properties.insert(
            tag,
            Object::new()
                .with("type", "string")
                .with("const", variant.json_name.as_str()),
        );
        // A unit variant is written as the tag alone.
        if !matches!(variant.body, VariantBody::Unit) {
            parts.required.push(content.to_owned());
            let schema = self.content(&variant.body);
            parts.properties.insert(content, schema);
        }
        parts.finish(false)
    }

    fn untagged(&mut self, variant: &Variant) -> Object {
        self.content(&variant.body)
    }
}

/// The parts of an object schema, gathered field by field.
#[derive(Default)]
struct ObjectParts {
    properties: Object,
    required: Vec<String>,
    /// Schema of the values of properties not listed, from a flattened map.
    additional: Option<Json>,
    property_names: Option<Object>,
    /// Schemas of flattened types whose properties could not be merged.
    all_of: Vec<Json>,
    has_flatten: bool,
}

impl ObjectParts {
    fn finish(self, deny_unknown_fields: bool) -> Object {
        let mut schema = Object::new().with("type", "object");
        if !self.properties.is_empty() {
            schema.insert("properties", self.properties);
        }
        if !self.required.is_empty() {
            schema.insert("required", Json::strings(&self.required));
        }
        if let Some(additional) = self.additional {
            schema.insert("additionalProperties", additional);
        } else if deny_unknown_fields && !self.has_flatten {
            schema.insert("additionalProperties", false);
        }
        if let Some(names) = self.property_names {
            schema.insert("propertyNames", names);
        }
        if !self.all_of.is_empty() {
            schema.insert("allOf", self.all_of);
        }
        schema
    }
}

/// Returns `{"type": "object", "properties": {name: schema}, "required": [name]}` with no
/// other properties allowed: the externally tagged form.
fn single_property(name: &str, schema: Object) -> Object {
    Object::new()
        .with("type", "object")
        .with("properties", Object::new().with(name, schema))
        .with("required", Json::strings([name]))
        .with("additionalProperties", false)
}

/// Returns `schema` extended to accept `null`.
fn nullable(mut schema: Object) -> Object {
    let simple = !schema.contains_key("enum") && !schema.contains_key("const");
    if simple && let Some(Json::String(ty)) = schema.get("type").cloned() {
        schema.insert("type", Json::strings([ty.as_str(), "null"]));
        return schema;
    }
    if let (Some(Json::String(ty)), Some(Json::Array(values))) =
        (schema.get("type").cloned(), schema.get_mut("enum"))
    {
        values.push(Json::Null);
        schema.insert("type", Json::strings([ty.as_str(), "null"]));
        return schema;
    }
    // `description` stays on the outer schema, where readers look for it.
    let description = schema.remove("description");
    let mut wrapped = Object::new();
    if let Some(description) = description {
        wrapped.insert("description", description);
    }
    wrapped.with(
        "anyOf",
        vec![schema.into(), Object::new().with("type", "null").into()],
    )
}

/// Returns the definition key of the opaque type `path`: its segments joined by `.`,
/// with characters other than letters, digits and `_` replaced by `_`.
pub(crate) fn opaque_key(path: &str) -> String {
    let joined = path.replace("::", ".");
    joined
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '_' || ch == '.' {
                ch
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_forms() {
        let plain = nullable(Object::new().with("type", "string"));
        assert_eq!(plain.get("type"), Some(&Json::strings(["string", "null"])));

        let listed = nullable(
            Object::new()
                .with("type", "string")
                .with("enum", Json::strings(["A"])),
        );
        assert_eq!(
            listed.get("enum"),
            Some(&Json::Array(vec!["A".into(), Json::Null]))
        );

        let reference = nullable(Object::new().with("$ref", "#/$defs/Job"));
        assert!(reference.get("anyOf").is_some());
        assert!(reference.get("$ref").is_none());
    }

    #[test]
    fn opaque_keys_are_pointer_safe() {
        assert_eq!(opaque_key("uuid::Uuid"), "uuid.Uuid");
        assert_eq!(opaque_key("payload: Vec<u8>"), "payload__Vec_u8_");
    }
}
