//! Strategies (who gets a flag) and segments (reusable constraint sets).

use std::sync::Arc;

use super::{Constraint, ContextField, DefinitionError, Variant};

/// One way a flag can turn on: every constraint (its own and its segments')
/// holds, and the context falls inside the rollout percentage.
#[derive(Debug, Clone)]
pub struct Strategy {
    pub(crate) name: Arc<str>,
    pub(crate) constraints: Vec<Constraint>,
    pub(crate) segments: Vec<u64>,
    /// Positions of `segments` in the flag set, filled in by validation.
    pub(crate) segment_slots: Vec<usize>,
    pub(crate) rollout: Option<u8>,
    pub(crate) stickiness: Stickiness,
    pub(crate) group_id: Option<Arc<str>>,
    pub(crate) variants: Vec<Arc<Variant>>,
}

impl Strategy {
    /// A strategy that matches everyone until constraints or a rollout are
    /// added. `name` is shown by `explain`.
    #[must_use]
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            constraints: Vec::new(),
            segments: Vec::new(),
            segment_slots: Vec::new(),
            rollout: None,
            stickiness: Stickiness::Default,
            group_id: None,
            variants: Vec::new(),
        }
    }

    /// Add a constraint.
    #[must_use]
    pub fn constraint(mut self, constraint: Constraint) -> Self {
        self.constraints.push(constraint);
        self
    }

    /// Require the constraints of segment `id` as well.
    #[must_use]
    pub fn segment(mut self, id: u64) -> Self {
        self.segments.push(id);
        self
    }

    /// Only `percent` of contexts (by their stickiness bucket, `1..=100`).
    ///
    /// # Errors
    /// [`DefinitionError::InvalidValue`] above 100.
    pub fn rollout(mut self, percent: u8) -> Result<Self, DefinitionError> {
        if percent > 100 {
            return Err(DefinitionError::InvalidValue {
                value: percent.to_string(),
                reason: "a rollout percentage is at most 100".to_owned(),
            });
        }
        self.rollout = Some(percent);
        Ok(self)
    }

    /// What the rollout and this strategy's variants bucket on.
    #[must_use]
    pub fn stickiness(mut self, stickiness: Stickiness) -> Self {
        self.stickiness = stickiness;
        self
    }

    /// The group hashed with the stickiness value (default: the flag key),
    /// so different flags bucket the same user differently.
    #[must_use]
    pub fn group_id(mut self, group_id: impl Into<Arc<str>>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }

    /// A variant served when this strategy matches (instead of the flag's).
    #[must_use]
    pub fn variant(mut self, variant: Variant) -> Self {
        self.variants.push(Arc::new(variant));
        self
    }

    /// The name shown by `explain`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it has targeting (constraints or segments) beyond a rollout.
    pub(crate) fn is_targeted(&self) -> bool {
        !self.constraints.is_empty() || !self.segments.is_empty()
    }
}

/// What bucketing hashes, so a context stays in the same bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stickiness {
    /// Unleash's `default`: the user id, else the session id (else, for
    /// variants, the remote address), else a random bucket.
    Default,
    /// A random bucket on every evaluation.
    Random,
    /// A context field; a context without it is outside the rollout.
    Field(ContextField),
}

impl Stickiness {
    /// Unleash's stickiness parameter: `default`, `random`, or a field name.
    #[must_use]
    pub fn from_unleash_name(name: &str) -> Self {
        match name {
            "" | "default" => Self::Default,
            "random" => Self::Random,
            field => Self::Field(ContextField::from_unleash_name(field)),
        }
    }
}

/// A named, reusable set of constraints that strategies refer to by id.
#[derive(Debug, Clone)]
pub struct Segment {
    pub(crate) id: u64,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) constraints: Vec<Constraint>,
}

impl Segment {
    /// Segment `id` with no constraints yet.
    #[must_use]
    pub fn new(id: u64) -> Self {
        Self {
            id,
            name: None,
            constraints: Vec::new(),
        }
    }

    /// A name for people (shown by `explain`).
    #[must_use]
    pub fn named(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Add a constraint.
    #[must_use]
    pub fn constraint(mut self, constraint: Constraint) -> Self {
        self.constraints.push(constraint);
        self
    }

    /// The id strategies refer to.
    #[must_use]
    pub fn id(&self) -> u64 {
        self.id
    }
}
