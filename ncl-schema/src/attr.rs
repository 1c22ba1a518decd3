//! Parsing of the `#[ncl(...)]` attributes on a payload type.
//!
//! The accepted keys are:
//!
//! - `name = "..."`: the wire name, in place of the type's identifier. It must not be empty
//!   or whitespace only.
//! - `crate = "..."`: the path through which generated code reaches the `ncl` crate, for
//!   crates that depend on `ncl` through a re-export. It must be a module path such as
//!   `"::ncl"` or `"my_reexports::ncl"`.
//!
//! Keys may be spread over several `#[ncl]` attributes, but each key may appear only once.
//!
//! The [`serde`] submodule reads the `#[serde(...)]` keys that change a type's JSON shape,
//! and [`docs`] reads doc comments.

pub mod serde;

use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Attribute, Expr, Lit, LitStr, Path, Token};

use crate::errors::Errors;

/// Path of the attribute that this module reads: `#[ncl(...)]`.
pub const ATTRIBUTE: &str = "ncl";

/// Keys accepted inside `#[ncl(...)]`.
pub const KEYS: &[&str] = &["name", "crate"];

/// Options read from the `#[ncl(...)]` attributes of one payload type.
///
/// New keys may be added, so the struct cannot be built with a literal outside this crate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PayloadAttrs {
    /// Wire name from `name = "..."`, or `None` when the wire name is the type's identifier.
    pub name: Option<LitStr>,
    /// Path to the `ncl` crate from `crate = "..."`, or `None` for the default `::ncl`.
    ///
    /// Its tokens carry the span of the string literal, so an unresolved path is reported
    /// on the literal.
    pub krate: Option<Path>,
}

impl PayloadAttrs {
    /// Parses every `#[ncl(...)]` attribute in `attrs` and ignores all other attributes.
    ///
    /// # Errors
    ///
    /// Returns one [`syn::Error`] that combines every problem found, each spanned on the
    /// offending token. The problems are an unknown key, a key given twice, a key without a
    /// value, a value that is not a string literal, an empty or whitespace-only `name`, a
    /// `crate` value that is not a module path, and attribute syntax that does not parse.
    ///
    /// # Examples
    ///
    /// ```
    /// use ncl_schema::PayloadAttrs;
    ///
    /// let input: syn::DeriveInput = syn::parse_quote! {
    ///     #[derive(Debug)]
    ///     #[ncl(name = "JobAssigned")]
    ///     #[ncl(crate = "my_reexports::ncl")]
    ///     struct Assigned;
    /// };
    /// let attrs = PayloadAttrs::from_attributes(&input.attrs)?;
    /// assert_eq!(attrs.name.map(|name| name.value()).as_deref(), Some("JobAssigned"));
    /// assert!(attrs.krate.is_some());
    /// # Ok::<(), syn::Error>(())
    /// ```
    pub fn from_attributes(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let parsed = parse(attrs, &mut errors);
        errors.finish(parsed.attrs)
    }
}

/// Attributes parsed so far, kept apart from the errors so that callers can go on checking.
pub(crate) struct Parsed {
    /// Every key that was valid. Invalid keys are left out.
    pub(crate) attrs: PayloadAttrs,
    /// Whether a `name` key was written at all, valid or not.
    pub(crate) name_written: bool,
}

/// Parses every `#[ncl(...)]` attribute in `attrs`, pushing each problem to `errors`.
pub(crate) fn parse(attrs: &[Attribute], errors: &mut Errors) -> Parsed {
    let mut parsed = Parsed {
        attrs: PayloadAttrs::default(),
        name_written: false,
    };
    let mut crate_written = false;

    for attr in attrs.iter().filter(|attr| attr.path().is_ident(ATTRIBUTE)) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                if parsed.name_written {
                    errors.push(duplicate_key(&meta.path, "name"));
                }
                let name = parse_name(&meta, errors)?;
                if !parsed.name_written {
                    parsed.attrs.name = name;
                }
                parsed.name_written = true;
            } else if meta.path.is_ident("crate") {
                if crate_written {
                    errors.push(duplicate_key(&meta.path, "crate"));
                }
                let krate = parse_crate_path(&meta, errors)?;
                if !crate_written {
                    parsed.attrs.krate = krate;
                }
                crate_written = true;
            } else {
                errors.push(unknown_key(&meta.path, "#[ncl]", KEYS));
                skip_value(meta.input)?;
            }
            Ok(())
        });
        // A syntax error stops only this attribute, and the others are still checked.
        if let Err(error) = result {
            errors.push(error);
        }
    }
    parsed
}

