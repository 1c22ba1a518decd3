//! Parsing of the `#[serde(...)]` keys that change the JSON a type serializes to.
//!
//! The keys read are:
//!
//! - on a struct or enum: `rename_all`, `rename_all_fields`, `tag`, `content`, `untagged`,
//!   `default`, `deny_unknown_fields`, `transparent` and `into`;
//! - on a field: `rename`, `alias`, `skip`, `skip_serializing`, `skip_deserializing`,
//!   `skip_serializing_if`, `default`, `flatten`, `with`, `serialize_with` and
//!   `deserialize_with`;
//! - on a variant: `rename`, `alias`, `rename_all`, `skip`, `skip_serializing`,
//!   `skip_deserializing`, `untagged`, `other` and the three `with` keys.
//!
//! Every other key, such as `bound`, `borrow` or `crate`, is skipped. serde_derive checks
//! the attributes when the crate compiles, so this module reports only what it cannot
//! parse: attribute syntax, a value that is not a string literal, and an unknown rename
//! rule.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr, Token, Type};

use super::{parse_string_value, skip_value};
use crate::errors::Errors;

/// Path of the attribute that this module reads: `#[serde(...)]`.
const ATTRIBUTE: &str = "serde";

/// A case convention of `rename_all`, applied as serde_derive 1.0 applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RenameRule {
    /// `"lowercase"`.
    Lower,
    /// `"UPPERCASE"`.
    Upper,
    /// `"PascalCase"`.
    Pascal,
    /// `"camelCase"`.
    Camel,
    /// `"snake_case"`.
    Snake,
    /// `"SCREAMING_SNAKE_CASE"`.
    ScreamingSnake,
    /// `"kebab-case"`.
    Kebab,
    /// `"SCREAMING-KEBAB-CASE"`.
    ScreamingKebab,
}

/// The spellings accepted by `rename_all`, in serde's documentation order.
const RULES: &[(&str, RenameRule)] = &[
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("PascalCase", RenameRule::Pascal),
    ("camelCase", RenameRule::Camel),
    ("snake_case", RenameRule::Snake),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
    ("kebab-case", RenameRule::Kebab),
    ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
];

impl RenameRule {
    /// Returns the rule that `name` spells, such as `"camelCase"`.
    pub fn from_name(name: &str) -> Option<Self> {
        RULES
            .iter()
            .find(|(spelling, _)| *spelling == name)
            .map(|(_, rule)| *rule)
    }

    /// Applies the rule to a variant name, which Rust writes in `PascalCase`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ncl_schema::attr::serde::RenameRule;
    ///
    /// assert_eq!(RenameRule::Snake.apply_to_variant("JobAssigned"), "job_assigned");
    /// assert_eq!(RenameRule::ScreamingKebab.apply_to_variant("JobAssigned"), "JOB-ASSIGNED");
    /// ```
    pub fn apply_to_variant(self, variant: &str) -> String {
        match self {
            Self::Pascal => variant.to_owned(),
            Self::Lower => variant.to_ascii_lowercase(),
            Self::Upper => variant.to_ascii_uppercase(),
            Self::Camel => {
                let mut chars = variant.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            }
            Self::Snake => {
                let mut snake = String::new();
                for (index, ch) in variant.char_indices() {
                    if index > 0 && ch.is_uppercase() {
                        snake.push('_');
                    }
                    snake.push(ch.to_ascii_lowercase());
                }
                snake
            }
            Self::ScreamingSnake => Self::Snake.apply_to_variant(variant).to_ascii_uppercase(),
            Self::Kebab => Self::Snake.apply_to_variant(variant).replace('_', "-"),
            Self::ScreamingKebab => Self::ScreamingSnake
                .apply_to_variant(variant)
                .replace('_', "-"),
        }
    }

    /// Applies the rule to a field name, which Rust writes in `snake_case`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ncl_schema::attr::serde::RenameRule;
    ///
    /// assert_eq!(RenameRule::Camel.apply_to_field("exit_code"), "exitCode");
    /// assert_eq!(RenameRule::Kebab.apply_to_field("exit_code"), "exit-code");
    /// ```
    pub fn apply_to_field(self, field: &str) -> String {
        match self {
            Self::Lower | Self::Snake => field.to_owned(),
            Self::Upper | Self::ScreamingSnake => field.to_ascii_uppercase(),
            Self::Pascal => {
                let mut pascal = String::new();
                let mut capitalize = true;
                for ch in field.chars() {
                    if ch == '_' {
                        capitalize = true;
                    } else if capitalize {
                        pascal.push(ch.to_ascii_uppercase());
                        capitalize = false;
                    } else {
                        pascal.push(ch);
                    }
                }
                pascal
            }
            Self::Camel => {
                let pascal = Self::Pascal.apply_to_field(field);
                let mut chars = pascal.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            }
            Self::Kebab => field.replace('_', "-"),
            Self::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
        }
    }
}

