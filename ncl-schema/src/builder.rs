//! [`Builder`]: scans a crate's sources from a build script and writes the message
//! catalog.

mod error;

use std::collections::{BTreeMap, BTreeSet};
use std::env;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

pub use self::error::{GenerateError, SourceError};
use crate::catalog::{Catalog, Channel, Message};
use crate::render;
use crate::scan;

/// Scans a crate's source files and writes its message catalog: Markdown, one JSON
/// Schema per payload, and an AsyncAPI 3.0 document.
///
/// Relative paths are resolved against the `CARGO_MANIFEST_DIR` environment variable
/// when it is set, as cargo sets it for build scripts and tests, and against the current
/// directory otherwise.
///
/// # Examples
///
/// In `build.rs`, with `ncl-schema` as a build dependency:
///
/// ```no_run
/// // no_run: it reads `src` and writes `docs/` relative to the current package.
/// fn main() {
///     let result = ncl_schema::Builder::new()
///         .source_dir("src")
///         .channel("cluster.{run_id}.node.{node_id}.JobAssigned", ["JobAssigned"])
///         .parameter("run_id", "Identifier of the cluster run.")
///         .markdown("docs/MESSAGES.md")
///         .json_schema("docs/schemas")
///         .asyncapi("docs/asyncapi.json")
///         .generate();
///     if let Err(error) = result {
///         eprintln!("error: {error}");
///         std::process::exit(1);
///     }
/// }
/// ```
#[derive(Debug, Clone)]
#[must_use]
#[allow(
    clippy::needless_doctest_main,
    reason = "the example is a whole build.rs, whose `main` is part of what it shows"
)]
pub struct Builder {
    base_dir: Option<PathBuf>,
    source_dir: PathBuf,
    title: Option<String>,
    version: Option<String>,
    description: Option<String>,
    /// Wire names published on each address, in declaration order.
    channels: Vec<(String, Vec<String>)>,
    parameters: BTreeMap<String, String>,
    markdown: Option<PathBuf>,
    json_schema: Option<PathBuf>,
    asyncapi: Option<PathBuf>,
    cargo_instructions: bool,
    check_only: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// Creates a builder that scans `src` and writes nothing until an output is set.
    pub fn new() -> Self {
        Self {
            base_dir: env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
            source_dir: PathBuf::from("src"),
            title: None,
            version: None,
            description: None,
            channels: Vec::new(),
            parameters: BTreeMap::new(),
            markdown: None,
            json_schema: None,
            asyncapi: None,
            cargo_instructions: true,
            check_only: false,
        }
    }

