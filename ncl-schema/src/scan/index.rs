//! The modules of the scanned crate with the items the scanner needs: type definitions,
//! `use` imports, child modules, payload types and handlers.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{
    Attribute, ImplItem, Item, ItemEnum, ItemImpl, ItemStruct, ItemType, Path, Token, UseTree,
};

use super::files::SourceFile;

/// A `use` path, or a path written in a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsePath {
    /// Whether the path starts with `::`, which names an external crate.
    pub(crate) leading_colon: bool,
    /// The segments, without generic arguments.
    pub(crate) segments: Vec<String>,
}

/// A struct, enum or type alias of the scanned crate.
#[derive(Clone)]
pub(crate) struct TypeItem<'a> {
    pub(crate) kind: TypeItemKind<'a>,
    /// Module that defines the item, without `crate`.
    pub(crate) module: Vec<String>,
    /// Index of the defining file in the scanned files.
    pub(crate) file: usize,
}

#[derive(Clone, Copy)]
pub(crate) enum TypeItemKind<'a> {
    Struct(&'a ItemStruct),
    Enum(&'a ItemEnum),
    Alias(&'a ItemType),
}

impl<'a> TypeItem<'a> {
    pub(crate) fn ident(&self) -> &'a syn::Ident {
        match self.kind {
            TypeItemKind::Struct(item) => &item.ident,
            TypeItemKind::Enum(item) => &item.ident,
            TypeItemKind::Alias(item) => &item.ident,
        }
    }

    pub(crate) fn attrs(&self) -> &'a [Attribute] {
        match self.kind {
            TypeItemKind::Struct(item) => &item.attrs,
            TypeItemKind::Enum(item) => &item.attrs,
            TypeItemKind::Alias(item) => &item.attrs,
        }
    }

    pub(crate) fn generics(&self) -> &'a syn::Generics {
        match self.kind {
            TypeItemKind::Struct(item) => &item.generics,
            TypeItemKind::Enum(item) => &item.generics,
            TypeItemKind::Alias(item) => &item.generics,
        }
    }

    /// Returns the item's path from the crate root, such as `crate::a::Job`.
    pub(crate) fn rust_path(&self) -> String {
        let mut path = String::from("crate");
        for segment in &self.module {
            path.push_str("::");
            path.push_str(segment);
        }
        path.push_str("::");
        path.push_str(&self.ident().unraw().to_string());
        path
    }
}

/// The items of one module that the scanner reads.
#[derive(Default)]
pub(crate) struct Module<'a> {
    /// Structs, enums and type aliases, by identifier.
    pub(crate) types: BTreeMap<String, TypeItem<'a>>,
    /// Names of the child modules declared here, except `#[cfg(test)]` ones.
    pub(crate) children: BTreeSet<String>,
    /// Names brought in by `use`, each with the path it names.
    pub(crate) imports: BTreeMap<String, UsePath>,
    /// Paths of `use path::*` imports.
    pub(crate) globs: Vec<UsePath>,
}

/// An item under a handler attribute.
pub(crate) struct HandlerItem<'a> {
    pub(crate) item: &'a Item,
    pub(crate) attr: &'a Attribute,
    pub(crate) module: Vec<String>,
    pub(crate) file: usize,
}

/// A trait impl with an associated type `Response`, such as
/// `impl ncl::Request for Ping { type Response = Pong; }`. Whether the trait is ncl's
/// `Request` is decided once the index is complete, because it depends on the module's
/// imports.
pub(crate) struct RequestImplItem<'a> {
    pub(crate) item: &'a ItemImpl,
    /// The trait's path as written.
    pub(crate) trait_path: &'a Path,
    pub(crate) module: Vec<String>,
    pub(crate) file: usize,
}

