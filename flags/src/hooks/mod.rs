//! Hooks around evaluation and impression events, as OpenFeature's hook
//! specification has them.
//!
//! A [`Hook`] registered with [`Flags::with_hook`](crate::Flags::with_hook)
//! runs around every [`Flags::evaluate`](crate::Flags::evaluate): `before`
//! in registration order, then the evaluation, then `after` (or `error`)
//! and `finally` in reverse order. A `before` or `after` that fails turns
//! the result into `false` with [`Reason::Error`](crate::Reason::Error) and
//! [`ErrorCode::General`], and the `error` hooks
//! run. An evaluation error (an unknown flag) also runs the `error` hooks.
//! With no hook registered, `evaluate` checks one length and nothing more.
//! ([`Flags::explain`](crate::Flags::explain), a debugging tool, runs no
//! hooks.)
//!
//! [`impressions`] turns a closure into a hook that receives an
//! [`Impression`] (flag, enabled, variant, context key) for every
//! evaluation: the feed for experiment analysis.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use palisade_flags::hooks::{Impression, impressions};
//! use palisade_flags::model::{Flag, FlagKind, FlagSet, Variant};
//! use palisade_flags::{Context, Flags};
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = seen.clone();
//! let set = FlagSet::new([Flag::new("layout", FlagKind::Variant).variant(Variant::new("grid", 1))], [])?;
//! let flags = Flags::new(set).with_hook(impressions(move |impression: &Impression<'_>| {
//!     log.lock().unwrap().push(format!(
//!         "{} {} {}",
//!         impression.flag,
//!         impression.variant,
//!         impression.context_key.unwrap_or("-")
//!     ));
//! }));
//!
//! let _ = flags.evaluate("layout", &Context::new().user_id("42"));
//! assert_eq!(*seen.lock().unwrap(), ["layout grid 42"]);
//! # Ok::<(), palisade_flags::model::DefinitionError>(())
//! ```

mod impression;
mod run;

use std::fmt;

pub use self::impression::{Impression, Impressions, impressions};
pub(crate) use self::run::Hooks;
use crate::{Context, ErrorCode, Evaluation};

/// Code that runs around every evaluation. Every method has a default that
/// does nothing: implement the stages you need.
pub trait Hook: Send + Sync + fmt::Debug + 'static {
    /// Before the flag is evaluated.
    ///
    /// # Errors
    /// A [`HookError`] stops the evaluation: the result is an error
    /// (`GENERAL`), and the `error` and `finally` hooks run.
    fn before(&self, flag: &str, context: &Context<'_>) -> Result<(), HookError> {
        let _ = (flag, context);
        Ok(())
    }

    /// After a successful evaluation.
    ///
    /// # Errors
    /// A [`HookError`] turns the result into an error (`GENERAL`); the
    /// `error` hooks run.
    fn after(
        &self,
        flag: &str,
        context: &Context<'_>,
        evaluation: &Evaluation,
    ) -> Result<(), HookError> {
        let _ = (flag, context, evaluation);
        Ok(())
    }

    /// When the evaluation failed (an unknown flag, say) or a hook did.
    fn error(&self, flag: &str, context: &Context<'_>, error: &EvaluationFailure<'_>) {
        let _ = (flag, context, error);
    }

    /// Last, whatever happened, with the result the caller gets.
    fn finally(&self, flag: &str, context: &Context<'_>, evaluation: &Evaluation) {
        let _ = (flag, context, evaluation);
    }
}

/// A hook refused the evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError {
    message: String,
}

impl HookError {
    /// A failure described by `message`.
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// What went wrong.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hook failed: {}", self.message)
    }
}

impl std::error::Error for HookError {}

/// Why the `error` stage runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvaluationFailure<'a> {
    /// The evaluator gave an error code (the flag does not exist, …).
    Evaluation(ErrorCode),
    /// A `before` or `after` hook failed.
    Hook(&'a HookError),
}
