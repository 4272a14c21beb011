//! What a component reports, and how reports are combined.

use std::fmt;

/// How well a component (or the whole registry) is doing.
///
/// Ordered from best to worst, so the aggregate is the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Status {
    /// Working normally.
    Healthy,
    /// Working, but shedding or queueing load, probing, or failing often.
    Degraded,
    /// Rejecting calls (an open breaker).
    Unhealthy,
}

impl Status {
    /// The lowercase name: `healthy`, `degraded` or `unhealthy`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One component's report, without its name (the registry adds that).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ComponentHealth {
    /// What kind of component this is, e.g. `circuit_breaker`.
    pub kind: &'static str,
    /// The component's own verdict.
    pub status: Status,
    /// The component's state in its own words, e.g. `closed` or `half_open`.
    pub state: String,
    /// Calls in flight right now, where the component knows.
    pub in_flight: Option<u64>,
    /// Calls rejected since the component was built.
    pub rejections: u64,
    /// Successful calls as a percentage (0..=100) over the component's rolling
    /// window, where it keeps one.
    pub success_rate: Option<f64>,
}

impl ComponentHealth {
    /// A report of `kind` with `status`, no counts and the status as its state.
    #[must_use]
    pub fn new(kind: &'static str, status: Status) -> Self {
        Self {
            kind,
            status,
            state: status.as_str().to_owned(),
            in_flight: None,
            rejections: 0,
            success_rate: None,
        }
    }

    /// Sets the state description.
    #[must_use]
    pub fn with_state(mut self, state: impl Into<String>) -> Self {
        self.state = state.into();
        self
    }

    /// Sets the number of calls in flight.
    #[must_use]
    pub fn with_in_flight(mut self, in_flight: u64) -> Self {
        self.in_flight = Some(in_flight);
        self
    }

    /// Sets the number of rejected calls.
    #[must_use]
    pub fn with_rejections(mut self, rejections: u64) -> Self {
        self.rejections = rejections;
        self
    }

    /// Sets the rolling success rate, in percent.
    #[must_use]
    pub fn with_success_rate(mut self, percent: f64) -> Self {
        self.success_rate = Some(percent);
        self
    }
}

/// A named component's report, as returned by [`HealthRegistry::check`].
///
/// [`HealthRegistry::check`]: crate::health::HealthRegistry::check
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ComponentReport {
    /// The name it was registered under.
    pub name: String,
    /// What it reported, with its status already adjusted by the registry's
    /// success-rate threshold.
    pub health: ComponentHealth,
}

/// The whole registry's report.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HealthReport {
    /// The worst status among the components (healthy when there are none).
    pub status: Status,
    /// Every component, in registration order.
    pub components: Vec<ComponentReport>,
}

/// Something that can report its health on demand.
///
/// Implemented by the handles of our layers and by closures returning a
/// [`ComponentHealth`].
pub trait HealthSource: Send + Sync + 'static {
    /// A fresh report.
    fn health(&self) -> ComponentHealth;
}

impl<F> HealthSource for F
where
    F: Fn() -> ComponentHealth + Send + Sync + 'static,
{
    fn health(&self) -> ComponentHealth {
        self()
    }
}
