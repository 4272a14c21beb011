//! Unleash definitions → our model, with Unleash's evaluation semantics.

use std::collections::HashSet;
use std::sync::Arc;

use super::raw::{RawConstraint, RawFeature, RawSegment, RawStrategy, RawVariant};
use super::{ImportError, ImportWarning, Imported, UnleashState};
use crate::model::{
    Comparison, Constraint, ContextField, Dependency, Flag, FlagKind, FlagSet, Operator, Payload,
    Segment, Stickiness, Strategy, StringValues, Variant, parse_network,
};
use crate::time::Timestamp;

pub(super) fn convert(state: &UnleashState, lenient: bool) -> Result<Imported, ImportError> {
    if !lenient {
        reject_dependency_cycles(&state.features)?;
    }
    let mut warnings = Vec::new();
    let names: HashSet<&str> = state.features.iter().map(|f| f.name.as_str()).collect();
    let with_parents: HashSet<&str> = state
        .features
        .iter()
        .filter(|f| !f.dependencies.is_empty())
        .map(|f| f.name.as_str())
        .collect();
    let segment_ids: HashSet<u64> = state.segments.iter().map(|s| s.id).collect();

    let segments: Vec<Segment> = state
        .segments
        .iter()
        .map(|raw| convert_segment(raw, &mut warnings))
        .collect();
    let flags: Vec<Flag> = state
        .features
        .iter()
        .map(|raw| {
            let mut warn = |message: String| {
                warnings.push(ImportWarning {
                    flag: Some(raw.name.clone()),
                    message,
                });
            };
            let known = Known {
                names: &names,
                with_parents: &with_parents,
                segment_ids: &segment_ids,
                lenient,
            };
            convert_feature(raw, &known, &mut warn)
        })
        .collect();
    let flags = FlagSet::new(flags, segments)?;
    Ok(Imported { flags, warnings })
}

/// What the other definitions in the document are.
struct Known<'a> {
    names: &'a HashSet<&'a str>,
    with_parents: &'a HashSet<&'a str>,
    segment_ids: &'a HashSet<u64>,
    lenient: bool,
}

/// Strict imports reject cycles among the dependencies as written (before
/// Unleash's one-level rule would make them unsatisfiable).
fn reject_dependency_cycles(features: &[RawFeature]) -> Result<(), ImportError> {
    let names: HashSet<&str> = features.iter().map(|f| f.name.as_str()).collect();
    let graph = features.iter().map(|f| {
        f.dependencies
            .iter()
            .filter(|d| names.contains(d.feature.as_str()))
            .fold(Flag::new(f.name.as_str(), FlagKind::Boolean), |flag, d| {
                flag.depends_on(Dependency::enabled(d.feature.as_str()))
            })
    });
    FlagSet::new(graph, []).map(drop).map_err(ImportError::from)
}

fn convert_feature(raw: &RawFeature, known: &Known<'_>, warn: &mut impl FnMut(String)) -> Flag {
    let strategies: Vec<Strategy> = raw
        .strategies
        .iter()
        .map(|s| convert_strategy(s, known, warn))
        .collect();
    let has_variants =
        !raw.variants.is_empty() || strategies.iter().any(|s| !s.variants.is_empty());
    let kind = if raw.kind.as_deref() == Some("kill-switch") {
        FlagKind::KillSwitch
    } else if has_variants {
        FlagKind::Variant
    } else if strategies
        .iter()
        .any(|s| s.rollout.is_some_and(|p| p < 100))
    {
        FlagKind::Percentage
    } else {
        FlagKind::Boolean
    };
    let mut flag = Flag::new(raw.name.as_str(), kind).enabled(raw.enabled);
    for strategy in strategies {
        flag = flag.strategy(strategy);
    }
    for variant in &raw.variants {
        flag = flag.variant(convert_variant(variant));
    }
    if let Some(stickiness) = raw.variants.first().and_then(|v| v.stickiness.as_deref()) {
        flag = flag.variant_stickiness(Stickiness::from_unleash_name(stickiness));
    }
    for dependency in &raw.dependencies {
        let parent = dependency.feature.as_str();
        let converted = if !known.names.contains(parent) {
            let reason = format!("flag {parent:?} is not defined, so the dependency is never met");
            warn(reason.clone());
            Dependency::unsatisfiable(parent, reason)
        } else if known.with_parents.contains(parent) {
            let reason = format!(
                "flag {parent:?} has dependencies of its own; Unleash allows one level, so the dependency is never met"
            );
            warn(reason.clone());
            Dependency::unsatisfiable(parent, reason)
        } else if dependency.enabled == Some(false) {
            Dependency::disabled(parent)
        } else {
            Dependency::in_variants(parent, dependency.variants.iter().map(String::as_str))
        };
        flag = flag.depends_on(converted);
    }
    flag
}

