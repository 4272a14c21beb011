//! Why an Unleash import failed, and what it could not use.

use std::fmt;

use crate::model::DefinitionError;

/// An Unleash document that cannot be imported.
#[derive(Debug)]
#[non_exhaustive]
pub enum ImportError {
    /// Not JSON, or not the client-API shape (the message has the line and
    /// column).
    Json(serde_json::Error),
    /// A strategy uses a segment the document does not define.
    UnknownSegment {
        /// The flag.
        flag: String,
        /// The segment id.
        segment: u64,
    },
    /// Flags depend on each other in a cycle.
    DependencyCycle {
        /// The keys around the cycle, the first repeated at the end.
        path: Vec<String>,
    },
    /// The converted definitions are inconsistent (two flags with one name).
    Definition(DefinitionError),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "invalid Unleash client-API JSON: {e}"),
            Self::UnknownSegment { flag, segment } => {
                write!(
                    f,
                    "flag {flag:?} uses segment {segment}, which is not defined"
                )
            }
            Self::DependencyCycle { path } => {
                write!(
                    f,
                    "flags depend on each other in a cycle: {}",
                    path.join(" -> ")
                )
            }
            Self::Definition(e) => write!(f, "invalid flag definitions: {e}"),
        }
    }
}

impl std::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Json(e) => Some(e),
            Self::Definition(e) => Some(e),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for ImportError {
    fn from(e: serde_json::Error) -> Self {
        Self::Json(e)
    }
}

impl From<DefinitionError> for ImportError {
    fn from(e: DefinitionError) -> Self {
        match e {
            DefinitionError::UnknownSegment { flag, segment } => {
                Self::UnknownSegment { flag, segment }
            }
            DefinitionError::DependencyCycle { path } => Self::DependencyCycle { path },
            other => Self::Definition(other),
        }
    }
}

/// Something in the document that evaluates as "never matches", as it
/// does in Unleash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportWarning {
    /// The flag it belongs to (`None` for a segment).
    pub flag: Option<String>,
    /// What was not usable and why.
    pub message: String,
}

impl fmt::Display for ImportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.flag {
            Some(flag) => write!(f, "flag {flag:?}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
