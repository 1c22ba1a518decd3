//! The scanner: reads a crate's source files and builds the parts of a
//! [`Catalog`](crate::Catalog) that come from the code.
//!
//! It parses every `.rs` file under the source directory in path order and indexes the
//! modules that the file layout and inline `mod` blocks give. It then finds the types that
//! derive `NclPayload` and the items under `#[ncl::handler]`, and checks them with the
//! functions the macros use. It describes each payload type and every crate type that the
//! payload names. Last, it reads the response type of each request type from the
//! `impl ncl::Request` blocks and the request handlers, and adds ncl's error response
//! when there are request types.

mod describe;
mod error_response;
pub(crate) mod files;
mod index;
mod request;
mod resolve;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use syn::ext::IdentExt;
use syn::{DeriveInput, Type};

use self::describe::Describer;
use self::index::{HandlerItem, Index, TypeItemKind, UsePath};
use self::request::{ResponseClaim, locate, with_message};
use self::resolve::{Lookup, Target};
use crate::builder::{GenerateError, SourceError};
use crate::catalog::{Handler, HandlerKind, Message, TypeDef, TypeRef};
use crate::handler::type_text;
use crate::{HandlerArgs, HandlerModel, PayloadModel};

/// Payload encoding of every NCL payload: the only one the runtime defines.
const ENCODING: &str = "json";

/// The payloads, types and handlers found in a source directory.
pub(crate) struct Scanned {
    /// Messages, sorted by wire name.
    pub(crate) messages: Vec<Message>,
    pub(crate) types: BTreeMap<String, TypeDef>,
    /// Handlers, sorted by path.
    pub(crate) handlers: Vec<Handler>,
    /// Every file and directory read.
    pub(crate) read: Vec<PathBuf>,
    /// Warnings in `file:line:column: message` form, in the order found.
    pub(crate) warnings: Vec<String>,
}

/// Scans the `.rs` files under `dir`, which messages call `display_dir`.
///
/// # Errors
///
/// Returns [`GenerateError::Io`] when a file cannot be read, and
/// [`GenerateError::Source`] with every syntax error, every `#[ncl]` or
/// `#[ncl::handler]` mistake, every serde attribute that does not parse, every path into
/// the crate that names nothing, every wire name used twice, every request type given two
/// response types, and a payload named `BacError` in a crate with request types.
pub(crate) fn scan(dir: &Path, display_dir: &str) -> Result<Scanned, GenerateError> {
    let read = files::read_dir(dir, display_dir)?;
    let index = Index::build(&read.files);
    let mut describer = Describer::new(&index, &read.files);
    let mut errors: Vec<SourceError> = Vec::new();

    let mut messages: Vec<Message> = Vec::new();
    // Wire name of each payload, by the key of its type.
    let mut payload_keys: HashMap<String, String> = HashMap::new();
    // Where each payload type is defined, by wire name.
    let mut payload_sites: HashMap<String, SourceError> = HashMap::new();
    for item in &index.payloads {
        let file = &read.files[item.file];
        let input: DeriveInput = match item.kind {
            TypeItemKind::Struct(item) => item.clone().into(),
            TypeItemKind::Enum(item) => item.clone().into(),
            TypeItemKind::Alias(_) => continue,
        };
        let model = match PayloadModel::from_derive_input(&input) {
            Ok(model) => model,
            Err(error) => {
                errors.extend(SourceError::from_syn(file.display.clone().into(), &error));
                continue;
            }
        };
        let wire_name = model.wire_name();
        if let Some(existing) = messages
            .iter()
            .find(|message| message.wire_name == wire_name)
        {
            errors.push(describer.source_error(
                item.file,
                item.ident().span(),
                format!(
                    "wire name `{wire_name}` is already used by `{}` in {}; give one of the \
                     types another name with #[ncl(name = \"...\")]",
                    existing.rust_path, existing.source
                ),
            ));
            continue;
        }
        let type_key = match describer.describe_item(item, None, 0) {
            TypeRef::Named(key) => key,
            // `describe_item` always returns a named reference.
            _ => continue,
        };
        payload_keys.insert(type_key.clone(), wire_name.clone());
        payload_sites.insert(
            wire_name.clone(),
            describer.source_error(item.file, item.ident().span(), String::new()),
        );
        messages.push(Message {
            wire_name,
            rust_path: item.rust_path(),
            type_key,
            encoding: ENCODING.to_owned(),
            docs: crate::attr::docs(item.attrs()),
            source: file.display.clone(),
            response: None,
            error_response: false,
        });
    }

    let found_impls = request::impl_claims(&index, &describer, &payload_keys);
    let mut claims = found_impls.claims;
    describer.warnings.extend(found_impls.warnings);
    errors.extend(found_impls.errors);
    let mut handlers = Vec::new();
    for handler_item in &index.handlers {
        match check_handler(handler_item, &index, &describer, &payload_keys, &read.files) {
            Ok(found) => {
                for outcome in found {
                    match outcome {
                        HandlerOutcome::Handler(handler) => handlers.push(handler),
                        HandlerOutcome::Claim(claim) => claims.push(claim),
                        HandlerOutcome::Warning(warning) => describer.warnings.push(warning),
                        HandlerOutcome::Error(error) => errors.push(error),
                    }
                }
            }
            Err(error) => {
                let path = read.files[handler_item.file].display.clone().into();
                errors.extend(SourceError::from_syn(path, &error));
            }
        }
    }

    errors.extend(request::assign_responses(
        claims,
        &mut messages,
        &mut describer.types,
        &payload_sites,
    ));

    errors.append(&mut describer.errors);
    if !errors.is_empty() {
        errors.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        errors.dedup();
        return Err(GenerateError::Source(errors));
    }
    messages.sort_by(|a, b| a.wire_name.cmp(&b.wire_name));
    handlers.sort_by(|a: &Handler, b: &Handler| (&a.path, &a.payload).cmp(&(&b.path, &b.payload)));
    Ok(Scanned {
        messages,
        types: describer.types,
        handlers,
        read: read.read,
        warnings: describer.warnings,
    })
}

