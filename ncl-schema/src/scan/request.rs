//! Request types and their responses: the response payload of each request type, read from
//! `impl ncl::Request for T { type Response = R; }` blocks and from request handlers.
//!
//! Each place that names a response is a [`ResponseClaim`]. The claims of one request type
//! must agree, as the compiler requires, because a type has one `Request` impl and
//! `#[ncl::handler]` checks that a request handler returns that impl's response type.

use std::collections::{BTreeMap, HashMap};

use syn::ext::IdentExt;
use syn::{ImplItem, Type};

use super::describe::Describer;
use super::error_response;
use super::index::{Index, RequestImplItem, UsePath};
use super::resolve::{Lookup, Target};
use super::{PayloadLookup, payload_key, type_span};
use crate::builder::SourceError;
use crate::catalog::{Message, TypeDef};
use crate::handler::type_text;

/// One place that names the response type of a request type.
pub(super) struct ResponseClaim {
    /// Wire name of the request type.
    pub(super) request: String,
    /// Wire name of the response type.
    pub(super) response: String,
    /// The item that names the response, for messages: an impl block or a request handler.
    pub(super) origin: String,
    /// Whether an `impl ncl::Request` names it, which outranks a handler's return type.
    pub(super) from_impl: bool,
    /// Location of the response type as written.
    pub(super) location: SourceError,
}

/// The claims, warnings and errors that the crate's request impls give.
#[derive(Default)]
pub(super) struct ImplClaims {
    pub(super) claims: Vec<ResponseClaim>,
    pub(super) warnings: Vec<String>,
    pub(super) errors: Vec<SourceError>,
}

/// Reads the response type of every `impl ncl::Request for T` whose `T` is a payload of
/// the crate. `payload_keys` maps the type key of each payload to its wire name.
pub(super) fn impl_claims(
    index: &Index,
    describer: &Describer,
    payload_keys: &HashMap<String, String>,
) -> ImplClaims {
    let mut found = ImplClaims::default();
    for request_impl in &index.request_impls {
        if !is_ncl_request(request_impl, index) {
            continue;
        }
        let item = request_impl.item;
        // The index keeps only trait impls that have a `type Response`.
        let Some(response) = item.items.iter().find_map(|impl_item| match impl_item {
            ImplItem::Type(assoc) if assoc.ident == "Response" => Some(&assoc.ty),
            _ => None,
        }) else {
            continue;
        };
        let self_text = type_text(&item.self_ty);
        let origin = format!("`impl Request for {self_text}`");
        let file = request_impl.file;
        let module = &request_impl.module;

        let request = match payload_key(&item.self_ty, module, index, describer) {
            PayloadLookup::Key(key) if payload_keys.contains_key(&key) => {
                payload_keys[&key].clone()
            }
            PayloadLookup::Missing(reason) => {
                found.errors.push(describer.source_error(
                    file,
                    type_span(&item.self_ty),
                    format!("cannot resolve request type `{self_text}` of {origin}: {reason}"),
                ));
                continue;
            }
            PayloadLookup::Key(_) | PayloadLookup::Elsewhere => {
                let warning = describer.source_error(
                    file,
                    type_span(&item.self_ty),
                    format!(
                        "{origin} is for `{self_text}`, which is not a #[derive(NclPayload)] \
                         type of the scanned crate; the catalog leaves the impl out"
                    ),
                );
                found.warnings.push(warning.to_string());
                continue;
            }
        };

        let response_text = type_text(response);
        let location = locate(describer, file, response);
        match payload_key(response, module, index, describer) {
            PayloadLookup::Key(key) if payload_keys.contains_key(&key) => {
                found.claims.push(ResponseClaim {
                    request,
                    response: payload_keys[&key].clone(),
                    origin,
                    from_impl: true,
                    location,
                });
            }
            PayloadLookup::Missing(reason) => found.errors.push(with_message(
                location,
                format!("cannot resolve response type `{response_text}` of {origin}: {reason}"),
            )),
            PayloadLookup::Key(_) | PayloadLookup::Elsewhere => {
                let warning = with_message(
                    location,
                    format!(
                        "response type `{response_text}` of {origin} is not a \
                         #[derive(NclPayload)] type of the scanned crate; the catalog does not \
                         show `{request}` as a request"
                    ),
                );
                found.warnings.push(warning.to_string());
            }
        }
    }
    found
}