/// The representation of an enum: where a JSON value names its variant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tagging {
    /// The default: `{"Variant": content}`, and a unit variant as the string `"Variant"`.
    External,
    /// `#[serde(tag = "t")]`: `{"t": "Variant", ...fields}`.
    Internal {
        /// Name of the tag property.
        tag: String,
    },
    /// `#[serde(tag = "t", content = "c")]`: `{"t": "Variant", "c": content}`.
    Adjacent {
        /// Name of the tag property.
        tag: String,
        /// Name of the content property.
        content: String,
    },
    /// `#[serde(untagged)]`: the content alone.
    Untagged,
}

/// The serde keys of a struct or enum that change its JSON.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ContainerAttrs {
    /// Case convention for the fields of a struct or the variants of an enum.
    pub rename_all: Option<RenameRule>,
    /// Case convention for the fields of every struct variant of an enum.
    pub rename_all_fields: Option<RenameRule>,
    /// Tag property from `tag = "..."`.
    pub tag: Option<String>,
    /// Content property from `content = "..."`.
    pub content: Option<String>,
    /// Whether `untagged` is set.
    pub untagged: bool,
    /// Whether `default` is set, so that every missing field takes its default.
    pub default: bool,
    /// Whether `deny_unknown_fields` is set.
    pub deny_unknown_fields: bool,
    /// Whether `transparent` is set, so the type serializes as its one field.
    pub transparent: bool,
    /// Type from `into = "..."`, which the value is converted to before it is serialized.
    pub into: Option<Type>,
}

impl ContainerAttrs {
    /// Parses the serde keys of a struct or enum from its attributes.
    ///
    /// Only the `rename_all` and `rename_all_fields` rules of the serialize side are kept,
    /// because the schemas describe the JSON that a publisher writes.
    ///
    /// # Errors
    ///
    /// Returns one [`syn::Error`] that combines every problem found: attribute syntax that
    /// does not parse, a value that is not a string literal, an unknown rename rule and an
    /// `into` type that does not parse.
    ///
    /// # Examples
    ///
    /// ```
    /// use ncl_schema::attr::serde::{ContainerAttrs, RenameRule, Tagging};
    ///
    /// let item: syn::ItemEnum = syn::parse_quote! {
    ///     #[serde(tag = "kind", rename_all = "snake_case")]
    ///     enum Event { NodeJoined { node_id: String } }
    /// };
    /// let attrs = ContainerAttrs::from_attributes(&item.attrs)?;
    /// assert_eq!(attrs.rename_all, Some(RenameRule::Snake));
    /// assert_eq!(attrs.tagging(), Tagging::Internal { tag: "kind".to_owned() });
    /// # Ok::<(), syn::Error>(())
    /// ```
    pub fn from_attributes(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let mut parsed = Self::default();
        for_each_key(attrs, &mut errors, |meta, key, errors| {
            match key {
                "rename_all" => parsed.rename_all = parse_rule(meta, key, errors)?,
                "rename_all_fields" => parsed.rename_all_fields = parse_rule(meta, key, errors)?,
                "tag" => parsed.tag = parse_string(meta, key, errors)?,
                "content" => parsed.content = parse_string(meta, key, errors)?,
                "untagged" => parsed.untagged = true,
                "default" => {
                    parsed.default = true;
                    skip_value(meta.input)?;
                }
                "deny_unknown_fields" => parsed.deny_unknown_fields = true,
                "transparent" => parsed.transparent = true,
                "into" => {
                    if let Some(literal) = parse_literal(meta, key, errors)? {
                        match literal.parse::<Type>() {
                            Ok(ty) => parsed.into = Some(ty),
                            Err(error) => errors.push(error),
                        }
                    }
                }
                _ => skip_value(meta.input)?,
            }
            Ok(())
        });
        errors.finish(parsed)
    }

    /// Returns the enum representation that `tag`, `content` and `untagged` select.
    pub fn tagging(&self) -> Tagging {
        match (&self.tag, &self.content) {
            _ if self.untagged => Tagging::Untagged,
            (Some(tag), Some(content)) => Tagging::Adjacent {
                tag: tag.clone(),
                content: content.clone(),
            },
            (Some(tag), None) => Tagging::Internal { tag: tag.clone() },
            (None, _) => Tagging::External,
        }
    }
}

