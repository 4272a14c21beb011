//! Reading and controlling a breaker from outside the request path.

use std::fmt;
use std::sync::Arc;

use super::state::{Breaker, State};

/// A cloneable handle to one breaker: its state, its counts, and manual
/// control. From [`CircuitBreakerLayer::handle`](super::CircuitBreakerLayer::handle),
/// [`CircuitBreaker::handle`](super::CircuitBreaker::handle) or a keyed
/// layer's [`handle`](super::KeyedCircuitBreakerHandle::handle).
#[derive(Clone)]
pub struct CircuitBreakerHandle {
    breaker: Arc<Breaker>,
}

impl CircuitBreakerHandle {
    pub(crate) fn new(breaker: Arc<Breaker>) -> Self {
        Self { breaker }
    }

    #[cfg(test)]
    pub(crate) fn breaker(&self) -> &Arc<Breaker> {
        &self.breaker
    }

    /// The breaker's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.breaker.name()
    }

    /// The current state. An Open breaker whose wait is over still reads
    /// Open until a call arrives: the move to HalfOpen happens lazily.
    #[must_use]
    pub fn state(&self) -> State {
        self.breaker.state()
    }

    /// The state and the counts of the sliding window (time windows drop
    /// expired buckets first). The window only changes in Closed; it is
    /// emptied whenever the breaker closes.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        let state = self.breaker.state();
        let tally = self.breaker.window_totals();
        Snapshot {
            state,
            calls: tally.calls,
            failures: tally.failures,
            slow_calls: tally.slow,
            rejected: self.breaker.rejected(),
        }
    }

    /// Rejects every call until [`reset`](Self::reset) (ForcedOpen). Rejections
    /// carry no `retry_after`.
    pub fn force_open(&self) {
        self.breaker.force(State::ForcedOpen);
    }

    /// Lets every call through and records nothing until
    /// [`reset`](Self::reset) (Disabled).
    pub fn disable(&self) {
        self.breaker.force(State::Disabled);
    }

    /// Back to Closed with an empty window and the initial wait, from any
    /// state.
    pub fn reset(&self) {
        self.breaker.force(State::Closed);
    }
}

impl fmt::Debug for CircuitBreakerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerHandle")
            .field("name", &self.name())
            .field("state", &self.state())
            .finish()
    }
}

/// What a breaker holds at one moment; from [`CircuitBreakerHandle::snapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// The state.
    pub state: State,
    /// Calls in the sliding window.
    pub calls: u64,
    /// Failed calls in the sliding window.
    pub failures: u64,
    /// Slow calls in the sliding window (0 unless slow-call detection is on).
    pub slow_calls: u64,
    /// Calls rejected since the breaker was built.
    pub rejected: u64,
}

impl Snapshot {
    /// Failed calls as a percentage of the window's calls (0 when empty).
    #[must_use]
    pub fn failure_rate(&self) -> f64 {
        percent(self.failures, self.calls)
    }

    /// Slow calls as a percentage of the window's calls (0 when empty).
    #[must_use]
    pub fn slow_call_rate(&self) -> f64 {
        percent(self.slow_calls, self.calls)
    }
}

#[allow(clippy::cast_precision_loss)] // a rate needs no more than 52 bits
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