fn convert_strategy(
    raw: &RawStrategy,
    known: &Known<'_>,
    warn: &mut impl FnMut(String),
) -> Strategy {
    let mut strategy = Strategy::new(raw.name.as_str());
    for &id in &raw.segments {
        if known.segment_ids.contains(&id) || !known.lenient {
            // A strict import lets validation reject an undefined segment.
            strategy = strategy.segment(id);
        } else {
            let reason = format!(
                "segment {id} is not defined, so strategy {:?} never matches",
                raw.name
            );
            warn(reason.clone());
            strategy = strategy.constraint(never(ContextField::UserId, reason));
        }
    }
    for constraint in &raw.constraints {
        strategy = strategy.constraint(convert_constraint(constraint, warn));
    }
    let param = |name: &str| raw.parameters.get(name).map(parameter_text);
    let mut rollout =
        |strategy: Strategy, key: &str, stickiness: Stickiness, group: Option<String>| {
            let strategy = match group {
                Some(group) => strategy.group_id(group),
                None => strategy,
            };
            match percentage(param(key).as_deref()) {
                Ok(percent) => Strategy {
                    rollout: Some(percent),
                    ..strategy.stickiness(stickiness)
                },
                Err(reason) => {
                    warn(format!("strategy {:?}: {reason}", raw.name));
                    strategy.constraint(never(ContextField::UserId, reason))
                }
            }
        };
    strategy = match raw.name.as_str() {
        "default" => strategy,
        "userWithId" => {
            let ids = param("userIds").unwrap_or_default();
            let ids: Vec<Arc<str>> = ids.split(',').map(|id| Arc::from(id.trim())).collect();
            strategy.constraint(Constraint::new(ContextField::UserId, Operator::In(ids)))
        }
        "gradualRolloutUserId" => rollout(
            strategy,
            "percentage",
            Stickiness::Field(ContextField::UserId),
            Some(param("groupId").unwrap_or_default()),
        ),
        "gradualRolloutSessionId" => rollout(
            strategy,
            "percentage",
            Stickiness::Field(ContextField::SessionId),
            Some(param("groupId").unwrap_or_default()),
        ),
        "gradualRolloutRandom" => rollout(strategy, "percentage", Stickiness::Random, None),
        "flexibleRollout" => {
            let stickiness =
                Stickiness::from_unleash_name(param("stickiness").as_deref().unwrap_or("default"));
            let group = param("groupId").filter(|g| !g.is_empty());
            rollout(strategy, "rollout", stickiness, group)
        }
        "remoteAddress" => {
            let ips = param("IPs").unwrap_or_default();
            let networks = ips
                .split(',')
                .filter_map(|ip| match parse_network(ip) {
                    Ok(network) => Some(network),
                    Err(e) => {
                        warn(format!("strategy \"remoteAddress\" ignores {e}"));
                        None
                    }
                })
                .collect();
            strategy.constraint(Constraint::new(
                ContextField::RemoteAddress,
                Operator::InCidr(networks),
            ))
        }
        other => {
            let reason = format!("unknown strategy {other:?} never matches");
            warn(reason.clone());
            strategy.constraint(never(ContextField::UserId, reason))
        }
    };
    for variant in &raw.variants {
        strategy = strategy.variant(convert_variant(variant));
    }
    strategy
}

/// A rollout percentage: a number (or numeric text), clamped to 0..=100,
/// rounded down as Unleash compares whole buckets with it.
fn percentage(text: Option<&str>) -> Result<u8, String> {
    let Some(text) = text else {
        return Err("no rollout percentage".to_owned());
    };
    match text.trim().parse::<f64>() {
        // Clamped to 0..=100 first, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(p) if !p.is_nan() => Ok(p.clamp(0.0, 100.0).floor() as u8),
        _ => Err(format!("rollout percentage {text:?} is not a number")),
    }
}