    /// Sets the directory whose `.rs` files are scanned, recursively. Defaults to `src`.
    ///
    /// Module paths come from the layout below it: `lib.rs`, `main.rs` and `mod.rs` at the
    /// top are the crate root, `a.rs` and `a/mod.rs` are `crate::a`, and `a/b.rs` is
    /// `crate::a::b`.
    pub fn source_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.source_dir = dir.into();
        self
    }

    /// Sets the catalog's title, also the AsyncAPI `info.title`. Defaults to
    /// "`<package>` messages", from the `CARGO_PKG_NAME` environment variable.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the version of the described API, the AsyncAPI `info.version`. Defaults to the
    /// `CARGO_PKG_VERSION` environment variable, or `0.0.0` without it.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets an introduction, written under the Markdown title and into the AsyncAPI
    /// `info.description`.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Declares that the messages with the wire names `messages` are published on the
    /// subject `address`. Tokens that vary are written as `{name}`, such as
    /// `cluster.{run_id}.node.{node_id}.JobAssigned`, and become AsyncAPI channel
    /// parameters. Declaring the same address twice adds to its messages.
    ///
    /// A payload on no declared channel is documented as "Subject: not declared".
    /// [`Builder::generate`] rejects an address that is not a valid subject pattern and a
    /// wire name that no scanned payload has.
    pub fn channel<S: Into<String>>(
        mut self,
        address: impl Into<String>,
        messages: impl IntoIterator<Item = S>,
    ) -> Self {
        let messages = messages.into_iter().map(Into::into).collect();
        self.channels.push((address.into(), messages));
        self
    }

    /// Describes the channel parameter `name`, used as `{name}` in channel addresses.
    pub fn parameter(mut self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.parameters.insert(name.into(), description.into());
        self
    }

    /// Writes the Markdown catalog to `path`.
    pub fn markdown(mut self, path: impl Into<PathBuf>) -> Self {
        self.markdown = Some(path.into());
        self
    }

    /// Writes one JSON Schema per payload into `dir`, named `<wire name>.schema.json`, and
    /// removes the other `*.schema.json` files there, which are left from payloads that no
    /// longer exist.
    pub fn json_schema(mut self, dir: impl Into<PathBuf>) -> Self {
        self.json_schema = Some(dir.into());
        self
    }

    /// Writes the AsyncAPI 3.0 document, in JSON, to `path`.
    pub fn asyncapi(mut self, path: impl Into<PathBuf>) -> Self {
        self.asyncapi = Some(path.into());
        self
    }

    /// Sets whether [`Builder::generate`] prints `cargo:rerun-if-changed` for every file
    /// and directory it read and `cargo:warning` for every warning. Defaults to `true`;
    /// turn it off outside build scripts.
    pub fn cargo_instructions(mut self, enabled: bool) -> Self {
        self.cargo_instructions = enabled;
        self
    }

    /// Sets whether [`Builder::generate`] only compares the outputs with the files on disk
    /// and lists those that differ in [`Generated::stale`], writing and removing nothing.
    /// Defaults to `false`.
    pub fn check_only(mut self, enabled: bool) -> Self {
        self.check_only = enabled;
        self
    }

    /// Scans the sources and returns the catalog, writing and printing nothing.
    ///
    /// # Errors
    ///
    /// Returns the errors of [`Builder::generate`], except those of writing.
    pub fn scan(&self) -> Result<Catalog, GenerateError> {
        self.scan_details().map(|details| details.catalog)
    }

    /// Scans the sources, renders every output that was set, and writes each one whose
    /// content changed.
    ///
    /// With [`Builder::cargo_instructions`] on, it prints `cargo:rerun-if-changed` for
    /// the source directory and every file read, and `cargo:warning` once for each type it
    /// describes as opaque, each handler whose payload or response is not in the catalog,
    /// and each `impl ncl::Request` whose request or response type is not.
    ///
    /// # Errors
    ///
    /// - [`GenerateError::Config`] when no output is set, a channel address is invalid or
    ///   a channel names an unknown wire name;
    /// - [`GenerateError::Source`] with every problem found in the sources, each as
    ///   `file:line:column: message`: syntax errors, `#[ncl]` and `#[ncl::handler]`
    ///   mistakes, serde attributes that do not parse, paths into the crate that name
    ///   nothing (`crate::missing::Type`), two payloads with one wire name, a request type
    ///   given two response types, and a payload named `BacError` in a crate with request
    ///   types;
    /// - [`GenerateError::Io`] when a file cannot be read or written.
    pub fn generate(&self) -> Result<Generated, GenerateError> {
        if self.markdown.is_none() && self.json_schema.is_none() && self.asyncapi.is_none() {
            return Err(GenerateError::Config(
                "no output is set; call `markdown`, `json_schema` or `asyncapi` on the builder"
                    .to_owned(),
            ));
        }
        let details = self.scan_details()?;
        let mut generated = Generated {
            written: Vec::new(),
            unchanged: Vec::new(),
            removed: Vec::new(),
            stale: Vec::new(),
            warnings: details.warnings,
            read: details.read,
        };
        for (path, content) in self.render_outputs(&details.catalog) {
            self.output(&path, &content, &mut generated)?;
        }
        if let Some(dir) = &self.json_schema {
            let expected: BTreeSet<String> = details
                .catalog
                .messages
                .iter()
                .map(render::schema_file_name)
                .collect();
            self.remove_stale_schemas(&self.resolve(dir), &expected, &mut generated)?;
        }

        if self.cargo_instructions {
            for path in &generated.read {
                println!("cargo:rerun-if-changed={}", path.display());
            }
            for warning in &generated.warnings {
                println!("cargo:warning={warning}");
            }
            for path in &generated.stale {
                println!(
                    "cargo:warning={} is out of date; it was left unchanged because only \
                     checking was requested",
                    path.display()
                );
            }
        }
        Ok(generated)
    }

    fn scan_details(&self) -> Result<ScanDetails, GenerateError> {
        let source_dir = self.resolve(&self.source_dir);
        let display_dir = self.source_dir.to_string_lossy().replace('\\', "/");
        let scanned = scan::scan(&source_dir, &display_dir)?;
        let channels = self.checked_channels(&scanned.messages)?;
        let package = env::var("CARGO_PKG_NAME").ok();
        let title = self.title.clone().unwrap_or_else(|| match &package {
            Some(package) => format!("{package} messages"),
            None => "Messages".to_owned(),
        });
        let version = self
            .version
            .clone()
            .or_else(|| env::var("CARGO_PKG_VERSION").ok())
            .unwrap_or_else(|| "0.0.0".to_owned());
        let catalog = Catalog {
            title,
            version,
            description: self.description.clone(),
            messages: scanned.messages,
            types: scanned.types,
            handlers: scanned.handlers,
            channels,
            parameters: self.parameters.clone(),
        };
        Ok(ScanDetails {
            catalog,
            read: scanned.read,
            warnings: scanned.warnings,
        })
    }

    /// Checks the declared channels against the scanned messages and returns them sorted
    /// by address.
    fn checked_channels(&self, messages: &[Message]) -> Result<Vec<Channel>, GenerateError> {
        let mut merged: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (address, names) in &self.channels {
            merged
                .entry(address)
                .or_default()
                .extend(names.iter().map(String::as_str));
        }
        let known: BTreeSet<&str> = messages
            .iter()
            .map(|message| message.wire_name.as_str())
            .collect();
        let mut channels = Vec::new();
        let mut ids = BTreeSet::new();
        for (address, names) in merged {
            let parameters = parse_address(address).map_err(|reason| {
                GenerateError::Config(format!("invalid channel address {address:?}: {reason}"))
            })?;
            if names.is_empty() {
                return Err(GenerateError::Config(format!(
                    "channel {address:?} names no messages; pass the wire names published on it"
                )));
            }
            for name in &names {
                if !known.contains(name) {
                    let listed: Vec<String> =
                        known.iter().map(|name| format!("`{name}`")).collect();
                    let listed = if listed.is_empty() {
                        "none were found".to_owned()
                    } else {
                        format!("the scanned payloads are {}", listed.join(", "))
                    };
                    return Err(GenerateError::Config(format!(
                        "channel {address:?} names the message `{name}`, which no \
                         #[derive(NclPayload)] type in the source directory has as its wire \
                         name; {listed}"
                    )));
                }
            }
            let base = channel_id(address);
            let mut id = base.clone();
            let mut number = 2;
            while !ids.insert(id.clone()) {
                id = format!("{base}_{number}");
                number += 1;
            }
            channels.push(Channel {
                id,
                address: address.to_owned(),
                parameters,
                messages: names.into_iter().map(str::to_owned).collect(),
            });
        }
        Ok(channels)
    }

    /// Renders each output that was set, paired with its resolved path.
    fn render_outputs(&self, catalog: &Catalog) -> Vec<(PathBuf, String)> {
        let mut outputs = Vec::new();
        if let Some(path) = &self.markdown {
            let schema_dir = self
                .json_schema
                .as_deref()
                .and_then(|dir| relative_dir(path, dir));
            outputs.push((
                self.resolve(path),
                render::markdown(catalog, schema_dir.as_deref()),
            ));
        }
        if let Some(dir) = &self.json_schema {
            let dir = self.resolve(dir);
            for message in &catalog.messages {
                let path = dir.join(render::schema_file_name(message));
                outputs.push((path, render::json_schema(catalog, message)));
            }
        }
        if let Some(path) = &self.asyncapi {
            outputs.push((self.resolve(path), render::asyncapi(catalog)));
        }
        outputs
    }

    fn output(
        &self,
        path: &Path,
        content: &str,
        generated: &mut Generated,
    ) -> Result<(), GenerateError> {
        let io_error = |source| GenerateError::Io {
            path: path.to_path_buf(),
            source,
        };
        let current = match fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(io_error(error)),
        };
        if current.as_deref() == Some(content.as_bytes()) {
            generated.unchanged.push(path.to_path_buf());
        } else if self.check_only {
            generated.stale.push(path.to_path_buf());
        } else {
            write_atomically(path, content).map_err(io_error)?;
            generated.written.push(path.to_path_buf());
        }
        Ok(())
    }

    fn remove_stale_schemas(
        &self,
        dir: &Path,
        expected: &BTreeSet<String>,
        generated: &mut Generated,
    ) -> Result<(), GenerateError> {
        let io_error = |source| GenerateError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(io_error(error)),
        };
        let mut stale = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".schema.json") && !expected.contains(&name) {
                stale.push(entry.path());
            }
        }
        stale.sort();
        for path in stale {
            if self.check_only {
                generated.stale.push(path);
            } else {
                fs::remove_file(&path).map_err(|source| GenerateError::Io {
                    path: path.clone(),
                    source,
                })?;
                generated.removed.push(path);
            }
        }
        Ok(())
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        match &self.base_dir {
            Some(base) => base.join(path),
            None => path.to_path_buf(),
        }
    }
}