/// One result of checking a handler item.
enum HandlerOutcome {
    Handler(Handler),
    /// The response type that a request handler returns for its request type.
    Claim(ResponseClaim),
    Warning(String),
    Error(SourceError),
}

/// Checks a handler item with the macro's own functions and resolves the payload type of
/// each handler in it, and the response type of each request handler.
fn check_handler(
    handler_item: &HandlerItem,
    index: &Index,
    describer: &Describer,
    payload_keys: &HashMap<String, String>,
    files: &[files::SourceFile],
) -> syn::Result<Vec<HandlerOutcome>> {
    let args = HandlerArgs::from_attribute(handler_item.attr);
    let model = HandlerModel::from_item(handler_item.item);
    let model = match (args, model) {
        (Ok(_), Ok(model)) => model,
        (Err(mut error), Err(model_error)) => {
            error.combine(model_error);
            return Err(error);
        }
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => return Err(error),
    };

    let mut module_path = String::from("crate");
    for segment in &handler_item.module {
        module_path.push_str("::");
        module_path.push_str(segment);
    }
    let source = files[handler_item.file].display.clone();
    let mut found: Vec<FoundHandler> = Vec::new();
    match &model {
        HandlerModel::Fn(function) => found.push(FoundHandler {
            path: format!("{module_path}::{}", function.rust_name()),
            kind: HandlerKind::Function {
                state: function.state.as_ref().map(|state| type_text(&state.state)),
            },
            payload: &function.message.payload,
            by_ref: function.message.by_ref,
            response: function.response.as_ref(),
        }),
        HandlerModel::Impl(block) => {
            let self_ty = type_text(&block.self_ty);
            for method in &block.methods {
                found.push(FoundHandler {
                    path: format!("{module_path}::{self_ty}::{}", method.ident.unraw()),
                    kind: HandlerKind::Method {
                        self_ty: self_ty.clone(),
                    },
                    payload: &method.message.payload,
                    by_ref: method.message.by_ref,
                    response: method.response.as_ref(),
                });
            }
        }
    }

    let mut outcomes = Vec::new();
    for handler in found {
        let FoundHandler {
            path,
            kind,
            payload,
            by_ref,
            response,
        } = handler;
        let span = type_span(payload);
        let text = type_text(payload);
        match payload_key(payload, &handler_item.module, index, describer) {
            PayloadLookup::Key(key) if payload_keys.contains_key(&key) => {
                let payload = payload_keys[&key].clone();
                let response = match response {
                    None => None,
                    Some(response) => {
                        let resolved = request_handler_response(
                            response,
                            &path,
                            &payload,
                            handler_item,
                            index,
                            describer,
                            payload_keys,
                        );
                        let wire_name = match &resolved {
                            HandlerOutcome::Claim(claim) => claim.response.clone(),
                            _ => {
                                outcomes.push(resolved);
                                continue;
                            }
                        };
                        outcomes.push(resolved);
                        Some(wire_name)
                    }
                };
                outcomes.push(HandlerOutcome::Handler(Handler {
                    path,
                    kind,
                    payload,
                    by_ref,
                    response,
                    source: source.clone(),
                }));
            }
            PayloadLookup::Missing(reason) => {
                outcomes.push(HandlerOutcome::Error(describer.source_error(
                    handler_item.file,
                    span,
                    format!("cannot resolve payload type `{text}` of handler `{path}`: {reason}"),
                )));
            }
            PayloadLookup::Key(_) | PayloadLookup::Elsewhere => {
                let warning = describer.source_error(
                    handler_item.file,
                    span,
                    format!(
                        "handler `{path}` takes `{text}`, which is not a #[derive(NclPayload)] \
                         type of the scanned crate; the catalog leaves the handler out"
                    ),
                );
                outcomes.push(HandlerOutcome::Warning(warning.to_string()));
            }
        }
    }
    Ok(outcomes)
}