/// Every module of the scanned crate.
pub(crate) struct Index<'a> {
    pub(crate) modules: BTreeMap<Vec<String>, Module<'a>>,
    /// Structs and enums that derive `NclPayload`, in file order.
    pub(crate) payloads: Vec<TypeItem<'a>>,
    pub(crate) handlers: Vec<HandlerItem<'a>>,
    /// Trait impls with an associated type `Response`, in file order.
    pub(crate) request_impls: Vec<RequestImplItem<'a>>,
    /// How many structs, enums and aliases of the crate have each identifier.
    pub(crate) ident_counts: HashMap<String, usize>,
}

impl<'a> Index<'a> {
    /// Indexes `files`, leaving out `#[cfg(test)]` modules and items, and the files of
    /// modules that a `#[cfg(test)] mod name;` declares.
    pub(crate) fn build(files: &'a [SourceFile]) -> Self {
        let mut index = Self {
            modules: BTreeMap::new(),
            payloads: Vec::new(),
            handlers: Vec::new(),
            request_impls: Vec::new(),
            ident_counts: HashMap::new(),
        };
        let mut test_modules = Vec::new();
        for file in files {
            collect_test_modules(&file.ast.items, &file.module, &mut test_modules);
        }
        for (number, file) in files.iter().enumerate() {
            let is_test = test_modules
                .iter()
                .any(|test| file.module.starts_with(test));
            if !is_test {
                index.add_items(&file.ast.items, &file.module, number);
            }
        }
        for module in index.modules.values() {
            for name in module.types.keys() {
                *index.ident_counts.entry(name.clone()).or_default() += 1;
            }
        }
        index
    }

    fn add_items(&mut self, items: &'a [Item], module: &[String], file: usize) {
        let handler_names = handler_aliases(items);
        let entry = self.modules.entry(module.to_vec()).or_default();
        for item in items {
            if let Item::Use(item_use) = item {
                flatten_use(
                    &item_use.tree,
                    item_use.leading_colon.is_some(),
                    &mut Vec::new(),
                    entry,
                );
            }
        }

        for item in items {
            if is_cfg_test(item_attrs(item)) {
                continue;
            }
            let type_kind = match item {
                Item::Struct(item) => Some(TypeItemKind::Struct(item)),
                Item::Enum(item) => Some(TypeItemKind::Enum(item)),
                Item::Type(item) => Some(TypeItemKind::Alias(item)),
                _ => None,
            };
            if let Some(kind) = type_kind {
                let type_item = TypeItem {
                    kind,
                    module: module.to_vec(),
                    file,
                };
                let name = type_item.ident().unraw().to_string();
                if !matches!(kind, TypeItemKind::Alias(_)) && derives_payload(type_item.attrs()) {
                    self.payloads.push(type_item.clone());
                }
                self.module_mut(module).types.insert(name, type_item);
                continue;
            }
            match item {
                Item::Mod(item_mod) => {
                    let name = item_mod.ident.unraw().to_string();
                    self.module_mut(module).children.insert(name.clone());
                    if let Some((_, content)) = &item_mod.content {
                        let mut child = module.to_vec();
                        child.push(name);
                        self.add_items(content, &child, file);
                    }
                }
                Item::Fn(_) | Item::Impl(_) => {
                    let attrs = item_attrs(item);
                    if let Some(attr) = attrs
                        .iter()
                        .find(|attr| is_handler_attr(attr.path(), &handler_names))
                    {
                        self.handlers.push(HandlerItem {
                            item,
                            attr,
                            module: module.to_vec(),
                            file,
                        });
                    }
                    if let Item::Impl(item_impl) = item
                        && let Some((trait_path, _)) = &item_impl.trait_
                        && item_impl.items.iter().any(
                            |impl_item| matches!(impl_item, ImplItem::Type(assoc) if assoc.ident == "Response"),
                        )
                    {
                        self.request_impls.push(RequestImplItem {
                            item: item_impl,
                            trait_path,
                            module: module.to_vec(),
                            file,
                        });
                    }
                }
                _ => {}
            }
        }
    }

