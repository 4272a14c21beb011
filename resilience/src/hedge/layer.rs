//! [`HedgeLayer`] and its builder.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tower_layer::Layer;

use super::eligible::AllRequests;
use super::handle::HedgeHandle;
use super::latency::{Latencies, Statistic};
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
    /// The average of the latencies observed over the previous `window`
    /// plus `percent` of it, Resilience4j's "average plus x %": with
    /// `percent = 50`, a call is hedged once it took 1.5 times the average.
    /// The average is exact (not bucketed), so the delay follows the mean
    /// closely; unlike a percentile it moves with every slow call. Nothing
    /// is hedged before `min_samples` latencies were seen.
    AveragePlus {
        /// The margin over the average, in percent (`0` hedges at the
        /// average itself; `100` at twice it). Non-negative and finite.
        percent: f64,
        /// How long latencies are collected before their average is used.
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

    /// The average latency of the previous `window` plus `percent` of it,
    /// once 20 latencies were seen.
    ///
    /// ```
    /// use std::time::Duration;
    /// use palisade_resilience::hedge::{HedgeDelay, HedgeLayer};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), palisade_resilience::BoxError> {
    /// let layer = HedgeLayer::builder(HedgeDelay::average_plus(50.0, Duration::from_secs(10)))
    ///     .no_budget()
    ///     .build()?;
    /// let handle = layer.handle();
    /// let svc = layer.layer(service_fn(|ms: u64| async move {
    ///     tokio::time::sleep(Duration::from_millis(ms)).await;
    ///     Ok::<_, std::io::Error>(ms)
    /// }));
    /// // Half the calls take 10 ms, half 30 ms: the average is 20 ms.
    /// for i in 0..20 {
    ///     svc.clone().oneshot(if i % 2 == 0 { 10 } else { 30 }).await?;
    /// }
    /// // Calls are hedged after the average plus 50 %.
    /// assert_eq!(handle.delay(), Some(Duration::from_millis(30)));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub const fn average_plus(percent: f64, window: Duration) -> Self {
        Self::AveragePlus {
            percent,
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
    /// A percentile or the average plus a margin of the latencies seen.
    Observed(Box<Latencies>),
}

impl Shared {
    /// How long to wait before the next hedge; `None` while unknown.
    #[inline]
    pub(crate) fn delay(&self) -> Option<Duration> {
        match &self.delay {
            Delay::Fixed(delay) => Some(*delay),
            Delay::Observed(latencies) => latencies.delay(),
        }
    }

    /// A call answered after `latency`.
    #[inline]
    pub(crate) fn answered(&self, latency: Duration) {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
        if let Delay::Observed(latencies) = &self.delay {
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
    /// [`ConfigError`] for a percentile outside `0..=100`, a negative or
    /// non-finite average margin, a zero window or `min_samples`, or an
    /// invalid budget.
    pub fn build(self) -> Result<HedgeLayer<E>, ConfigError> {
        let delay = match self.delay {
            HedgeDelay::Fixed(delay) => Delay::Fixed(delay),
            HedgeDelay::Percentile {
                percentile,
                window,
                min_samples,
            } => {
                let percentile = check_range("percentile", percentile, 0.0, 100.0)?;
                observed(Statistic::Percentile(percentile), window, min_samples)?
            }
            HedgeDelay::AveragePlus {
                percent,
                window,
                min_samples,
            } => {
                let percent = check_range("percent", percent, 0.0, f64::MAX)?;
                observed(
                    Statistic::MeanTimes(1.0 + percent / 100.0),
                    window,
                    min_samples,
                )?
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

/// A delay that follows the latencies seen, after checking its window.
fn observed(
    statistic: Statistic,
    window: Duration,
    min_samples: u32,
) -> Result<Delay, ConfigError> {
    if window.is_zero() {
        return Err(ConfigError::Zero { field: "window" });
    }
    if min_samples == 0 {
        return Err(ConfigError::Zero {
            field: "min_samples",
        });
    }
    Ok(Delay::Observed(Box::new(Latencies::new(
        statistic,
        window,
        u64::from(min_samples),
    ))))
}
