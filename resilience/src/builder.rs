//! [`ServiceBuilderExt`]: this crate's layers as [`ServiceBuilder`] methods,
//! as tower-http's `ServiceBuilderExt` does for its own.
//!
//! The trait needs no feature; each method exists when its layer's feature
//! is on.
//!
//! ```
//! use std::time::Duration;
//! use palisade_resilience::ServiceBuilderExt;
//! # #[cfg(feature = "timeout")] {
//! use palisade_resilience::timeout::TimeoutLayer;
//! use tower::ServiceBuilder;
//!
//! let stack = ServiceBuilder::new()
//!     .timeout_per_call(TimeoutLayer::new(Duration::from_secs(1)))
//!     .service_fn(|n: u32| async move { Ok::<_, std::io::Error>(n) });
//! # let _ = stack;
//! # }
//! ```

use tower::ServiceBuilder;
#[cfg(any(
    feature = "circuit-breaker",
    feature = "retry",
    feature = "bulkhead",
    feature = "rate-limit",
    feature = "timeout",
    feature = "fallback",
    feature = "chaos",
    feature = "coalesce",
    feature = "throttle",
    feature = "hedge",
    feature = "adaptive"
))]
use tower_layer::Stack;

/// Adds this crate's layers to a [`ServiceBuilder`] by name, so a stack reads
/// top (outermost) to bottom (closest to the service). Each method is
/// `self.layer(layer)` and needs its layer's feature.
///
/// The retry, rate-limit and timeout methods are `retry_with`,
/// `rate_limit_with` and `timeout_per_call` because `ServiceBuilder` has
/// inherent `retry`, `rate_limit` and `timeout` methods (tower features
/// `retry`, `limit`, `timeout`); an inherent method wins over a trait method
/// of the same name, so with those tower features on (`tower/full` turns
/// them on) methods named like them would silently resolve to tower's.
///
/// ```
/// use std::num::{NonZeroU32, NonZeroUsize};
/// use std::time::Duration;
/// use palisade_resilience::bulkhead::BulkheadLayer;
/// use palisade_resilience::circuit_breaker::CircuitBreakerLayer;
/// use palisade_resilience::ServiceBuilderExt;
/// use palisade_resilience::fallback::FallbackLayer;
/// use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
/// use palisade_resilience::retry::RetryLayer;
/// use palisade_resilience::timeout::TimeoutLayer;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), palisade_resilience::BoxError> {
/// const PER_SECOND: NonZeroU32 = NonZeroU32::new(100).unwrap();
/// const PERMITS: NonZeroUsize = NonZeroUsize::new(32).unwrap();
///
/// let upstream = service_fn(|id: u32| async move { Ok::<_, std::io::Error>(format!("user {id}")) });
/// let client = ServiceBuilder::new()
///     .fallback(FallbackLayer::value(|_| "guest".to_owned()).on_rejection())
///     .rate_limit_with(RateLimitLayer::global(Quota::per_second(PER_SECOND)))
///     .timeout_per_call(TimeoutLayer::new(Duration::from_secs(10))) // overall
///     .retry_with(RetryLayer::builder().max_attempts(3).build()?)
///     .circuit_breaker(CircuitBreakerLayer::builder().name("users").build()?)
///     .bulkhead(BulkheadLayer::new(PERMITS))
///     .timeout_per_call(TimeoutLayer::new(Duration::from_secs(2))) // per attempt
///     .service(upstream);
///
/// assert_eq!(client.oneshot(7).await?, "user 7");
/// # Ok(())
/// # }
/// ```
pub trait ServiceBuilderExt<L>: sealed::Sealed {
    /// Adds a [`CircuitBreakerLayer`](crate::circuit_breaker::CircuitBreakerLayer).
    #[cfg(feature = "circuit-breaker")]
    fn circuit_breaker<C>(
        self,
        layer: crate::circuit_breaker::CircuitBreakerLayer<C>,
    ) -> ServiceBuilder<Stack<crate::circuit_breaker::CircuitBreakerLayer<C>, L>>;

    /// Adds a [`KeyedCircuitBreakerLayer`](crate::circuit_breaker::KeyedCircuitBreakerLayer).
    #[cfg(feature = "circuit-breaker")]
    fn keyed_circuit_breaker<K, X, C>(
        self,
        layer: crate::circuit_breaker::KeyedCircuitBreakerLayer<K, X, C>,
    ) -> ServiceBuilder<Stack<crate::circuit_breaker::KeyedCircuitBreakerLayer<K, X, C>, L>>;

