//! Description of Rust types as the JSON that serde writes for them.
//!
//! A type of the scanned crate becomes a [`TypeDef`] with the serde attributes applied,
//! and every type it names is described in turn. Standard-library types are described by
//! what their serde impls write. A type from another crate, or one the scanner cannot
//! describe, becomes [`TypeRef::Opaque`] with a warning, once per type.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use syn::ext::IdentExt;
use syn::{Expr, Fields, GenericArgument, Lit, PathArguments, Type, TypePath};

use super::files::SourceFile;
use super::index::{Index, TypeItem, TypeItemKind, UsePath};
use super::resolve::{Lookup, Target};
use crate::attr::serde::{ContainerAttrs, FieldAttrs, RenameRule, VariantAttrs};
use crate::builder::SourceError;
use crate::catalog::{
    EnumBody, Field, IntegerType, StructBody, TypeBody, TypeDef, TypeRef, Variant, VariantBody,
    Written,
};
use crate::handler::type_text;

/// Depth of nested generic instantiation at which a type is described as opaque, which
/// ends polymorphic recursion such as `struct A<T> { next: Option<Box<A<Vec<T>>>> }`.
const MAX_INSTANTIATION_DEPTH: usize = 8;

/// The context of a written type: the module that resolves its names, the file for
/// messages, and the values of the enclosing item's type parameters.
pub(crate) struct Scope<'s> {
    pub(crate) module: &'s [String],
    pub(crate) file: usize,
    pub(crate) params: &'s HashMap<String, TypeRef>,
    /// Number of generic instantiations that led here.
    pub(crate) depth: usize,
}

/// Describes types on demand and keeps every [`TypeDef`] made.
pub(crate) struct Describer<'i, 'a> {
    index: &'i Index<'a>,
    files: &'a [SourceFile],
    pub(crate) types: BTreeMap<String, TypeDef>,
    /// Keys whose description has started, so that recursive types end.
    started: BTreeSet<String>,
    /// Opaque types already warned about.
    warned: BTreeSet<String>,
    pub(crate) warnings: Vec<String>,
    pub(crate) errors: Vec<SourceError>,
}

