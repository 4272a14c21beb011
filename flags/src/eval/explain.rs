//! The rule trace behind an evaluation: which strategy matched, which
//! constraint failed, which bucket a context fell in.

use std::fmt;
use std::sync::Arc;

use super::Evaluation;

/// An evaluation with the steps that led to it.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The result, identical to what `evaluate` returns.
    pub evaluation: Evaluation,
    /// What was checked, in order.
    pub steps: Vec<Step>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            writeln!(f, "- {step}")?;
        }
        write!(
            f,
            "=> {:?} (variant {}, reason {})",
            self.evaluation.value,
            self.evaluation.variant_name(),
            self.evaluation.reason
        )
    }
}

/// One step of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// No flag has the key.
    FlagNotFound,
    /// The kill switch is pulled.
    Killed,
    /// The flag is disabled.
    Disabled,
    /// A dependency on another flag was checked.
    Dependency {
        /// The parent flag.
        parent: Arc<str>,
        /// Whether it was met.
        met: bool,
        /// What was expected and found.
        detail: String,
    },
    /// The flag has no strategies, so it is on for everyone.
    NoStrategies,
    /// A constraint of a segment used by a strategy failed.
    SegmentFailed {
        /// The strategy's position.
        strategy: usize,
        /// The segment id.
        segment: u64,
        /// The constraint that failed.
        constraint: String,
    },
    /// A strategy's own constraint failed.
    ConstraintFailed {
        /// The strategy's position.
        strategy: usize,
        /// The constraint that failed.
        constraint: String,
    },
    /// The context lacks the field the rollout buckets on.
    MissingStickiness {
        /// The strategy's position.
        strategy: usize,
        /// The field.
        field: String,
    },
    /// The context's bucket is above the rollout percentage.
    OutsideRollout {
        /// The strategy's position.
        strategy: usize,
        /// The bucket (`1..=100`).
        bucket: u32,
        /// The percentage.
        percentage: u8,
    },
    /// A strategy matched.
    StrategyMatched {
        /// The strategy's position.
        strategy: usize,
        /// The strategy's name.
        name: Arc<str>,
        /// The bucket and percentage, for a rollout.
        rollout: Option<(u32, u8)>,
    },
    /// No strategy matched.
    NoStrategyMatched,
    /// An override pinned the context to a variant.
    VariantOverride {
        /// The variant.
        variant: Arc<str>,
        /// The field that matched.
        field: String,
    },
    /// The context's variant bucket chose the variant.
    VariantBucket {
        /// The variant.
        variant: Arc<str>,
        /// The target (`1..=total_weight`).
        target: u32,
        /// The sum of the weights.
        total_weight: u32,
    },
    /// The flag is on but has no variants to serve.
    NoVariants,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FlagNotFound => f.write_str("flag not found"),
            Self::Killed => f.write_str("kill switch is on: off for everyone"),
            Self::Disabled => f.write_str("flag is disabled"),
            Self::Dependency {
                parent,
                met,
                detail,
            } => {
                let verdict = if *met { "met" } else { "not met" };
                write!(f, "dependency on {parent:?} {verdict}: {detail}")
            }
            Self::NoStrategies => f.write_str("no strategies: on for everyone"),
            Self::SegmentFailed {
                strategy,
                segment,
                constraint,
            } => {
                write!(
                    f,
                    "strategy #{strategy}: segment {segment} failed on {constraint}"
                )
            }
            Self::ConstraintFailed {
                strategy,
                constraint,
            } => {
                write!(f, "strategy #{strategy}: constraint failed: {constraint}")
            }
            Self::MissingStickiness { strategy, field } => {
                write!(
                    f,
                    "strategy #{strategy}: context has no {field} to bucket on"
                )
            }
            Self::OutsideRollout {
                strategy,
                bucket,
                percentage,
            } => {
                write!(
                    f,
                    "strategy #{strategy}: bucket {bucket} is outside the {percentage}% rollout"
                )
            }
            Self::StrategyMatched {
                strategy,
                name,
                rollout,
            } => {
                write!(f, "strategy #{strategy} ({name}) matched")?;
                if let Some((bucket, percentage)) = rollout {
                    write!(f, " with bucket {bucket} within {percentage}%")?;
                }
                Ok(())
            }
            Self::NoStrategyMatched => f.write_str("no strategy matched"),
            Self::VariantOverride { variant, field } => {
                write!(f, "variant {variant:?} by override on {field}")
            }
            Self::VariantBucket {
                variant,
                target,
                total_weight,
            } => {
                write!(
                    f,
                    "variant {variant:?} by bucket {target} of {total_weight}"
                )
            }
            Self::NoVariants => f.write_str("no variants to serve"),
        }
    }
}

/// Where the engine reports steps: nowhere for `evaluate` (the closures
/// are never called, so nothing is built), a list for `explain`.
pub(crate) trait Tracer {
    /// Whether steps are kept: a tracer that keeps none lets evaluation
    /// take shortcuts that skip the steps.
    const KEEPS_STEPS: bool = true;

    fn record(&mut self, step: impl FnOnce() -> Step);
}

/// Records nothing.
pub(crate) struct NoTrace;

impl Tracer for NoTrace {
    const KEEPS_STEPS: bool = false;

    #[inline]
    fn record(&mut self, _step: impl FnOnce() -> Step) {}
}

impl Tracer for Vec<Step> {
    fn record(&mut self, step: impl FnOnce() -> Step) {
        self.push(step());
    }
}
