//! From a parsed document to the validated model.

use std::sync::Arc;

use super::document::{
    ConstraintDoc, DependencyDoc, DocumentDoc, FlagDoc, KindDoc, ScalarDoc, ScheduleDoc,
    SegmentDoc, StrategyDoc, VERSION, VariantDoc,
};
use super::error::{NativeError, invalid};
use crate::model::{
    Comparison, Constraint, ContextField, DefinitionError, Dependency, Flag, FlagKind, FlagSet,
    Operator, Payload, ScheduledChange, Segment, Stickiness, Strategy, StringValues, Variant,
};
use crate::time::Timestamp;

/// Builds and validates the whole set.
pub(crate) fn set_from_doc(doc: &DocumentDoc) -> Result<FlagSet, NativeError> {
    if doc.version != VERSION {
        return Err(NativeError::UnsupportedVersion {
            version: doc.version,
        });
    }
    let segments = doc
        .segments
        .iter()
        .map(segment_from_doc)
        .collect::<Result<Vec<_>, _>>()?;
    let flags = doc
        .flags
        .iter()
        .map(flag_from_doc)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FlagSet::new(flags, segments)?)
}

/// Builds one flag (its segments and parents are checked when it joins a
/// set).
pub(crate) fn flag_from_doc(doc: &FlagDoc) -> Result<Flag, NativeError> {
    let fail = |error| NativeError::flag(&doc.key, error);
    if doc.key.is_empty() {
        return Err(fail(invalid("", "a flag key must not be empty")));
    }
    let kind = match (doc.kind, &doc.config) {
        (KindDoc::Config, Some(config)) => FlagKind::Config {
            on: Arc::new(config.on.clone()),
            off: Arc::new(config.off.clone()),
        },
        (KindDoc::Config, None) => {
            return Err(fail(invalid(
                "config",
                "a config flag needs a `config` section with `on` (and optionally `off`)",
            )));
        }
        (_, Some(_)) => {
            return Err(fail(invalid(
                "config",
                "only a flag of kind `config` has a `config` section",
            )));
        }
        (KindDoc::Boolean, None) => FlagKind::Boolean,
        (KindDoc::Percentage, None) => FlagKind::Percentage,
        (KindDoc::Variant, None) => FlagKind::Variant,
        (KindDoc::KillSwitch, None) => FlagKind::KillSwitch,
    };
    let mut flag = Flag::new(doc.key.as_str(), kind)
        .enabled(doc.enabled)
        .killed(doc.killed)
        .variant_stickiness(Stickiness::from_unleash_name(&doc.variant_stickiness));
    for strategy in &doc.strategies {
        flag = flag.strategy(strategy_from_doc(strategy).map_err(fail)?);
    }
    for variant in &doc.variants {
        flag = flag.variant(variant_from_doc(variant));
    }
    for dependency in &doc.dependencies {
        flag = flag.depends_on(dependency_from_doc(dependency).map_err(fail)?);
    }
    for change in &doc.schedule {
        flag = flag.scheduled(scheduled_from_doc(change).map_err(fail)?);
    }
    Ok(flag)
}

fn scheduled_from_doc(doc: &ScheduleDoc) -> Result<ScheduledChange, DefinitionError> {
    let at: Timestamp = doc
        .at
        .parse()
        .map_err(|e: crate::time::InvalidTimestamp| invalid(doc.at.as_str(), e.to_string()))?;
    let mut change = ScheduledChange::at(at);
    if let Some(enabled) = doc.enabled {
        change = change.enabled(enabled);
    }
    if let Some(killed) = doc.killed {
        change = change.killed(killed);
    }
    if let Some(percent) = doc.rollout {
        change = change.rollout(percent)?;
    }
    if let Some(name) = &doc.strategy {
        change = change.strategy(name.as_str());
    }
    Ok(change)
}

pub(crate) fn segment_from_doc(doc: &SegmentDoc) -> Result<Segment, NativeError> {
    let mut segment = Segment::new(doc.id);
    if let Some(name) = &doc.name {
        segment = segment.named(name.as_str());
    }
    for constraint in &doc.constraints {
        let constraint = constraint_from_doc(constraint).map_err(|error| NativeError::Segment {
            segment: doc.id,
            error,
        })?;
        segment = segment.constraint(constraint);
    }
    Ok(segment)
}

fn strategy_from_doc(doc: &StrategyDoc) -> Result<Strategy, DefinitionError> {
    let mut strategy =
        Strategy::new(doc.name.as_str()).stickiness(Stickiness::from_unleash_name(&doc.stickiness));
    for constraint in &doc.constraints {
        strategy = strategy.constraint(constraint_from_doc(constraint)?);
    }
    for &segment in &doc.segments {
        strategy = strategy.segment(segment);
    }
    if let Some(percent) = doc.rollout {
        strategy = strategy.rollout(percent)?;
    }
    if let Some(group) = &doc.group_id {
        strategy = strategy.group_id(group.as_str());
    }
    for variant in &doc.variants {
        strategy = strategy.variant(variant_from_doc(variant));
    }
    Ok(strategy)
}

