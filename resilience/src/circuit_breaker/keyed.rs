//! One breaker per key (host, endpoint, route), in the crate's bounded keyed map.
//!
//! Each call finds its key's breaker in a [`KeyedMap`](crate::key) (a
//! shard's read lock, one hash, no allocation for a known key), then takes
//! the same lock-free path as [`CircuitBreaker`](super::CircuitBreaker). A
//! new key allocates its breaker; when the map is full, the least recently
//! used of a few sampled keys is dropped, state and all.

use std::fmt;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::config::{CircuitBreakerLayerBuilder, Settings};
use super::future::ResponseFuture;
use super::handle::CircuitBreakerHandle;
use super::state::Breaker;
use crate::classify::{Classify, ErrorsAreFailures};
use crate::key::{DEFAULT_MAX_KEYS, ExtractKey, KeyOf, KeyedMap};
use crate::{BoxError, ConfigError};

/// The breakers of one keyed layer.
pub(crate) struct Registry<K> {
    settings: Settings,
    map: KeyedMap<K, Arc<Breaker>>,
}

impl<K: Hash + Eq + Clone + fmt::Display> Registry<K> {
    fn breaker(&self, key: &K) -> Arc<Breaker> {
        let make = || {
            let mut settings = self.settings.clone();
            settings.name = Arc::from(format!("{}:{key}", self.settings.name));
            Breaker::new(settings)
        };
        // Any breaker may be dropped, so a full map always makes room; the
        // fallback (a breaker that is not kept) cannot happen.
        self.map
            .get_or_insert(key, make, |_| true, Arc::clone)
            .unwrap_or_else(|_| make())
    }
}

/// Reads the breakers of a keyed layer: cloneable, from
/// [`KeyedCircuitBreakerLayer::handle`].
pub struct KeyedCircuitBreakerHandle<K> {
    registry: Arc<Registry<K>>,
}

impl<K> Clone for KeyedCircuitBreakerHandle<K> {
    fn clone(&self) -> Self {
        Self {
            registry: Arc::clone(&self.registry),
        }
    }
}

impl<K: Hash + Eq + Clone + fmt::Display> KeyedCircuitBreakerHandle<K> {
    /// The handle of `key`'s breaker, if the key has one (looking does not
    /// count as use for eviction).
    #[must_use]
    pub fn handle(&self, key: &K) -> Option<CircuitBreakerHandle> {
        self.registry.map.peek(key, |breaker| {
            CircuitBreakerHandle::new(Arc::clone(breaker))
        })
    }

    /// How many keys have a breaker.
    #[must_use]
    pub fn len(&self) -> usize {
        self.registry.map.len()
    }

    /// Whether no key has a breaker yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key with its breaker's handle, in no particular order.
    #[must_use]
    pub fn handles(&self) -> Vec<(K, CircuitBreakerHandle)> {
        let mut handles = Vec::new();
        self.registry.map.for_each(|key, breaker| {
            handles.push((key.clone(), CircuitBreakerHandle::new(Arc::clone(breaker))));
        });
        handles
    }
}

impl<K> fmt::Debug for KeyedCircuitBreakerHandle<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreakerHandle")
            .field("name", &self.registry.settings.name)
            .field("max_keys", &self.registry.map.max_keys())
            .finish_non_exhaustive()
    }
}

/// Settings for a [`KeyedCircuitBreakerLayer`]; from
/// [`CircuitBreakerLayerBuilder::keyed`](super::CircuitBreakerLayerBuilder::keyed).
///
/// ```
/// use std::num::NonZeroUsize;
/// use palisade_resilience::circuit_breaker::CircuitBreakerLayer;
///
/// const HOSTS: NonZeroUsize = NonZeroUsize::new(1_000).unwrap();
///
/// let per_host = CircuitBreakerLayer::builder()
///     .name("upstreams")
///     .keyed(|host: &&'static str| Some(host.to_string()))
///     .max_keys(HOSTS)
///     .build::<String>()?; // the key type, when no call names it
/// assert!(per_host.handle().is_empty());
/// # Ok::<(), palisade_resilience::ConfigError>(())
/// ```
#[must_use]
pub struct KeyedCircuitBreakerLayerBuilder<X, C = ErrorsAreFailures> {
    base: CircuitBreakerLayerBuilder<C>,
    extractor: X,
    max_keys: NonZeroUsize,
}

