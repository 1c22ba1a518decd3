//! Errors of [`Builder::generate`](crate::Builder::generate) and
//! [`Builder::scan`](crate::Builder::scan).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Error returned when the catalog cannot be built or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum GenerateError {
    /// A file or directory could not be read or written.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error of the operation.
        source: io::Error,
    },
    /// Source files contain errors: syntax that does not parse, `#[ncl]` or
    /// `#[ncl::handler]` mistakes that the macros would reject too, serde attributes that
    /// do not parse, paths into the crate that name nothing, a wire name used twice, a
    /// request type given two response types, and a payload named `BacError` in a crate
    /// with request types.
    Source(Vec<SourceError>),
    /// The builder's configuration is invalid, such as a channel that names an unknown
    /// payload.
    Config(String),
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => {
                write!(f, "failed to access {}: {source}", path.display())
            }
            Self::Source(errors) => {
                let count = errors.len();
                let noun = if count == 1 { "error" } else { "errors" };
                write!(f, "{count} {noun} in the scanned sources:")?;
                for error in errors {
                    write!(f, "\n{error}")?;
                }
                Ok(())
            }
            Self::Config(message) => write!(f, "invalid catalog configuration: {message}"),
        }
    }
}

impl std::error::Error for GenerateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Source(_) | Self::Config(_) => None,
        }
    }
}

/// One problem in a source file, with its location.
///
/// Its `Display` is `file:line:column: message`, the form that editors and terminals turn
/// into a link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceError {
    /// The file, as the builder was given its source directory.
    pub path: PathBuf,
    /// Line number, from 1.
    pub line: usize,
    /// Column number, from 1.
    pub column: usize,
    /// Description of the problem.
    pub message: String,
}

impl SourceError {
    /// Builds the error for `error`, located at its span in the file `path`.
    pub(crate) fn from_syn(path: PathBuf, error: &syn::Error) -> Vec<Self> {
        error
            .clone()
            .into_iter()
            .map(|error| {
                let start = error.span().start();
                Self {
                    path: path.clone(),
                    line: start.line,
                    column: start.column + 1,
                    message: error.to_string(),
                }
            })
            .collect()
    }

    /// Builds an error located at `span` in the file `path`.
    pub(crate) fn at(path: PathBuf, span: proc_macro2::Span, message: String) -> Self {
        let start = span.start();
        Self {
            path,
            line: start.line,
            column: start.column + 1,
            message,
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}
