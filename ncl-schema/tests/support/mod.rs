//! Helpers shared by the builder tests: a crate's sources written to a temporary
//! directory, and JSON reference checks.

#![allow(
    dead_code,
    reason = "each test file compiles this module and uses only some of its helpers"
)]

use std::fs;
use std::path::{Path, PathBuf};

use ncl_schema::{Builder, Catalog, GenerateError, SourceError};
use serde_json::Value;

/// A crate's `src` directory in a temporary directory, removed on drop.
pub(crate) struct Sources {
    dir: tempfile::TempDir,
}

impl Sources {
    /// Writes `files`, each a path under `src` and its text.
    pub(crate) fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (path, text) in files {
            let path = dir.path().join("src").join(path);
            fs::create_dir_all(path.parent().expect("files have a parent"))
                .expect("source directory");
            fs::write(&path, text).expect("source file");
        }
        Self { dir }
    }

    pub(crate) fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    pub(crate) fn docs(&self) -> PathBuf {
        self.dir.path().join("docs")
    }

    pub(crate) fn builder(&self) -> Builder {
        Builder::new()
            .source_dir(self.src())
            .cargo_instructions(false)
            .version("1.0.0")
    }

    /// Returns a builder with all three outputs under `docs`.
    pub(crate) fn full_builder(&self) -> Builder {
        self.builder()
            .markdown(self.docs().join("MESSAGES.md"))
            .json_schema(self.docs().join("schemas"))
            .asyncapi(self.docs().join("asyncapi.json"))
    }

    pub(crate) fn scan(&self) -> Catalog {
        self.builder()
            .scan()
            .unwrap_or_else(|error| panic!("the sources should scan: {error}"))
    }

    pub(crate) fn source_errors(&self) -> Vec<SourceError> {
        match self.builder().scan() {
            Err(GenerateError::Source(errors)) => errors,
            Err(other) => panic!("expected source errors, got {other}"),
            Ok(catalog) => panic!(
                "expected source errors, got {} messages",
                catalog.messages.len()
            ),
        }
    }
}

pub(crate) fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).expect("output exists");
    serde_json::from_str(&text).expect("output is JSON")
}

/// Resolves a local JSON pointer reference such as `#/components/schemas/Job`.
pub(crate) fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    document.pointer(pointer)
}

/// Collects every `$ref` value in `value`.
pub(crate) fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if key == "$ref"
                    && let Value::String(reference) = item
                {
                    out.push(reference.clone());
                }
                references(item, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                references(item, out);
            }
        }
        _ => {}
    }
}