impl<X, C> KeyedCircuitBreakerLayerBuilder<X, C> {
    pub(super) fn new(base: CircuitBreakerLayerBuilder<C>, extractor: X) -> Self {
        Self {
            base,
            extractor,
            max_keys: DEFAULT_MAX_KEYS,
        }
    }

    /// The most breakers (keys) kept at once (default [`DEFAULT_MAX_KEYS`]);
    /// when a new key arrives in a full map, the least recently used of a few
    /// sampled keys is dropped, state and all.
    pub fn max_keys(mut self, max_keys: NonZeroUsize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Validates the configuration and builds the keyed layer. A request
    /// whose key the extractor cannot find fails with
    /// [`MissingKey`](crate::key::MissingKey). The key type `K` is the
    /// extractor's and must also implement `Display` (it names the breaker);
    /// name it when inference cannot: `.build::<KeyBytes>()`.
    ///
    /// # Errors
    ///
    /// As [`CircuitBreakerLayerBuilder::build`].
    pub fn build<K: Hash + Eq>(self) -> Result<KeyedCircuitBreakerLayer<K, X, C>, ConfigError> {
        self.base.build_keyed(self.extractor, self.max_keys)
    }
}

impl<X, C: fmt::Debug> fmt::Debug for KeyedCircuitBreakerLayerBuilder<X, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreakerLayerBuilder")
            .field("base", &self.base)
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

/// One breaker per key, at most `max_keys` of them; from
/// [`KeyedCircuitBreakerLayerBuilder::build`].
/// Every service it makes shares the same breakers.
#[must_use]
pub struct KeyedCircuitBreakerLayer<K, X, C = ErrorsAreFailures> {
    registry: Arc<Registry<K>>,
    key_of: Arc<KeyOf<X>>,
    classifier: C,
}

impl<K, X, C> KeyedCircuitBreakerLayer<K, X, C> {
    pub(crate) fn from_parts(
        settings: Settings,
        extractor: X,
        classifier: C,
        max_keys: NonZeroUsize,
    ) -> Self
    where
        K: Hash + Eq,
    {
        Self {
            registry: Arc::new(Registry {
                settings,
                map: KeyedMap::new(max_keys),
            }),
            key_of: Arc::new(KeyOf::new(extractor, "circuit breaker")),
            classifier,
        }
    }

    /// A handle to read the per-key breakers.
    pub fn handle(&self) -> KeyedCircuitBreakerHandle<K> {
        KeyedCircuitBreakerHandle {
            registry: Arc::clone(&self.registry),
        }
    }
}

impl<K, X, C: Clone> Clone for KeyedCircuitBreakerLayer<K, X, C> {
    fn clone(&self) -> Self {
        Self {
            registry: Arc::clone(&self.registry),
            key_of: Arc::clone(&self.key_of),
            classifier: self.classifier.clone(),
        }
    }
}

impl<K, X, C: fmt::Debug> fmt::Debug for KeyedCircuitBreakerLayer<K, X, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreakerLayer")
            .field("name", &self.registry.settings.name)
            .field("max_keys", &self.registry.map.max_keys())
            .field("classifier", &self.classifier)
            .finish_non_exhaustive()
    }
}

impl<S, K, X, C: Clone> Layer<S> for KeyedCircuitBreakerLayer<K, X, C> {
    type Service = KeyedCircuitBreaker<S, K, X, C>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedCircuitBreaker {
            inner,
            registry: Arc::clone(&self.registry),
            key_of: Arc::clone(&self.key_of),
            classifier: self.classifier.clone(),
        }
    }
}

/// The service of a [`KeyedCircuitBreakerLayer`].
///
/// Its `poll_ready` is the inner service's (the key is only known from the
/// request); the breaker decides in `call`, and a rejection is an immediately
/// ready [`CircuitOpen`](super::error::CircuitOpen) error — the inner service
/// is not called. A request whose key cannot be found fails the same way
/// with [`MissingKey`](crate::key::MissingKey).
#[must_use]
pub struct KeyedCircuitBreaker<S, K, X, C = ErrorsAreFailures> {
    inner: S,
    registry: Arc<Registry<K>>,
    key_of: Arc<KeyOf<X>>,
    classifier: C,
}