    fn module_mut(&mut self, module: &[String]) -> &mut Module<'a> {
        self.modules.entry(module.to_vec()).or_default()
    }
}

/// Appends the path of every module under `module` that `#[cfg(test)] mod name;` or
/// `#[cfg(test)] mod name { ... }` declares.
fn collect_test_modules(items: &[Item], module: &[String], out: &mut Vec<Vec<String>>) {
    for item in items {
        let Item::Mod(item_mod) = item else {
            continue;
        };
        let mut child = module.to_vec();
        child.push(item_mod.ident.unraw().to_string());
        if is_cfg_test(&item_mod.attrs) {
            out.push(child);
        } else if let Some((_, content)) = &item_mod.content {
            collect_test_modules(content, &child, out);
        }
    }
}

/// Adds the names that a `use` tree brings into `module`.
fn flatten_use(tree: &UseTree, leading_colon: bool, prefix: &mut Vec<String>, module: &mut Module) {
    match tree {
        UseTree::Path(path) => {
            prefix.push(path.ident.unraw().to_string());
            flatten_use(&path.tree, leading_colon, prefix, module);
            prefix.pop();
        }
        UseTree::Name(name) => {
            let ident = name.ident.unraw().to_string();
            // `use a::b::{self}` brings in `b`.
            let (alias, segments) = if ident == "self" {
                let Some(last) = prefix.last() else {
                    return;
                };
                (last.clone(), prefix.clone())
            } else {
                let mut segments = prefix.clone();
                segments.push(ident.clone());
                (ident, segments)
            };
            module.imports.entry(alias).or_insert(UsePath {
                leading_colon,
                segments,
            });
        }
        UseTree::Rename(rename) => {
            let alias = rename.rename.unraw().to_string();
            if alias == "_" {
                return;
            }
            let mut segments = prefix.clone();
            let ident = rename.ident.unraw().to_string();
            if ident != "self" {
                segments.push(ident);
            }
            module.imports.entry(alias).or_insert(UsePath {
                leading_colon,
                segments,
            });
        }
        UseTree::Glob(_) => module.globs.push(UsePath {
            leading_colon,
            segments: prefix.clone(),
        }),
        UseTree::Group(group) => {
            for tree in &group.items {
                flatten_use(tree, leading_colon, prefix, module);
            }
        }
    }
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(item) => &item.attrs,
        Item::Enum(item) => &item.attrs,
        Item::ExternCrate(item) => &item.attrs,
        Item::Fn(item) => &item.attrs,
        Item::ForeignMod(item) => &item.attrs,
        Item::Impl(item) => &item.attrs,
        Item::Macro(item) => &item.attrs,
        Item::Mod(item) => &item.attrs,
        Item::Static(item) => &item.attrs,
        Item::Struct(item) => &item.attrs,
        Item::Trait(item) => &item.attrs,
        Item::TraitAlias(item) => &item.attrs,
        Item::Type(item) => &item.attrs,
        Item::Union(item) => &item.attrs,
        Item::Use(item) => &item.attrs,
        _ => &[],
    }
}

/// Returns whether `attrs` contain exactly `#[cfg(test)]`.
fn is_cfg_test(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| list.tokens.to_string() == "test")
    })
}

