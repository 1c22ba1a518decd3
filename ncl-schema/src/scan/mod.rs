//! The scanner: reads a crate's source files and builds the parts of a
//! [`Catalog`](crate::Catalog) that come from the code.
//!
//! It parses every `.rs` file under the source directory in path order and indexes the
//! modules that the file layout and inline `mod` blocks give. It then finds the types that
//! derive `NclPayload` and the items under `#[ncl::handler]`, and checks them with the
//! functions the macros use. Last, it describes each payload type and every crate type
//! that the payload names.

mod describe;
pub(crate) mod files;
mod index;
mod resolve;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use syn::ext::IdentExt;
use syn::{DeriveInput, Type};

use self::describe::Describer;
use self::index::{HandlerItem, Index, TypeItemKind, UsePath};
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
/// the crate that names nothing, and every wire name used twice.
pub(crate) fn scan(dir: &Path, display_dir: &str) -> Result<Scanned, GenerateError> {
    let read = files::read_dir(dir, display_dir)?;
    let index = Index::build(&read.files);
    let mut describer = Describer::new(&index, &read.files);
    let mut errors: Vec<SourceError> = Vec::new();

    let mut messages: Vec<Message> = Vec::new();
    // Wire name of each payload, by the key of its type.
    let mut payload_keys: HashMap<String, String> = HashMap::new();
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
        messages.push(Message {
            wire_name,
            rust_path: item.rust_path(),
            type_key,
            encoding: ENCODING.to_owned(),
            docs: crate::attr::docs(item.attrs()),
            source: file.display.clone(),
        });
    }

    let mut handlers = Vec::new();
    for handler_item in &index.handlers {
        match check_handler(handler_item, &index, &describer, &payload_keys, &read.files) {
            Ok(found) => {
                for outcome in found {
                    match outcome {
                        HandlerOutcome::Handler(handler) => handlers.push(handler),
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
    Warning(String),
    Error(SourceError),
}

/// Checks a handler item with the macro's own functions and resolves the payload type of
/// each handler in it.
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
    // Each handler: its path, kind, payload type and whether it borrows the message.
    let mut found: Vec<(String, HandlerKind, &Type, bool)> = Vec::new();
    match &model {
        HandlerModel::Fn(function) => found.push((
            format!("{module_path}::{}", function.rust_name()),
            HandlerKind::Function {
                state: function.state.as_ref().map(|state| type_text(&state.state)),
            },
            &function.message.payload,
            function.message.by_ref,
        )),
        HandlerModel::Impl(block) => {
            let self_ty = type_text(&block.self_ty);
            for method in &block.methods {
                found.push((
                    format!("{module_path}::{self_ty}::{}", method.ident.unraw()),
                    HandlerKind::Method {
                        self_ty: self_ty.clone(),
                    },
                    &method.message.payload,
                    method.message.by_ref,
                ));
            }
        }
    }

    let mut outcomes = Vec::new();
    for (path, kind, payload, by_ref) in found {
        let span = payload_span(payload);
        let text = type_text(payload);
        match payload_key(payload, &handler_item.module, index, describer) {
            PayloadLookup::Key(key) if payload_keys.contains_key(&key) => {
                outcomes.push(HandlerOutcome::Handler(Handler {
                    path,
                    kind,
                    payload: payload_keys[&key].clone(),
                    by_ref,
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

enum PayloadLookup {
    /// A struct or enum of the crate, by its key.
    Key(String),
    /// A path into the crate that names nothing.
    Missing(String),
    /// A type outside the crate, or a name not in scope.
    Elsewhere,
}

/// Resolves the payload type `ty` of a handler written in `module` to a type key.
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

fn payload_span(ty: &Type) -> proc_macro2::Span {
    quote::ToTokens::to_token_stream(ty)
        .into_iter()
        .next()
        .map_or_else(proc_macro2::Span::call_site, |token| token.span())
}
