//! Reading and controlling a breaker from outside the request path.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

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

    /// The breaker's last change of state, `None` until its first. Its time
    /// is wall-clock time for display, to the millisecond, derived from the
    /// breaker's [`Clock`](crate::clock::Clock) (so it follows paused tokio
    /// time in tests). Reading it costs one atomic load; recording it costs
    /// the transition one more atomic operation, and calls nothing.
    ///
    /// ```
    /// use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, State};
    ///
    /// let layer = CircuitBreakerLayer::builder().build()?;
    /// let handle = layer.handle();
    /// assert!(handle.last_transition().is_none());
    /// handle.force_open();
    /// let last = handle.last_transition().expect("it moved");
    /// assert_eq!((last.from, last.to), (State::Closed, State::ForcedOpen));
    /// # Ok::<(), palisade_resilience::ConfigError>(())
    /// ```
    #[must_use]
    pub fn last_transition(&self) -> Option<LastTransition> {
        self.breaker
            .last_transition()
            .map(|(from, to, at)| LastTransition { from, to, at })
    }

    /// The settings a [registry](crate::registry) can change, as they are now.
    #[cfg(feature = "registry")]
    pub(crate) fn runtime_config(&self) -> crate::registry::BreakerConfig {
        let tuning = self.breaker.tuning();
        #[allow(clippy::cast_precision_loss)] // basis points, at most 10,000
        crate::registry::BreakerConfig {
            failure_rate_threshold: tuning.failure_bp as f64 / 100.0,
            minimum_calls: u32::try_from(tuning.minimum_calls).unwrap_or(u32::MAX),
            consecutive_failures: tuning
                .consecutive_failures
                .and_then(|n| std::num::NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX))),
            wait_duration_in_open: tuning.wait,
            sliding_window: tuning.window,
        }
    }

    /// Applies settings the registry validated.
    #[cfg(feature = "registry")]
    pub(crate) fn apply_runtime_config(&self, config: &crate::registry::BreakerConfig) {
        self.breaker.retune(super::state::Tuning {
            failure_bp: super::config::basis_points(config.failure_rate_threshold),
            minimum_calls: u64::from(config.minimum_calls),
            consecutive_failures: config.consecutive_failures.map(|n| u64::from(n.get())),
            wait: config.wait_duration_in_open,
            window: config.sliding_window,
        });
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

    /// Lets every call through, records and reports it, and never opens
    /// until [`reset`](Self::reset) (MetricsOnly): where the breaker would
    /// have opened it logs a `warn` event instead. The window starts empty.
    pub fn metrics_only(&self) {
        self.breaker.force(State::MetricsOnly);
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

/// A breaker's last change of state; from
/// [`CircuitBreakerHandle::last_transition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LastTransition {
    /// The state it left.
    pub from: State,
    /// The state it entered (and is in, unless it moved again since).
    pub to: State,
    /// When, as wall-clock time to the millisecond, for display.
    pub at: SystemTime,
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

/// The breaker's report to a [`HealthRegistry`](crate::health::HealthRegistry)
/// (feature `health`).
#[cfg(feature = "health")]
mod health {
    use super::{CircuitBreakerHandle, Snapshot, State};
    use crate::health::{ComponentHealth, HealthSource, Status};

    /// Closed and Disabled pass calls; HalfOpen passes only probes; Open and
    /// ForcedOpen reject everything.
    pub(crate) fn status_of(state: State) -> Status {
        match state {
            State::HalfOpen => Status::Degraded,
            State::Open | State::ForcedOpen => Status::Unhealthy,
            // Closed, Disabled, and any state added later until it is placed.
            _ => Status::Healthy,
        }
    }

    /// The window's success rate; unknown (rather than 100 %) when it is
    /// empty.
    pub(crate) fn success_rate(calls: u64, failures: u64) -> Option<f64> {
        let window = Snapshot {
            state: State::Closed,
            calls,
            failures,
            slow_calls: 0,
            rejected: 0,
        };
        (calls > 0).then(|| 100.0 - window.failure_rate())
    }

    /// Closed and Disabled are healthy, HalfOpen degraded, Open and
    /// ForcedOpen unhealthy; the state is [`State::as_str`], the rejections
    /// those of the breaker, and the success rate `100 - failure_rate` over
    /// the sliding window (none while the window is empty). The window is
    /// only filled in Closed and emptied when the breaker closes, so an open
    /// breaker reports the rate that opened it.
    impl HealthSource for CircuitBreakerHandle {
        fn health(&self) -> ComponentHealth {
            let snapshot = self.snapshot();
            let health = ComponentHealth::new("circuit_breaker", status_of(snapshot.state))
                .with_state(snapshot.state.as_str())
                .with_rejections(snapshot.rejected);
            match success_rate(snapshot.calls, snapshot.failures) {
                Some(rate) => health.with_success_rate(rate),
                None => health,
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn states_map_to_statuses() {
            assert_eq!(status_of(State::Closed), Status::Healthy);
            assert_eq!(status_of(State::Disabled), Status::Healthy);
            assert_eq!(status_of(State::HalfOpen), Status::Degraded);
            assert_eq!(status_of(State::Open), Status::Unhealthy);
            assert_eq!(status_of(State::ForcedOpen), Status::Unhealthy);
        }

        #[test]
        fn success_rate_is_unknown_for_an_empty_window() {
            assert_eq!(success_rate(0, 0), None);
            assert_eq!(success_rate(4, 1), Some(75.0));
            assert_eq!(success_rate(2, 2), Some(0.0));
        }
    }
}

#[cfg(feature = "health")]
pub(crate) use health::{status_of, success_rate};
