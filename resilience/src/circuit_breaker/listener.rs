//! Reporting state transitions: the [`Transition`] listeners receive, and the
//! `tracing` event every transition emits.

use std::sync::Arc;

use tokio::time::Instant;

use super::state::State;

/// The listeners registered with
/// [`on_transition`](super::CircuitBreakerLayerBuilder::on_transition).
pub(crate) type Listeners = Vec<Arc<dyn Fn(&Transition) + Send + Sync>>;

/// One state transition of a breaker, as given to the listeners registered
/// with [`on_transition`](super::CircuitBreakerLayerBuilder::on_transition).
#[derive(Debug, Clone)]
pub struct Transition {
    name: Arc<str>,
    from: State,
    to: State,
    at: Instant,
}

impl Transition {
    pub(crate) fn new(name: Arc<str>, from: State, to: State, at: Instant) -> Self {
        Self { name, from, to, at }
    }

    /// The breaker's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The state before the transition.
    #[must_use]
    pub fn from(&self) -> State {
        self.from
    }

    /// The state after the transition.
    #[must_use]
    pub fn to(&self) -> State {
        self.to
    }

    /// When it happened (`tokio::time`, so pausable in tests).
    #[must_use]
    pub fn at(&self) -> Instant {
        self.at
    }
}

/// Emits the `tracing` event and calls the listeners.
pub(crate) fn report(listeners: &Listeners, transition: &Transition) {
    match transition.to {
        State::Open | State::ForcedOpen => tracing::warn!(
            target: "palisade_resilience::circuit_breaker",
            name = %transition.name,
            from = transition.from.as_str(),
            to = transition.to.as_str(),
            "circuit breaker state transition",
        ),
        _ => tracing::info!(
            target: "palisade_resilience::circuit_breaker",
            name = %transition.name,
            from = transition.from.as_str(),
            to = transition.to.as_str(),
            "circuit breaker state transition",
        ),
    }
    for listener in listeners {
        listener(transition);
    }
}
