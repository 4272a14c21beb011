//! Constraints: one test of one context field, such as
//! `environment IN [prod]` or `version SEMVER_GTE 2.0.0`.

use std::cmp::Ordering;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use regex::Regex;
use semver::Version;

use super::{ContextField, DefinitionError};
use crate::context::{Context, CurrentTime};
use crate::time::Timestamp;

/// One test of one context field; all constraints of a strategy must hold.
#[derive(Debug, Clone)]
pub struct Constraint {
    field: ContextField,
    operator: Operator,
    inverted: bool,
}

/// How a constraint compares a context value.
///
/// String operators compare exactly unless built case-insensitive; numeric,
/// date and semver operators parse the context value and fail when it does
/// not parse. A missing context value fails every operator except `NotIn`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Operator {
    /// The value is one of these.
    In(Vec<Arc<str>>),
    /// The value is none of these (also true when the field is missing).
    NotIn(Vec<Arc<str>>),
    /// The value starts with one of these.
    StartsWith(StringValues),
    /// The value ends with one of these.
    EndsWith(StringValues),
    /// The value contains one of these.
    Contains(StringValues),
    /// The value, as a number, compares so with this one.
    Number(Comparison, f64),
    /// The current time is strictly after this instant.
    DateAfter(Timestamp),
    /// The current time is strictly before this instant.
    DateBefore(Timestamp),
    /// The value, as a semantic version, compares so with this one
    /// (by precedence: build metadata is ignored).
    Semver(Comparison, Version),
    /// The pattern matches somewhere in the value.
    Regex(Regex),
    /// The value is an IP address inside one of these networks.
    InCidr(Vec<IpNet>),
    /// Never holds, whatever `inverted` says: an imported constraint whose
    /// operator or value could not be understood (the reason is kept for
    /// `explain`).
    Never(Arc<str>),
}

/// Values for the string operators, with their case rule.
#[derive(Debug, Clone)]
pub struct StringValues {
    values: Vec<Arc<str>>,
    case_insensitive: bool,
}

impl StringValues {
    /// `values` compared exactly.
    #[must_use]
    pub fn new(values: impl IntoIterator<Item = impl Into<Arc<str>>>) -> Self {
        Self {
            values: values.into_iter().map(Into::into).collect(),
            case_insensitive: false,
        }
    }

    /// `values` compared ignoring case.
    #[must_use]
    pub fn case_insensitive(values: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        Self {
            values: values
                .into_iter()
                .map(|v| v.as_ref().to_lowercase().into())
                .collect(),
            case_insensitive: true,
        }
    }

    /// The values (lower-cased when compared ignoring case).
    #[must_use]
    pub fn values(&self) -> &[Arc<str>] {
        &self.values
    }

    /// Whether the values are compared ignoring case.
    #[must_use]
    pub fn is_case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    fn any(&self, value: &str, test: StrTest) -> bool {
        if !self.case_insensitive {
            return self.values.iter().any(|v| test.exact(value, v));
        }
        if value.is_ascii() {
            // The values are lower-cased already; an ASCII value needs no copy.
            return self
                .values
                .iter()
                .any(|v| test.ascii_ignoring_case(value, v));
        }
        let lowered = value.to_lowercase();
        self.values.iter().any(|v| test.exact(&lowered, v))
    }
}

/// The three string tests.
#[derive(Clone, Copy)]
enum StrTest {
    StartsWith,
    EndsWith,
    Contains,
}

impl StrTest {
    fn exact(self, value: &str, needle: &str) -> bool {
        match self {
            Self::StartsWith => value.starts_with(needle),
            Self::EndsWith => value.ends_with(needle),
            Self::Contains => value.contains(needle),
        }
    }

    fn ascii_ignoring_case(self, value: &str, needle: &str) -> bool {
        let (value, needle) = (value.as_bytes(), needle.as_bytes());
        if needle.len() > value.len() {
            return false;
        }
        match self {
            Self::StartsWith => value[..needle.len()].eq_ignore_ascii_case(needle),
            Self::EndsWith => value[value.len() - needle.len()..].eq_ignore_ascii_case(needle),
            Self::Contains => {
                needle.is_empty()
                    || value
                        .windows(needle.len())
                        .any(|w| w.eq_ignore_ascii_case(needle))
            }
        }
    }
}