/// The serde keys of a field that change its JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldAttrs {
    /// Serialized name from `rename = "..."` or `rename(serialize = "...")`.
    pub rename: Option<String>,
    /// Other names accepted on input: every `alias`, and a `rename(deserialize = "...")`
    /// that differs from the serialized name.
    pub aliases: Vec<String>,
    /// Whether the field is never written (`skip` or `skip_serializing`).
    pub skip_serializing: bool,
    /// Whether the field is never read (`skip` or `skip_deserializing`).
    pub skip_deserializing: bool,
    /// Whether `skip_serializing_if` may leave the field out.
    pub skip_serializing_if: bool,
    /// Whether a missing field takes a default value (`default` or `default = "..."`).
    pub default: bool,
    /// Whether the field's own fields are written into the parent object (`flatten`).
    pub flatten: bool,
    /// The first of `with`, `serialize_with` and `deserialize_with` given, whose custom
    /// code decides the field's JSON.
    pub custom: Option<String>,
}

impl FieldAttrs {
    /// Parses the serde keys of a field from its attributes.
    ///
    /// # Errors
    ///
    /// Returns the same kinds of errors as [`ContainerAttrs::from_attributes`].
    pub fn from_attributes(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let mut parsed = Self::default();
        for_each_key(attrs, &mut errors, |meta, key, errors| {
            match key {
                "rename" => {
                    let renamed = parse_renamed(meta, errors)?;
                    parsed.rename = renamed.serialize.or(parsed.rename.take());
                    parsed.aliases.extend(renamed.deserialize);
                }
                "alias" => parsed.aliases.extend(parse_string(meta, key, errors)?),
                "skip" => {
                    parsed.skip_serializing = true;
                    parsed.skip_deserializing = true;
                }
                "skip_serializing" => parsed.skip_serializing = true,
                "skip_deserializing" => parsed.skip_deserializing = true,
                "skip_serializing_if" => {
                    parse_string(meta, key, errors)?;
                    parsed.skip_serializing_if = true;
                }
                "default" => {
                    parsed.default = true;
                    skip_value(meta.input)?;
                }
                "flatten" => parsed.flatten = true,
                "with" | "serialize_with" | "deserialize_with" => {
                    parsed.custom.get_or_insert_with(|| key.to_owned());
                    skip_value(meta.input)?;
                }
                _ => skip_value(meta.input)?,
            }
            Ok(())
        });
        parsed.drop_serialized_alias();
        errors.finish(parsed)
    }

    fn drop_serialized_alias(&mut self) {
        let rename = self.rename.clone();
        self.aliases.retain(|alias| Some(alias) != rename.as_ref());
    }
}

/// The serde keys of an enum variant that change its JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VariantAttrs {
    /// Serialized name from `rename = "..."` or `rename(serialize = "...")`.
    pub rename: Option<String>,
    /// Other names accepted on input, as for [`FieldAttrs::aliases`].
    pub aliases: Vec<String>,
    /// Case convention for the fields of a struct variant.
    pub rename_all: Option<RenameRule>,
    /// Whether the variant is never written (`skip` or `skip_serializing`).
    pub skip_serializing: bool,
    /// Whether the variant is never read (`skip` or `skip_deserializing`).
    pub skip_deserializing: bool,
    /// Whether the variant is written without a tag (`untagged`).
    pub untagged: bool,
    /// Whether the variant takes every unknown tag on input (`other`).
    pub other: bool,
    /// The first of `with`, `serialize_with` and `deserialize_with` given.
    pub custom: Option<String>,
}

impl VariantAttrs {
    /// Parses the serde keys of an enum variant from its attributes.
    ///
    /// # Errors
    ///
    /// Returns the same kinds of errors as [`ContainerAttrs::from_attributes`].
    pub fn from_attributes(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let mut parsed = Self::default();
        for_each_key(attrs, &mut errors, |meta, key, errors| {
            match key {
                "rename" => {
                    let renamed = parse_renamed(meta, errors)?;
                    parsed.rename = renamed.serialize.or(parsed.rename.take());
                    parsed.aliases.extend(renamed.deserialize);
                }
                "alias" => parsed.aliases.extend(parse_string(meta, key, errors)?),
                "rename_all" => parsed.rename_all = parse_rule(meta, key, errors)?,
                "skip" => {
                    parsed.skip_serializing = true;
                    parsed.skip_deserializing = true;
                }
                "skip_serializing" => parsed.skip_serializing = true,
                "skip_deserializing" => parsed.skip_deserializing = true,
                "untagged" => parsed.untagged = true,
                "other" => parsed.other = true,
                "with" | "serialize_with" | "deserialize_with" => {
                    parsed.custom.get_or_insert_with(|| key.to_owned());
                    skip_value(meta.input)?;
                }
                _ => skip_value(meta.input)?,
            }
            Ok(())
        });
        let rename = parsed.rename.clone();
        parsed
            .aliases
            .retain(|alias| Some(alias) != rename.as_ref());
        errors.finish(parsed)
    }
}

