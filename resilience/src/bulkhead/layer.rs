//! [`BulkheadLayer`] and its builder.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tower_layer::Layer;

use super::handle::BulkheadHandle;
use super::keyed::KeyedBulkheadLayerBuilder;
use super::service::Bulkhead;
use super::shared::{Limits, Shared, Stats};
use crate::ConfigError;
use crate::weight::Unweighted;

/// The name used in tracing events and metric labels when none is configured.
pub(crate) const DEFAULT_NAME: &str = "bulkhead";

/// The builder's permits when none are set.
const DEFAULT_MAX_CONCURRENT: NonZeroUsize = match NonZeroUsize::new(25) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// Applies a [`Bulkhead`]. Every service this layer (or a clone of it) wraps
/// shares the same permits and queue; build another layer for an independent
/// bulkhead.
///
/// `W` weighs each call ([`Unweighted`]: one permit); see
/// [`BulkheadLayerBuilder::weight`].
#[must_use]
#[derive(Debug, Clone)]
pub struct BulkheadLayer<W = Unweighted> {
    shared: Arc<Shared>,
    weigh: W,
}

impl BulkheadLayer {
    /// A bulkhead of `max_concurrent` permits without a queue: a call that
    /// finds every permit taken is rejected at once.
    ///
    /// A bound above tokio's semaphore limit ([`Semaphore::MAX_PERMITS`],
    /// `usize::MAX >> 3`) is lowered to it: no process runs that many calls
    /// at once. [`BulkheadLayerBuilder::build`] reports such a bound instead.
    pub fn new(max_concurrent: NonZeroUsize) -> Self {
        let limits = Limits {
            max_concurrent: max_concurrent.get().min(Semaphore::MAX_PERMITS),
            max_waiters: 0,
            max_wait: Duration::ZERO,
        };
        Self {
            shared: Shared::new(limits, Stats::new(Arc::from(DEFAULT_NAME))),
            weigh: Unweighted,
        }
    }

    /// A builder, starting from 25 permits, no queue and a zero `max_wait`.
    pub fn builder() -> BulkheadLayerBuilder {
        BulkheadLayerBuilder::default()
    }
}

impl<W> BulkheadLayer<W> {
    /// A handle reporting this bulkhead's occupancy.
    #[must_use]
    pub fn handle(&self) -> BulkheadHandle {
        BulkheadHandle::new(self.shared.clone())
    }
}

impl<S, W: Clone> Layer<S> for BulkheadLayer<W> {
    type Service = Bulkhead<S, W>;

    fn layer(&self, inner: S) -> Self::Service {
        Bulkhead::new(inner, self.shared.clone(), self.weigh.clone())
    }
}

/// Settings for a [`BulkheadLayer`] (or, through [`keyed`](Self::keyed), a
/// [`KeyedBulkheadLayer`](super::KeyedBulkheadLayer)).
#[must_use]
#[derive(Debug, Clone)]
pub struct BulkheadLayerBuilder<W = Unweighted> {
    max_concurrent: NonZeroUsize,
    max_waiters: usize,
    max_wait: Duration,
    name: Arc<str>,
    weigh: W,
}

impl Default for BulkheadLayerBuilder {
    fn default() -> Self {
        Self {
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            max_waiters: 0,
            max_wait: Duration::ZERO,
            name: Arc::from(DEFAULT_NAME),
            weigh: Unweighted,
        }
    }
}

impl BulkheadLayerBuilder {
    /// Continues as a keyed bulkhead: one partition with these limits per key
    /// that `key` (any [`ExtractKey`](crate::key::ExtractKey)) finds in a
    /// request; a request whose key it cannot find fails with
    /// [`MissingKey`](crate::key::MissingKey). (Keyed partitions are
    /// unweighted: one permit per call.)
    pub fn keyed<F>(self, key: F) -> KeyedBulkheadLayerBuilder<F> {
        KeyedBulkheadLayerBuilder::new(self, key)
    }
}

impl<W> BulkheadLayerBuilder<W> {
    /// Charges each call the permits `weigh` finds (a closure
    /// `Fn(&Req) -> u32`, or with feature `http`
    /// [`FromExtension`](crate::weight::FromExtension)) instead of one, as
    /// the [`weight`](crate::weight) module describes: a call weighing more
    /// than `max_concurrent` is rejected at once with
    /// [`Reason::TooHeavy`](super::error::Reason::TooHeavy).
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use palisade_resilience::bulkhead::{BulkheadLayer, error::BulkheadFull};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let layer = BulkheadLayer::builder()
    ///     .max_concurrent(NonZeroUsize::new(4).unwrap())
    ///     .weight(|rows: &u32| rows / 1000)
    ///     .build()?;
    /// let svc = layer.layer(service_fn(|rows: u32| async move { Ok::<_, std::io::Error>(rows) }));
    ///
    /// assert_eq!(svc.clone().oneshot(3000).await?, 3000);
    /// let err = svc.oneshot(9000).await.unwrap_err();
    /// assert_eq!(err.downcast_ref::<BulkheadFull>().unwrap().reason().as_str(), "too_heavy");
    /// # Ok(())
    /// # }
    /// ```
    pub fn weight<W2>(self, weigh: W2) -> BulkheadLayerBuilder<W2> {
        BulkheadLayerBuilder {
            max_concurrent: self.max_concurrent,
            max_waiters: self.max_waiters,
            max_wait: self.max_wait,
            name: self.name,
            weigh,
        }
    }

    /// How many calls may hold a permit at once.
    pub fn max_concurrent(mut self, max_concurrent: NonZeroUsize) -> Self {
        self.max_concurrent = max_concurrent;
        self
    }

    /// How many calls may wait for a permit at once; beyond that a call is
    /// rejected at once with [`Reason::QueueFull`](super::error::Reason::QueueFull).
    /// Zero (the default) disables the queue.
    pub fn max_waiters(mut self, max_waiters: usize) -> Self {
        self.max_waiters = max_waiters;
        self
    }

    /// How long a queued call may wait for a permit before it is rejected with
    /// [`Reason::WaitExpired`](super::error::Reason::WaitExpired). Zero (the
    /// default) means no call waits, whatever `max_waiters` says. The wait
    /// covers the permit only, not the inner service's readiness.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Names the bulkhead in tracing events and in the `name` label of its
    /// metrics (default `bulkhead`).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Builds the layer.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] when `max_concurrent` is above tokio's
    /// semaphore limit ([`Semaphore::MAX_PERMITS`]).
    pub fn build(self) -> Result<BulkheadLayer<W>, ConfigError> {
        let limits = self.limits()?;
        Ok(BulkheadLayer {
            shared: Shared::new(limits, Stats::new(self.name)),
            weigh: self.weigh,
        })
    }

    pub(crate) fn limits(&self) -> Result<Limits, ConfigError> {
        let max_concurrent = self.max_concurrent.get();
        if max_concurrent > Semaphore::MAX_PERMITS {
            #[allow(clippy::cast_precision_loss)] // only for the message
            return Err(ConfigError::OutOfRange {
                field: "max_concurrent",
                value: max_concurrent as f64,
                min: 1.0,
                max: Semaphore::MAX_PERMITS as f64,
            });
        }
        Ok(Limits {
            max_concurrent,
            max_waiters: if self.max_wait.is_zero() {
                0
            } else {
                self.max_waiters
            },
            max_wait: self.max_wait,
        })
    }

    pub(crate) fn name_ref(&self) -> &Arc<str> {
        &self.name
    }
}
