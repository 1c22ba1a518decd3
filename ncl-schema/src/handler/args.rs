//! Parsing of the arguments of `#[ncl::handler(...)]`.
//!
//! The only accepted key is `crate = "..."`: the path through which generated code reaches
//! the `ncl` crate, for crates that depend on `ncl` through a re-export. It is checked as in
//! `#[ncl(crate = "...")]` on a payload type.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::{Attribute, Meta, Path};

use crate::attr;
use crate::errors::Errors;

/// Keys accepted inside `#[ncl::handler(...)]`.
pub const HANDLER_KEYS: &[&str] = &["crate"];

/// Options read from the arguments of one `#[ncl::handler(...)]` attribute.
///
/// New keys may be added, so the struct cannot be built with a literal outside this crate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandlerArgs {
    /// Path to the `ncl` crate from `crate = "..."`, or `None` for the default `::ncl`.
    ///
    /// Its tokens carry the span of the string literal, so an unresolved path is reported
    /// on the literal.
    pub krate: Option<Path>,
}

impl HandlerArgs {
    /// Parses the tokens between the parentheses of `#[ncl::handler(...)]`, which is what
    /// an attribute macro receives as its first argument. Empty tokens give the defaults.
    ///
    /// # Errors
    ///
    /// Returns one [`syn::Error`] that combines every problem found, each spanned on the
    /// offending token. The problems are an unknown key, whose message lists the valid
    /// keys, a key given twice, a key without a value and a value that is not a string
    /// literal. A `crate` value that is not a module path and syntax that does not parse
    /// are errors too.
    ///
    /// # Examples
    ///
    /// ```
    /// use ncl_schema::HandlerArgs;
    ///
    /// let args = HandlerArgs::parse(quote::quote!(crate = "my_reexports::ncl"))?;
    /// assert!(args.krate.is_some());
    ///
    /// let error = HandlerArgs::parse(quote::quote!(name = "x")).unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "unknown #[ncl::handler] key `name`; the only valid key is `crate`",
    /// );
    /// # Ok::<(), syn::Error>(())
    /// ```
    pub fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let mut args = Self::default();
        let mut crate_written = false;

        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("crate") {
                if crate_written {
                    errors.push(syn::Error::new_spanned(
                        &meta.path,
                        "duplicate `crate` key; each #[ncl::handler] key may be given once",
                    ));
                }
                let krate = attr::parse_crate_path(&meta, &mut errors)?;
                if !crate_written {
                    args.krate = krate;
                }
                crate_written = true;
            } else {
                errors.push(attr::unknown_key(
                    &meta.path,
                    "#[ncl::handler]",
                    HANDLER_KEYS,
                ));
                attr::skip_value(meta.input)?;
            }
            Ok(())
        });
        // A syntax error stops the parse, but the errors found before it are kept.
        if let Err(error) = parser.parse2(tokens) {
            errors.push(error);
        }
        errors.finish(args)
    }

    /// Parses the arguments of `attr`, a `#[ncl::handler]` attribute that a tool found on
    /// an item while scanning source files. The caller decides which attributes are
    /// handler attributes, because that depends on the file's imports.
    ///
    /// # Errors
    ///
    /// Returns the errors of [`HandlerArgs::parse`], or an error spanned on the `=` of a
    /// name-value attribute such as `#[ncl::handler = "..."]`.
    pub fn from_attribute(attr: &Attribute) -> syn::Result<Self> {
        match &attr.meta {
            Meta::Path(_) => Ok(Self::default()),
            Meta::List(list) => Self::parse(list.tokens.clone()),
            Meta::NameValue(name_value) => Err(syn::Error::new_spanned(
                name_value.eq_token,
                "expected `#[ncl::handler]` or `#[ncl::handler(crate = \"...\")]`",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    /// Parses `source` as handler arguments and returns each error's message and the source
    /// text its span covers. See `attr::tests::rejected` for why it parses a string.
    fn rejected(source: &str) -> Vec<(String, String)> {
        let tokens: TokenStream = source.parse().expect("test source should tokenize");
        let error = HandlerArgs::parse(tokens).expect_err("arguments should be rejected");
        error
            .into_iter()
            .map(|error| {
                let text = error.span().source_text().unwrap_or_default();
                (error.to_string(), text)
            })
            .collect()
    }

    #[test]
    fn empty_arguments_give_defaults() {
        let args = HandlerArgs::parse(TokenStream::new()).unwrap();
        assert_eq!(args, HandlerArgs::default());
    }

    #[test]
    fn crate_path_is_read() {
        let args = HandlerArgs::parse(quote::quote!(crate = "reexport::ncl",)).unwrap();
        let expected: Path = parse_quote!(reexport::ncl);
        assert_eq!(args.krate.unwrap(), expected);
    }

    #[test]
    fn unknown_key_names_valid_key() {
        let errors = rejected(r#"name = "Job""#);
        let expected = "unknown #[ncl::handler] key `name`; the only valid key is `crate`";
        assert_eq!(errors, [(expected.to_owned(), "name".to_owned())]);
    }

    #[test]
    fn duplicate_crate_is_rejected() {
        let errors = rejected(r#"crate = "a", crate = "b""#);
        let expected = "duplicate `crate` key; each #[ncl::handler] key may be given once";
        assert_eq!(errors, [(expected.to_owned(), "crate".to_owned())]);
    }

    #[test]
    fn invalid_values_are_rejected() {
        let errors = rejected(r#"crate = "a b", crate, crate = 1"#);
        let spans: Vec<&str> = errors.iter().map(|(_, span)| span.as_str()).collect();
        assert_eq!(
            spans,
            ["\"a b\"", "crate", "crate", "crate", "1"],
            "{errors:#?}"
        );
        assert!(errors[0].0.starts_with("invalid crate path \"a b\""));
        assert!(errors[1].0.starts_with("duplicate `crate` key"));
        assert!(errors[2].0.starts_with("missing value for `crate`"));
        assert!(errors[4].0.starts_with("`crate` must be a string literal"));
    }

    #[test]
    fn syntax_error_keeps_earlier_errors() {
        let errors = rejected(r#"nmae = 1, = "x""#);
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors[0]
                .0
                .starts_with("unknown #[ncl::handler] key `nmae`")
        );
        assert_eq!(errors[1].1, "=");
    }

    #[test]
    fn attribute_forms_are_read() {
        let bare: Attribute = parse_quote!(#[ncl::handler]);
        assert_eq!(
            HandlerArgs::from_attribute(&bare).unwrap(),
            HandlerArgs::default()
        );

        let list: Attribute = parse_quote!(#[ncl::handler(crate = "::ncl")]);
        let expected: Path = parse_quote!(::ncl);
        assert_eq!(
            HandlerArgs::from_attribute(&list).unwrap().krate.unwrap(),
            expected
        );

        let name_value: Attribute = parse_quote!(#[ncl::handler = "x"]);
        let error = HandlerArgs::from_attribute(&name_value).unwrap_err();
        assert!(error.to_string().starts_with("expected `#[ncl::handler]`"));
    }
}