/// The outcome of [`Builder::generate`]: the files it wrote, left alone or removed.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Generated {
    /// Outputs written because their content changed or they did not exist.
    pub written: Vec<PathBuf>,
    /// Outputs left alone because their content was already current.
    pub unchanged: Vec<PathBuf>,
    /// Schema files removed because no payload has their name any more.
    pub removed: Vec<PathBuf>,
    /// With [`Builder::check_only`]: outputs that differ from what would be written, and
    /// schema files that would be removed.
    pub stale: Vec<PathBuf>,
    /// Warnings, each as `file:line:column: message`.
    pub warnings: Vec<String>,
    /// Every file and directory read.
    pub read: Vec<PathBuf>,
}

struct ScanDetails {
    catalog: Catalog,
    read: Vec<PathBuf>,
    warnings: Vec<String>,
}

/// Writes `content` to a temporary file beside `path` and renames it over `path`, so that
/// a reader never sees a half-written file. Creates the parent directories.
fn write_atomically(path: &Path, content: &str) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.tmp"));
    fs::write(&temporary, content)?;
    fs::rename(&temporary, path)
}

/// Returns the names of the `{parameters}` in a subject pattern, or why it is invalid.
fn parse_address(address: &str) -> Result<Vec<String>, String> {
    if address.is_empty() {
        return Err("it is empty".to_owned());
    }
    if address.chars().any(char::is_whitespace) {
        return Err("subjects cannot contain whitespace".to_owned());
    }
    let mut parameters = Vec::new();
    for token in address.split('.') {
        if token.is_empty() {
            return Err("it has an empty token; separate tokens with one `.`".to_owned());
        }
        let mut rest = token;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err("it has a `}` without a matching `{`".to_owned());
            }
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err("it has a `{` without a matching `}`".to_owned());
            };
            let name = &after[..close];
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
            if !valid {
                return Err(format!(
                    "parameter name {name:?} is not made of ASCII letters, digits, `_` and `-`"
                ));
            }
            if !parameters.iter().any(|existing| existing == name) {
                parameters.push(name.to_owned());
            }
            rest = &after[close + 1..];
        }
    }
    Ok(parameters)
}