/// Calls `on_key` for each key of every `#[serde(...)]` attribute in `attrs`, with the key
/// as a string. A syntax error stops only its attribute.
fn for_each_key(
    attrs: &[Attribute],
    errors: &mut Errors,
    mut on_key: impl FnMut(&ParseNestedMeta, &str, &mut Errors) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(ATTRIBUTE)) {
        let result = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            on_key(&meta, &key, errors)
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
}

/// Parses `key = "..."` into its string, or pushes an error and returns `None`.
fn parse_string(
    meta: &ParseNestedMeta,
    key: &str,
    errors: &mut Errors,
) -> syn::Result<Option<String>> {
    Ok(parse_literal(meta, key, errors)?.map(|literal| literal.value()))
}

fn parse_literal(
    meta: &ParseNestedMeta,
    key: &str,
    errors: &mut Errors,
) -> syn::Result<Option<LitStr>> {
    parse_string_value(meta, key, "\"...\"", errors)
}

/// The two names of `rename = "..."` or `rename(serialize = "...", deserialize = "...")`.
struct Renamed {
    serialize: Option<String>,
    deserialize: Option<String>,
}

fn parse_renamed(meta: &ParseNestedMeta, errors: &mut Errors) -> syn::Result<Renamed> {
    if meta.input.peek(Token![=]) {
        let name = parse_string(meta, "rename", errors)?;
        return Ok(Renamed {
            serialize: name.clone(),
            deserialize: name,
        });
    }
    let mut renamed = Renamed {
        serialize: None,
        deserialize: None,
    };
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            renamed.serialize = parse_string(&inner, "serialize", errors)?;
        } else if inner.path.is_ident("deserialize") {
            renamed.deserialize = parse_string(&inner, "deserialize", errors)?;
        } else {
            skip_value(inner.input)?;
        }
        Ok(())
    })?;
    Ok(renamed)
}

