//! Reading and parsing the `.rs` files of a source directory.

use std::fs;
use std::path::{Path, PathBuf};

use crate::builder::{GenerateError, SourceError};

/// One parsed source file.
pub(crate) struct SourceFile {
    /// Path for messages and rendered documents: the source directory as the builder was
    /// given it, joined with the file's path inside it, with `/` separators.
    pub(crate) display: String,
    /// Module path from the crate root, without `crate`: `src/a/b.rs` is `["a", "b"]`.
    pub(crate) module: Vec<String>,
    /// The parsed file.
    pub(crate) ast: syn::File,
}

/// Everything read from a source directory.
pub(crate) struct ReadFiles {
    /// The parsed files, sorted by path.
    pub(crate) files: Vec<SourceFile>,
    /// Every file and directory read, for `cargo:rerun-if-changed`.
    pub(crate) read: Vec<PathBuf>,
}

/// Reads and parses every `.rs` file under `dir`, sorted by path.
///
/// `display_dir` is how `dir` is written in messages, usually as the build script gave it.
///
/// # Errors
///
/// Returns [`GenerateError::Io`] when a directory or file cannot be read, and
/// [`GenerateError::Source`] with every file that does not parse, each located at its
/// first syntax error.
pub(crate) fn read_dir(dir: &Path, display_dir: &str) -> Result<ReadFiles, GenerateError> {
    let mut relative_paths = Vec::new();
    let mut read = vec![dir.to_path_buf()];
    collect(dir, Path::new(""), &mut relative_paths, &mut read)?;
    relative_paths.sort();

    let mut files = Vec::new();
    let mut errors = Vec::new();
    for relative in relative_paths {
        let path = dir.join(&relative);
        let text = fs::read_to_string(&path).map_err(|source| GenerateError::Io {
            path: path.clone(),
            source,
        })?;
        read.push(path);
        let display = display_path(display_dir, &relative);
        match syn::parse_file(&text) {
            Ok(ast) => files.push(SourceFile {
                display,
                module: module_path(&relative),
                ast,
            }),
            Err(error) => errors.extend(SourceError::from_syn(display.into(), &error)),
        }
    }
    if !errors.is_empty() {
        return Err(GenerateError::Source(errors));
    }
    Ok(ReadFiles { files, read })
}

/// Appends the `.rs` files under `dir` to `out`, as paths relative to the source
/// directory, and every directory visited to `read`.
fn collect(
    dir: &Path,
    relative: &Path,
    out: &mut Vec<PathBuf>,
    read: &mut Vec<PathBuf>,
) -> Result<(), GenerateError> {
    let io_error = |source| GenerateError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let entries = fs::read_dir(dir).map_err(io_error)?;
    for entry in entries {
        let entry = entry.map_err(io_error)?;
        let file_type = entry.file_type().map_err(io_error)?;
        let name = entry.file_name();
        let child = relative.join(&name);
        if file_type.is_dir() {
            read.push(entry.path());
            collect(&entry.path(), &child, out, read)?;
        } else if Path::new(&name).extension().is_some_and(|ext| ext == "rs") {
            out.push(child);
        }
    }
    Ok(())
}

/// Returns `display_dir/relative` with `/` separators, whatever the platform.
fn display_path(display_dir: &str, relative: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    let dir = display_dir.trim_end_matches(['/', '\\']);
    if !dir.is_empty() && dir != "." {
        parts.push(dir.replace('\\', "/"));
    }
    parts.extend(
        relative
            .components()
            .map(|component| component.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// Returns the module path that the file layout gives `relative`, a path inside the
/// source directory: `lib.rs`, `main.rs` and `mod.rs` at the top are the crate root,
/// `a/mod.rs` and `a.rs` are `a`, and `a/b.rs` is `a::b`.
///
/// NOTE: a `#[path = "..."]` attribute on a `mod` declaration is not followed, so a file
/// it names gets the module path of its place in the directory.
pub(crate) fn module_path(relative: &Path) -> Vec<String> {
    let mut segments: Vec<String> = relative
        .components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect();
    let Some(file) = segments.pop() else {
        return segments;
    };
    let stem = file.strip_suffix(".rs").unwrap_or(&file);
    let is_root_file = segments.is_empty() && matches!(stem, "lib" | "main");
    if stem != "mod" && !is_root_file {
        segments.push(stem.to_owned());
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_follow_layout() {
        let cases: [(&str, &[&str]); 7] = [
            ("lib.rs", &[]),
            ("main.rs", &[]),
            ("mod.rs", &[]),
            ("cluster/mod.rs", &["cluster"]),
            ("cluster.rs", &["cluster"]),
            ("cluster/messages.rs", &["cluster", "messages"]),
            ("a/lib.rs", &["a", "lib"]),
        ];
        for (path, expected) in cases {
            assert_eq!(module_path(Path::new(path)), expected, "{path}");
        }
    }

    #[test]
    fn display_paths_use_slashes() {
        let relative = Path::new("cluster").join("messages.rs");
        assert_eq!(
            display_path("src", &relative),
            "src/cluster/messages.rs".to_owned()
        );
        assert_eq!(display_path("./", &relative), "cluster/messages.rs");
        assert_eq!(display_path("src/", Path::new("lib.rs")), "src/lib.rs");
    }
}
