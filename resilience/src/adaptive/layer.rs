//! [`AdaptiveLimitLayer`] and its builder.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::algorithm::Algorithm;
use super::handle::AdaptiveLimitHandle;
use super::limiter::{Limiter, Settings};
use super::service::AdaptiveLimit;
use crate::ConfigError;
use crate::classify::ErrorsAreFailures;

/// The highest limit accepted: far beyond any process's concurrency, and
/// exactly representable in an `f64`.
const LIMIT_CEILING: usize = 1 << 30;

/// Applies an [`AdaptiveLimit`]. Every service this layer (or a clone of it)
/// wraps shares the same limit, window and queue.
#[must_use]
pub struct AdaptiveLimitLayer<C = ErrorsAreFailures> {
    limiter: Arc<Limiter>,
    classify: C,
}

impl AdaptiveLimitLayer {
    /// A builder starting from Vegas, an initial limit of 20 within
    /// `1..=1000`, 1-second sample windows of at least 10 calls, no queue,
    /// and [`ErrorsAreFailures`] deciding drops.
    pub fn builder() -> AdaptiveLimitLayerBuilder {
        AdaptiveLimitLayerBuilder {
            algorithm: Algorithm::default(),
            initial_limit: 20,
            min_limit: 1,
            max_limit: 1000,
            sample_window: Duration::from_secs(1),
            min_samples: 10,
            max_waiters: 0,
            max_wait: Duration::ZERO,
            name: Arc::from("adaptive"),
            classify: ErrorsAreFailures,
        }
    }
}

impl<C> AdaptiveLimitLayer<C> {
    /// A handle reporting the limit, the calls in flight and the rejections.
    #[must_use]
    pub fn handle(&self) -> AdaptiveLimitHandle {
        AdaptiveLimitHandle::new(Arc::clone(&self.limiter))
    }
}

impl<C: Clone> Clone for AdaptiveLimitLayer<C> {
    fn clone(&self) -> Self {
        Self {
            limiter: Arc::clone(&self.limiter),
            classify: self.classify.clone(),
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for AdaptiveLimitLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveLimitLayer")
            .field("name", &self.limiter.name)
            .field("algorithm", &self.limiter.settings.algorithm.as_str())
            .field("limit", &self.limiter.limit())
            .field("classify", &self.classify)
            .finish_non_exhaustive()
    }
}

impl<S, C: Clone> Layer<S> for AdaptiveLimitLayer<C> {
    type Service = AdaptiveLimit<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        AdaptiveLimit::new(inner, Arc::clone(&self.limiter), self.classify.clone())
    }
}

/// Settings for an [`AdaptiveLimitLayer`].
#[must_use]
#[derive(Debug, Clone)]
pub struct AdaptiveLimitLayerBuilder<C = ErrorsAreFailures> {
    algorithm: Algorithm,
    initial_limit: usize,
    min_limit: usize,
    max_limit: usize,
    sample_window: Duration,
    min_samples: usize,
    max_waiters: usize,
    max_wait: Duration,
    name: Arc<str>,
    classify: C,
}

impl<C> AdaptiveLimitLayerBuilder<C> {
    /// The algorithm that moves the limit: an [`Aimd`](super::Aimd),
    /// [`Vegas`](super::Vegas) (the default) or [`Gradient2`](super::Gradient2).
    pub fn algorithm(mut self, algorithm: impl Into<Algorithm>) -> Self {
        self.algorithm = algorithm.into();
        self
    }

    /// The limit before the first window closes (default 20).
    pub fn initial_limit(mut self, limit: NonZeroUsize) -> Self {
        self.initial_limit = limit.get();
        self
    }

    /// The bounds the limit moves within (default `1..=1000`).
    pub fn limits(mut self, min: NonZeroUsize, max: NonZeroUsize) -> Self {
        self.min_limit = min.get();
        self.max_limit = max.get();
        self
    }

    /// The shortest sample window (default 1 s): the algorithm sees the
    /// average latency, the most calls in flight and whether any call was
    /// dropped over each window, once it is this old and holds
    /// [`min_samples`](Self::min_samples) calls.
    pub fn sample_window(mut self, window: Duration) -> Self {
        self.sample_window = window;
        self
    }

    /// The fewest calls a window needs before it closes (default 10).
    pub fn min_samples(mut self, samples: NonZeroUsize) -> Self {
        self.min_samples = samples.get();
        self
    }

    /// How many calls may wait for a place at once, as in the bulkhead;
    /// zero (the default) disables the queue.
    pub fn max_waiters(mut self, max_waiters: usize) -> Self {
        self.max_waiters = max_waiters;
        self
    }

    /// How long a queued call may wait for a place (default zero: no call
    /// waits, whatever `max_waiters` says).
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Names the limit in tracing events and in the `name` label of its
    /// metrics (default `adaptive`).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Decides which results are drops (a
    /// [`Classify`](crate::classify::Classify); a failure is a drop). By
    /// default every `Err` is; for HTTP, `ServerErrorsAreFailures` or a
    /// closure that picks `503` and `429`.
    pub fn classify<C2>(self, classify: C2) -> AdaptiveLimitLayerBuilder<C2> {
        AdaptiveLimitLayerBuilder {
            algorithm: self.algorithm,
            initial_limit: self.initial_limit,
            min_limit: self.min_limit,
            max_limit: self.max_limit,
            sample_window: self.sample_window,
            min_samples: self.min_samples,
            max_waiters: self.max_waiters,
            max_wait: self.max_wait,
            name: self.name,
            classify,
        }
    }

    /// Builds the layer.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the algorithm's settings are out of range, the
    /// minimum limit is above the initial or the initial above the maximum,
    /// the maximum is above 2^30, or the sample window is zero.
    pub fn build(self) -> Result<AdaptiveLimitLayer<C>, ConfigError> {
        self.algorithm.validate()?;
        if self.min_limit > self.initial_limit {
            return Err(ConfigError::Inverted {
                lower: "min_limit",
                upper: "initial_limit",
            });
        }
        if self.initial_limit > self.max_limit {
            return Err(ConfigError::Inverted {
                lower: "initial_limit",
                upper: "max_limit",
            });
        }
        if self.max_limit > LIMIT_CEILING {
            #[allow(clippy::cast_precision_loss)] // only for the message
            return Err(ConfigError::OutOfRange {
                field: "max_limit",
                value: self.max_limit as f64,
                min: 1.0,
                max: LIMIT_CEILING as f64,
            });
        }
        if self.sample_window.is_zero() {
            return Err(ConfigError::Zero {
                field: "sample_window",
            });
        }
        let settings = Settings {
            algorithm: self.algorithm,
            initial_limit: self.initial_limit,
            min_limit: self.min_limit,
            max_limit: self.max_limit,
            window_nanos: u64::try_from(self.sample_window.as_nanos()).unwrap_or(u64::MAX),
            min_samples: self.min_samples as u64,
            max_waiters: if self.max_wait.is_zero() {
                0
            } else {
                self.max_waiters
            },
            max_wait: self.max_wait,
        };
        Ok(AdaptiveLimitLayer {
            limiter: Limiter::new(settings, self.name),
            classify: self.classify,
        })
    }
}