    /// Adds a [`RetryLayer`](crate::retry::RetryLayer), from
    /// `RetryLayer::builder()` or the HTTP preset `RetryLayer::http()`.
    #[cfg(feature = "retry")]
    fn retry_with<P, K>(
        self,
        layer: crate::retry::RetryLayer<P, K>,
    ) -> ServiceBuilder<Stack<crate::retry::RetryLayer<P, K>, L>>;

    /// Adds a [`BulkheadLayer`](crate::bulkhead::BulkheadLayer).
    #[cfg(feature = "bulkhead")]
    fn bulkhead(
        self,
        layer: crate::bulkhead::BulkheadLayer,
    ) -> ServiceBuilder<Stack<crate::bulkhead::BulkheadLayer, L>>;

    /// Adds a [`KeyedBulkheadLayer`](crate::bulkhead::KeyedBulkheadLayer).
    #[cfg(feature = "bulkhead")]
    fn keyed_bulkhead<F, K>(
        self,
        layer: crate::bulkhead::KeyedBulkheadLayer<F, K>,
    ) -> ServiceBuilder<Stack<crate::bulkhead::KeyedBulkheadLayer<F, K>, L>>;

    /// Adds a [`RateLimitLayer`](crate::rate_limit::RateLimitLayer), global
    /// or keyed.
    #[cfg(feature = "rate-limit")]
    fn rate_limit_with<P, H>(
        self,
        layer: crate::rate_limit::RateLimitLayer<P, H>,
    ) -> ServiceBuilder<Stack<crate::rate_limit::RateLimitLayer<P, H>, L>>;

    /// Adds a rate limit shared through Redis,
    /// [`RedisRateLimitLayer`](crate::rate_limit::redis::RedisRateLimitLayer).
    #[cfg(feature = "redis")]
    fn redis_rate_limit<E, H>(
        self,
        layer: crate::rate_limit::redis::RedisRateLimitLayer<E, H>,
    ) -> ServiceBuilder<Stack<crate::rate_limit::redis::RedisRateLimitLayer<E, H>, L>>;

    /// Adds a [`TimeoutLayer`](crate::timeout::TimeoutLayer): it bounds each
    /// call that reaches this point, so it bounds every attempt when added
    /// after (inside) a retry layer and the whole call when added before it.
    #[cfg(feature = "timeout")]
    fn timeout_per_call(
        self,
        layer: crate::timeout::TimeoutLayer,
    ) -> ServiceBuilder<Stack<crate::timeout::TimeoutLayer, L>>;

    /// Adds a [`FallbackLayer`](crate::fallback::FallbackLayer); it answers
    /// the errors of every layer added after it.
    #[cfg(feature = "fallback")]
    fn fallback<H, P>(
        self,
        layer: crate::fallback::FallbackLayer<H, P>,
    ) -> ServiceBuilder<Stack<crate::fallback::FallbackLayer<H, P>, L>>;

    /// Adds a [`ChaosLayer`](crate::chaos::ChaosLayer).
    #[cfg(feature = "chaos")]
    fn chaos(
        self,
        layer: crate::chaos::ChaosLayer,
    ) -> ServiceBuilder<Stack<crate::chaos::ChaosLayer, L>>;

    /// Adds a [`CoalesceLayer`](crate::coalesce::CoalesceLayer).
    #[cfg(feature = "coalesce")]
    fn coalesce<X>(
        self,
        layer: crate::coalesce::CoalesceLayer<X>,
    ) -> ServiceBuilder<Stack<crate::coalesce::CoalesceLayer<X>, L>>;

    /// Adds a [`ThrottleLayer`](crate::throttle::ThrottleLayer).
    #[cfg(feature = "throttle")]
    fn throttle<P, C>(
        self,
        layer: crate::throttle::ThrottleLayer<P, C>,
    ) -> ServiceBuilder<Stack<crate::throttle::ThrottleLayer<P, C>, L>>;