/// Parses the value of `name = "..."`.
fn parse_name(meta: &ParseNestedMeta, errors: &mut Errors) -> syn::Result<Option<LitStr>> {
    let Some(name) = parse_string_value(meta, "name", "\"JobAssigned\"", errors)? else {
        return Ok(None);
    };
    if name.value().trim().is_empty() {
        errors.push(syn::Error::new(
            name.span(),
            "payload name is empty or whitespace only; write a wire name such as \
             `name = \"JobAssigned\"`, or remove the key to use the type's name",
        ));
        return Ok(None);
    }
    Ok(Some(name))
}

/// Parses the value of `crate = "..."` into a module path.
pub(crate) fn parse_crate_path(
    meta: &ParseNestedMeta,
    errors: &mut Errors,
) -> syn::Result<Option<Path>> {
    let Some(literal) = parse_string_value(meta, "crate", "\"::ncl\"", errors)? else {
        return Ok(None);
    };
    match literal.parse_with(Path::parse_mod_style) {
        Ok(path) => Ok(Some(path)),
        Err(error) => {
            errors.push(syn::Error::new(
                literal.span(),
                format!(
                    "invalid crate path {:?}: {error}; write a module path to the ncl crate \
                     such as `crate = \"::ncl\"` or `crate = \"my_reexports::ncl\"`",
                    literal.value(),
                ),
            ));
            Ok(None)
        }
    }
}

/// Parses `= "..."` after `key`, or pushes an error and returns `None` if the value is
/// missing or is not a plain string literal. The error shows `example` as a valid value.
pub(crate) fn parse_string_value(
    meta: &ParseNestedMeta,
    key: &str,
    example: &str,
    errors: &mut Errors,
) -> syn::Result<Option<LitStr>> {
    if !meta.input.peek(Token![=]) {
        errors.push(syn::Error::new_spanned(
            &meta.path,
            format!("missing value for `{key}`; write `{key} = {example}`"),
        ));
        skip_value(meta.input)?;
        return Ok(None);
    }
    let value: Expr = meta.value()?.parse()?;

    // Input that passed through a `macro_rules!` fragment may arrive wrapped in a group.
    let mut inner = &value;
    while let Expr::Group(group) = inner {
        inner = &group.expr;
    }
    if let Expr::Lit(literal) = inner
        && let Lit::Str(string) = &literal.lit
    {
        if !string.suffix().is_empty() {
            errors.push(syn::Error::new(
                string.span(),
                format!(
                    "unexpected suffix `{}` on the `{key}` string",
                    string.suffix()
                ),
            ));
            return Ok(None);
        }
        return Ok(Some(string.clone()));
    }

    errors.push(syn::Error::new_spanned(
        &value,
        format!("`{key}` must be a string literal, such as `{key} = {example}`"),
    ));
    Ok(None)
}

/// Returns the text of the doc comments (`///` and `#[doc = "..."]`) in `attrs`, or `None`
/// when there are none or they are blank.
///
/// Lines are joined with `\n`, the one space that follows `///` is removed from each line,
/// and leading and trailing blank lines are dropped. A `#[doc = ...]` whose value is not a
/// string literal, such as `#[doc = include_str!("...")]`, is skipped.
///
/// # Examples
///
/// ```
/// let item: syn::ItemStruct = syn::parse_quote! {
///     /// A sign of life.
///     ///
///     /// Sent every second.
///     struct Heartbeat;
/// };
/// let docs = ncl_schema::attr::docs(&item.attrs);
/// assert_eq!(docs.as_deref(), Some("A sign of life.\n\nSent every second."));
/// ```
pub fn docs(attrs: &[Attribute]) -> Option<String> {
    let mut lines: Vec<String> = Vec::new();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("doc")) {
        let syn::Meta::NameValue(name_value) = &attr.meta else {
            continue;
        };
        let Expr::Lit(literal) = &name_value.value else {
            continue;
        };
        let Lit::Str(text) = &literal.lit else {
            continue;
        };
        // `split` keeps the empty value of a blank `///` line, which `lines` would drop.
        for line in text.value().split('\n') {
            let line = line.strip_prefix(' ').unwrap_or(line);
            lines.push(line.trim_end().to_owned());
        }
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let first = lines.iter().position(|line| !line.is_empty())?;
    Some(lines[first..].join("\n"))
}

/// Consumes the tokens of a key's value up to the next top-level `,`.
pub(crate) fn skip_value(input: ParseStream) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

fn duplicate_key(path: &Path, key: &str) -> syn::Error {
    syn::Error::new_spanned(
        path,
        format!("duplicate `{key}` key; each #[ncl] key may be given once per type"),
    )
}

