//! Why a native definition document could not be read or written.

use std::fmt;

use super::Format;
use crate::model::DefinitionError;

/// A definition document that cannot be loaded (or, rarely, written).
/// Nothing is half-loaded: the whole document is rejected.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NativeError {
    /// The text is not valid JSON/YAML, or does not have the shape of a
    /// definition document (an unknown field, a missing key, a wrong type).
    Syntax {
        /// The format being read.
        format: Format,
        /// 1-based line of the problem (0 when the parser gave none).
        line: usize,
        /// 1-based column of the problem (0 when the parser gave none).
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// The document declares a format version this crate does not read.
    UnsupportedVersion {
        /// The version found.
        version: u64,
    },
    /// A flag has a value that cannot be used (a bad regex, an unknown
    /// operator, a missing `config` section, …).
    Flag {
        /// The flag's key.
        flag: String,
        /// What is wrong.
        error: DefinitionError,
    },
    /// A segment has a value that cannot be used.
    Segment {
        /// The segment's id.
        segment: u64,
        /// What is wrong.
        error: DefinitionError,
    },
    /// The flags do not fit together: an unknown segment, an unknown
    /// parent, a duplicate key or a dependency cycle (each names the flags).
    Definition(DefinitionError),
    /// The document could not be written in the requested format.
    Encode {
        /// The format being written.
        format: Format,
        /// The serializer's description.
        message: String,
    },
}

impl NativeError {
    pub(crate) fn flag(flag: &str, error: DefinitionError) -> Self {
        Self::Flag {
            flag: flag.to_owned(),
            error,
        }
    }

    /// Where in the text the problem is, for syntax errors: `(line, column)`.
    #[must_use]
    pub fn location(&self) -> Option<(usize, usize)> {
        match self {
            Self::Syntax { line, column, .. } if *line > 0 => Some((*line, *column)),
            _ => None,
        }
    }
}

pub(crate) fn invalid(value: impl Into<String>, reason: impl Into<String>) -> DefinitionError {
    DefinitionError::InvalidValue {
        value: value.into(),
        reason: reason.into(),
    }
}

impl fmt::Display for NativeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax {
                format,
                line,
                column,
                message,
            } => {
                if *line > 0 {
                    write!(
                        f,
                        "{format} error at line {line}, column {column}: {message}"
                    )
                } else {
                    write!(f, "{format} error: {message}")
                }
            }
            Self::UnsupportedVersion { version } => write!(
                f,
                "definition format version {version} is not supported (this crate reads version {})",
                super::document::VERSION
            ),
            Self::Flag { flag, error } => write!(f, "flag {flag:?}: {error}"),
            Self::Segment { segment, error } => write!(f, "segment {segment}: {error}"),
            Self::Definition(error) => error.fmt(f),
            Self::Encode { format, message } => write!(f, "cannot write {format}: {message}"),
        }
    }
}

impl std::error::Error for NativeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Flag { error, .. } | Self::Segment { error, .. } | Self::Definition(error) => {
                Some(error)
            }
            _ => None,
        }
    }
}

impl From<DefinitionError> for NativeError {
    fn from(error: DefinitionError) -> Self {
        Self::Definition(error)
    }
}
