//! The flag model: flags, strategies, constraints, segments, variants and
//! dependencies, validated together into a [`FlagSet`].
//!
//! ```
//! use palisade_flags::model::{
//!     Comparison, Constraint, ContextField, Flag, FlagKind, FlagSet, Operator, Strategy,
//! };
//!
//! let beta = Strategy::new("beta testers")
//!     .constraint(Constraint::new(
//!         ContextField::property("appVersion"),
//!         Operator::semver(Comparison::Gte, "2.0.0")?,
//!     ))
//!     .rollout(50)?;
//! let flag = Flag::new("new-checkout", FlagKind::Boolean).strategy(beta);
//! let set = FlagSet::new([flag], [])?;
//! assert!(set.get("new-checkout").is_some());
//! # Ok::<(), palisade_flags::model::DefinitionError>(())
//! ```

mod constraint;
mod error;
pub(crate) mod flag;
mod schedule;
mod set;
mod strategy;
mod variant;

use std::fmt;
use std::sync::Arc;

pub use constraint::{Comparison, Constraint, Operator, StringValues};
pub use error::DefinitionError;
pub use flag::{Dependency, Flag, FlagKind};
pub use schedule::ScheduledChange;
pub use set::FlagSet;
pub use strategy::{Segment, Stickiness, Strategy};
pub use variant::{Payload, Variant, VariantOverride};

pub(crate) use constraint::parse_network;

/// A field of the [`Context`](crate::Context) that constraints, overrides
/// and stickiness read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContextField {
    /// `userId`.
    UserId,
    /// `sessionId`.
    SessionId,
    /// `remoteAddress`.
    RemoteAddress,
    /// `environment`.
    Environment,
    /// `appName`.
    AppName,
    /// `currentTime` (read by date operators).
    CurrentTime,
    /// A custom property.
    Property(Arc<str>),
    /// `kind.attribute` of a multi-kind context (`organization.key`,
    /// `organization.plan`); see [`Context::kind`](crate::Context::kind).
    Kind(KindPath),
}

/// A context kind and one of its attributes, written `kind.attribute`;
/// the attribute `key` is the kind's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KindPath {
    /// The whole name, `kind.attribute`.
    name: Arc<str>,
    /// Where the first `.` is.
    dot: usize,
}

impl KindPath {
    /// The kind (before the first `.`).
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.name[..self.dot]
    }

    /// The attribute (after the first `.`; `key` for the kind's key).
    #[must_use]
    pub fn attribute(&self) -> &str {
        &self.name[self.dot + 1..]
    }

    /// The whole name, `kind.attribute`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl ContextField {
    /// The field Unleash calls `name`: a built-in field, `kind.attribute`
    /// of a multi-kind context (a name with a `.` inside), or a property.
    #[must_use]
    pub fn from_unleash_name(name: &str) -> Self {
        match name {
            "userId" => Self::UserId,
            "sessionId" => Self::SessionId,
            "remoteAddress" => Self::RemoteAddress,
            "environment" => Self::Environment,
            "appName" => Self::AppName,
            "currentTime" => Self::CurrentTime,
            other => match other.find('.') {
                Some(dot) if dot > 0 && dot + 1 < other.len() => Self::Kind(KindPath {
                    name: other.into(),
                    dot,
                }),
                _ => Self::Property(other.into()),
            },
        }
    }

    /// Attribute `attribute` (`key` for its key) of context kind `kind`;
    /// the same as the name `kind.attribute`.
    #[must_use]
    pub fn kind_attribute(kind: &str, attribute: &str) -> Self {
        Self::from_unleash_name(&format!("{kind}.{attribute}"))
    }

    /// A custom property.
    #[must_use]
    pub fn property(name: impl Into<Arc<str>>) -> Self {
        Self::Property(name.into())
    }
}

impl fmt::Display for ContextField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UserId => "userId",
            Self::SessionId => "sessionId",
            Self::RemoteAddress => "remoteAddress",
            Self::Environment => "environment",
            Self::AppName => "appName",
            Self::CurrentTime => "currentTime",
            Self::Property(name) => name,
            Self::Kind(path) => path.name(),
        })
    }
}
