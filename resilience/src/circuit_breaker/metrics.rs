//! `metrics` counters and gauges (feature `metrics`; without it every method
//! is a no-op the compiler removes).
//!
//! | name                                        | kind    | labels              |
//! |---------------------------------------------|---------|---------------------|
//! | `palisade_circuit_breaker_transitions_total` | counter | `name`, `from`, `to` |
//! | `palisade_circuit_breaker_calls_total`       | counter | `name`, `outcome` (`success`, `failure`, `rejected`) |
//! | `palisade_circuit_breaker_state`             | gauge   | `name` (0 closed, 1 open, 2 half_open, 3 forced_open, 4 disabled, 5 metrics_only) |
//! | `palisade_circuit_breaker_would_open_total`  | counter | `name` (MetricsOnly: the thresholds were crossed, nothing was rejected) |
//!
//! The per-call counters and the gauge are registered once, when the breaker
//! is built, with the recorder installed at that moment; each call then costs
//! one counter increment. Calls while Disabled are not counted.

use super::state::State;

#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Metrics {
    name: std::sync::Arc<str>,
    success: metrics::Counter,
    failure: metrics::Counter,
    rejected: metrics::Counter,
    state: metrics::Gauge,
}

#[cfg(feature = "metrics")]
impl Metrics {
    pub(crate) fn new(name: &std::sync::Arc<str>) -> Self {
        const CALLS: &str = "palisade_circuit_breaker_calls_total";
        let counter = |outcome: &'static str| metrics::counter!(CALLS, "name" => std::sync::Arc::clone(name), "outcome" => outcome);
        let metrics = Self {
            name: std::sync::Arc::clone(name),
            success: counter("success"),
            failure: counter("failure"),
            rejected: counter("rejected"),
            state: metrics::gauge!("palisade_circuit_breaker_state", "name" => std::sync::Arc::clone(name)),
        };
        metrics.state.set(0.0);
        metrics
    }

    #[inline]
    pub(crate) fn outcome(&self, failure: bool) {
        if failure {
            self.failure.increment(1);
        } else {
            self.success.increment(1);
        }
    }

    #[inline]
    pub(crate) fn rejected(&self) {
        self.rejected.increment(1);
    }

    pub(crate) fn transition(&self, from: State, to: State) {
        metrics::counter!(
            "palisade_circuit_breaker_transitions_total",
            "name" => std::sync::Arc::clone(&self.name),
            "from" => from.as_str(),
            "to" => to.as_str(),
        )
        .increment(1);
        self.state.set(f64::from(to.code()));
    }

    pub(crate) fn would_open(&self) {
        metrics::counter!(
            "palisade_circuit_breaker_would_open_total",
            "name" => std::sync::Arc::clone(&self.name),
        )
        .increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
#[derive(Debug)]
pub(crate) struct Metrics;

#[cfg(not(feature = "metrics"))]
impl Metrics {
    pub(crate) fn new(_name: &std::sync::Arc<str>) -> Self {
        Self
    }

    #[inline]
    pub(crate) fn outcome(&self, _failure: bool) {}

    #[inline]
    pub(crate) fn rejected(&self) {}

    pub(crate) fn transition(&self, _from: State, _to: State) {}

    pub(crate) fn would_open(&self) {}
}