/// The comparisons of numeric and semver operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Comparison {
    /// Equal.
    Eq,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
}

impl Comparison {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Self::Eq => ordering == Ordering::Equal,
            Self::Gt => ordering == Ordering::Greater,
            Self::Gte => ordering != Ordering::Less,
            Self::Lt => ordering == Ordering::Less,
            Self::Lte => ordering != Ordering::Greater,
        }
    }
}

impl Operator {
    /// A regex operator.
    ///
    /// # Errors
    /// [`DefinitionError::InvalidValue`] when the pattern does not compile
    /// (look-around and back-references are not supported).
    pub fn regex(pattern: &str, case_insensitive: bool) -> Result<Self, DefinitionError> {
        // A leading `(?i)` rather than the builder's flag, so the pattern
        // (`Regex::as_str`) says it ignores case and can be written back out.
        let source = if case_insensitive {
            std::borrow::Cow::Owned(format!("(?i){pattern}"))
        } else {
            std::borrow::Cow::Borrowed(pattern)
        };
        regex::RegexBuilder::new(&source)
            .build()
            .map(Self::Regex)
            .map_err(|e| DefinitionError::InvalidValue {
                value: pattern.to_owned(),
                reason: format!("not a supported regular expression: {e}"),
            })
    }

    /// A semver operator.
    ///
    /// # Errors
    /// [`DefinitionError::InvalidValue`] when `version` is not a semantic
    /// version (`v1.2.3` is not).
    pub fn semver(comparison: Comparison, version: &str) -> Result<Self, DefinitionError> {
        Version::parse(version.trim())
            .map(|v| Self::Semver(comparison, v))
            .map_err(|e| DefinitionError::InvalidValue {
                value: version.to_owned(),
                reason: format!("not a semantic version: {e}"),
            })
    }

    /// A numeric operator.
    ///
    /// # Errors
    /// [`DefinitionError::InvalidValue`] when `number` is not a finite number.
    pub fn number(comparison: Comparison, number: &str) -> Result<Self, DefinitionError> {
        match number.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Self::Number(comparison, n)),
            _ => Err(DefinitionError::InvalidValue {
                value: number.to_owned(),
                reason: "not a finite number".to_owned(),
            }),
        }
    }

    /// A CIDR operator; a bare address is a single-host network.
    ///
    /// # Errors
    /// [`DefinitionError::InvalidValue`] for the first value that is neither
    /// a network nor an address.
    pub fn in_cidr(
        values: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, DefinitionError> {
        values
            .into_iter()
            .map(|v| parse_network(v.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::InCidr)
    }

    fn name(&self) -> &'static str {
        match self {
            Self::In(_) => "IN",
            Self::NotIn(_) => "NOT_IN",
            Self::StartsWith(_) => "STR_STARTS_WITH",
            Self::EndsWith(_) => "STR_ENDS_WITH",
            Self::Contains(_) => "STR_CONTAINS",
            Self::Number(c, _) | Self::Semver(c, _) => {
                let semver = matches!(self, Self::Semver(..));
                match (semver, c) {
                    (false, Comparison::Eq) => "NUM_EQ",
                    (false, Comparison::Gt) => "NUM_GT",
                    (false, Comparison::Gte) => "NUM_GTE",
                    (false, Comparison::Lt) => "NUM_LT",
                    (false, Comparison::Lte) => "NUM_LTE",
                    (true, Comparison::Eq) => "SEMVER_EQ",
                    (true, Comparison::Gt) => "SEMVER_GT",
                    (true, Comparison::Gte) => "SEMVER_GTE",
                    (true, Comparison::Lt) => "SEMVER_LT",
                    (true, Comparison::Lte) => "SEMVER_LTE",
                }
            }
            Self::DateAfter(_) => "DATE_AFTER",
            Self::DateBefore(_) => "DATE_BEFORE",
            Self::Regex(_) => "REGEX",
            Self::InCidr(_) => "IN_CIDR",
            Self::Never(_) => "NEVER",
        }
    }
}

