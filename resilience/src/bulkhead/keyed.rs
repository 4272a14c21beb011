//! [`KeyedBulkheadLayer`]: one bulkhead per key (host, tenant, route …).

use std::fmt;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::error::{BulkheadFull, Reason};
use super::future::ResponseFuture;
use super::layer::BulkheadLayerBuilder;
use super::service::start;
use super::shared::{Limits, Shared, Stats};
use crate::key::{DEFAULT_MAX_KEYS, ExtractKey, KeyOf, KeyedMap};
use crate::{BoxError, ConfigError};

/// Settings for a [`KeyedBulkheadLayer`]; from
/// [`BulkheadLayerBuilder::keyed`].
#[must_use]
pub struct KeyedBulkheadLayerBuilder<F> {
    base: BulkheadLayerBuilder,
    key: F,
    max_keys: NonZeroUsize,
}

impl<F> KeyedBulkheadLayerBuilder<F> {
    pub(crate) fn new(base: BulkheadLayerBuilder, key: F) -> Self {
        Self {
            base,
            key,
            max_keys: DEFAULT_MAX_KEYS,
        }
    }

    /// The most partitions (keys) kept at once (default
    /// [`DEFAULT_MAX_KEYS`]). When a call brings a new key and the bound is
    /// reached, the least recently used of a few sampled idle partitions (no
    /// call holding or waiting for a permit) is dropped; if none of them is
    /// idle the call is rejected with [`Reason::TooManyPartitions`].
    pub fn max_keys(mut self, max_keys: NonZeroUsize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Builds the layer. The key type `K` is the extractor's, inferred
    /// from the service the layer wraps; name it (`.build::<IpAddr>()`) when
    /// nothing calls the layer yet.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] when `max_concurrent` is above tokio's
    /// semaphore limit.
    pub fn build<K: Hash + Eq>(self) -> Result<KeyedBulkheadLayer<F, K>, ConfigError> {
        let limits = self.base.limits()?;
        Ok(KeyedBulkheadLayer {
            key: Arc::new(KeyOf::new(self.key, "bulkhead")),
            partitions: Arc::new(Partitions {
                limits,
                stats: Stats::new(self.base.name_ref().clone()),
                map: KeyedMap::new(self.max_keys),
            }),
        })
    }
}

impl<F> fmt::Debug for KeyedBulkheadLayerBuilder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBulkheadLayerBuilder")
            .field("base", &self.base)
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

/// The partitions of one keyed bulkhead.
struct Partitions<K> {
    limits: Limits,
    stats: Arc<Stats>,
    map: KeyedMap<K, Arc<Shared>>,
}

impl<K: Eq + Hash + Clone> Partitions<K> {
    /// The partition for `key`, created (after dropping an idle one if the
    /// map is at its bound) when missing.
    fn get(&self, key: &K) -> Result<Arc<Shared>, BulkheadFull> {
        // Eviction runs under the shard's write lock, where nobody can clone
        // a partition out of the map: a count of one means no caller holds it.
        let idle = |p: &Arc<Shared>| Arc::strong_count(p) == 1 && p.is_idle();
        let make = || Shared::new(self.limits, self.stats.clone());
        self.map
            .get_or_insert(key, make, idle, Arc::clone)
            .map_err(|_| {
                let reason = Reason::TooManyPartitions {
                    max_keys: self.map.max_keys(),
                };
                self.stats.reject(self.limits.max_concurrent, reason)
            })
    }
}

/// Applies a [`KeyedBulkhead`]: the limits of the builder, separately for
/// every key the key function returns. Clones share the partitions.
#[must_use]
pub struct KeyedBulkheadLayer<F, K> {
    key: Arc<KeyOf<F>>,
    partitions: Arc<Partitions<K>>,
}

impl<F, K> KeyedBulkheadLayer<F, K> {
    /// A handle reporting the partitions' occupancy.
    #[must_use]
    pub fn handle(&self) -> KeyedBulkheadHandle<K> {
        KeyedBulkheadHandle {
            partitions: self.partitions.clone(),
        }
    }
}

impl<F, K> Clone for KeyedBulkheadLayer<F, K> {
    fn clone(&self) -> Self {
        Self {
            key: self.key.clone(),
            partitions: self.partitions.clone(),
        }
    }
}

impl<F, K> fmt::Debug for KeyedBulkheadLayer<F, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBulkheadLayer")
            .field("name", &&*self.partitions.stats.name)
            .field("max_keys", &self.partitions.map.max_keys())
            .finish_non_exhaustive()
    }
}

impl<S, F, K> Layer<S> for KeyedBulkheadLayer<F, K> {
    type Service = KeyedBulkhead<S, F, K>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedBulkhead {
            inner,
            key: self.key.clone(),
            partitions: self.partitions.clone(),
        }
    }
}

