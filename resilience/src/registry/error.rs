//! The errors of registering and reconfiguring layers.

use std::fmt;

use super::config::Kind;
use crate::ConfigError;

/// A registration or a change the [`Registry`](super::Registry) refused; a
/// refused change leaves the layer's settings as they were.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RegistryError {
    /// No layer is registered under this name.
    UnknownName {
        /// The name asked for.
        name: String,
    },
    /// A layer is already registered under this name.
    DuplicateName {
        /// The name given.
        name: String,
    },
    /// The settings are for another kind of layer than the one registered,
    /// or are [`LayerConfig::NoSettings`](super::LayerConfig::NoSettings)
    /// for a layer that has settings (`registered` and `given` are then the
    /// same kind).
    KindMismatch {
        /// The name asked for.
        name: String,
        /// The kind registered under it.
        registered: Kind,
        /// The kind the settings are for.
        given: Kind,
    },
    /// The layer registered under this name has no run-time settings (an
    /// adaptive limit, an outlier detector, a throttle, a hedge layer):
    /// nothing was changed.
    NotReconfigurable {
        /// The name asked for.
        name: String,
        /// The kind registered under it.
        kind: Kind,
    },
    /// The settings are out of range.
    Invalid {
        /// The name asked for.
        name: String,
        /// What is wrong with them.
        error: ConfigError,
    },
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownName { name } => write!(f, "no layer is registered as {name:?}"),
            Self::DuplicateName { name } => {
                write!(f, "a layer is already registered as {name:?}")
            }
            Self::KindMismatch {
                name,
                registered,
                given,
            } if registered == given => write!(
                f,
                "{name:?} is a {registered} and takes its settings, not none: they were not changed"
            ),
            Self::KindMismatch {
                name,
                registered,
                given,
            } => write!(
                f,
                "{name:?} is a {registered}, not a {given}: its settings were not changed"
            ),
            Self::NotReconfigurable { name, kind } => write!(
                f,
                "{name:?} ({kind}) has no run-time settings: nothing was changed"
            ),
            Self::Invalid { name, error } => {
                write!(f, "invalid settings for {name:?} (not changed): {error}")
            }
        }
    }
}

impl std::error::Error for RegistryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Invalid { error, .. } => Some(error),
            _ => None,
        }
    }
}