    /// Adds a [`HedgeLayer`](crate::hedge::HedgeLayer).
    #[cfg(feature = "hedge")]
    fn hedge<E>(
        self,
        layer: crate::hedge::HedgeLayer<E>,
    ) -> ServiceBuilder<Stack<crate::hedge::HedgeLayer<E>, L>>;

    /// Adds an [`AdaptiveLimitLayer`](crate::adaptive::AdaptiveLimitLayer).
    #[cfg(feature = "adaptive")]
    fn adaptive_limit<C>(
        self,
        layer: crate::adaptive::AdaptiveLimitLayer<C>,
    ) -> ServiceBuilder<Stack<crate::adaptive::AdaptiveLimitLayer<C>, L>>;
}

impl<L> ServiceBuilderExt<L> for ServiceBuilder<L> {
    #[cfg(feature = "circuit-breaker")]
    fn circuit_breaker<C>(
        self,
        layer: crate::circuit_breaker::CircuitBreakerLayer<C>,
    ) -> ServiceBuilder<Stack<crate::circuit_breaker::CircuitBreakerLayer<C>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "circuit-breaker")]
    fn keyed_circuit_breaker<K, X, C>(
        self,
        layer: crate::circuit_breaker::KeyedCircuitBreakerLayer<K, X, C>,
    ) -> ServiceBuilder<Stack<crate::circuit_breaker::KeyedCircuitBreakerLayer<K, X, C>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "retry")]
    fn retry_with<P, K>(
        self,
        layer: crate::retry::RetryLayer<P, K>,
    ) -> ServiceBuilder<Stack<crate::retry::RetryLayer<P, K>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "bulkhead")]
    fn bulkhead(
        self,
        layer: crate::bulkhead::BulkheadLayer,
    ) -> ServiceBuilder<Stack<crate::bulkhead::BulkheadLayer, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "bulkhead")]
    fn keyed_bulkhead<F, K>(
        self,
        layer: crate::bulkhead::KeyedBulkheadLayer<F, K>,
    ) -> ServiceBuilder<Stack<crate::bulkhead::KeyedBulkheadLayer<F, K>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "rate-limit")]
    fn rate_limit_with<P, H>(
        self,
        layer: crate::rate_limit::RateLimitLayer<P, H>,
    ) -> ServiceBuilder<Stack<crate::rate_limit::RateLimitLayer<P, H>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "redis")]
    fn redis_rate_limit<E, H>(
        self,
        layer: crate::rate_limit::redis::RedisRateLimitLayer<E, H>,
    ) -> ServiceBuilder<Stack<crate::rate_limit::redis::RedisRateLimitLayer<E, H>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "timeout")]
    fn timeout_per_call(
        self,
        layer: crate::timeout::TimeoutLayer,
    ) -> ServiceBuilder<Stack<crate::timeout::TimeoutLayer, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "fallback")]
    fn fallback<H, P>(
        self,
        layer: crate::fallback::FallbackLayer<H, P>,
    ) -> ServiceBuilder<Stack<crate::fallback::FallbackLayer<H, P>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "chaos")]
    fn chaos(
        self,
        layer: crate::chaos::ChaosLayer,
    ) -> ServiceBuilder<Stack<crate::chaos::ChaosLayer, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "coalesce")]
    fn coalesce<X>(
        self,
        layer: crate::coalesce::CoalesceLayer<X>,
    ) -> ServiceBuilder<Stack<crate::coalesce::CoalesceLayer<X>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "throttle")]
    fn throttle<P, C>(
        self,
        layer: crate::throttle::ThrottleLayer<P, C>,
    ) -> ServiceBuilder<Stack<crate::throttle::ThrottleLayer<P, C>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "hedge")]
    fn hedge<E>(
        self,
        layer: crate::hedge::HedgeLayer<E>,
    ) -> ServiceBuilder<Stack<crate::hedge::HedgeLayer<E>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "adaptive")]
    fn adaptive_limit<C>(
        self,
        layer: crate::adaptive::AdaptiveLimitLayer<C>,
    ) -> ServiceBuilder<Stack<crate::adaptive::AdaptiveLimitLayer<C>, L>> {
        self.layer(layer)
    }
}

mod sealed {
    /// Only `ServiceBuilder` implements the extension trait, so methods can
    /// be added without breaking anyone.
    pub trait Sealed {}

    impl<L> Sealed for tower::ServiceBuilder<L> {}
}