/// A network (`10.0.0.0/8`) or a single address (`10.0.0.1`).
pub(crate) fn parse_network(text: &str) -> Result<IpNet, DefinitionError> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| DefinitionError::InvalidValue {
            value: text.to_owned(),
            reason: "not an IP address or CIDR network".to_owned(),
        })
}

impl Constraint {
    /// `field` tested with `operator`.
    #[must_use]
    pub fn new(field: ContextField, operator: Operator) -> Self {
        Self {
            field,
            operator,
            inverted: false,
        }
    }

    /// Negate the result (a [`Operator::Never`] constraint stays false).
    #[must_use]
    pub fn inverted(mut self, inverted: bool) -> Self {
        self.inverted = inverted;
        self
    }

    /// The field tested.
    #[must_use]
    pub fn field(&self) -> &ContextField {
        &self.field
    }

    /// The operator.
    #[must_use]
    pub fn operator(&self) -> &Operator {
        &self.operator
    }

    /// Whether the result is negated.
    #[must_use]
    pub fn is_inverted(&self) -> bool {
        self.inverted
    }

    /// Whether the constraint holds for `context`, reading "now" from `now`
    /// when the context has no current time.
    pub(crate) fn holds(&self, context: &Context<'_>, now: &dyn Fn() -> Timestamp) -> bool {
        if matches!(self.operator, Operator::Never(_)) {
            return false;
        }
        self.operator_holds(context, now) != self.inverted
    }