impl<S, K, X, C> KeyedCircuitBreaker<S, K, X, C> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the breaker, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// A handle to read the per-key breakers.
    pub fn handle(&self) -> KeyedCircuitBreakerHandle<K> {
        KeyedCircuitBreakerHandle {
            registry: Arc::clone(&self.registry),
        }
    }
}

impl<S, K, X, C, Req> Service<Req> for KeyedCircuitBreaker<S, K, X, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    X: ExtractKey<Req, Key = K>,
    K: Hash + Eq + Clone + fmt::Display,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let key = match self.key_of.extract(&request) {
            Ok(key) => key,
            Err(missing) => return ResponseFuture::failed(missing.into()),
        };
        let breaker = self.registry.breaker(&key);
        let admission = breaker.admit();
        let inner = &mut self.inner;
        ResponseFuture::new(admission, &breaker, &self.classifier, || {
            inner.call(request)
        })
    }
}

impl<S: Clone, K, X, C: Clone> Clone for KeyedCircuitBreaker<S, K, X, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            registry: Arc::clone(&self.registry),
            key_of: Arc::clone(&self.key_of),
            classifier: self.classifier.clone(),
        }
    }
}

impl<S: fmt::Debug, K, X, C: fmt::Debug> fmt::Debug for KeyedCircuitBreaker<S, K, X, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreaker")
            .field("inner", &self.inner)
            .field("name", &self.registry.settings.name)
            .field("classifier", &self.classifier)
            .finish_non_exhaustive()
    }
}

/// The keyed breakers' report to a
/// [`HealthRegistry`](crate::health::HealthRegistry) (feature `health`).
#[cfg(feature = "health")]
mod health {
    use std::fmt;
    use std::hash::Hash;

    use crate::circuit_breaker::{KeyedCircuitBreakerHandle, Snapshot, status_of, success_rate};
    use crate::health::{ComponentHealth, HealthSource, Status};

    /// One report for all the breakers of a keyed layer.
    ///
    /// The keys are independent upstreams (hosts, routes), and the instance
    /// still serves the others while one is open, so one bad key must not fail
    /// a readiness probe: the status is **healthy** while every key is Closed
    /// or Disabled (or there is no key yet), **degraded** while some key is
    /// HalfOpen, Open or ForcedOpen, and **unhealthy** only when every key is
    /// Open or ForcedOpen. The state says how many keys are not closed
    /// (`"2 of 5 keys not closed"`, or `"closed"`), the rejections are summed
    /// over the keys kept, and the success rate is taken over all their
    /// windows together. Keys evicted from the map take their counts with
    /// them.
    impl<K> HealthSource for KeyedCircuitBreakerHandle<K>
    where
        K: Hash + Eq + Clone + fmt::Display + Send + Sync + 'static,
    {
        fn health(&self) -> ComponentHealth {
            let snapshots: Vec<Snapshot> = self
                .handles()
                .into_iter()
                .map(|(_, handle)| handle.snapshot())
                .collect();
            let keys = snapshots.len();
            let not_closed = snapshots
                .iter()
                .filter(|s| status_of(s.state) != Status::Healthy)
                .count();
            let all_open = snapshots
                .iter()
                .all(|s| status_of(s.state) == Status::Unhealthy);
            let status = match not_closed {
                0 => Status::Healthy,
                _ if all_open => Status::Unhealthy,
                _ => Status::Degraded,
            };
            let state = if not_closed == 0 {
                "closed".to_owned()
            } else {
                format!("{not_closed} of {keys} keys not closed")
            };
            let (calls, failures, rejected) = snapshots.iter().fold((0, 0, 0), |acc, s| {
                (acc.0 + s.calls, acc.1 + s.failures, acc.2 + s.rejected)
            });
            let health = ComponentHealth::new("keyed_circuit_breaker", status)
                .with_state(state)
                .with_rejections(rejected);
            match success_rate(calls, failures) {
                Some(rate) => health.with_success_rate(rate),
                None => health,
            }
        }
    }
}
