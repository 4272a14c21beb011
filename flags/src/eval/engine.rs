//! The evaluation algorithm, Unleash's semantics step by step:
//! kill switch, enabled, dependencies, strategies (segments, constraints,
//! rollout), then the variant.

use std::sync::Arc;

use super::evaluation::{NO_VARIANT, Reason};
use super::explain::{NoTrace, Step, Tracer};
use super::random::Random;
use crate::context::Context;
use crate::hash;
use crate::model::flag::DependencyKind;
use crate::model::{ContextField, Dependency, Flag, FlagSet, Stickiness, Strategy, Variant};
use crate::time::Clock;

/// The flag's state for one context, before it is turned into a value.
pub(crate) struct Outcome {
    pub(crate) enabled: bool,
    pub(crate) variant: Option<Arc<Variant>>,
    pub(crate) reason: Reason,
}

impl Outcome {
    fn off(reason: Reason) -> Self {
        Self {
            enabled: false,
            variant: None,
            reason,
        }
    }
}

/// The outcome of a flag that no context, clock or random draw can change,
/// `None` for every other flag: off when killed or switched off; on with
/// [`Reason::Static`] when it has no dependency, no variant, and either no
/// strategy or a first strategy without constraints, segments or rollout.
/// It is what [`Engine::evaluate`] answers for such a flag, worked out once
/// per snapshot ([`FlagSet::fixed`]) so that evaluating it is a lookup.
pub(crate) fn context_free(flag: &Flag) -> Option<(bool, Reason)> {
    if flag.killed || !flag.enabled {
        return Some((false, Reason::Disabled));
    }
    if !flag.dependencies.is_empty() || !flag.variants.is_empty() {
        return None;
    }
    match flag.strategies.first() {
        Some(first)
            if first.is_targeted() || first.rollout.is_some() || !first.variants.is_empty() =>
        {
            None
        }
        _ => Some((true, Reason::Static)),
    }
}

pub(crate) struct Engine<'s> {
    pub(crate) set: &'s FlagSet,
    pub(crate) clock: &'s dyn Clock,
    pub(crate) random: &'s Random,
}

