//! The one error type of the library.
//!
//! Every error names what the user has to look at — the file, the column, the
//! row — and, where there is one, what to do about it. The binary maps every
//! variant to exit code 2 (docs/spec.md §5); the Python binding maps each
//! [`ErrorKind`] to its own exception class.

use std::fmt;
use std::path::{Path, PathBuf};

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, without the details. Stable: faces (CLI, Python) map on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be opened, read or written.
    Io,
    /// A file is not in a format evalkit reads, or is corrupt or truncated.
    Format,
    /// A column is missing or has a type evalkit cannot use.
    Column,
    /// A value in a column is invalid (NaN score, label outside the classes, …).
    Value,
    /// The options given do not fit together or do not fit the data.
    Usage,
}

/// An evalkit error: one clear sentence naming the file, column or row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What evalkit was doing ("cannot open", "cannot read", …).
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a format evalkit reads, is corrupt, truncated or empty.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A column is missing or has an unusable type.
    #[error("{path}: column '{column}': {message}")]
    Column {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// What is wrong with it.
        message: String,
    },
    /// A value is invalid. `row` is 0-based, counted over the whole file.
    #[error("{path}: column '{column}', row {row}: {message}")]
    Value {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The first offending row (0-based).
        row: usize,
        /// What is wrong with the value, and what to do.
        message: String,
    },
    /// Options that do not fit together or do not fit the data.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// The kind of error, for mapping to exit codes or exception classes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Io,
            Error::Format { .. } => ErrorKind::Format,
            Error::Column { .. } => ErrorKind::Column,
            Error::Value { .. } => ErrorKind::Value,
            Error::Usage(_) => ErrorKind::Usage,
        }
    }

    /// The file the error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. }
            | Error::Format { path, .. }
            | Error::Column { path, .. }
            | Error::Value { path, .. } => Some(path),
            Error::Usage(_) => None,
        }
    }

    /// The column the error is about, when there is one.
    pub fn column(&self) -> Option<&str> {
        match self {
            Error::Column { column, .. } | Error::Value { column, .. } => Some(column),
            _ => None,
        }
    }

    /// The 0-based row the error is about, when there is one.
    pub fn row(&self) -> Option<usize> {
        match self {
            Error::Value { row, .. } => Some(*row),
            _ => None,
        }
    }

    /// The error with its row counted from `first_row` on (the error of a
    /// chunk that starts at row `first_row` of its file).
    pub(crate) fn rows_from(self, first_row: usize) -> Error {
        self.restate_row(|row, message| (row + first_row, message))
    }

    /// A value error with its row and message restated by `f`; any other
    /// error as it is.
    pub(crate) fn restate_row(self, f: impl FnOnce(usize, String) -> (usize, String)) -> Error {
        match self {
            Error::Value {
                path,
                column,
                row,
                message,
            } => {
                let (row, message) = f(row, message);
                Error::Value {
                    path,
                    column,
                    row,
                    message,
                }
            }
            other => other,
        }
    }

    pub(crate) fn io(path: &Path, action: &'static str, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    pub(crate) fn bad_format(path: &Path, message: impl fmt::Display) -> Error {
        Error::Format {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }

    pub(crate) fn bad_column(path: &Path, column: &str, message: impl fmt::Display) -> Error {
        Error::Column {
            path: path.to_path_buf(),
            column: column.to_string(),
            message: message.to_string(),
        }
    }

    pub(crate) fn bad_value(
        path: &Path,
        column: &str,
        row: usize,
        message: impl fmt::Display,
    ) -> Error {
        Error::Value {
            path: path.to_path_buf(),
            column: column.to_string(),
            row,
            message: message.to_string(),
        }
    }

    pub(crate) fn usage(message: impl fmt::Display) -> Error {
        Error::Usage(message.to_string())
    }
}

/// Runs `f`, turning a panic inside it into an [`Error::Format`] about `path`.
///
/// Arrow and polars may panic on corrupt bytes instead of returning an error;
/// every call into them on user data goes through here so that the user still
/// gets one clear message and exit code 2.
pub(crate) fn contain<T>(path: &Path, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown failure".to_string())
                // One line, whatever the reader's message holds.
                .replace(|c: char| c.is_control(), " ");
            Err(Error::bad_format(
                path,
                format!("is corrupt: the {what} reader failed ({detail})"),
            ))
        }
    }
}