/// Builds the error for a key of `attribute` (such as `#[ncl]`) that is not in `keys`.
pub(crate) fn unknown_key(path: &Path, attribute: &str, keys: &[&str]) -> syn::Error {
    let key = path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::");
    let valid = match keys {
        [only] => format!("the only valid key is `{only}`"),
        _ => {
            let list = keys
                .iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("valid keys are {list}")
        }
    };
    syn::Error::new_spanned(path, format!("unknown {attribute} key `{key}`; {valid}"))
}

#[cfg(test)]
mod tests {
    use syn::{Attribute, parse_quote};

    use super::*;

    /// Parses the attributes of the type in `source` and returns each error's message and
    /// the source text its span covers.
    ///
    /// The source is parsed from a string because `parse_quote!` gives every token the same
    /// call-site span, which has no source text.
    fn rejected(source: &str) -> Vec<(String, String)> {
        let input: syn::DeriveInput = syn::parse_str(source).expect("test source should parse");
        let error =
            PayloadAttrs::from_attributes(&input.attrs).expect_err("attributes should be rejected");
        error
            .into_iter()
            .map(|error| {
                let text = error.span().source_text().unwrap_or_default();
                (error.to_string(), text)
            })
            .collect()
    }

    #[test]
    fn no_attributes_give_defaults() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[derive(Debug)]),
            parse_quote!(#[serde(rename = "x")]),
        ];
        let parsed = PayloadAttrs::from_attributes(&attrs).unwrap();
        assert_eq!(parsed, PayloadAttrs::default());
    }

    #[test]
    fn empty_attribute_is_accepted() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[ncl()])];
        let parsed = PayloadAttrs::from_attributes(&attrs).unwrap();
        assert_eq!(parsed, PayloadAttrs::default());
    }

    #[test]
    fn name_and_crate_are_read() {
        let attrs: Vec<Attribute> =
            vec![parse_quote!(#[ncl(name = "Job/v2", crate = "reexport::ncl",)])];
        let parsed = PayloadAttrs::from_attributes(&attrs).unwrap();
        assert_eq!(parsed.name.unwrap().value(), "Job/v2");
        let expected: Path = parse_quote!(reexport::ncl);
        assert_eq!(parsed.krate.unwrap(), expected);
    }

    #[test]
    fn keys_spread_over_attributes() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[ncl(name = "Job")]),
            parse_quote!(#[doc = "A job."]),
            parse_quote!(#[ncl(crate = "::ncl")]),
        ];
        let parsed = PayloadAttrs::from_attributes(&attrs).unwrap();
        assert_eq!(parsed.name.unwrap().value(), "Job");
        let expected: Path = parse_quote!(::ncl);
        assert_eq!(parsed.krate.unwrap(), expected);
    }

    #[test]
    fn crate_path_forms_are_accepted() {
        for (literal, expected) in [
            (parse_quote!("ncl"), parse_quote!(ncl)),
            (
                parse_quote!("crate::reexport::ncl"),
                parse_quote!(crate::reexport::ncl),
            ),
            (parse_quote!("super::ncl"), parse_quote!(super::ncl)),
        ] {
            let literal: LitStr = literal;
            let expected: Path = expected;
            let attrs: Vec<Attribute> = vec![parse_quote!(#[ncl(crate = #literal)])];
            let parsed = PayloadAttrs::from_attributes(&attrs).unwrap();
            assert_eq!(parsed.krate.unwrap(), expected);
        }
    }

    #[test]
    fn raw_string_name_is_accepted() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[ncl(name = r"Job")])];
        let parsed = PayloadAttrs::from_attributes(&attrs).unwrap();
        assert_eq!(parsed.name.unwrap().value(), "Job");
    }

    #[test]
    fn unknown_key_lists_valid_keys() {
        let errors = rejected(r#"#[ncl(rename = "Job")] struct Job;"#);
        let expected = "unknown #[ncl] key `rename`; valid keys are `name`, `crate`";
        assert_eq!(errors, [(expected.to_owned(), "rename".to_owned())]);
    }

    #[test]
    fn unknown_key_forms_are_skipped() {
        // Each unknown key is reported, and parsing goes on past its value.
        let errors = rejected(r#"#[ncl(flag, list(a, b), a::b = 1 + 2, name = "")] struct Job;"#);
        let spans: Vec<&str> = errors.iter().map(|(_, span)| span.as_str()).collect();
        assert_eq!(spans, ["flag", "list", "a::b", "\"\""]);
        assert!(errors[2].0.starts_with("unknown #[ncl] key `a::b`;"));
    }

    #[test]
    fn empty_name_is_rejected() {
        for name in [r#""""#, r#""  \t\n""#, r#"r"  ""#] {
            let errors = rejected(&format!("#[ncl(name = {name})] struct Job;"));
            assert_eq!(errors.len(), 1, "name = {name}");
            assert!(
                errors[0]
                    .0
                    .starts_with("payload name is empty or whitespace only;")
            );
            assert_eq!(errors[0].1, name);
        }
    }

    #[test]
    fn duplicate_key_is_rejected() {
        let errors = rejected(r#"#[ncl(name = "A", name = "B")] struct Job;"#);
        let expected = "duplicate `name` key; each #[ncl] key may be given once per type";
        assert_eq!(errors, [(expected.to_owned(), "name".to_owned())]);
    }

    #[test]
    fn first_of_duplicate_keys_is_kept() {
        let mut errors = Errors::default();
        let attrs: Vec<Attribute> = vec![parse_quote!(#[ncl(name = "A", name = "B")])];
        let parsed = parse(&attrs, &mut errors);
        assert!(errors.finish(()).is_err());
        assert_eq!(parsed.attrs.name.unwrap().value(), "A");
    }

    #[test]
    fn duplicate_key_across_attributes() {
        let errors = rejected(r#"#[ncl(crate = "::ncl")] #[ncl(crate = "::other")] struct Job;"#);
        let expected = "duplicate `crate` key; each #[ncl] key may be given once per type";
        assert_eq!(errors, [(expected.to_owned(), "crate".to_owned())]);
    }

    #[test]
    fn non_string_values_are_rejected() {
        let errors = rejected("#[ncl(name = Job, crate = 1)] struct Job;");
        assert_eq!(
            errors,
            [
                (
                    "`name` must be a string literal, such as `name = \"JobAssigned\"`".to_owned(),
                    "Job".to_owned(),
                ),
                (
                    "`crate` must be a string literal, such as `crate = \"::ncl\"`".to_owned(),
                    "1".to_owned(),
                ),
            ]
        );
    }

    #[test]
    fn suffixed_string_is_rejected() {
        let errors = rejected(r#"#[ncl(name = "Job"x)] struct Job;"#);
        let expected = "unexpected suffix `x` on the `name` string";
        assert_eq!(errors, [(expected.to_owned(), "\"Job\"x".to_owned())]);
    }

    #[test]
    fn missing_value_is_rejected() {
        let errors = rejected("#[ncl(name, crate)] struct Job;");
        assert_eq!(
            errors,
            [
                (
                    "missing value for `name`; write `name = \"JobAssigned\"`".to_owned(),
                    "name".to_owned(),
                ),
                (
                    "missing value for `crate`; write `crate = \"::ncl\"`".to_owned(),
                    "crate".to_owned(),
                ),
            ]
        );
    }

    #[test]
    fn invalid_crate_paths_are_rejected() {
        for value in ["", "my-ncl", "ncl::", "ncl<T>", "ncl::Payload()", "a b"] {
            let literal = format!("{value:?}");
            let errors = rejected(&format!("#[ncl(crate = {literal})] struct Job;"));
            assert_eq!(errors.len(), 1, "crate = {literal}");
            let prefix = format!("invalid crate path {literal}: ");
            assert!(
                errors[0].0.starts_with(&prefix),
                "crate = {literal}: {:?}",
                errors[0].0
            );
            assert_eq!(errors[0].1, literal);
        }
    }

    #[test]
    fn all_errors_are_combined() {
        let errors = rejected(
            r#"
            #[ncl(nmae = "Job", name = "")]
            #[ncl = "Job"]
            #[ncl(crate = "a b", name = "Other")]
            struct Job;
            "#,
        );
        let spans: Vec<&str> = errors.iter().map(|(_, span)| span.as_str()).collect();
        assert_eq!(
            spans,
            ["nmae", "\"\"", "=", "\"a b\"", "name"],
            "{errors:#?}"
        );
        assert!(errors[0].0.starts_with("unknown #[ncl] key `nmae`"));
        assert!(errors[1].0.starts_with("payload name is empty"));
        assert!(
            errors[2].0.starts_with("expected parentheses"),
            "{}",
            errors[2].0
        );
        assert!(errors[3].0.starts_with("invalid crate path \"a b\""));
        assert!(errors[4].0.starts_with("duplicate `name` key"));
    }

    #[test]
    fn syntax_error_stops_only_its_attribute() {
        let errors = rejected(r#"#[ncl(name = "A" "B", x = 1)] #[ncl(rename = "C")] struct Job;"#);
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert_eq!(errors[0], ("expected `,`".to_owned(), "\"B\"".to_owned()));
        assert!(errors[1].0.starts_with("unknown #[ncl] key `rename`"));
    }
}
