//! From the model back to a document.

use super::document::{
    ConfigDoc, ConstraintDoc, DependencyDoc, DocumentDoc, FlagDoc, KindDoc, OverrideDoc,
    PayloadDoc, ScalarDoc, ScheduleDoc, SegmentDoc, StrategyDoc, VERSION, VariantDoc,
};
use crate::model::flag::DependencyKind;
use crate::model::{
    Comparison, Constraint, Flag, FlagKind, FlagSet, Operator, Segment, Stickiness, Strategy,
    Variant,
};
use crate::time::Timestamp;

pub(crate) fn set_to_doc(set: &FlagSet) -> DocumentDoc {
    DocumentDoc {
        version: VERSION,
        segments: set.segments().map(segment_to_doc).collect(),
        flags: set.flags().map(flag_to_doc).collect(),
    }
}

pub(crate) fn flag_to_doc(flag: &Flag) -> FlagDoc {
    let (kind, config) = match flag.kind() {
        FlagKind::Boolean => (KindDoc::Boolean, None),
        FlagKind::Percentage => (KindDoc::Percentage, None),
        FlagKind::Variant => (KindDoc::Variant, None),
        FlagKind::KillSwitch => (KindDoc::KillSwitch, None),
        FlagKind::Config { on, off } => (
            KindDoc::Config,
            Some(ConfigDoc {
                on: (**on).clone(),
                off: (**off).clone(),
            }),
        ),
    };
    FlagDoc {
        key: flag.key().to_owned(),
        kind,
        config,
        enabled: flag.is_enabled(),
        killed: flag.is_killed(),
        strategies: flag.strategies().iter().map(strategy_to_doc).collect(),
        variants: flag.variants.iter().map(|v| variant_to_doc(v)).collect(),
        variant_stickiness: stickiness_name(&flag.variant_stickiness),
        dependencies: flag
            .dependencies()
            .iter()
            .map(|d| {
                let (enabled, variants, unsatisfiable) = match &d.kind {
                    DependencyKind::Enabled(variants) => {
                        (true, variants.iter().map(|v| v.to_string()).collect(), None)
                    }
                    DependencyKind::Disabled => (false, Vec::new(), None),
                    DependencyKind::Unsatisfiable(reason) => {
                        (true, Vec::new(), Some(reason.to_string()))
                    }
                };
                DependencyDoc {
                    flag: d.parent().to_owned(),
                    enabled,
                    variants,
                    unsatisfiable,
                }
            })
            .collect(),
        schedule: flag
            .schedule()
            .iter()
            .map(|c| ScheduleDoc {
                at: rfc3339(c.time()),
                enabled: c.enabled,
                killed: c.killed,
                rollout: c.rollout,
                strategy: c.strategy.as_deref().map(str::to_owned),
            })
            .collect(),
    }
}

/// What decides how `flag` evaluates in `set`: its own definition and the
/// segments its strategies use, so a changed segment changes its flags.
#[cfg(feature = "live")]
pub(crate) fn fingerprint(set: &FlagSet, flag: &Flag) -> serde_json::Value {
    let segments: Vec<SegmentDoc> = set
        .segments()
        .filter(|s| {
            flag.strategies()
                .iter()
                .any(|st| st.segments.contains(&s.id()))
        })
        .map(segment_to_doc)
        .collect();
    serde_json::json!([flag_to_doc(flag), segments])
}

pub(crate) fn segment_to_doc(segment: &Segment) -> SegmentDoc {
    SegmentDoc {
        id: segment.id(),
        name: segment.name.as_deref().map(str::to_owned),
        constraints: segment.constraints.iter().map(constraint_to_doc).collect(),
    }
}

fn strategy_to_doc(strategy: &Strategy) -> StrategyDoc {
    StrategyDoc {
        name: strategy.name().to_owned(),
        constraints: strategy.constraints.iter().map(constraint_to_doc).collect(),
        segments: strategy.segments.clone(),
        rollout: strategy.rollout,
        stickiness: stickiness_name(&strategy.stickiness),
        group_id: strategy.group_id.as_deref().map(str::to_owned),
        variants: strategy
            .variants
            .iter()
            .map(|v| variant_to_doc(v))
            .collect(),
    }
}

