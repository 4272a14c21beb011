//! [`HedgeLayer`] and its builder.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tower_layer::Layer;

use super::eligible::AllRequests;
use super::handle::HedgeHandle;
use super::latency::Latencies;
use super::service::Hedge;
use crate::ConfigError;
use crate::config::check_range;
use crate::retry::RetryBudget;
use crate::retry::budget::BudgetState;

/// When a hedge is sent.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum HedgeDelay {
    /// A fixed time after the first attempt (and after each hedge).
    Fixed(Duration),
    /// The given percentile (within `0..=100`) of the latencies observed
    /// over the previous `window`, as tower's `Hedge`: only the slowest
    /// calls are hedged. Nothing is hedged before `min_samples` latencies
    /// were seen.
    Percentile {
        /// Which percentile, within `0..=100` (say 95).
        percentile: f64,
        /// How long latencies are collected before their percentile is used.
        window: Duration,
        /// Latencies needed before the first hedge.
        min_samples: u32,
    },
}

impl HedgeDelay {
    /// A fixed delay.
    #[must_use]
    pub const fn fixed(delay: Duration) -> Self {
        Self::Fixed(delay)
    }

    /// The `percentile` of the latencies of the previous `window`, once 20
    /// were seen.
    #[must_use]
    pub const fn percentile(percentile: f64, window: Duration) -> Self {
        Self::Percentile {
            percentile,
            window,
            min_samples: 20,
        }
    }
}

/// The shared state of one layer.
pub(crate) struct Shared {
    pub(crate) delay: Delay,
    pub(crate) max_hedges: u32,
    pub(crate) budget: Option<BudgetState>,
    pub(crate) hedges_sent: AtomicU64,
    pub(crate) hedges_won: AtomicU64,
    pub(crate) budget_exhausted: AtomicU64,
}

pub(crate) enum Delay {
    Fixed(Duration),
    Percentile(Box<Latencies>),
}

impl Shared {
    /// How long to wait before the next hedge; `None` while unknown.
    #[inline]
    pub(crate) fn delay(&self) -> Option<Duration> {
        match &self.delay {
            Delay::Fixed(delay) => Some(*delay),
            Delay::Percentile(latencies) => latencies.delay(),
        }
    }

    /// A call answered after `latency`.
    #[inline]
    pub(crate) fn answered(&self, latency: Duration) {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
        if let Delay::Percentile(latencies) = &self.delay {
            latencies.record(latency);
        }
    }

    /// Takes one hedge from the budget.
    pub(crate) fn withdraw(&self) -> bool {
        self.budget.as_ref().is_none_or(BudgetState::withdraw)
    }
}

/// Applies [`Hedge`]: sends up to `max_hedges` extra attempts of a slow
/// call; the first success wins.
///
/// Every service this layer (or a clone of it) wraps shares its budget,
/// latencies and counters.
#[must_use]
pub struct HedgeLayer<E = AllRequests> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) eligible: E,
}

impl HedgeLayer {
    /// A builder: hedge after `delay`, one hedge per call, every request
    /// eligible, hedges limited by a budget of 10 % of the successful calls
    /// plus 1 per second (over 10 s).
    pub fn builder(delay: HedgeDelay) -> HedgeLayerBuilder {
        HedgeLayerBuilder {
            delay,
            max_hedges: NonZeroU32::MIN,
            budget: Some(RetryBudget::new(Duration::from_secs(10), 1, 0.1)),
            eligible: AllRequests,
        }
    }

    /// The HTTP preset: like [`builder`](Self::builder), with only requests
    /// of idempotent methods eligible
    /// ([`IdempotentMethods`](super::IdempotentMethods)). Requests must be
    /// `Clone`: `http::Request<B>` is when its body is (buffer a streaming
    /// body first).
    #[cfg(feature = "http")]
    pub fn http(delay: HedgeDelay) -> HedgeLayerBuilder<super::IdempotentMethods> {
        Self::builder(delay).eligible(super::IdempotentMethods)
    }
}

impl<E> HedgeLayer<E> {
    /// A handle reporting the hedges sent and won.
    #[must_use]
    pub fn handle(&self) -> HedgeHandle {
        HedgeHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<E: Clone> Clone for HedgeLayer<E> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            eligible: self.eligible.clone(),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for HedgeLayer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HedgeLayer")
            .field("max_hedges", &self.shared.max_hedges)
            .field("eligible", &self.eligible)
            .finish_non_exhaustive()
    }
}

impl<S, E: Clone> Layer<S> for HedgeLayer<E> {
    type Service = Hedge<S, E>;

    fn layer(&self, inner: S) -> Self::Service {
        Hedge {
            inner,
            shared: Arc::clone(&self.shared),
            eligible: self.eligible.clone(),
        }
    }
}

/// Settings for a [`HedgeLayer`].
#[must_use]
#[derive(Debug, Clone)]
pub struct HedgeLayerBuilder<E = AllRequests> {
    delay: HedgeDelay,
    max_hedges: NonZeroU32,
    budget: Option<RetryBudget>,
    eligible: E,
}

impl<E> HedgeLayerBuilder<E> {
    /// At most this many extra attempts per call (default 1), each `delay`
    /// after the previous one.
    pub const fn max_hedges(mut self, max_hedges: NonZeroU32) -> Self {
        self.max_hedges = max_hedges;
        self
    }

    /// Limits hedges as retries are limited (retry's [`RetryBudget`]): each
    /// answered call deposits `retry_ratio` of a hedge.
    pub const fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Hedges without a budget: only `max_hedges` bounds the extra load.
    pub const fn no_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// Only requests `eligible` accepts are hedged (an [`Eligible`](super::Eligible),
    /// such as a closure `Fn(&Req) -> bool`); the others pass through.
    pub fn eligible<E2>(self, eligible: E2) -> HedgeLayerBuilder<E2> {
        HedgeLayerBuilder {
            delay: self.delay,
            max_hedges: self.max_hedges,
            budget: self.budget,
            eligible,
        }
    }

    /// Builds the layer.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a percentile outside `0..=100`, a zero window or
    /// `min_samples`, or an invalid budget.
    pub fn build(self) -> Result<HedgeLayer<E>, ConfigError> {
        let delay = match self.delay {
            HedgeDelay::Fixed(delay) => Delay::Fixed(delay),
            HedgeDelay::Percentile {
                percentile,
                window,
                min_samples,
            } => {
                let percentile = check_range("percentile", percentile, 0.0, 100.0)?;
                if window.is_zero() {
                    return Err(ConfigError::Zero { field: "window" });
                }
                if min_samples == 0 {
                    return Err(ConfigError::Zero {
                        field: "min_samples",
                    });
                }
                Delay::Percentile(Box::new(Latencies::new(
                    percentile,
                    window,
                    u64::from(min_samples),
                )))
            }
        };
        let budget = match self.budget {
            Some(budget) => {
                budget.validate()?;
                Some(BudgetState::new(&budget))
            }
            None => None,
        };
        Ok(HedgeLayer {
            shared: Arc::new(Shared {
                delay,
                max_hedges: self.max_hedges.get(),
                budget,
                hedges_sent: AtomicU64::new(0),
                hedges_won: AtomicU64::new(0),
                budget_exhausted: AtomicU64::new(0),
            }),
            eligible: self.eligible,
        })
    }
}
