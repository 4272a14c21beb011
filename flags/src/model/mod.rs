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
}

impl ContextField {
    /// The field Unleash calls `name`: a built-in field or a property.
    #[must_use]
    pub fn from_unleash_name(name: &str) -> Self {
        match name {
            "userId" => Self::UserId,
            "sessionId" => Self::SessionId,
            "remoteAddress" => Self::RemoteAddress,
            "environment" => Self::Environment,
            "appName" => Self::AppName,
            "currentTime" => Self::CurrentTime,
            other => Self::Property(other.into()),
        }
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
        })
    }
}
