//! The checked description of one payload type.

use syn::ext::IdentExt;
use syn::{Attribute, Data, DeriveInput, Fields, Generics, Ident};

use crate::attr::{self, ATTRIBUTE, PayloadAttrs};
use crate::errors::Errors;

/// Whether a payload type is a struct or an enum. Unions cannot be payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// A `struct`, with named, unnamed or no fields.
    Struct,
    /// An `enum`.
    Enum,
}

/// A payload type whose `#[ncl]` attributes have been parsed and checked.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PayloadModel {
    /// Identifier of the type, possibly raw (`r#type`).
    pub ident: Ident,
    /// Generic parameters and where clause of the type.
    pub generics: Generics,
    /// Whether the type is a struct or an enum.
    pub kind: PayloadKind,
    /// Options from the type's `#[ncl(...)]` attributes.
    pub attrs: PayloadAttrs,
}

impl PayloadModel {
    /// Builds the model of the type that a derive macro receives.
    ///
    /// Besides the checks of [`PayloadModel::new`], this rejects unions and `#[ncl]`
    /// attributes on fields or variants, where nothing reads them.
    ///
    /// # Errors
    ///
    /// Returns one [`syn::Error`] that combines every problem found; see
    /// [`PayloadModel::new`].
    pub fn from_derive_input(input: &DeriveInput) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let kind = match &input.data {
            Data::Struct(data) => {
                reject_nested_attributes(&data.fields, &mut errors);
                PayloadKind::Struct
            }
            Data::Enum(data) => {
                for variant in &data.variants {
                    reject_attributes(&variant.attrs, "enum variants", &mut errors);
                    reject_nested_attributes(&variant.fields, &mut errors);
                }
                PayloadKind::Enum
            }
            Data::Union(data) => {
                errors.push(syn::Error::new_spanned(
                    data.union_token,
                    "NclPayload cannot be derived for a union; payloads are serde structs or \
                     enums",
                ));
                // Any kind will do: the model is discarded because an error was pushed.
                PayloadKind::Struct
            }
        };
        let model = check(
            input.ident.clone(),
            input.generics.clone(),
            kind,
            &input.attrs,
            &mut errors,
        );
        errors.finish(model)
    }

    /// Builds the model of a payload type from its parts, as a tool that scans source files
    /// finds them in a `syn::ItemStruct` or `syn::ItemEnum`. Attributes other than `#[ncl]`
    /// in `attrs` are ignored.
    ///
    /// # Errors
    ///
    /// Returns one [`syn::Error`] that combines every problem found, each spanned on the
    /// offending token: all the errors of [`PayloadAttrs::from_attributes`], and a generic
    /// type without `#[ncl(name = "...")]`, spanned on its generic parameters.
    ///
    /// # Examples
    ///
    /// ```
    /// use ncl_schema::{PayloadKind, PayloadModel};
    ///
    /// let item: syn::ItemStruct = syn::parse_quote! {
    ///     struct Page<T> {
    ///         items: Vec<T>,
    ///     }
    /// };
    /// let error = PayloadModel::new(item.ident, item.generics, PayloadKind::Struct, &item.attrs)
    ///     .unwrap_err();
    /// assert!(error.to_string().starts_with("generic payload types need an explicit"));
    /// ```
    pub fn new(
        ident: Ident,
        generics: Generics,
        kind: PayloadKind,
        attrs: &[Attribute],
    ) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let model = check(ident, generics, kind, attrs, &mut errors);
        errors.finish(model)
    }

    /// Returns the wire name: the `name` from `#[ncl(name = "...")]`, or else the type's
    /// identifier without any `r#` prefix.
    pub fn wire_name(&self) -> String {
        match &self.attrs.name {
            Some(name) => name.value(),
            None => self.rust_name(),
        }
    }

    /// Returns the type's identifier without any `r#` prefix, as `core::any::type_name`
    /// prints it.
    pub fn rust_name(&self) -> String {
        self.ident.unraw().to_string()
    }

    /// Returns whether the type has any lifetime, type or const parameter.
    pub fn is_generic(&self) -> bool {
        !self.generics.params.is_empty()
    }
}

/// Parses `attrs` and checks them against the type, pushing each problem to `errors`.
fn check(
    ident: Ident,
    generics: Generics,
    kind: PayloadKind,
    attrs: &[Attribute],
    errors: &mut Errors,
) -> PayloadModel {
    let parsed = attr::parse(attrs, errors);

    // A `name` key with an invalid value has its own error already.
    if !generics.params.is_empty() && !parsed.name_written {
        errors.push(syn::Error::new_spanned(
            &generics,
            "generic payload types need an explicit #[ncl(name = \"...\")] because each \
             instantiation would otherwise share one wire name",
        ));
    }

    PayloadModel {
        ident,
        generics,
        kind,
        attrs: parsed.attrs,
    }
}

fn reject_nested_attributes(fields: &Fields, errors: &mut Errors) {
    for field in fields {
        reject_attributes(&field.attrs, "fields", errors);
    }
}

