//! Evaluating flags: [`Flags`] holds the current [`FlagSet`] as an
//! immutable snapshot that updates swap atomically, so evaluation takes no
//! lock and never sees half an update.
//!
//! ```
//! use palisade_flags::model::{Flag, FlagKind, FlagSet};
//! use palisade_flags::{Context, Flags, Reason};
//!
//! let flags = Flags::new(FlagSet::new([Flag::new("dark-mode", FlagKind::Boolean)], [])?);
//! let evaluation = flags.evaluate("dark-mode", &Context::new().user_id("7"));
//! assert_eq!(evaluation.as_bool(), Ok(true));
//! assert_eq!(evaluation.reason(), Reason::Static);
//!
//! // An update is seen by the next evaluation.
//! flags.replace(FlagSet::new([Flag::new("dark-mode", FlagKind::Boolean).enabled(false)], [])?);
//! assert_eq!(flags.evaluate("dark-mode", &Context::new()).as_bool(), Ok(false));
//! # Ok::<(), palisade_flags::model::DefinitionError>(())
//! ```

pub(crate) mod engine;
mod evaluation;
mod explain;
mod random;

use std::sync::Arc;

use arc_swap::ArcSwap;

pub use evaluation::{ErrorCode, Evaluation, Reason, Value};
pub use explain::{Explanation, Step};

use self::engine::{Engine, Outcome};
use self::explain::{NoTrace, Tracer};
use self::random::Random;
use crate::context::Context;
use crate::hooks::{Hook, Hooks};
use crate::model::{FlagKind, FlagSet};
use crate::time::{Clock, SystemClock};

/// The evaluator: the current flag definitions and what evaluation needs
/// besides the context (a clock for date constraints, randomness for random
/// stickiness). Share it behind an `Arc`.
#[derive(Debug)]
pub struct Flags {
    snapshot: ArcSwap<FlagSet>,
    clock: Arc<dyn Clock>,
    random: Random,
    /// `"disabled"`, shared so an off Variant flag allocates nothing either.
    no_variant: Arc<str>,
    /// Run around `evaluate`; when empty, `evaluate` skips them at the
    /// cost of one length check.
    hooks: Hooks,
}

impl Flags {
    /// An evaluator serving `set`, reading the system clock.
    #[must_use]
    pub fn new(set: FlagSet) -> Self {
        Self {
            snapshot: ArcSwap::from_pointee(set),
            clock: Arc::new(SystemClock),
            random: Random::from_entropy(),
            no_variant: evaluation::NO_VARIANT.into(),
            hooks: Hooks::default(),
        }
    }

    /// Run `hook` around every [`evaluate`](Self::evaluate) (see
    /// [`hooks`](crate::hooks)): `before` hooks in registration order,
    /// `after`, `error` and `finally` hooks in reverse.
    #[must_use]
    pub fn with_hook(mut self, hook: impl Hook) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// Read "now" for date constraints from `clock` (when the context has
    /// no current time).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Draw random buckets from a sequence seeded with `seed`
    /// (reproducible tests).
    #[must_use]
    pub fn with_random_seed(mut self, seed: u64) -> Self {
        self.random = Random::seeded(seed);
        self
    }

    /// Serve `set` from now on. Evaluations in progress finish on the set
    /// they started with.
    pub fn replace(&self, set: FlagSet) {
        self.snapshot.store(Arc::new(set));
    }

    /// The definitions currently served.
    #[must_use]
    pub fn snapshot(&self) -> Arc<FlagSet> {
        self.snapshot.load_full()
    }

    /// Evaluate flag `key` for `context`.
    ///
    /// An unknown key gives `false` with [`Reason::Error`] and
    /// [`ErrorCode::FlagNotFound`]. Evaluating a Boolean flag allocates
    /// nothing; nor does a Variant flag.
    #[must_use]
    #[inline]
    pub fn evaluate(&self, key: &str, context: &Context<'_>) -> Evaluation {
        if self.hooks.is_empty() {
            return self.run(key, context, &mut NoTrace);
        }
        self.hooks.around(
            key,
            context,
            || self.run(key, context, &mut NoTrace),
            || error(ErrorCode::General),
        )
    }

    /// Evaluate flag `key` expecting a boolean: a flag of another kind
    /// gives `false` with [`ErrorCode::TypeMismatch`].
    #[must_use]
    pub fn evaluate_bool(&self, key: &str, context: &Context<'_>) -> Evaluation {
        let evaluation = self.evaluate(key, context);
        if evaluation.error.is_none() && !matches!(evaluation.value, Value::Bool(_)) {
            return error(ErrorCode::TypeMismatch);
        }
        evaluation
    }

    /// Evaluate flag `key` for `context` and say why: every constraint,
    /// rollout bucket and variant choice on the way.
    #[must_use]
    pub fn explain(&self, key: &str, context: &Context<'_>) -> Explanation {
        let mut steps = Vec::new();
        let evaluation = self.run(key, context, &mut steps);
        Explanation { evaluation, steps }
    }

    fn run<T: Tracer>(&self, key: &str, context: &Context<'_>, trace: &mut T) -> Evaluation {
        let set = self.snapshot.load();
        let Some(slot) = set.slot(key) else {
            trace.record(|| Step::FlagNotFound);
            return error(ErrorCode::FlagNotFound);
        };
        if !T::KEEPS_STEPS
            && let Some((enabled, reason)) = set.fixed(slot)
        {
            let outcome = Outcome {
                enabled,
                variant: None,
                reason,
            };
            return to_evaluation(&set.flags[slot].kind, outcome, &self.no_variant);
        }
        let engine = Engine {
            set: &set,
            clock: &*self.clock,
            random: &self.random,
        };
        let outcome = engine.evaluate(slot, context, trace);
        to_evaluation(&set.flags[slot].kind, outcome, &self.no_variant)
    }
}

fn error(code: ErrorCode) -> Evaluation {
    Evaluation {
        value: Value::Bool(false),
        enabled: false,
        variant: None,
        reason: Reason::Error,
        error: Some(code),
    }
}

fn to_evaluation(kind: &FlagKind, outcome: Outcome, no_variant: &Arc<str>) -> Evaluation {
    let value = match kind {
        FlagKind::Variant => match &outcome.variant {
            Some(variant) => Value::String(variant.name.clone()),
            None => Value::String(no_variant.clone()),
        },
        FlagKind::Config { on, off } => {
            if outcome.enabled {
                let from_variant = outcome
                    .variant
                    .as_deref()
                    .and_then(|v| v.get_payload())
                    .and_then(|p| p.json());
                Value::Json(from_variant.unwrap_or(on).clone())
            } else {
                Value::Json(off.clone())
            }
        }
        FlagKind::Boolean | FlagKind::Percentage | FlagKind::KillSwitch => {
            Value::Bool(outcome.enabled)
        }
    };
    Evaluation {
        value,
        enabled: outcome.enabled,
        variant: outcome.variant,
        reason: outcome.reason,
        error: None,
    }
}