impl Engine<'_> {
    pub(crate) fn evaluate(
        &self,
        slot: usize,
        context: &Context<'_>,
        trace: &mut impl Tracer,
    ) -> Outcome {
        let flag = &self.set.flags[slot];
        if flag.killed {
            trace.record(|| Step::Killed);
            return Outcome::off(Reason::Disabled);
        }
        if !flag.enabled {
            trace.record(|| Step::Disabled);
            return Outcome::off(Reason::Disabled);
        }
        for dependency in &flag.dependencies {
            if !self.dependency_met(dependency, context, trace) {
                return Outcome::off(Reason::Default);
            }
        }
        let (strategy, reason) = if flag.strategies.is_empty() {
            trace.record(|| Step::NoStrategies);
            (None, Reason::Static)
        } else {
            let matched = flag.strategies.iter().enumerate().find_map(|(i, s)| {
                self.strategy_matches(flag, i, s, context, trace)
                    .map(|r| (s, r))
            });
            let Some((strategy, reason)) = matched else {
                trace.record(|| Step::NoStrategyMatched);
                return Outcome::off(Reason::Default);
            };
            (Some(strategy), reason)
        };
        let (variants, stickiness, group) = match strategy {
            Some(s) if !s.variants.is_empty() => (
                &s.variants,
                &s.stickiness,
                s.group_id.as_deref().unwrap_or(&flag.key),
            ),
            _ => (&flag.variants, &flag.variant_stickiness, &*flag.key),
        };
        let (variant, reason) = match self.pick_variant(variants, stickiness, group, context, trace)
        {
            Some((variant, VariantChoice::Override)) => (Some(variant), Reason::TargetingMatch),
            Some((variant, VariantChoice::Split)) => (Some(variant), Reason::Split),
            Some((variant, VariantChoice::Only)) => (Some(variant), reason),
            None => {
                if variants.is_empty() {
                    trace.record(|| Step::NoVariants);
                }
                (None, reason)
            }
        };
        Outcome {
            enabled: true,
            variant,
            reason,
        }
    }

    fn dependency_met(
        &self,
        dependency: &Dependency,
        context: &Context<'_>,
        trace: &mut impl Tracer,
    ) -> bool {
        let parent = || dependency.parent.clone();
        match &dependency.kind {
            DependencyKind::Unsatisfiable(reason) => {
                trace.record(|| Step::Dependency {
                    parent: parent(),
                    met: false,
                    detail: reason.to_string(),
                });
                false
            }
            DependencyKind::Disabled => {
                let outcome = self.evaluate(dependency.slot, context, &mut NoTrace);
                trace.record(|| Step::Dependency {
                    parent: parent(),
                    met: !outcome.enabled,
                    detail: format!("expected off, parent is {}", on_off(outcome.enabled)),
                });
                !outcome.enabled
            }
            DependencyKind::Enabled(variants) => {
                let outcome = self.evaluate(dependency.slot, context, &mut NoTrace);
                let served = outcome.variant.as_deref().map_or(NO_VARIANT, Variant::name);
                let met = outcome.enabled
                    && (variants.is_empty() || variants.iter().any(|v| **v == *served));
                trace.record(|| Step::Dependency {
                    parent: parent(),
                    met,
                    detail: if variants.is_empty() {
                        format!("expected on, parent is {}", on_off(outcome.enabled))
                    } else {
                        format!(
                            "expected on with a variant in {variants:?}, parent is {} with variant {served:?}",
                            on_off(outcome.enabled)
                        )
                    },
                });
                met
            }
        }
    }

    fn strategy_matches(
        &self,
        flag: &Flag,
        index: usize,
        strategy: &Strategy,
        context: &Context<'_>,
        trace: &mut impl Tracer,
    ) -> Option<Reason> {
        let now = || self.clock.now();
        for &slot in &strategy.segment_slots {
            let segment = &self.set.segments[slot];
            if let Some(failed) = segment.constraints.iter().find(|c| !c.holds(context, &now)) {
                trace.record(|| Step::SegmentFailed {
                    strategy: index,
                    segment: segment.id,
                    constraint: failed.to_string(),
                });
                return None;
            }
        }
        if let Some(failed) = strategy
            .constraints
            .iter()
            .find(|c| !c.holds(context, &now))
        {
            trace.record(|| Step::ConstraintFailed {
                strategy: index,
                constraint: failed.to_string(),
            });
            return None;
        }
        let targeted = if strategy.is_targeted() {
            Reason::TargetingMatch
        } else {
            Reason::Static
        };
        let Some(percentage) = strategy.rollout else {
            trace.record(|| Step::StrategyMatched {
                strategy: index,
                name: strategy.name.clone(),
                rollout: None,
            });
            return Some(targeted);
        };
        let group = strategy.group_id.as_deref().unwrap_or(&flag.key);
        let Some(bucket) = self.rollout_bucket(&strategy.stickiness, group, context) else {
            trace.record(|| Step::MissingStickiness {
                strategy: index,
                field: stickiness_name(&strategy.stickiness),
            });
            return None;
        };
        if bucket > u32::from(percentage) {
            trace.record(|| Step::OutsideRollout {
                strategy: index,
                bucket,
                percentage,
            });
            return None;
        }
        trace.record(|| Step::StrategyMatched {
            strategy: index,
            name: strategy.name.clone(),
            rollout: Some((bucket, percentage)),
        });
        Some(if percentage < 100 {
            Reason::Split
        } else {
            targeted
        })
    }

    /// The bucket (`1..=100`) a context falls in, `None` when the context
    /// lacks the field the stickiness names.
    fn rollout_bucket(
        &self,
        stickiness: &Stickiness,
        group: &str,
        context: &Context<'_>,
    ) -> Option<u32> {
        let value = match stickiness {
            Stickiness::Default => context
                .field(&ContextField::UserId)
                .or_else(|| context.field(&ContextField::SessionId)),
            Stickiness::Random => None,
            Stickiness::Field(field) => Some(context.field(field)?),
        };
        Some(value.map_or_else(
            || self.random.one_to(100),
            |v| hash::rollout_bucket(group, v),
        ))
    }

    fn pick_variant(
        &self,
        variants: &[Arc<Variant>],
        stickiness: &Stickiness,
        group: &str,
        context: &Context<'_>,
        trace: &mut impl Tracer,
    ) -> Option<(Arc<Variant>, VariantChoice)> {
        for variant in variants {
            for rule in &variant.overrides {
                if context
                    .field(&rule.field)
                    .is_some_and(|value| rule.values.iter().any(|v| **v == *value))
                {
                    trace.record(|| Step::VariantOverride {
                        variant: variant.name.clone(),
                        field: rule.field.to_string(),
                    });
                    return Some((variant.clone(), VariantChoice::Override));
                }
            }
        }
        let total_weight: u32 = variants
            .iter()
            .map(|v| v.weight)
            .fold(0, u32::saturating_add);
        if total_weight == 0 {
            return None;
        }
        let value = match stickiness {
            Stickiness::Default => context
                .field(&ContextField::UserId)
                .or_else(|| context.field(&ContextField::SessionId))
                .or_else(|| context.field(&ContextField::RemoteAddress)),
            Stickiness::Random => None,
            Stickiness::Field(field) => context.field(field),
        };
        let target = value
            .and_then(|v| hash::variant_target(group, v, total_weight))
            .unwrap_or_else(|| self.random.one_to(total_weight));
        let mut reached = 0u32;
        let chosen = variants.iter().find(|v| {
            reached = reached.saturating_add(v.weight);
            reached >= target
        })?;
        trace.record(|| Step::VariantBucket {
            variant: chosen.name.clone(),
            target,
            total_weight,
        });
        let weighted = variants.iter().filter(|v| v.weight > 0).count();
        let choice = if weighted > 1 {
            VariantChoice::Split
        } else {
            VariantChoice::Only
        };
        Some((chosen.clone(), choice))
    }
}

/// How a variant was chosen.
enum VariantChoice {
    Override,
    Split,
    Only,
}

fn on_off(enabled: bool) -> &'static str {
    if enabled { "on" } else { "off" }
}

fn stickiness_name(stickiness: &Stickiness) -> String {
    match stickiness {
        Stickiness::Default => "userId or sessionId".to_owned(),
        Stickiness::Random => "random".to_owned(),
        Stickiness::Field(field) => field.to_string(),
    }
}