fn variant_from_doc(doc: &VariantDoc) -> Variant {
    let mut variant = Variant::new(doc.name.as_str(), doc.weight);
    if let Some(payload) = &doc.payload {
        variant = variant.payload(Payload::new(payload.kind.as_str(), payload.value.as_str()));
    }
    for o in &doc.overrides {
        variant = variant.override_for(
            ContextField::from_unleash_name(&o.field),
            o.values.iter().map(String::as_str),
        );
    }
    variant
}

fn dependency_from_doc(doc: &DependencyDoc) -> Result<Dependency, DefinitionError> {
    if let Some(reason) = &doc.unsatisfiable {
        return Ok(Dependency::unsatisfiable(
            doc.flag.as_str(),
            reason.as_str(),
        ));
    }
    if doc.enabled {
        Ok(Dependency::in_variants(
            doc.flag.as_str(),
            doc.variants.iter().map(String::as_str),
        ))
    } else if doc.variants.is_empty() {
        Ok(Dependency::disabled(doc.flag.as_str()))
    } else {
        Err(invalid(
            doc.flag.as_str(),
            "a dependency on a disabled parent cannot name variants",
        ))
    }
}

fn constraint_from_doc(doc: &ConstraintDoc) -> Result<Constraint, DefinitionError> {
    let op = doc.operator.as_str();
    let text = || -> Result<String, DefinitionError> {
        match &doc.value {
            Some(ScalarDoc::Text(text)) => Ok(text.clone()),
            Some(ScalarDoc::Number(n)) => Ok(n.to_string()),
            None => Err(invalid(op, "this operator needs a `value`")),
        }
    };
    let strings = || {
        if doc.case_insensitive {
            StringValues::case_insensitive(&doc.values)
        } else {
            StringValues::new(doc.values.iter().map(String::as_str))
        }
    };
    if doc.case_insensitive
        && !matches!(
            op,
            "STR_STARTS_WITH" | "STR_ENDS_WITH" | "STR_CONTAINS" | "REGEX"
        )
    {
        return Err(invalid(
            op,
            "`case_insensitive` applies only to STR_* and REGEX operators",
        ));
    }
    let list = || {
        doc.values
            .iter()
            .map(|v| Arc::<str>::from(v.as_str()))
            .collect()
    };
    let operator = match op {
        "IN" => Operator::In(list()),
        "NOT_IN" => Operator::NotIn(list()),
        "STR_STARTS_WITH" => Operator::StartsWith(strings()),
        "STR_ENDS_WITH" => Operator::EndsWith(strings()),
        "STR_CONTAINS" => Operator::Contains(strings()),
        "NUM_EQ" | "NUM_GT" | "NUM_GTE" | "NUM_LT" | "NUM_LTE" => {
            let comparison = comparison(&op[4..]);
            match &doc.value {
                Some(ScalarDoc::Number(n)) if n.is_finite() => Operator::Number(comparison, *n),
                _ => Operator::number(comparison, &text()?)?,
            }
        }
        "SEMVER_EQ" | "SEMVER_GT" | "SEMVER_GTE" | "SEMVER_LT" | "SEMVER_LTE" => {
            Operator::semver(comparison(&op[7..]), &text()?)?
        }
        "DATE_AFTER" | "DATE_BEFORE" => {
            let value = text()?;
            let at: Timestamp = value.parse().map_err(|e: crate::time::InvalidTimestamp| {
                invalid(value.as_str(), e.to_string())
            })?;
            if op == "DATE_AFTER" {
                Operator::DateAfter(at)
            } else {
                Operator::DateBefore(at)
            }
        }
        "REGEX" => Operator::regex(&text()?, doc.case_insensitive)?,
        "IN_CIDR" => Operator::in_cidr(&doc.values)?,
        "NEVER" => Operator::Never(text().unwrap_or_default().into()),
        other => {
            return Err(invalid(
                other,
                "unknown operator (expected IN, NOT_IN, STR_STARTS_WITH, STR_ENDS_WITH, \
                 STR_CONTAINS, NUM_*, DATE_AFTER, DATE_BEFORE, SEMVER_*, REGEX, IN_CIDR or NEVER)",
            ));
        }
    };
    Ok(
        Constraint::new(ContextField::from_unleash_name(&doc.field), operator)
            .inverted(doc.inverted),
    )
}

fn comparison(suffix: &str) -> Comparison {
    match suffix {
        "GT" => Comparison::Gt,
        "GTE" => Comparison::Gte,
        "LT" => Comparison::Lt,
        "LTE" => Comparison::Lte,
        _ => Comparison::Eq,
    }
}
