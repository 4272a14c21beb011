//! Why a set of flag definitions was rejected.

use std::fmt;

/// A flag definition that cannot be loaded. Nothing is half-loaded: the set
/// that contains it is rejected as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefinitionError {
    /// Two flags share a key.
    DuplicateFlag {
        /// The key.
        flag: String,
    },
    /// Two segments share an id.
    DuplicateSegment {
        /// The id.
        segment: u64,
    },
    /// A strategy refers to a segment that is not defined.
    UnknownSegment {
        /// The flag whose strategy refers to it.
        flag: String,
        /// The missing segment id.
        segment: u64,
    },
    /// A flag depends on a flag that is not defined.
    UnknownParent {
        /// The dependent flag.
        flag: String,
        /// The missing parent.
        parent: String,
    },
    /// Flags depend on each other in a cycle (listed in order, the first
    /// repeated at the end).
    DependencyCycle {
        /// The keys around the cycle.
        path: Vec<String>,
    },
    /// A scheduled change that cannot apply to its flag.
    InvalidSchedule {
        /// The flag.
        flag: String,
        /// When the change was to take effect.
        at: crate::time::Timestamp,
        /// Why it cannot apply.
        reason: String,
    },
    /// A value that an operator or setting cannot use.
    InvalidValue {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateFlag { flag } => write!(f, "flag {flag:?} is defined twice"),
            Self::DuplicateSegment { segment } => write!(f, "segment {segment} is defined twice"),
            Self::UnknownSegment { flag, segment } => {
                write!(
                    f,
                    "flag {flag:?} uses segment {segment}, which is not defined"
                )
            }
            Self::UnknownParent { flag, parent } => {
                write!(
                    f,
                    "flag {flag:?} depends on flag {parent:?}, which is not defined"
                )
            }
            Self::DependencyCycle { path } => {
                write!(
                    f,
                    "flags depend on each other in a cycle: {}",
                    path.join(" -> ")
                )
            }
            Self::InvalidSchedule { flag, at, reason } => write!(
                f,
                "flag {flag:?} has a scheduled change at {} that cannot apply: {reason}",
                crate::native::rfc3339(*at)
            ),
            Self::InvalidValue { value, reason } => write!(f, "invalid value {value:?}: {reason}"),
        }
    }
}

impl std::error::Error for DefinitionError {}