fn variant_to_doc(variant: &Variant) -> VariantDoc {
    VariantDoc {
        name: variant.name().to_owned(),
        weight: variant.weight(),
        payload: variant.get_payload().map(|p| PayloadDoc {
            kind: p.kind().to_owned(),
            value: p.value().to_owned(),
        }),
        overrides: variant
            .overrides
            .iter()
            .map(|o| OverrideDoc {
                field: o.field.to_string(),
                values: o.values.iter().map(|v| v.to_string()).collect(),
            })
            .collect(),
    }
}

fn stickiness_name(stickiness: &Stickiness) -> String {
    match stickiness {
        Stickiness::Default => String::new(),
        Stickiness::Random => "random".to_owned(),
        Stickiness::Field(field) => field.to_string(),
    }
}

fn constraint_to_doc(constraint: &Constraint) -> ConstraintDoc {
    let strings = |v: &[std::sync::Arc<str>]| v.iter().map(|s| s.to_string()).collect();
    let mut doc = ConstraintDoc {
        field: constraint.field().to_string(),
        operator: String::new(),
        values: Vec::new(),
        value: None,
        inverted: constraint.is_inverted(),
        case_insensitive: false,
    };
    let (operator, values, value): (String, Vec<String>, Option<ScalarDoc>) =
        match constraint.operator() {
            Operator::In(v) => ("IN".into(), strings(v), None),
            Operator::NotIn(v) => ("NOT_IN".into(), strings(v), None),
            Operator::StartsWith(s) | Operator::EndsWith(s) | Operator::Contains(s) => {
                doc.case_insensitive = s.is_case_insensitive();
                let name = match constraint.operator() {
                    Operator::StartsWith(_) => "STR_STARTS_WITH",
                    Operator::EndsWith(_) => "STR_ENDS_WITH",
                    _ => "STR_CONTAINS",
                };
                (name.into(), strings(s.values()), None)
            }
            Operator::Number(c, n) => (
                format!("NUM_{}", comparison_name(*c)),
                Vec::new(),
                Some(ScalarDoc::Number(*n)),
            ),
            Operator::Semver(c, v) => (
                format!("SEMVER_{}", comparison_name(*c)),
                Vec::new(),
                Some(ScalarDoc::Text(v.to_string())),
            ),
            Operator::DateAfter(t) => (
                "DATE_AFTER".into(),
                Vec::new(),
                Some(ScalarDoc::Text(rfc3339(*t))),
            ),
            Operator::DateBefore(t) => (
                "DATE_BEFORE".into(),
                Vec::new(),
                Some(ScalarDoc::Text(rfc3339(*t))),
            ),
            Operator::Regex(r) => (
                "REGEX".into(),
                Vec::new(),
                Some(ScalarDoc::Text(r.as_str().to_owned())),
            ),
            Operator::InCidr(nets) => (
                "IN_CIDR".into(),
                nets.iter().map(ToString::to_string).collect(),
                None,
            ),
            Operator::Never(reason) => (
                "NEVER".into(),
                Vec::new(),
                Some(ScalarDoc::Text(reason.to_string())),
            ),
        };
    doc.operator = operator;
    doc.values = values;
    doc.value = value;
    doc
}

fn comparison_name(comparison: Comparison) -> &'static str {
    match comparison {
        Comparison::Eq => "EQ",
        Comparison::Gt => "GT",
        Comparison::Gte => "GTE",
        Comparison::Lt => "LT",
        Comparison::Lte => "LTE",
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (days to civil date after Howard Hinnant's
/// algorithm), so a date constraint reads back to the same millisecond.
pub(crate) fn rfc3339(at: Timestamp) -> String {
    let millis = at.unix_millis();
    let days = millis.div_euclid(86_400_000);
    let in_day = millis.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps_that_parse_back() {
        for text in [
            "1970-01-01T00:00:00.000Z",
            "2024-02-29T23:59:59.999Z",
            "1969-12-31T23:59:59.001Z",
            "2100-03-01T12:00:00.000Z",
        ] {
            let at: Timestamp = text.parse().expect("valid");
            assert_eq!(rfc3339(at), text);
        }
    }
}
