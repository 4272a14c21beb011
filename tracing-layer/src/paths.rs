//! [`PathRules`]: the paths the trace and metrics layers skip or group.

use std::fmt;
use std::sync::Arc;

/// What the layers do with a request's path; built by [`PathRules::builder`].
///
/// A cheap clone (one `Arc`): give the same rules to
/// [`TraceLayer::paths`](crate::trace::TraceLayer::paths) and
/// [`MetricsLayer::paths`](crate::metrics::MetricsLayer::paths).
///
/// Rules match the request's raw path and the first matching rule wins.
/// A pattern is either an exact path (`/metrics`) or a prefix ending in `/*`
/// (`/health/*`), which matches the prefix itself (`/health`) and everything
/// below it (`/health/live`, `/health/ready/db`), but not `/healthz`.
///
/// ```
/// use palisade_tracing_layer::PathRules;
/// use palisade_tracing_layer::trace::TraceLayer;
///
/// let rules = PathRules::builder()
///     .skip("/health/*")
///     .skip("/metrics")
///     // One span name and one series for every file under /assets.
///     .group("/assets/*", "/assets/*")
///     .build()?;
/// let layer = TraceLayer::new().paths(rules.clone());
/// # let _ = layer;
/// # Ok::<(), palisade_tracing_layer::InvalidPathPattern>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct PathRules {
    rules: Arc<[Rule]>,
}

/// Collects the rules of a [`PathRules`], in order; [`build`](Self::build)
/// checks the patterns.
#[derive(Debug, Default)]
#[must_use]
pub struct PathRulesBuilder {
    rules: Vec<(String, Action)>,
}

#[derive(Debug)]
struct Rule {
    pattern: Pattern,
    action: Action,
}

#[derive(Debug)]
enum Pattern {
    Exact(Box<str>),
    /// The pattern without its trailing `/*`.
    Prefix(Box<str>),
}

#[derive(Clone, Debug)]
enum Action {
    Skip,
    Group(Arc<str>),
}

/// What the rules decided for one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathAction<'a> {
    /// No span, no metrics.
    Skip,
    /// Use this label as `http.route`.
    Group(&'a Arc<str>),
    /// No rule matched.
    Keep,
}

/// A path pattern or group label [`PathRulesBuilder::build`] refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPathPattern {
    pattern: String,
    reason: &'static str,
}

impl InvalidPathPattern {
    /// The refused pattern (or label).
    #[must_use]
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

impl fmt::Display for InvalidPathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid path pattern {:?}: {}",
            self.pattern, self.reason
        )
    }
}

impl std::error::Error for InvalidPathPattern {}

impl PathRules {
    /// An empty rule list to add to.
    pub fn builder() -> PathRulesBuilder {
        PathRulesBuilder::default()
    }

    /// Whether there are no rules (every request is traced and measured).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The decision for `path`.
    pub(crate) fn action(&self, path: &str) -> PathAction<'_> {
        for rule in self.rules.iter() {
            let matched = match &rule.pattern {
                Pattern::Exact(exact) => path == &**exact,
                Pattern::Prefix(prefix) => path
                    .strip_prefix(&**prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
            };
            if matched {
                return match &rule.action {
                    Action::Skip => PathAction::Skip,
                    Action::Group(label) => PathAction::Group(label),
                };
            }
        }
        PathAction::Keep
    }
}

impl PathRulesBuilder {
    /// Requests whose path matches `pattern` get no span and no metrics.
    pub fn skip(mut self, pattern: impl Into<String>) -> Self {
        self.rules.push((pattern.into(), Action::Skip));
        self
    }

    /// Requests whose path matches `pattern` are labelled `http.route` =
    /// `label` (span name and metric series), whatever route matched.
    pub fn group(mut self, pattern: impl Into<String>, label: impl Into<String>) -> Self {
        let label: String = label.into();
        self.rules
            .push((pattern.into(), Action::Group(label.into())));
        self
    }

    /// The rules.
    ///
    /// # Errors
    ///
    /// [`InvalidPathPattern`] when a pattern does not start with `/`, has a
    /// `*` anywhere but a final `/*`, has a `?` or `#` (the query is not part
    /// of the path), or when a group label is empty.
    pub fn build(self) -> Result<PathRules, InvalidPathPattern> {
        let rules = self
            .rules
            .into_iter()
            .map(|(pattern, action)| {
                let invalid = |reason| InvalidPathPattern {
                    pattern: pattern.clone(),
                    reason,
                };
                if !pattern.starts_with('/') {
                    return Err(invalid("must start with `/`"));
                }
                if pattern.contains(['?', '#']) {
                    return Err(invalid("must not contain `?` or `#`"));
                }
                let parsed = match pattern.strip_suffix("/*") {
                    Some(prefix) => Pattern::Prefix(prefix.into()),
                    None => Pattern::Exact(pattern.as_str().into()),
                };
                let body = match &parsed {
                    Pattern::Exact(p) | Pattern::Prefix(p) => p,
                };
                if body.contains('*') {
                    return Err(invalid("`*` is only allowed as a final `/*`"));
                }
                if let Action::Group(label) = &action
                    && label.is_empty()
                {
                    return Err(invalid("the group label is empty"));
                }
                Ok(Rule {
                    pattern: parsed,
                    action,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PathRules {
            rules: rules.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> PathRules {
        PathRules::builder()
            .skip("/health/*")
            .skip("/metrics")
            .group("/assets/*", "/assets/*")
            .group("/*", "/catch-all")
            .build()
            .unwrap_or_default()
    }

    #[test]
    fn exact_and_prefix_patterns_match_whole_segments() {
        let rules = rules();
        assert_eq!(rules.action("/health"), PathAction::Skip);
        assert_eq!(rules.action("/health/live"), PathAction::Skip);
        assert_eq!(rules.action("/metrics"), PathAction::Skip);
        let PathAction::Group(label) = rules.action("/assets/app.js") else {
            panic!("not grouped");
        };
        assert_eq!(&**label, "/assets/*");
        // `/healthz` and `/metrics/x` are not the skipped paths: the
        // catch-all (first match wins, so it is last) takes them.
        for path in ["/healthz", "/metrics/x", "/"] {
            let PathAction::Group(label) = rules.action(path) else {
                panic!("{path} not grouped");
            };
            assert_eq!(&**label, "/catch-all");
        }
        assert_eq!(PathRules::default().action("/health"), PathAction::Keep);
    }

    #[test]
    fn bad_patterns_are_refused() {
        for pattern in ["health", "/a*", "/*/x", "/x?y", ""] {
            let error = PathRules::builder().skip(pattern).build();
            assert!(error.is_err(), "{pattern} accepted");
        }
        let error = PathRules::builder().group("/x/*", "").build();
        assert_eq!(
            error.map(|_| ()).map_err(|e| e.pattern().to_owned()),
            Err("/x/*".to_owned())
        );
    }
}