/// A bulkhead per key. Finding the partition takes a short lock on the
/// partition map; the rest is the same as [`Bulkhead`](super::Bulkhead).
#[must_use]
pub struct KeyedBulkhead<S, F, K> {
    inner: S,
    key: Arc<KeyOf<F>>,
    partitions: Arc<Partitions<K>>,
}

impl<S, F, K> KeyedBulkhead<S, F, K> {
    /// A handle reporting the partitions' occupancy.
    #[must_use]
    pub fn handle(&self) -> KeyedBulkheadHandle<K> {
        KeyedBulkheadHandle {
            partitions: self.partitions.clone(),
        }
    }

    /// A reference to the inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// A mutable reference to the inner service.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, F, K> Clone for KeyedBulkhead<S, F, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            key: self.key.clone(),
            partitions: self.partitions.clone(),
        }
    }
}

impl<S: fmt::Debug, F, K> fmt::Debug for KeyedBulkhead<S, F, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBulkhead")
            .field("inner", &self.inner)
            .field("name", &&*self.partitions.stats.name)
            .finish_non_exhaustive()
    }
}

impl<S, F, K, Req> Service<Req> for KeyedBulkhead<S, F, K>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    F: ExtractKey<Req, Key = K>,
    K: Eq + Hash + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let key = match self.key.extract(&req) {
            Ok(key) => key,
            Err(missing) => return ResponseFuture::failed(missing.into()),
        };
        match self.partitions.get(&key) {
            Ok(partition) => start(&partition, &mut self.inner, req, 1),
            Err(error) => ResponseFuture::rejected(error),
        }
    }
}

/// A cloneable view of a keyed bulkhead's partitions.
pub struct KeyedBulkheadHandle<K> {
    partitions: Arc<Partitions<K>>,
}

impl<K: Eq + Hash> KeyedBulkheadHandle<K> {
    /// Calls holding a permit of `key`'s partition right now.
    #[must_use]
    pub fn in_flight(&self, key: &K) -> usize {
        self.partitions
            .map
            .peek(key, |p| p.in_flight())
            .unwrap_or(0)
    }

    /// Permits of `key`'s partition free right now (all of them when the key
    /// has no partition).
    #[must_use]
    pub fn available(&self, key: &K) -> usize {
        self.partitions
            .map
            .peek(key, |p| p.semaphore.available_permits())
            .unwrap_or(self.partitions.limits.max_concurrent)
    }
}

impl<K> KeyedBulkheadHandle<K> {
    /// The number of partitions currently kept.
    #[must_use]
    pub fn partitions(&self) -> usize {
        self.partitions.map.len()
    }

    /// Calls holding a permit, summed over all partitions.
    #[must_use]
    pub fn in_flight_total(&self) -> usize {
        let mut total = 0;
        self.partitions.map.for_each(|_, p| total += p.in_flight());
        total
    }

    /// Partitions with no permit free right now (their next call queues or
    /// is rejected).
    #[must_use]
    pub fn full_partitions(&self) -> usize {
        let mut full = 0;
        self.partitions
            .map
            .for_each(|_, p| full += usize::from(p.semaphore.available_permits() == 0));
        full
    }

    /// Calls rejected by any partition since the layer was built.
    #[must_use]
    pub fn rejected_total(&self) -> u64 {
        self.partitions.stats.rejected.load(Ordering::Relaxed)
    }
}

impl<K> Clone for KeyedBulkheadHandle<K> {
    fn clone(&self) -> Self {
        Self {
            partitions: self.partitions.clone(),
        }
    }
}

impl<K> fmt::Debug for KeyedBulkheadHandle<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBulkheadHandle")
            .field("name", &&*self.partitions.stats.name)
            .field("partitions", &self.partitions())
            .field("rejected_total", &self.rejected_total())
            .finish()
    }
}

/// The keyed bulkhead's report to a
/// [`HealthRegistry`](crate::health::HealthRegistry) (feature `health`).
#[cfg(feature = "health")]
mod health {
    use crate::bulkhead::KeyedBulkheadHandle;
    use crate::health::{ComponentHealth, HealthSource, Status};

    /// Degraded while some partition has no permit free (one key's calls
    /// queue or are rejected), healthy otherwise; in-flight calls summed over
    /// the partitions, and the rejections of all partitions.
    impl<K: Send + Sync + 'static> HealthSource for KeyedBulkheadHandle<K> {
        fn health(&self) -> ComponentHealth {
            let partitions = self.partitions();
            let full = self.full_partitions();
            let status = if full > 0 {
                Status::Degraded
            } else {
                Status::Healthy
            };
            ComponentHealth::new("keyed_bulkhead", status)
                .with_state(format!("{full} of {partitions} partitions full"))
                .with_in_flight(self.in_flight_total() as u64)
                .with_rejections(self.rejected_total())
        }
    }
}