/// Parses the serialize-side rule of `key = "..."` or `key(serialize = "...")`.
fn parse_rule(
    meta: &ParseNestedMeta,
    key: &str,
    errors: &mut Errors,
) -> syn::Result<Option<RenameRule>> {
    let literal = if meta.input.peek(Token![=]) {
        parse_literal(meta, key, errors)?
    } else {
        let mut serialize = None;
        meta.parse_nested_meta(|inner| {
            if inner.path.is_ident("serialize") {
                serialize = parse_literal(&inner, "serialize", errors)?;
            } else {
                skip_value(inner.input)?;
            }
            Ok(())
        })?;
        serialize
    };
    let Some(literal) = literal else {
        return Ok(None);
    };
    match RenameRule::from_name(&literal.value()) {
        Some(rule) => Ok(Some(rule)),
        None => {
            let valid = RULES
                .iter()
                .map(|(name, _)| format!("\"{name}\""))
                .collect::<Vec<_>>()
                .join(", ");
            errors.push(syn::Error::new(
                literal.span(),
                format!(
                    "unknown rename rule {:?} in `{key}`; valid rules are {valid}",
                    literal.value()
                ),
            ));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    #[test]
    fn variant_rules_match_serde() {
        let cases = [
            (RenameRule::Lower, "outofmemory"),
            (RenameRule::Upper, "OUTOFMEMORY"),
            (RenameRule::Pascal, "OutOfMemory"),
            (RenameRule::Camel, "outOfMemory"),
            (RenameRule::Snake, "out_of_memory"),
            (RenameRule::ScreamingSnake, "OUT_OF_MEMORY"),
            (RenameRule::Kebab, "out-of-memory"),
            (RenameRule::ScreamingKebab, "OUT-OF-MEMORY"),
        ];
        for (rule, expected) in cases {
            assert_eq!(rule.apply_to_variant("OutOfMemory"), expected, "{rule:?}");
        }
    }

    #[test]
    fn field_rules_match_serde() {
        let cases = [
            (RenameRule::Lower, "exit_code_v2"),
            (RenameRule::Upper, "EXIT_CODE_V2"),
            (RenameRule::Pascal, "ExitCodeV2"),
            (RenameRule::Camel, "exitCodeV2"),
            (RenameRule::Snake, "exit_code_v2"),
            (RenameRule::ScreamingSnake, "EXIT_CODE_V2"),
            (RenameRule::Kebab, "exit-code-v2"),
            (RenameRule::ScreamingKebab, "EXIT-CODE-V2"),
        ];
        for (rule, expected) in cases {
            assert_eq!(rule.apply_to_field("exit_code_v2"), expected, "{rule:?}");
        }
    }

    #[test]
    fn rule_names_round_trip() {
        for (name, rule) in RULES {
            assert_eq!(RenameRule::from_name(name), Some(*rule));
        }
        assert_eq!(RenameRule::from_name("Camel"), None);
    }

    #[test]
    fn container_keys_are_read() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[derive(Debug)]),
            parse_quote!(#[serde(rename = "Other", rename_all(serialize = "camelCase"))]),
            parse_quote!(#[serde(tag = "t", content = "c", default, deny_unknown_fields)]),
            parse_quote!(#[serde(bound(serialize = "T: Clone"), into = "Vec<u8>")]),
        ];
        let parsed = ContainerAttrs::from_attributes(&attrs).unwrap();
        assert_eq!(parsed.rename_all, Some(RenameRule::Camel));
        assert_eq!(
            parsed.tagging(),
            Tagging::Adjacent {
                tag: "t".to_owned(),
                content: "c".to_owned()
            }
        );
        assert!(parsed.default);
        assert!(parsed.deny_unknown_fields);
        assert!(!parsed.transparent);
        let into: Type = parse_quote!(Vec<u8>);
        assert_eq!(parsed.into, Some(into));
    }

    #[test]
    fn untagged_wins_over_tag() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[serde(untagged, tag = "t")])];
        let parsed = ContainerAttrs::from_attributes(&attrs).unwrap();
        assert_eq!(parsed.tagging(), Tagging::Untagged);
        let none = ContainerAttrs::from_attributes(&[]).unwrap();
        assert_eq!(none.tagging(), Tagging::External);
    }

    #[test]
    fn field_keys_are_read() {
        let attrs: Vec<Attribute> = vec![parse_quote!(
            #[serde(rename(serialize = "out", deserialize = "in"), alias = "old", default = "zero")]
        )];
        let parsed = FieldAttrs::from_attributes(&attrs).unwrap();
        assert_eq!(parsed.rename.as_deref(), Some("out"));
        assert_eq!(parsed.aliases, ["in", "old"]);
        assert!(parsed.default);

        let attrs: Vec<Attribute> = vec![parse_quote!(
            #[serde(skip_serializing_if = "Option::is_none", flatten, with = "hex")]
        )];
        let parsed = FieldAttrs::from_attributes(&attrs).unwrap();
        assert!(parsed.skip_serializing_if);
        assert!(parsed.flatten);
        assert_eq!(parsed.custom.as_deref(), Some("with"));
        assert!(!parsed.skip_serializing);

        let attrs: Vec<Attribute> = vec![parse_quote!(#[serde(skip)])];
        let parsed = FieldAttrs::from_attributes(&attrs).unwrap();
        assert!(parsed.skip_serializing);
        assert!(parsed.skip_deserializing);
    }

    #[test]
    fn plain_rename_is_not_an_alias() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[serde(rename = "id")])];
        let parsed = FieldAttrs::from_attributes(&attrs).unwrap();
        assert_eq!(parsed.rename.as_deref(), Some("id"));
        assert!(parsed.aliases.is_empty());
    }

    #[test]
    fn variant_keys_are_read() {
        let attrs: Vec<Attribute> = vec![parse_quote!(
            #[serde(rename = "gone", rename_all = "kebab-case", untagged, other, skip_deserializing)]
        )];
        let parsed = VariantAttrs::from_attributes(&attrs).unwrap();
        assert_eq!(parsed.rename.as_deref(), Some("gone"));
        assert_eq!(parsed.rename_all, Some(RenameRule::Kebab));
        assert!(parsed.untagged);
        assert!(parsed.other);
        assert!(parsed.skip_deserializing);
        assert!(!parsed.skip_serializing);
    }

    #[test]
    fn unknown_rule_is_rejected() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[serde(rename_all = "camel")])];
        let error = ContainerAttrs::from_attributes(&attrs).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("unknown rename rule \"camel\" in `rename_all`; valid rules are"),
            "{error}"
        );
    }

    #[test]
    fn non_string_value_is_rejected() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[serde(tag = 1, rename_all = "camelCase")])];
        let error = ContainerAttrs::from_attributes(&attrs).unwrap_err();
        assert_eq!(error.into_iter().count(), 1);
    }
}
