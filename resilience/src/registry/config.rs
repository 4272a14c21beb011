//! What a registry can change at run time, per kind of layer, and its
//! validation.

use std::fmt;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use crate::ConfigError;

/// The kind of a registered layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A circuit breaker (feature `circuit-breaker`).
    Breaker,
    /// A bulkhead (feature `bulkhead`).
    Bulkhead,
    /// A rate limiter (feature `rate-limit`).
    RateLimit,
    /// An adaptive concurrency limit (feature `adaptive`); no run-time
    /// settings.
    AdaptiveLimit,
    /// An outlier detector (feature `outlier`); no run-time settings.
    Outlier,
    /// A client-side throttle (feature `throttle`); no run-time settings.
    Throttle,
    /// A hedge layer (feature `hedge`); no run-time settings.
    Hedge,
}

impl Kind {
    /// `breaker`, `bulkhead`, `rate_limit`, `adaptive_limit`, `outlier`,
    /// `throttle` or `hedge`: the `kind` label of the registry's metric and
    /// events.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Breaker => "breaker",
            Self::Bulkhead => "bulkhead",
            Self::RateLimit => "rate_limit",
            Self::AdaptiveLimit => "adaptive_limit",
            Self::Outlier => "outlier",
            Self::Throttle => "throttle",
            Self::Hedge => "hedge",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The settings of a circuit breaker that can change at run time; the rest
/// (probes, slow calls, waits after the first, classifier) are fixed when it
/// is built.
///
/// Read the current ones with [`Registry::config`](super::Registry::config),
/// change fields, and give them to
/// [`Registry::reconfigure`](super::Registry::reconfigure).
///
/// A new [`sliding_window`](Self::sliding_window) replaces the breaker's
/// window with an empty one of the new shape: **the window starts over**, and
/// the calls it held no longer count (Resilience4j cannot change a breaker's
/// window at all). Giving the current window again keeps it and its counts.
///
/// ```
/// use std::time::Duration;
/// use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow};
/// use palisade_resilience::registry::{LayerConfig, Registry};
///
/// let breaker = CircuitBreakerLayer::builder()
///     .name("db")
///     .sliding_window(SlidingWindow::count(100))
///     .build()?;
/// let registry = Registry::new();
/// registry.register_breaker(breaker.handle())?;
///
/// // The last 30 seconds, in 10 buckets, instead of the last 100 calls.
/// let Some(LayerConfig::Breaker(mut config)) = registry.config("db") else { unreachable!() };
/// assert_eq!(config.sliding_window, SlidingWindow::count(100));
/// config.sliding_window = SlidingWindow::time(Duration::from_secs(30), 10);
/// let changed = registry.reconfigure("db", LayerConfig::Breaker(config))?;
/// assert_eq!(changed.after, LayerConfig::Breaker(config));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "circuit-breaker")]
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BreakerConfig {
    /// The failure rate (percent, 0..=100) at or above which it opens.
    pub failure_rate_threshold: f64,
    /// How many calls the window must hold before its rates are judged (at
    /// most the size of a count window, the new one if the window changes
    /// too: a larger value is capped to it).
    pub minimum_calls: u32,
    /// Opens after this many failures in a row, whatever the rate; `None`
    /// turns that model off.
    pub consecutive_failures: Option<NonZeroU32>,
    /// How long it stays Open before probing (the first opening of a run;
    /// a wait multiplier still grows it from there).
    pub wait_duration_in_open: Duration,
    /// Which calls the Closed state is judged on: the last N calls or the
    /// last N seconds. A different one starts the window over, empty; the
    /// same one keeps it. Checked as the builder checks it.
    pub sliding_window: crate::circuit_breaker::SlidingWindow,
}

#[cfg(feature = "circuit-breaker")]
impl BreakerConfig {
    /// Checks the ranges and the window, as the breaker's builder does.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        crate::circuit_breaker::check_window(self.sliding_window)?;
        crate::config::check_range(
            "failure_rate_threshold",
            self.failure_rate_threshold,
            0.0,
            100.0,
        )?;
        if self.minimum_calls == 0 {
            return Err(ConfigError::Zero {
                field: "minimum_calls",
            });
        }
        if self.wait_duration_in_open.is_zero() {
            return Err(ConfigError::Zero {
                field: "wait_duration_in_open",
            });
        }
        Ok(())
    }
}

/// The settings of a bulkhead that can change at run time.
#[cfg(feature = "bulkhead")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkheadConfig {
    /// How many permits calls may hold at once. Raising it admits queued
    /// calls at once; lowering it admits no new call until calls in flight
    /// fall below the new limit (none is interrupted).
    pub max_concurrent: NonZeroUsize,
}

#[cfg(feature = "bulkhead")]
impl BulkheadConfig {
    /// A bulkhead limit of `max_concurrent` permits.
    #[must_use]
    pub const fn new(max_concurrent: NonZeroUsize) -> Self {
        Self { max_concurrent }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let max = tokio::sync::Semaphore::MAX_PERMITS;
        if self.max_concurrent.get() > max {
            #[allow(clippy::cast_precision_loss)] // only for the message
            return Err(ConfigError::OutOfRange {
                field: "max_concurrent",
                value: self.max_concurrent.get() as f64,
                min: 1.0,
                max: max as f64,
            });
        }
        Ok(())
    }
}

/// The run-time settings of one registered layer.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum LayerConfig {
    /// A circuit breaker's.
    #[cfg(feature = "circuit-breaker")]
    Breaker(BreakerConfig),
    /// A bulkhead's.
    #[cfg(feature = "bulkhead")]
    Bulkhead(BulkheadConfig),
    /// A rate limiter's quota (already valid by construction).
    #[cfg(feature = "rate-limit")]
    RateLimit(crate::rate_limit::Quota),
    /// A layer of this kind has no run-time settings: everything about it
    /// was fixed when it was built (an adaptive limit, an outlier detector,
    /// a throttle, a hedge layer). It is listed, but
    /// [`Registry::reconfigure`](super::Registry::reconfigure) refuses it
    /// with [`RegistryError::NotReconfigurable`](super::RegistryError::NotReconfigurable).
    NoSettings(Kind),
}

impl LayerConfig {
    /// The kind of layer these settings are for.
    #[must_use]
    pub const fn kind(&self) -> Kind {
        match self {
            #[cfg(feature = "circuit-breaker")]
            Self::Breaker(_) => Kind::Breaker,
            #[cfg(feature = "bulkhead")]
            Self::Bulkhead(_) => Kind::Bulkhead,
            #[cfg(feature = "rate-limit")]
            Self::RateLimit(_) => Kind::RateLimit,
            Self::NoSettings(kind) => *kind,
        }
    }
}