    fn operator_holds(&self, context: &Context<'_>, now: &dyn Fn() -> Timestamp) -> bool {
        match &self.operator {
            Operator::DateAfter(limit) => {
                let limit = *limit;
                return match context.time() {
                    CurrentTime::Clock => now() > limit,
                    CurrentTime::At(at) => at > limit,
                    CurrentTime::Invalid => false,
                };
            }
            Operator::DateBefore(limit) => {
                let limit = *limit;
                return match context.time() {
                    CurrentTime::Clock => now() < limit,
                    CurrentTime::At(at) => at < limit,
                    CurrentTime::Invalid => false,
                };
            }
            _ => {}
        }
        let Some(value) = context.field(&self.field) else {
            return matches!(self.operator, Operator::NotIn(_));
        };
        match &self.operator {
            Operator::In(values) => values.iter().any(|v| **v == *value),
            Operator::NotIn(values) => !values.iter().any(|v| **v == *value),
            Operator::StartsWith(values) => values.any(value, StrTest::StartsWith),
            Operator::EndsWith(values) => values.any(value, StrTest::EndsWith),
            Operator::Contains(values) => values.any(value, StrTest::Contains),
            Operator::Number(comparison, limit) => value
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|n| n.partial_cmp(limit))
                .is_some_and(|ordering| comparison.holds(ordering)),
            Operator::Semver(comparison, limit) => Version::parse(value.trim())
                .is_ok_and(|v| comparison.holds(v.cmp_precedence(limit))),
            Operator::Regex(regex) => regex.is_match(value),
            Operator::InCidr(networks) => value
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|address| networks.iter().any(|net| net.contains(&address))),
            Operator::DateAfter(_) | Operator::DateBefore(_) | Operator::Never(_) => false,
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inverted && !matches!(self.operator, Operator::Never(_)) {
            f.write_str("NOT ")?;
        }
        write!(f, "{} {} ", self.field, self.operator.name())?;
        let list = |f: &mut fmt::Formatter<'_>, values: &[Arc<str>]| {
            f.write_str("[")?;
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{v:?}")?;
            }
            f.write_str("]")
        };
        match &self.operator {
            Operator::In(values) | Operator::NotIn(values) => list(f, values),
            Operator::StartsWith(s) | Operator::EndsWith(s) | Operator::Contains(s) => {
                list(f, &s.values)?;
                if s.case_insensitive {
                    f.write_str(" (ignoring case)")?;
                }
                Ok(())
            }
            Operator::Number(_, n) => write!(f, "{n}"),
            Operator::DateAfter(t) | Operator::DateBefore(t) => {
                write!(f, "{} ms since the epoch", t.unix_millis())
            }
            Operator::Semver(_, v) => write!(f, "{v}"),
            Operator::Regex(r) => write!(f, "/{}/", r.as_str()),
            Operator::InCidr(nets) => {
                f.write_str("[")?;
                for (i, n) in nets.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n}")?;
                }
                f.write_str("]")
            }
            Operator::Never(reason) => write!(f, "({reason})"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn never_now() -> Timestamp {
        Timestamp::from_unix_millis(0)
    }

    fn holds(constraint: &Constraint, context: &Context<'_>) -> bool {
        constraint.holds(context, &never_now)
    }

    #[test]
    fn a_missing_field_fails_everything_but_not_in() {
        let empty = Context::new();
        let field = || ContextField::property("tier");
        assert!(!holds(
            &Constraint::new(field(), Operator::In(vec!["a".into()])),
            &empty
        ));
        assert!(holds(
            &Constraint::new(field(), Operator::NotIn(vec!["a".into()])),
            &empty
        ));
        let number = Operator::number(Comparison::Lt, "10").unwrap();
        assert!(!holds(&Constraint::new(field(), number.clone()), &empty));
        assert!(holds(
            &Constraint::new(field(), number).inverted(true),
            &empty
        ));
    }

    #[test]
    fn never_stays_false_when_inverted() {
        let never = Constraint::new(
            ContextField::UserId,
            Operator::Never("unknown operator".into()),
        );
        let context = Context::new().user_id("1");
        assert!(!holds(&never, &context));
        assert!(!holds(&never.inverted(true), &context));
    }

    #[test]
    fn case_insensitive_string_operators_fold_both_sides() {
        let c = Constraint::new(
            ContextField::property("email"),
            Operator::EndsWith(StringValues::case_insensitive(["Example.COM"])),
        );
        assert!(holds(
            &c,
            &Context::new().property("email", "me@EXAMPLE.com")
        ));
        assert!(!holds(
            &c,
            &Context::new().property("email", "me@example.org")
        ));
    }

    #[test]
    fn semver_ignores_build_metadata_and_orders_pre_releases() {
        let eq = Constraint::new(
            ContextField::property("v"),
            Operator::semver(Comparison::Eq, "1.2.3").unwrap(),
        );
        assert!(holds(&eq, &Context::new().property("v", "1.2.3+build.7")));
        let lt = Constraint::new(
            ContextField::property("v"),
            Operator::semver(Comparison::Lt, "2.0.0").unwrap(),
        );
        assert!(holds(&lt, &Context::new().property("v", "2.0.0-rc.1")));
        assert!(Operator::semver(Comparison::Eq, "v1.0.0").is_err());
    }

    #[test]
    fn dates_use_the_context_time_then_the_clock() {
        let limit: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let after = Constraint::new(ContextField::CurrentTime, Operator::DateAfter(limit));
        let later = || Timestamp::from_unix_millis(limit.unix_millis() + 1);
        assert!(after.holds(&Context::new(), &later));
        assert!(!after.holds(&Context::new().current_time(limit), &later));
        assert!(!after.holds(&Context::new().current_time_text("yesterday"), &later));
    }

    #[test]
    fn invalid_values_are_reported_not_swallowed() {
        assert!(Operator::regex("(a", false).is_err());
        assert!(Operator::number(Comparison::Eq, "twelve").is_err());
        assert!(Operator::in_cidr(["10.0.0.0/8", "10.0.0/8"]).is_err());
        let cidr = Constraint::new(
            ContextField::RemoteAddress,
            Operator::in_cidr(["10.0.0.0/8", "::1"]).unwrap(),
        );
        assert!(holds(&cidr, &Context::new().remote_address("10.1.2.3")));
        assert!(holds(&cidr, &Context::new().remote_address("::1")));
        assert!(!holds(&cidr, &Context::new().remote_address("11.0.0.1")));
    }
}