/// Returns whether the trait of `request_impl` is ncl's `Request`. It is when its path
/// resolves to a path into the `ncl` crate that ends in `Request`, such as `ncl::Request`
/// or `NclRequest` after `use ncl::Request as NclRequest;`. A bare `Request` in a module
/// with a glob import from ncl, such as `use ncl::*;`, is too.
fn is_ncl_request(request_impl: &RequestImplItem, index: &Index) -> bool {
    let path = UsePath {
        leading_colon: request_impl.trait_path.leading_colon.is_some(),
        segments: request_impl
            .trait_path
            .segments
            .iter()
            .map(|segment| segment.ident.unraw().to_string())
            .collect(),
    };
    match index.resolve(&request_impl.module, &path) {
        Lookup::Found(Target::External(segments)) => {
            segments.iter().any(|segment| segment == "ncl")
                && segments.last().is_some_and(|last| last == "Request")
        }
        Lookup::Unknown if path.segments == ["Request"] => index
            .modules
            .get(&request_impl.module)
            .is_some_and(|module| {
                module
                    .globs
                    .iter()
                    .any(|glob| glob.segments.iter().any(|segment| segment == "ncl"))
            }),
        Lookup::Found(_) | Lookup::Missing(_) | Lookup::Unknown => false,
    }
}

/// Sets the response of each request type in `messages` from `claims`, and adds ncl's
/// error response to `messages` and `types` when there are request types.
///
/// Returns an error for each claim that contradicts an earlier one, and one for a payload
/// of the crate named `BacError` when there are request types, located by `payload_sites`
/// (the definition of each payload, by wire name).
pub(super) fn assign_responses(
    claims: Vec<ResponseClaim>,
    messages: &mut Vec<Message>,
    types: &mut BTreeMap<String, TypeDef>,
    payload_sites: &HashMap<String, SourceError>,
) -> Vec<SourceError> {
    let (responses, mut errors) = responses(claims);
    for message in messages.iter_mut() {
        message.response = responses.get(&message.wire_name).cloned();
    }
    if responses.is_empty() {
        return errors;
    }
    match payload_sites.get(error_response::WIRE_NAME) {
        Some(site) => errors.push(with_message(
            site.clone(),
            format!(
                "wire name `{}` is the wire name of ncl's error response \
                 `ncl::ErrorResponse`, which responders send when a request fails; give this \
                 type another name with #[ncl(name = \"...\")]",
                error_response::WIRE_NAME
            ),
        )),
        None => error_response::add(messages, types),
    }
    errors
}

/// Returns the response type of each request type, by the wire names of both, and an
/// error for each claim that contradicts an earlier one.
///
/// Claims from impls come first, so that a request handler whose return type disagrees
/// with the impl is the one reported, where the compiler reports it too. Within each
/// kind, claims are taken in source order.
fn responses(mut claims: Vec<ResponseClaim>) -> (BTreeMap<String, String>, Vec<SourceError>) {
    claims.sort_by(|a, b| {
        let key = |claim: &ResponseClaim| {
            (
                !claim.from_impl,
                claim.location.path.clone(),
                claim.location.line,
                claim.location.column,
            )
        };
        key(a).cmp(&key(b))
    });
    let mut first: BTreeMap<String, &ResponseClaim> = BTreeMap::new();
    let mut errors = Vec::new();
    for claim in &claims {
        let Some(earlier) = first.get(&claim.request) else {
            first.insert(claim.request.clone(), claim);
            continue;
        };
        if earlier.response == claim.response {
            continue;
        }
        let at = &earlier.location;
        errors.push(with_message(
            claim.location.clone(),
            format!(
                "request type `{}` has two response types: `{}` here, in {}, and `{}` in {} \
                 at {}:{}:{}; a request type has one response type, named by its \
                 `impl ncl::Request`, so make them the same",
                claim.request,
                claim.response,
                claim.origin,
                earlier.response,
                earlier.origin,
                at.path.display(),
                at.line,
                at.column,
            ),
        ));
    }
    let responses = first
        .into_iter()
        .map(|(request, claim)| (request, claim.response.clone()))
        .collect();
    (responses, errors)
}

