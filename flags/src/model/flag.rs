//! A flag: its kind, on/off and kill state, strategies, variants and
//! dependencies.

use std::sync::Arc;

use super::{ScheduledChange, Stickiness, Strategy, Variant};

/// What a flag serves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FlagKind {
    /// On or off.
    Boolean,
    /// On or off, rolled out gradually to a percentage of contexts (the
    /// rollout lives in its strategies).
    Percentage,
    /// One of several weighted variants, with payloads.
    Variant,
    /// A JSON value: `on` when the flag is on (or the payload of a `json`
    /// variant, so rules can vary it), `off` otherwise.
    Config {
        /// Served when the flag is on.
        on: Arc<serde_json::Value>,
        /// Served when the flag is off.
        off: Arc<serde_json::Value>,
    },
    /// An operational switch kept for the long run (not reported stale);
    /// on or off like a Boolean.
    KillSwitch,
}

impl FlagKind {
    /// Whether the flag's value is a boolean.
    #[must_use]
    pub fn is_boolean(&self) -> bool {
        matches!(self, Self::Boolean | Self::Percentage | Self::KillSwitch)
    }
}

/// A flag that must be in a given state for this one to turn on.
#[derive(Debug, Clone)]
pub struct Dependency {
    pub(crate) parent: Arc<str>,
    pub(crate) kind: DependencyKind,
    /// The parent's position in the flag set, filled in by validation.
    pub(crate) slot: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum DependencyKind {
    /// The parent is on (and, when the list is not empty, serves one of
    /// these variants).
    Enabled(Vec<Arc<str>>),
    /// The parent is off.
    Disabled,
    /// Can never be met (kept from an import, with the reason).
    Unsatisfiable(Arc<str>),
}

impl Dependency {
    /// The parent must be on.
    #[must_use]
    pub fn enabled(parent: impl Into<Arc<str>>) -> Self {
        Self::new(parent, DependencyKind::Enabled(Vec::new()))
    }

    /// The parent must be on and serve one of `variants` (`"disabled"` is
    /// the name of "no variant").
    #[must_use]
    pub fn in_variants(
        parent: impl Into<Arc<str>>,
        variants: impl IntoIterator<Item = impl Into<Arc<str>>>,
    ) -> Self {
        Self::new(
            parent,
            DependencyKind::Enabled(variants.into_iter().map(Into::into).collect()),
        )
    }

    /// The parent must be off.
    #[must_use]
    pub fn disabled(parent: impl Into<Arc<str>>) -> Self {
        Self::new(parent, DependencyKind::Disabled)
    }

    /// A dependency that is never met, for a reason shown by `explain`
    /// (what Unleash does with a parent that is missing or has parents of
    /// its own).
    #[must_use]
    pub fn unsatisfiable(parent: impl Into<Arc<str>>, reason: impl Into<Arc<str>>) -> Self {
        Self::new(parent, DependencyKind::Unsatisfiable(reason.into()))
    }

    fn new(parent: impl Into<Arc<str>>, kind: DependencyKind) -> Self {
        Self {
            parent: parent.into(),
            kind,
            slot: usize::MAX,
        }
    }

    /// The parent flag's key.
    #[must_use]
    pub fn parent(&self) -> &str {
        &self.parent
    }
}

/// A feature flag definition.
#[derive(Debug, Clone)]
pub struct Flag {
    pub(crate) key: Arc<str>,
    pub(crate) kind: FlagKind,
    pub(crate) enabled: bool,
    pub(crate) killed: bool,
    pub(crate) strategies: Vec<Strategy>,
    pub(crate) variants: Vec<Arc<Variant>>,
    pub(crate) variant_stickiness: Stickiness,
    pub(crate) dependencies: Vec<Dependency>,
    pub(crate) schedule: Vec<ScheduledChange>,
}

impl Flag {
    /// An enabled flag with no strategies: on for everyone until strategies
    /// are added (as in Unleash).
    #[must_use]
    pub fn new(key: impl Into<Arc<str>>, kind: FlagKind) -> Self {
        Self {
            key: key.into(),
            kind,
            enabled: true,
            killed: false,
            strategies: Vec::new(),
            variants: Vec::new(),
            variant_stickiness: Stickiness::Default,
            dependencies: Vec::new(),
            schedule: Vec::new(),
        }
    }

    /// Turn the flag on (strategies decide) or off (off for everyone).
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Pull the kill switch: off for everyone, checked before anything else.
    #[must_use]
    pub fn killed(mut self, killed: bool) -> Self {
        self.killed = killed;
        self
    }

    /// Add a strategy; the flag is on when any strategy matches.
    #[must_use]
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategies.push(strategy);
        self
    }

    /// Add a variant served when a strategy without its own variants
    /// matches.
    #[must_use]
    pub fn variant(mut self, variant: Variant) -> Self {
        self.variants.push(Arc::new(variant));
        self
    }

    /// What the flag's variants bucket on (default: [`Stickiness::Default`]).
    #[must_use]
    pub fn variant_stickiness(mut self, stickiness: Stickiness) -> Self {
        self.variant_stickiness = stickiness;
        self
    }

    /// Require another flag's state.
    #[must_use]
    pub fn depends_on(mut self, dependency: Dependency) -> Self {
        self.dependencies.push(dependency);
        self
    }

    /// Make `change` at its time (see [`ScheduledChange`]).
    #[must_use]
    pub fn scheduled(mut self, change: ScheduledChange) -> Self {
        self.schedule.push(change);
        self
    }

    /// The changes still to come, in the order given.
    #[must_use]
    pub fn schedule(&self) -> &[ScheduledChange] {
        &self.schedule
    }

    /// The key.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> &FlagKind {
        &self.kind
    }

    /// Whether the flag is enabled (before the kill switch).
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Whether the kill switch is pulled.
    #[must_use]
    pub fn is_killed(&self) -> bool {
        self.killed
    }

    /// The strategies.
    #[must_use]
    pub fn strategies(&self) -> &[Strategy] {
        &self.strategies
    }

    /// The dependencies.
    #[must_use]
    pub fn dependencies(&self) -> &[Dependency] {
        &self.dependencies
    }
}