/// Pushes an error for each `#[ncl]` attribute in `attrs`. They belong to a field or a
/// variant, which `place` names in the plural for the message.
fn reject_attributes(attrs: &[Attribute], place: &str, errors: &mut Errors) {
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(ATTRIBUTE)) {
        errors.push(syn::Error::new_spanned(
            attr,
            format!("#[ncl] is read only on the payload type itself, not on {place}; move it to the type"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    /// Builds the model of the type in `source` and returns each error's message and the
    /// source text its span covers. See `attr::tests::rejected` for why it parses a string.
    fn rejected(source: &str) -> Vec<(String, String)> {
        let input: DeriveInput = syn::parse_str(source).expect("test source should parse");
        let error = PayloadModel::from_derive_input(&input).expect_err("type should be rejected");
        error
            .into_iter()
            .map(|error| {
                let text = error.span().source_text().unwrap_or_default();
                (error.to_string(), text)
            })
            .collect()
    }

    const GENERIC_MESSAGE: &str = "generic payload types need an explicit \
        #[ncl(name = \"...\")] because each instantiation would otherwise share one wire name";

    #[test]
    fn wire_name_defaults_to_identifier() {
        let input: DeriveInput = parse_quote!(
            struct JobAssigned {
                job_id: String,
            }
        );
        let model = PayloadModel::from_derive_input(&input).unwrap();
        assert_eq!(model.wire_name(), "JobAssigned");
        assert_eq!(model.rust_name(), "JobAssigned");
        assert_eq!(model.kind, PayloadKind::Struct);
        assert!(!model.is_generic());
    }

    #[test]
    fn wire_name_from_name_key() {
        let input: DeriveInput = parse_quote!(
            #[ncl(name = "Job/v2")]
            enum Job {
                Assigned,
                Cancelled { reason: String },
            }
        );
        let model = PayloadModel::from_derive_input(&input).unwrap();
        assert_eq!(model.wire_name(), "Job/v2");
        assert_eq!(model.rust_name(), "Job");
        assert_eq!(model.kind, PayloadKind::Enum);
    }

    #[test]
    fn raw_identifier_loses_prefix() {
        let input: DeriveInput = parse_quote!(
            struct r#type;
        );
        let model = PayloadModel::from_derive_input(&input).unwrap();
        assert_eq!(model.wire_name(), "type");
        assert_eq!(model.rust_name(), "type");
    }

    #[test]
    fn generic_type_with_name_is_accepted() {
        let input: DeriveInput = parse_quote!(
            #[ncl(name = "Page")]
            struct Page<'a, T, const N: usize>
            where
                T: Clone,
            {
                items: [&'a T; N],
            }
        );
        let model = PayloadModel::from_derive_input(&input).unwrap();
        assert_eq!(model.wire_name(), "Page");
        assert!(model.is_generic());
    }

    #[test]
    fn generic_type_without_name_is_rejected() {
        for (source, generics) in [
            ("struct Page<T> { items: Vec<T> }", "<T>"),
            ("struct Page<'a> { items: &'a str }", "<'a>"),
            (
                "struct Page<const N: usize> { items: [u8; N] }",
                "<const N: usize>",
            ),
            ("enum Page<T: Clone, U> { A(T), B(U) }", "<T: Clone, U>"),
            ("#[ncl(crate = \"::ncl\")] struct Page<T>(T);", "<T>"),
        ] {
            let errors = rejected(source);
            assert_eq!(
                errors,
                [(GENERIC_MESSAGE.to_owned(), generics.to_owned())],
                "{source}"
            );
        }
    }

    #[test]
    fn generic_type_with_invalid_name_has_one_error() {
        let errors = rejected(r#"#[ncl(name = "")] struct Page<T>(T);"#);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].0.starts_with("payload name is empty"));
    }

    #[test]
    fn union_is_rejected() {
        let errors = rejected("union Bits { int: u32, float: f32 }");
        let expected =
            "NclPayload cannot be derived for a union; payloads are serde structs or enums";
        assert_eq!(errors, [(expected.to_owned(), "union".to_owned())]);
    }

    #[test]
    fn nested_attributes_are_rejected() {
        let errors = rejected(
            r#"
            enum Job {
                #[ncl(name = "A")]
                Assigned { #[ncl(name = "id")] id: String },
                Cancelled(#[ncl] String),
            }
            "#,
        );
        let spans: Vec<&str> = errors.iter().map(|(_, span)| span.as_str()).collect();
        assert_eq!(
            spans,
            [r#"#[ncl(name = "A")]"#, r#"#[ncl(name = "id")]"#, "#[ncl]"]
        );
        assert!(
            errors[0]
                .0
                .ends_with("not on enum variants; move it to the type")
        );
        assert!(errors[1].0.ends_with("not on fields; move it to the type"));
    }

    #[test]
    fn all_type_errors_are_combined() {
        let errors = rejected(r#"#[ncl(rename = "X")] union Bits<T> { int: u32, other: T }"#);
        let spans: Vec<&str> = errors.iter().map(|(_, span)| span.as_str()).collect();
        assert_eq!(spans, ["union", "rename", "<T>"], "{errors:#?}");
    }

    #[test]
    fn new_checks_parts() {
        let item: syn::ItemEnum = parse_quote!(
            #[derive(Debug)]
            #[ncl(name = "Status")]
            enum NodeStatus {
                Up,
                Down,
            }
        );
        let model =
            PayloadModel::new(item.ident, item.generics, PayloadKind::Enum, &item.attrs).unwrap();
        assert_eq!(model.wire_name(), "Status");
        assert_eq!(model.kind, PayloadKind::Enum);
    }
}