fn parameter_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn never(field: ContextField, reason: String) -> Constraint {
    Constraint::new(field, Operator::Never(reason.into()))
}

fn convert_segment(raw: &RawSegment, warnings: &mut Vec<ImportWarning>) -> Segment {
    let mut segment = Segment::new(raw.id);
    if let Some(name) = &raw.name {
        segment = segment.named(name.as_str());
    }
    for constraint in &raw.constraints {
        let mut warn = |message: String| {
            warnings.push(ImportWarning {
                flag: None,
                message: format!("segment {}: {message}", raw.id),
            });
        };
        segment = segment.constraint(convert_constraint(constraint, &mut warn));
    }
    segment
}

fn convert_constraint(raw: &RawConstraint, warn: &mut impl FnMut(String)) -> Constraint {
    let field = ContextField::from_unleash_name(&raw.context_name);
    let values = || raw.values.iter().map(String::as_str);
    let strings = || {
        if raw.case_insensitive {
            StringValues::case_insensitive(values())
        } else {
            StringValues::new(values())
        }
    };
    let single = |parse: &dyn Fn(&str) -> Result<Operator, String>| match raw.value.as_deref() {
        Some(value) => parse(value),
        None => Err(format!("operator {} needs a \"value\"", raw.operator)),
    };
    let number = |c| single(&|v| Operator::number(c, v).map_err(|e| e.to_string()));
    let semver = |c| single(&|v| Operator::semver(c, v).map_err(|e| e.to_string()));
    let date = |after: bool| {
        single(&|v| {
            let at: Timestamp = v.parse().map_err(|e| format!("invalid date {v:?}: {e}"))?;
            Ok(if after {
                Operator::DateAfter(at)
            } else {
                Operator::DateBefore(at)
            })
        })
    };
    let operator = match raw.operator.as_str() {
        "IN" => Ok(Operator::In(values().map(Arc::from).collect())),
        "NOT_IN" => Ok(Operator::NotIn(values().map(Arc::from).collect())),
        "STR_STARTS_WITH" => Ok(Operator::StartsWith(strings())),
        "STR_ENDS_WITH" => Ok(Operator::EndsWith(strings())),
        "STR_CONTAINS" => Ok(Operator::Contains(strings())),
        "NUM_EQ" => number(Comparison::Eq),
        "NUM_GT" => number(Comparison::Gt),
        "NUM_GTE" => number(Comparison::Gte),
        "NUM_LT" => number(Comparison::Lt),
        "NUM_LTE" => number(Comparison::Lte),
        "DATE_AFTER" => date(true),
        "DATE_BEFORE" => date(false),
        "SEMVER_EQ" => semver(Comparison::Eq),
        "SEMVER_GT" => semver(Comparison::Gt),
        "SEMVER_GTE" => semver(Comparison::Gte),
        "SEMVER_LT" => semver(Comparison::Lt),
        "SEMVER_LTE" => semver(Comparison::Lte),
        "REGEX" => single(&|v| Operator::regex(v, raw.case_insensitive).map_err(|e| e.to_string())),
        "IN_CIDR" => Ok(Operator::InCidr(
            values()
                .filter_map(|v| match parse_network(v) {
                    Ok(network) => Some(network),
                    Err(e) => {
                        warn(format!(
                            "constraint on {}: IN_CIDR ignores {e}",
                            raw.context_name
                        ));
                        None
                    }
                })
                .collect(),
        )),
        other => Err(format!("unknown operator {other:?}")),
    };
    match operator {
        Ok(operator) => Constraint::new(field, operator).inverted(raw.inverted),
        Err(reason) => {
            let reason = format!("constraint on {} never matches: {reason}", raw.context_name);
            warn(reason.clone());
            never(field, reason)
        }
    }
}

fn convert_variant(raw: &RawVariant) -> Variant {
    let mut variant = Variant::new(raw.name.as_str(), raw.weight);
    if let Some(payload) = &raw.payload {
        variant = variant.payload(Payload::new(
            payload.kind.as_str(),
            parameter_text(&payload.value),
        ));
    }
    for rule in &raw.overrides {
        variant = variant.override_for(
            ContextField::from_unleash_name(&rule.context_name),
            rule.values.iter().map(String::as_str),
        );
    }
    variant
}