/// A handler of a checked handler item, before its types are resolved.
struct FoundHandler<'m> {
    /// Path of the function or method from the crate root.
    path: String,
    kind: HandlerKind,
    payload: &'m Type,
    by_ref: bool,
    /// The response type of a request handler.
    response: Option<&'m Type>,
}

/// Resolves the response type of the request handler `path`, which takes the payload
/// `request`, to a claim. Returns instead the error or warning that leaves the handler
/// out when the type does not resolve or is not a payload of the crate.
fn request_handler_response(
    response: &Type,
    path: &str,
    request: &str,
    handler_item: &HandlerItem,
    index: &Index,
    describer: &Describer,
    payload_keys: &HashMap<String, String>,
) -> HandlerOutcome {
    let text = type_text(response);
    let location = locate(describer, handler_item.file, response);
    match payload_key(response, &handler_item.module, index, describer) {
        PayloadLookup::Key(key) if payload_keys.contains_key(&key) => {
            HandlerOutcome::Claim(ResponseClaim {
                request: request.to_owned(),
                response: payload_keys[&key].clone(),
                origin: format!("request handler `{path}`"),
                from_impl: false,
                location,
            })
        }
        PayloadLookup::Missing(reason) => HandlerOutcome::Error(with_message(
            location,
            format!("cannot resolve response type `{text}` of request handler `{path}`: {reason}"),
        )),
        PayloadLookup::Key(_) | PayloadLookup::Elsewhere => {
            let warning = with_message(
                location,
                format!(
                    "request handler `{path}` responds with `{text}`, which is not a \
                     #[derive(NclPayload)] type of the scanned crate; the catalog leaves the \
                     handler out"
                ),
            );
            HandlerOutcome::Warning(warning.to_string())
        }
    }
}

enum PayloadLookup {
    /// A struct or enum of the crate, by its key.
    Key(String),
    /// A path into the crate that names nothing.
    Missing(String),
    /// A type outside the crate, or a name not in scope.
    Elsewhere,
}

/// Resolves a payload type `ty` written in `module`, such as a handler's, to a type key.
fn payload_key(
    ty: &Type,
    module: &[String],
    index: &Index,
    describer: &Describer,
) -> PayloadLookup {
    let Type::Path(type_path) = strip(ty) else {
        return PayloadLookup::Elsewhere;
    };
    let path = UsePath {
        leading_colon: type_path.path.leading_colon.is_some(),
        segments: type_path
            .path
            .segments
            .iter()
            .map(|segment| segment.ident.unraw().to_string())
            .collect(),
    };
    match index.resolve(module, &path) {
        Lookup::Found(Target::Type(item)) => PayloadLookup::Key(describer.key_of(&item, None)),
        Lookup::Missing(reason) => PayloadLookup::Missing(reason),
        Lookup::Found(_) | Lookup::Unknown => PayloadLookup::Elsewhere,
    }
}

fn strip(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => strip(&group.elem),
        Type::Paren(paren) => strip(&paren.elem),
        other => other,
    }
}

/// Returns the span of the first token of `ty`, where messages about it point.
fn type_span(ty: &Type) -> proc_macro2::Span {
    quote::ToTokens::to_token_stream(ty)
        .into_iter()
        .next()
        .map_or_else(proc_macro2::Span::call_site, |token| token.span())
}
