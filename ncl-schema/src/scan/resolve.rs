//! Name resolution: which item of the scanned crate, or which external path, a path
//! written in a module names.
//!
//! The rules follow Rust 2018 and later, without visibility: a path starts at `crate`,
//! `self`, `super`, `::` (an external crate), or a name that the module defines, declares as
//! a child module or imports with `use` (explicitly, then through globs). A first segment
//! that names none of these is an external crate, such as `std` or `chrono`.

use super::index::{Index, TypeItem, UsePath};

/// Depth at which resolution gives up, which breaks cycles of imports.
const MAX_DEPTH: usize = 32;

/// The module, type or external path that a path names.
#[derive(Clone)]
pub(crate) enum Target<'a> {
    /// A module of the scanned crate, by path without `crate`.
    Module(Vec<String>),
    /// A struct, enum or type alias of the scanned crate.
    Type(TypeItem<'a>),
    /// A path into another crate, with every segment.
    External(Vec<String>),
}

/// The result of resolving a path.
pub(crate) enum Lookup<'a> {
    Found(Target<'a>),
    /// The path leads into the scanned crate, but the named item is not there. The string
    /// is the module path and the missing name, for the error message.
    Missing(String),
    /// A one-segment path that names nothing in scope, such as a prelude type.
    Unknown,
}

impl<'a> Index<'a> {
    /// Resolves `path`, written in a type in `module`.
    pub(crate) fn resolve(&self, module: &[String], path: &UsePath) -> Lookup<'a> {
        self.resolve_in(module, path, false, 0)
    }

    /// Resolves `path`; `is_use` makes an unknown one-segment path an external crate, as
    /// in `use serde;`.
    fn resolve_in(
        &self,
        module: &[String],
        path: &UsePath,
        is_use: bool,
        depth: usize,
    ) -> Lookup<'a> {
        let Some((first, rest)) = path.segments.split_first() else {
            return Lookup::Unknown;
        };
        if depth > MAX_DEPTH {
            return Lookup::Unknown;
        }
        if path.leading_colon {
            return Lookup::Found(Target::External(path.segments.clone()));
        }
        let mut current = match first.as_str() {
            "crate" => Target::Module(Vec::new()),
            "self" => Target::Module(module.to_vec()),
            "super" => Target::Module(parent(module)),
            name => match self.lookup_name(module, name, depth + 1) {
                Some(target) => target,
                None if rest.is_empty() && !is_use => return Lookup::Unknown,
                None => return Lookup::Found(Target::External(path.segments.clone())),
            },
        };
        for segment in rest {
            current = match current {
                Target::Module(module_path) => match segment.as_str() {
                    "super" => Target::Module(parent(&module_path)),
                    "self" => Target::Module(module_path),
                    name => match self.lookup_name(&module_path, name, depth + 1) {
                        Some(target) => target,
                        None => return Lookup::Missing(missing_text(&module_path, name)),
                    },
                },
                Target::External(mut segments) => {
                    segments.push(segment.clone());
                    Target::External(segments)
                }
                // An associated item such as `Job::Id` cannot be resolved without types.
                Target::Type(_) => return Lookup::Unknown,
            };
        }
        Lookup::Found(current)
    }

    /// Returns what `name` names in `module`: a type defined there, a child module, an
    /// explicit import, or a name found through a glob import of a crate module.
    fn lookup_name(&self, module: &[String], name: &str, depth: usize) -> Option<Target<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let entry = self.modules.get(module)?;
        if let Some(item) = entry.types.get(name) {
            return Some(Target::Type(item.clone()));
        }
        if entry.children.contains(name) {
            let mut child = module.to_vec();
            child.push(name.to_owned());
            return Some(Target::Module(child));
        }
        if let Some(path) = entry.imports.get(name) {
            return match self.resolve_in(module, path, true, depth + 1) {
                Lookup::Found(target) => Some(target),
                Lookup::Missing(_) | Lookup::Unknown => None,
            };
        }
        for glob in &entry.globs {
            if let Lookup::Found(Target::Module(glob_module)) =
                self.resolve_in(module, glob, true, depth + 1)
                && let Some(target) = self.lookup_name(&glob_module, name, depth + 1)
            {
                return Some(target);
            }
        }
        None
    }
}

fn parent(module: &[String]) -> Vec<String> {
    module
        .split_last()
        .map(|(_, parent)| parent.to_vec())
        .unwrap_or_default()
}

fn missing_text(module: &[String], name: &str) -> String {
    let mut text = String::from("crate");
    for segment in module {
        text.push_str("::");
        text.push_str(segment);
    }
    format!("no item `{name}` in module `{text}`")
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

    fn path(text: &str) -> UsePath {
        let leading_colon = text.starts_with("::");
        UsePath {
            leading_colon,
            segments: text
                .trim_start_matches("::")
                .split("::")
                .map(str::to_owned)
                .collect(),
        }
    }

    fn describe(lookup: Lookup) -> String {
        match lookup {
            Lookup::Found(Target::Type(item)) => item.rust_path(),
            Lookup::Found(Target::Module(module)) => format!("module {}", module.join("::")),
            Lookup::Found(Target::External(segments)) => {
                format!("external {}", segments.join("::"))
            }
            Lookup::Missing(text) => format!("missing: {text}"),
            Lookup::Unknown => "unknown".to_owned(),
        }
    }

    #[test]
    fn paths_resolve_through_imports() {
        let files = [
            file(
                &[],
                "pub mod cluster; pub use cluster::messages::Heartbeat as Beat;",
            ),
            file(&["cluster"], "pub mod messages; mod node;"),
            file(
                &["cluster", "messages"],
                "pub struct Heartbeat; pub enum JobState { A } pub mod inner { pub struct Deep; }",
            ),
            file(
                &["cluster", "node"],
                "use super::messages::{JobState, inner::*}; use std::collections::HashMap; \
                 use crate::Beat;",
            ),
        ];
        let index = Index::build(&files);
        let node = ["cluster".to_owned(), "node".to_owned()];
        let cases = [
            ("JobState", "crate::cluster::messages::JobState"),
            ("Deep", "crate::cluster::messages::inner::Deep"),
            ("Beat", "crate::cluster::messages::Heartbeat"),
            (
                "super::messages::Heartbeat",
                "crate::cluster::messages::Heartbeat",
            ),
            (
                "crate::cluster::messages::JobState",
                "crate::cluster::messages::JobState",
            ),
            ("HashMap", "external std::collections::HashMap"),
            ("chrono::DateTime", "external chrono::DateTime"),
            ("::uuid::Uuid", "external uuid::Uuid"),
            ("String", "unknown"),
            (
                "crate::cluster::messages::Gone",
                "missing: no item `Gone` in module `crate::cluster::messages`",
            ),
            (
                "super::nothing::X",
                "missing: no item `nothing` in module `crate::cluster`",
            ),
        ];
        for (written, expected) in cases {
            assert_eq!(
                describe(index.resolve(&node, &path(written))),
                expected,
                "{written}"
            );
        }
    }

    #[test]
    fn import_cycles_end() {
        let files = [file(
            &[],
            "mod a { pub use super::b::X; } mod b { pub use super::a::X; }",
        )];
        let index = Index::build(&files);
        let a = ["a".to_owned()];
        assert_eq!(describe(index.resolve(&a, &path("X"))), "unknown");
    }
}
