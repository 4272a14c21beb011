//! Reading Unleash client-API JSON into the flag model.
//!
//! Both shapes the Unleash server sends are understood: the full state
//! (`/api/client/features`: `features`, `segments`) and delta events
//! (`/api/client/delta`: `hydration`, `feature-updated`, `feature-removed`,
//! `segment-updated`, `segment-removed`). The result evaluates exactly as
//! Unleash's own SDKs do: it passes every case of the Unleash client
//! specification.
//!
//! What Unleash evaluates as "never matches" (an unknown operator or
//! strategy, a regex it cannot compile, a semver with a leading `v`, a
//! dependency on a missing flag) becomes a constraint or dependency that
//! never holds *and* an [`ImportWarning`], so nothing is dropped silently.
//! Two things are errors unless the import is [`lenient`](UnleashImport::lenient):
//! a strategy using an undefined segment and flags depending on each other
//! in a cycle.
//!
//! ```
//! use palisade_flags::unleash::UnleashImport;
//! use palisade_flags::{Context, Flags};
//!
//! let json = r#"{
//!   "version": 2,
//!   "features": [{
//!     "name": "new-checkout",
//!     "enabled": true,
//!     "strategies": [{
//!       "name": "flexibleRollout",
//!       "parameters": { "rollout": "100", "stickiness": "default", "groupId": "new-checkout" },
//!       "constraints": [{ "contextName": "environment", "operator": "IN", "values": ["prod"] }]
//!     }]
//!   }]
//! }"#;
//! let imported = UnleashImport::new().parse(json)?;
//! assert!(imported.warnings.is_empty());
//! let flags = Flags::new(imported.flags);
//! assert!(flags.evaluate("new-checkout", &Context::new().environment("prod")).is_enabled());
//! assert!(!flags.evaluate("new-checkout", &Context::new().environment("dev")).is_enabled());
//! # Ok::<(), palisade_flags::unleash::ImportError>(())
//! ```

mod convert;
mod error;
mod raw;
mod state;

pub use error::{ImportError, ImportWarning};
pub use state::UnleashState;

use crate::model::FlagSet;

/// How to import Unleash definitions.
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct UnleashImport {
    lenient: bool,
}

/// The result of an import: the flags, and what Unleash semantics made
/// unusable (each of which never matches).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Imported {
    /// The validated flags and segments.
    pub flags: FlagSet,
    /// Definitions that evaluate as "never matches", with the reason.
    pub warnings: Vec<ImportWarning>,
}

impl UnleashImport {
    /// A strict import: an undefined segment or a dependency cycle is an
    /// error.
    pub fn new() -> Self {
        Self::default()
    }

    /// Evaluate an undefined segment or a dependency cycle as Unleash does
    /// (the strategy or dependent flag never matches), with a warning.
    pub fn lenient(mut self) -> Self {
        self.lenient = true;
        self
    }

    /// Parse client-API JSON (full state or delta events) and convert it.
    ///
    /// # Errors
    /// [`ImportError::Json`] for JSON that is not Unleash's shape, and the
    /// errors of [`convert`](Self::convert).
    pub fn parse(self, json: &str) -> Result<Imported, ImportError> {
        self.convert(&UnleashState::from_json(json)?)
    }

    /// Convert a state assembled from full responses and delta events.
    ///
    /// # Errors
    /// [`ImportError::UnknownSegment`] and [`ImportError::DependencyCycle`]
    /// unless lenient.
    pub fn convert(self, state: &UnleashState) -> Result<Imported, ImportError> {
        convert::convert(state, self.lenient)
    }
}