/// Returns the AsyncAPI channel key for `address`: letters, digits, `_` and `-` kept,
/// `.` turned into `_`, braces dropped, and the wildcards `*` and `>` spelt `any` and
/// `rest`.
fn channel_id(address: &str) -> String {
    let mut id = String::new();
    for ch in address.chars() {
        match ch {
            '{' | '}' => {}
            '*' => id.push_str("any"),
            '>' => id.push_str("rest"),
            ch if ch.is_ascii_alphanumeric() || ch == '_' || ch == '-' => id.push(ch),
            _ => id.push('_'),
        }
    }
    id
}

/// Returns the path of `dir` relative to the directory of the file `file`, with `/`
/// separators, when `dir` lies inside it.
fn relative_dir(file: &Path, dir: &Path) -> Option<String> {
    let base = file.parent().unwrap_or(Path::new(""));
    let relative = dir.strip_prefix(base).ok()?;
    let parts: Vec<String> = relative
        .components()
        .filter(|component| !matches!(component, Component::CurDir))
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_give_parameters() {
        assert_eq!(
            parse_address("cluster.{run_id}.node.{node_id}.JobAssigned").unwrap(),
            ["run_id", "node_id"]
        );
        assert_eq!(parse_address("a.b-{x}.{x}").unwrap(), ["x"]);
        assert!(parse_address("orders.>").unwrap().is_empty());
    }

    #[test]
    fn invalid_addresses_are_rejected() {
        let cases = [
            ("", "it is empty"),
            ("a b", "subjects cannot contain whitespace"),
            (
                "a..b",
                "it has an empty token; separate tokens with one `.`",
            ),
            ("a.{b", "it has a `{` without a matching `}`"),
            ("a.b}", "it has a `}` without a matching `{`"),
            (
                "a.{}",
                "parameter name \"\" is not made of ASCII letters, digits, `_` and `-`",
            ),
            (
                "a.{b/c}",
                "parameter name \"b/c\" is not made of ASCII letters, digits, `_` and `-`",
            ),
        ];
        for (address, reason) in cases {
            assert_eq!(parse_address(address).unwrap_err(), reason, "{address:?}");
        }
    }

    #[test]
    fn channel_ids_are_keys() {
        assert_eq!(
            channel_id("cluster.{run_id}.node.{node_id}.JobAssigned"),
            "cluster_run_id_node_node_id_JobAssigned"
        );
        assert_eq!(channel_id("orders.*.>"), "orders_any_rest");
    }

    #[test]
    fn schema_dir_is_relative_to_markdown() {
        let relative = relative_dir(Path::new("docs/MESSAGES.md"), Path::new("docs/schemas"));
        assert_eq!(relative.as_deref(), Some("schemas"));
        let same = relative_dir(Path::new("MESSAGES.md"), Path::new("schemas"));
        assert_eq!(same.as_deref(), Some("schemas"));
        assert_eq!(
            relative_dir(Path::new("docs/M.md"), Path::new("other")),
            None
        );
    }
}