/// Returns whether a `#[derive(...)]` in `attrs` names `NclPayload`, by any path.
pub(crate) fn derives_payload(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .filter_map(|attr| {
            attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .any(|path| {
            path.segments
                .last()
                .is_some_and(|segment| segment.ident == "NclPayload")
        })
}

/// Returns the names under which `items` import ncl's `handler` attribute, such as
/// `handler` for `use ncl::handler;`.
fn handler_aliases(items: &[Item]) -> BTreeSet<String> {
    let mut module = Module::default();
    for item in items {
        if let Item::Use(item_use) = item {
            flatten_use(&item_use.tree, false, &mut Vec::new(), &mut module);
        }
    }
    module
        .imports
        .into_iter()
        .filter(|(_, path)| {
            path.segments.ends_with(&["handler".to_owned()])
                && path.segments.iter().any(|segment| segment == "ncl")
        })
        .map(|(alias, _)| alias)
        .collect()
}

/// Returns whether an attribute path names ncl's handler attribute: a path ending in
/// `ncl::handler`, or a name that the module imported it under.
fn is_handler_attr(path: &Path, aliases: &BTreeSet<String>) -> bool {
    let segments: Vec<String> = path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    match segments.as_slice() {
        [name] => aliases.contains(name),
        [.., parent, last] => parent == "ncl" && last == "handler",
        [] => false,
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    #[test]
    fn use_trees_are_flattened() {
        let file: syn::File = parse_quote! {
            use super::messages::{self, Heartbeat as Beat, jobs::*};
            use ::serde::Serialize;
            use crate::{CountingPublisher, typed_handler as _};
        };
        let mut module = Module::default();
        for item in &file.items {
            let Item::Use(item_use) = item else {
                unreachable!("the file has only use items");
            };
            flatten_use(
                &item_use.tree,
                item_use.leading_colon.is_some(),
                &mut Vec::new(),
                &mut module,
            );
        }
        let imports: Vec<(&str, String, bool)> = module
            .imports
            .iter()
            .map(|(alias, path)| (alias.as_str(), path.segments.join("::"), path.leading_colon))
            .collect();
        assert_eq!(
            imports,
            [
                ("Beat", "super::messages::Heartbeat".to_owned(), false),
                (
                    "CountingPublisher",
                    "crate::CountingPublisher".to_owned(),
                    false
                ),
                ("Serialize", "serde::Serialize".to_owned(), true),
                ("messages", "super::messages".to_owned(), false),
            ]
        );
        assert_eq!(module.globs.len(), 1);
        assert_eq!(module.globs[0].segments, ["super", "messages", "jobs"]);
    }

    #[test]
    fn payload_derive_is_found_by_any_path() {
        let plain: ItemStruct = parse_quote!(
            #[derive(Debug, NclPayload)]
            struct A;
        );
        let qualified: ItemStruct = parse_quote!(
            #[derive(ncl::NclPayload, Clone)]
            struct B;
        );
        let other: ItemStruct = parse_quote!(
            #[derive(Debug)]
            #[ncl(name = "C")]
            struct C;
        );
        assert!(derives_payload(&plain.attrs));
        assert!(derives_payload(&qualified.attrs));
        assert!(!derives_payload(&other.attrs));
    }

    #[test]
    fn handler_attribute_needs_ncl() {
        let items: syn::File = parse_quote! {
            use ncl::handler;
            use other::handler as other_handler;
        };
        let aliases = handler_aliases(&items.items);
        assert_eq!(aliases.iter().collect::<Vec<_>>(), ["handler"]);

        let bare: Path = parse_quote!(handler);
        let qualified: Path = parse_quote!(::ncl::handler);
        let reexported: Path = parse_quote!(my_reexports::ncl::handler);
        let foreign: Path = parse_quote!(other_handler);
        let unrelated: Path = parse_quote!(actix::handler);
        assert!(is_handler_attr(&bare, &aliases));
        assert!(is_handler_attr(&qualified, &aliases));
        assert!(is_handler_attr(&reexported, &aliases));
        assert!(!is_handler_attr(&foreign, &aliases));
        assert!(!is_handler_attr(&unrelated, &aliases));
        assert!(!is_handler_attr(&bare, &BTreeSet::new()));
    }

    #[test]
    fn cfg_test_is_recognized() {
        let test: ItemStruct = parse_quote!(
            #[cfg(test)]
            struct A;
        );
        let other: ItemStruct = parse_quote!(
            #[cfg(feature = "x")]
            struct A;
        );
        assert!(is_cfg_test(&test.attrs));
        assert!(!is_cfg_test(&other.attrs));
    }
}