/// Returns `location` with `message`.
pub(super) fn with_message(mut location: SourceError, message: String) -> SourceError {
    location.message = message;
    location
}

/// Returns the location of a written type, for claims and messages.
pub(super) fn locate(describer: &Describer, file: usize, ty: &Type) -> SourceError {
    describer.source_error(file, type_span(ty), String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::files::SourceFile;

    fn file(module: &[&str], source: &str) -> SourceFile {
        SourceFile {
            display: format!("{}.rs", module.join("/")),
            module: module.iter().map(|segment| (*segment).to_owned()).collect(),
            ast: syn::parse_file(source).expect("test source should parse"),
        }
    }

    /// Returns the self type of each `Request` impl that is ncl's, in file order.
    fn ncl_request_types(files: &[SourceFile]) -> Vec<String> {
        let index = Index::build(files);
        index
            .request_impls
            .iter()
            .filter(|request_impl| is_ncl_request(request_impl, &index))
            .map(|request_impl| type_text(&request_impl.item.self_ty))
            .collect()
    }

    #[test]
    fn ncl_request_trait_is_recognized() {
        let files = [
            file(
                &[],
                "pub use ncl::Request;\n\
                 impl ncl::Request for A { type Response = R; }\n\
                 impl ::ncl::Request for B { type Response = R; }\n\
                 impl ncl::request::Request for C { type Response = R; }\n\
                 impl tower::Request for NotNcl1 { type Response = R; }\n\
                 impl Other for NotARequest { type Response = R; }",
            ),
            file(
                &["imported"],
                "use ncl::{Message, Request as NclRequest};\n\
                 impl NclRequest for D { type Response = R; }",
            ),
            file(
                &["reexported"],
                "use crate::Request;\nimpl Request for E { type Response = R; }",
            ),
            file(
                &["globbed"],
                "use ncl::*;\nimpl Request for F { type Response = R; }",
            ),
            file(
                &["own"],
                "pub trait Request { type Response; }\n\
                 impl Request for NotNcl2 { type Response = R; }\n\
                 impl self::Request for NotNcl3 { type Response = R; }",
            ),
        ];
        assert_eq!(ncl_request_types(&files), ["A", "B", "C", "D", "E", "F"]);
    }

    fn claim(request: &str, response: &str, from_impl: bool, line: usize) -> ResponseClaim {
        ResponseClaim {
            request: request.to_owned(),
            response: response.to_owned(),
            origin: format!("claim at line {line}"),
            from_impl,
            location: SourceError {
                path: "src/lib.rs".into(),
                line,
                column: 1,
                message: String::new(),
            },
        }
    }

    #[test]
    fn impl_claims_outrank_handler_claims() {
        let claims = vec![
            claim("Ping", "Other", false, 1),
            claim("Ping", "Pong", true, 9),
            claim("Ping", "Pong", false, 12),
            claim("Job", "Info", false, 3),
        ];
        let (responses, errors) = responses(claims);
        assert_eq!(
            responses,
            BTreeMap::from([
                ("Job".to_owned(), "Info".to_owned()),
                ("Ping".to_owned(), "Pong".to_owned()),
            ])
        );
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(errors[0].line, 1);
        assert!(
            errors[0].message.starts_with(
                "request type `Ping` has two response types: `Other` here, in claim at line 1, \
                 and `Pong` in claim at line 9 at src/lib.rs:9:1;"
            ),
            "{}",
            errors[0].message
        );
    }
}