impl<'i, 'a> Describer<'i, 'a> {
    pub(crate) fn new(index: &'i Index<'a>, files: &'a [SourceFile]) -> Self {
        Self {
            index,
            files,
            types: BTreeMap::new(),
            started: BTreeSet::new(),
            warned: BTreeSet::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Returns the key that `item` has with the type arguments `args`. With `None`, the
    /// item's own type parameters stay unbound, as in a generic payload type.
    pub(crate) fn key_of(&self, item: &TypeItem, args: Option<&[TypeRef]>) -> String {
        let ident = item.ident().unraw().to_string();
        let mut key = if self.index.ident_counts.get(&ident).copied().unwrap_or(0) > 1 {
            let mut segments = item.module.clone();
            segments.push(ident);
            segments.join(".")
        } else {
            ident
        };
        if let Some(args) = args
            && !args.is_empty()
        {
            for arg in args {
                key.push('_');
                key.push_str(&short_name(arg));
            }
        }
        key
    }

    /// Describes a struct or enum of the crate and returns a reference to its definition.
    pub(crate) fn describe_item(
        &mut self,
        item: &TypeItem<'a>,
        args: Option<Vec<TypeRef>>,
        depth: usize,
    ) -> TypeRef {
        let key = self.key_of(item, args.as_deref());
        if self.started.contains(&key) {
            return TypeRef::Named(key);
        }
        self.started.insert(key.clone());

        let params = bind_params(item.generics(), args.as_deref());
        let scope = Scope {
            module: &item.module,
            file: item.file,
            params: &params,
            depth,
        };
        let attrs = item.attrs();
        let container = match ContainerAttrs::from_attributes(attrs) {
            Ok(container) => container,
            Err(error) => {
                self.push_syn_error(item.file, &error);
                ContainerAttrs::default()
            }
        };
        let body = match item.kind {
            TypeItemKind::Struct(item_struct) => {
                self.struct_body(&item_struct.fields, &container, &scope)
            }
            TypeItemKind::Enum(item_enum) => {
                TypeBody::Enum(self.enum_body(item_enum, &container, &scope))
            }
            // Aliases are described in place by `describe_alias` and never get here.
            TypeItemKind::Alias(alias) => TypeBody::Newtype(self.describe(&alias.ty, &scope)),
        };
        let mut rust_path = item.rust_path();
        if let Some(args) = args.as_deref()
            && !args.is_empty()
        {
            let names: Vec<String> = args.iter().map(short_name).collect();
            rust_path = format!("{rust_path}<{}>", names.join(", "));
        }
        let def = TypeDef {
            key: key.clone(),
            rust_path,
            docs: crate::attr::docs(attrs),
            source: self.files[item.file].display.clone(),
            body,
        };
        self.types.insert(key.clone(), def);
        TypeRef::Named(key)
    }

    fn struct_body(
        &mut self,
        fields: &Fields,
        container: &ContainerAttrs,
        scope: &Scope,
    ) -> TypeBody {
        if let Some(into) = &container.into {
            return TypeBody::Newtype(self.describe(into, scope));
        }
        match fields {
            Fields::Named(_) if container.transparent => {
                let fields = self.named_fields(fields, container.rename_all, false, scope);
                match fields
                    .into_iter()
                    .find(|field| field.written != Written::Never)
                {
                    Some(field) => TypeBody::Newtype(field.ty),
                    None => TypeBody::Unit,
                }
            }
            Fields::Named(_) => TypeBody::Struct(StructBody {
                fields: self.named_fields(fields, container.rename_all, container.default, scope),
                deny_unknown_fields: container.deny_unknown_fields,
            }),
            Fields::Unnamed(unnamed) => {
                let types = self.unnamed_fields(unnamed, scope);
                if unnamed.unnamed.len() == 1 || container.transparent {
                    match types.into_iter().next() {
                        Some(ty) => TypeBody::Newtype(ty),
                        None => TypeBody::Unit,
                    }
                } else {
                    TypeBody::Tuple(types)
                }
            }
            Fields::Unit => TypeBody::Unit,
        }
    }

    /// Describes named fields, leaving out those that are neither written nor read.
    fn named_fields(
        &mut self,
        fields: &Fields,
        rule: Option<RenameRule>,
        container_default: bool,
        scope: &Scope,
    ) -> Vec<Field> {
        let mut described = Vec::new();
        for field in fields {
            let Some(ident) = &field.ident else {
                continue;
            };
            let attrs = match FieldAttrs::from_attributes(&field.attrs) {
                Ok(attrs) => attrs,
                Err(error) => {
                    self.push_syn_error(scope.file, &error);
                    FieldAttrs::default()
                }
            };
            if attrs.skip_serializing && attrs.skip_deserializing {
                continue;
            }
            let rust_name = ident.unraw().to_string();
            let json_name = match (&attrs.rename, rule) {
                (Some(name), _) => name.clone(),
                (None, Some(rule)) => rule.apply_to_field(&rust_name),
                (None, None) => rust_name.clone(),
            };
            let ty = match &attrs.custom {
                Some(key) => self.custom(&field.ty, key, &rust_name, scope),
                None => self.describe(&field.ty, scope),
            };
            let written = if attrs.skip_serializing {
                Written::Never
            } else if attrs.skip_serializing_if {
                Written::Sometimes
            } else {
                Written::Always
            };
            let read = !attrs.skip_deserializing;
            let required = written == Written::Always
                && read
                && !attrs.default
                && !container_default
                && !matches!(ty, TypeRef::Option(_));
            described.push(Field {
                rust_name,
                json_name,
                aliases: attrs.aliases,
                ty,
                docs: crate::attr::docs(&field.attrs),
                required,
                flatten: attrs.flatten,
                written,
                read,
            });
        }
        described
    }

    /// Describes the fields of a tuple struct or variant that are written.
    fn unnamed_fields(&mut self, fields: &syn::FieldsUnnamed, scope: &Scope) -> Vec<TypeRef> {
        let mut types = Vec::new();
        for (position, field) in fields.unnamed.iter().enumerate() {
            let attrs = match FieldAttrs::from_attributes(&field.attrs) {
                Ok(attrs) => attrs,
                Err(error) => {
                    self.push_syn_error(scope.file, &error);
                    FieldAttrs::default()
                }
            };
            if attrs.skip_serializing {
                continue;
            }
            let ty = match &attrs.custom {
                Some(key) => self.custom(&field.ty, key, &position.to_string(), scope),
                None => self.describe(&field.ty, scope),
            };
            types.push(ty);
        }
        types
    }

    fn enum_body(
        &mut self,
        item: &syn::ItemEnum,
        container: &ContainerAttrs,
        scope: &Scope,
    ) -> EnumBody {
        let mut variants = Vec::new();
        for variant in &item.variants {
            let attrs = match VariantAttrs::from_attributes(&variant.attrs) {
                Ok(attrs) => attrs,
                Err(error) => {
                    self.push_syn_error(scope.file, &error);
                    VariantAttrs::default()
                }
            };
            if attrs.skip_serializing {
                continue;
            }
            let rust_name = variant.ident.unraw().to_string();
            let json_name = match (&attrs.rename, container.rename_all) {
                (Some(name), _) => name.clone(),
                (None, Some(rule)) => rule.apply_to_variant(&rust_name),
                (None, None) => rust_name.clone(),
            };
            let body = match (&variant.fields, &attrs.custom) {
                (Fields::Unit, _) => VariantBody::Unit,
                (_, Some(key)) => {
                    let text = format!("{}::{rust_name}", item.ident.unraw());
                    self.warn(
                        scope.file,
                        variant.ident.span(),
                        &text,
                        &format!(
                            "variant `{text}` uses `{key}`, so its JSON is decided by custom \
                             code"
                        ),
                    );
                    VariantBody::Newtype(TypeRef::Opaque(text))
                }
                (Fields::Named(_), None) => VariantBody::Struct(StructBody {
                    fields: self.named_fields(
                        &variant.fields,
                        attrs.rename_all.or(container.rename_all_fields),
                        false,
                        scope,
                    ),
                    deny_unknown_fields: container.deny_unknown_fields,
                }),
                (Fields::Unnamed(unnamed), None) => {
                    let mut types = self.unnamed_fields(unnamed, scope);
                    if unnamed.unnamed.len() == 1 {
                        match types.pop() {
                            Some(ty) => VariantBody::Newtype(ty),
                            None => VariantBody::Unit,
                        }
                    } else {
                        VariantBody::Tuple(types)
                    }
                }
            };
            variants.push(Variant {
                rust_name,
                json_name,
                aliases: attrs.aliases,
                docs: crate::attr::docs(&variant.attrs),
                body,
                untagged: attrs.untagged,
                other: attrs.other,
                read: !attrs.skip_deserializing,
            });
        }
        EnumBody {
            tagging: container.tagging(),
            variants,
        }
    }

    /// Describes a field whose JSON custom code decides, with a warning.
    fn custom(&mut self, ty: &Type, key: &str, field: &str, scope: &Scope) -> TypeRef {
        let text = type_text(ty);
        let reason = format!(
            "field `{field}` uses `{key}`, so its JSON is decided by custom code, not by the \
             type `{text}`"
        );
        self.warn(
            scope.file,
            type_span(ty),
            &format!("{field}: {text}"),
            &reason,
        );
        TypeRef::Opaque(text)
    }

    /// Describes the type `ty`, written in `scope`.
    pub(crate) fn describe(&mut self, ty: &Type, scope: &Scope) -> TypeRef {
        match ty {
            Type::Group(group) => self.describe(&group.elem, scope),
            Type::Paren(paren) => self.describe(&paren.elem, scope),
            Type::Reference(reference) => self.describe(&reference.elem, scope),
            Type::Slice(slice) => TypeRef::Seq {
                item: Box::new(self.describe(&slice.elem, scope)),
                unique: false,
            },
            Type::Array(array) => {
                let item = Box::new(self.describe(&array.elem, scope));
                match array_len(&array.len) {
                    Some(len) => TypeRef::Array { item, len },
                    None => TypeRef::Seq {
                        item,
                        unique: false,
                    },
                }
            }
            Type::Tuple(tuple) if tuple.elems.is_empty() => TypeRef::Unit,
            Type::Tuple(tuple) => TypeRef::Tuple(
                tuple
                    .elems
                    .iter()
                    .map(|elem| self.describe(elem, scope))
                    .collect(),
            ),
            Type::Path(path) => self.describe_path(path, scope),
            other => {
                let text = type_text(other);
                self.opaque(scope, type_span(other), text, "it is not a data type")
            }
        }
    }

    fn describe_path(&mut self, type_path: &TypePath, scope: &Scope) -> TypeRef {
        let text = type_text(&Type::Path(type_path.clone()));
        let span = type_span(&Type::Path(type_path.clone()));
        if type_path.qself.is_some() {
            return self.opaque(scope, span, text, "it is a qualified path");
        }
        let path = &type_path.path;
        let segments: Vec<String> = path
            .segments
            .iter()
            .map(|segment| segment.ident.unraw().to_string())
            .collect();
        let args: Vec<&Type> = match path.segments.last().map(|segment| &segment.arguments) {
            Some(PathArguments::AngleBracketed(arguments)) => arguments
                .args
                .iter()
                .filter_map(|arg| match arg {
                    GenericArgument::Type(ty) => Some(ty),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        if let [only] = segments.as_slice()
            && path.leading_colon.is_none()
        {
            if let Some(bound) = scope.params.get(only) {
                return bound.clone();
            }
            if only == "Self" {
                return self.opaque(scope, span, text, "`Self` is not followed");
            }
        }

        let use_path = UsePath {
            leading_colon: path.leading_colon.is_some(),
            segments: segments.clone(),
        };
        match self.index.resolve(scope.module, &use_path) {
            Lookup::Found(Target::Type(item)) => {
                self.describe_local(&item, &args, scope, span, text)
            }
            Lookup::Found(Target::External(full)) => {
                self.describe_external(&full, &args, scope, span)
            }
            Lookup::Found(Target::Module(_)) => {
                self.errors.push(self.source_error(
                    scope.file,
                    span,
                    format!("`{text}` names a module, not a type"),
                ));
                TypeRef::Opaque(text)
            }
            Lookup::Missing(reason) => {
                self.errors.push(self.source_error(
                    scope.file,
                    span,
                    format!("cannot resolve type `{text}`: {reason}"),
                ));
                TypeRef::Opaque(text)
            }
            Lookup::Unknown => match self.builtin(&segments[segments.len() - 1], &args, scope) {
                Some(described) if segments.len() == 1 => described,
                _ => self.opaque(
                    scope,
                    span,
                    text,
                    "it is neither defined nor imported by name in the scanned crate",
                ),
            },
        }
    }

    fn describe_local(
        &mut self,
        item: &TypeItem<'a>,
        args: &[&Type],
        scope: &Scope,
        span: proc_macro2::Span,
        text: String,
    ) -> TypeRef {
        if scope.depth >= MAX_INSTANTIATION_DEPTH {
            return self.opaque(
                scope,
                span,
                text,
                "its generic instantiations nest too deep",
            );
        }
        let described: Vec<TypeRef> = args.iter().map(|arg| self.describe(arg, scope)).collect();
        match item.kind {
            TypeItemKind::Alias(alias) => {
                let params = bind_params(&alias.generics, Some(&described));
                let alias_scope = Scope {
                    module: &item.module,
                    file: item.file,
                    params: &params,
                    depth: scope.depth + 1,
                };
                self.describe(&alias.ty, &alias_scope)
            }
            TypeItemKind::Struct(_) | TypeItemKind::Enum(_) => {
                self.describe_item(item, Some(described), scope.depth + 1)
            }
        }
    }

    fn describe_external(
        &mut self,
        full: &[String],
        args: &[&Type],
        scope: &Scope,
        span: proc_macro2::Span,
    ) -> TypeRef {
        let joined = full.join("::");
        let first = full.first().map(String::as_str).unwrap_or_default();
        let last = full.last().map(String::as_str).unwrap_or_default();
        if matches!(first, "std" | "core" | "alloc")
            && let Some(described) = self.builtin(last, args, scope)
        {
            return described;
        }
        if first == "serde_json" {
            match last {
                "Value" => return TypeRef::Any,
                "Map" => {
                    return TypeRef::Map {
                        key: Box::new(TypeRef::String { format: None }),
                        value: Box::new(TypeRef::Any),
                    };
                }
                _ => {}
            }
        }
        self.opaque(
            scope,
            span,
            joined,
            "it is defined outside the scanned crate",
        )
    }

    /// Describes a standard-library type by its name, or returns `None` for a name this
    /// function does not know or generic arguments it does not expect.
    fn builtin(&mut self, name: &str, args: &[&Type], scope: &Scope) -> Option<TypeRef> {
        let string = |format| Some(TypeRef::String { format });
        if let Some(ty) = IntegerType::from_name(name) {
            return Some(TypeRef::Integer { ty, nonzero: false });
        }
        if let Some(integer) = name.strip_prefix("NonZero")
            && let Some(ty) = IntegerType::from_name(&integer.to_ascii_lowercase())
        {
            return Some(TypeRef::Integer { ty, nonzero: true });
        }
        let described = match (name, args) {
            ("bool", []) => TypeRef::Bool,
            ("char", []) => TypeRef::Char,
            ("f32", []) => TypeRef::Float("f32"),
            ("f64", []) => TypeRef::Float("f64"),
            (
                "str" | "String" | "PathBuf" | "Path" | "IpAddr" | "SocketAddr" | "SocketAddrV4"
                | "SocketAddrV6",
                [],
            ) => return string(None),
            ("Ipv4Addr", []) => return string(Some("ipv4")),
            ("Ipv6Addr", []) => return string(Some("ipv6")),
            ("PhantomData", _) => TypeRef::Unit,
            ("Duration", []) => TypeRef::Object(vec![
                ("secs".to_owned(), unsigned(IntegerType::U64)),
                ("nanos".to_owned(), unsigned(IntegerType::U32)),
            ]),
            ("SystemTime", []) => TypeRef::Object(vec![
                ("secs_since_epoch".to_owned(), unsigned(IntegerType::U64)),
                ("nanos_since_epoch".to_owned(), unsigned(IntegerType::U32)),
            ]),
            ("Option", [inner]) => TypeRef::Option(Box::new(self.describe(inner, scope))),
            ("Vec" | "VecDeque" | "LinkedList" | "BinaryHeap", [inner]) => TypeRef::Seq {
                item: Box::new(self.describe(inner, scope)),
                unique: false,
            },
            ("HashSet" | "BTreeSet", [inner, ..]) => TypeRef::Seq {
                item: Box::new(self.describe(inner, scope)),
                unique: true,
            },
            ("HashMap" | "BTreeMap", [key, value, ..]) => TypeRef::Map {
                key: Box::new(self.describe(key, scope)),
                value: Box::new(self.describe(value, scope)),
            },
            ("Result", [ok, err]) => TypeRef::Result {
                ok: Box::new(self.describe(ok, scope)),
                err: Box::new(self.describe(err, scope)),
            },
            (
                "Box" | "Rc" | "Arc" | "Cow" | "Cell" | "RefCell" | "Mutex" | "RwLock" | "Reverse"
                | "Wrapping" | "Saturating",
                [inner],
            ) => self.describe(inner, scope),
            _ => return None,
        };
        Some(described)
    }

    /// Returns [`TypeRef::Opaque`] for `text`, and warns about the type once.
    fn opaque(
        &mut self,
        scope: &Scope,
        span: proc_macro2::Span,
        text: String,
        reason: &str,
    ) -> TypeRef {
        let message = format!(
            "type `{text}` is not described because {reason}; the catalog shows it as an \
             opaque value"
        );
        self.warn(scope.file, span, &text, &message);
        TypeRef::Opaque(text)
    }

    /// Records the warning `message` at `span`, unless one was recorded for `subject`.
    fn warn(&mut self, file: usize, span: proc_macro2::Span, subject: &str, message: &str) {
        if self.warned.insert(subject.to_owned()) {
            let location = self.source_error(file, span, message.to_owned());
            self.warnings.push(location.to_string());
        }
    }

    pub(crate) fn source_error(
        &self,
        file: usize,
        span: proc_macro2::Span,
        message: String,
    ) -> SourceError {
        SourceError::at(self.files[file].display.clone().into(), span, message)
    }

    pub(crate) fn push_syn_error(&mut self, file: usize, error: &syn::Error) {
        let path = self.files[file].display.clone().into();
        self.errors.extend(SourceError::from_syn(path, error));
    }
}

fn unsigned(ty: IntegerType) -> TypeRef {
    TypeRef::Integer { ty, nonzero: false }
}

/// Maps the type parameters of `generics` to `args`, or to [`TypeRef::Param`] when `args`
/// is `None` or too short.
fn bind_params(generics: &syn::Generics, args: Option<&[TypeRef]>) -> HashMap<String, TypeRef> {
    generics
        .type_params()
        .enumerate()
        .map(|(position, param)| {
            let name = param.ident.unraw().to_string();
            let bound = args
                .and_then(|args| args.get(position).cloned())
                .unwrap_or_else(|| TypeRef::Param(name.clone()));
            (name, bound)
        })
        .collect()
}

/// Returns the length of `[T; N]` when `N` is an integer literal.
fn array_len(len: &Expr) -> Option<u64> {
    match len {
        Expr::Lit(literal) => match &literal.lit {
            Lit::Int(int) => int.base10_parse().ok(),
            _ => None,
        },
        Expr::Group(group) => array_len(&group.expr),
        _ => None,
    }
}

/// Returns the span of the first token of `ty`, where messages point.
fn type_span(ty: &Type) -> proc_macro2::Span {
    quote::ToTokens::to_token_stream(ty)
        .into_iter()
        .next()
        .map_or_else(proc_macro2::Span::call_site, |token| token.span())
}

/// Returns a name for `ty` that is valid in a `$defs` key, for the keys of generic
/// instantiations.
pub(crate) fn short_name(ty: &TypeRef) -> String {
    match ty {
        TypeRef::Bool => "bool".to_owned(),
        TypeRef::Char => "char".to_owned(),
        TypeRef::String { .. } => "String".to_owned(),
        TypeRef::Integer { ty, nonzero: false } => ty.rust_name().to_owned(),
        TypeRef::Integer { ty, nonzero: true } => {
            let name = ty.rust_name();
            format!("NonZero{}{}", name[..1].to_ascii_uppercase(), &name[1..])
        }
        TypeRef::Float(name) => (*name).to_owned(),
        TypeRef::Unit => "unit".to_owned(),
        TypeRef::Option(inner) => format!("Option_{}", short_name(inner)),
        TypeRef::Seq { item, .. } | TypeRef::Array { item, .. } => {
            format!("Vec_{}", short_name(item))
        }
        TypeRef::Tuple(items) => {
            let names: Vec<String> = items.iter().map(short_name).collect();
            format!("Tuple_{}", names.join("_"))
        }
        TypeRef::Map { key, value } => format!("Map_{}_{}", short_name(key), short_name(value)),
        TypeRef::Result { ok, err } => format!("Result_{}_{}", short_name(ok), short_name(err)),
        TypeRef::Object(_) => "Object".to_owned(),
        TypeRef::Any => "Value".to_owned(),
        TypeRef::Named(key) => key.replace('.', "_"),
        TypeRef::Param(name) => name.clone(),
        TypeRef::Opaque(path) => path
            .rsplit("::")
            .next()
            .unwrap_or(path)
            .chars()
            .filter(|ch| ch.is_alphanumeric() || *ch == '_')
            .collect(),
    }
}
