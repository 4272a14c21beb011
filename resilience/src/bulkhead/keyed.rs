//! [`KeyedBulkheadLayer`]: one bulkhead per key (host, tenant, route …).

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::error::{BulkheadFull, Reason};
use super::future::ResponseFuture;
use super::layer::BulkheadBuilder;
use super::service::start;
use super::shared::{Limits, Shared, Stats};
use crate::{BoxError, ConfigError};

/// Settings for a [`KeyedBulkheadLayer`]; from
/// [`BulkheadBuilder::keyed`].
#[must_use]
pub struct KeyedBulkheadBuilder<F, K> {
    base: BulkheadBuilder,
    key: F,
    max_partitions: usize,
    _key: PhantomData<fn() -> K>,
}

impl<F, K> KeyedBulkheadBuilder<F, K> {
    pub(crate) fn new(base: BulkheadBuilder, key: F) -> Self {
        Self {
            base,
            key,
            max_partitions: 1024,
            _key: PhantomData,
        }
    }

    /// The most partitions kept at once (default 1024). When a call brings a
    /// new key and the bound is reached, idle partitions (no call holding or
    /// waiting for a permit) are dropped; if none is idle the call is rejected
    /// with [`Reason::TooManyPartitions`].
    pub fn max_partitions(mut self, max_partitions: usize) -> Self {
        self.max_partitions = max_partitions;
        self
    }

    /// Builds the layer.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `max_concurrent` or `max_partitions` is
    /// zero, [`ConfigError::OutOfRange`] when `max_concurrent` is above
    /// tokio's semaphore limit.
    pub fn build(self) -> Result<KeyedBulkheadLayer<F, K>, ConfigError> {
        let limits = self.base.limits()?;
        if self.max_partitions == 0 {
            return Err(ConfigError::Zero {
                field: "max_partitions",
            });
        }
        Ok(KeyedBulkheadLayer {
            key: Arc::new(self.key),
            partitions: Arc::new(Partitions {
                limits,
                max_partitions: self.max_partitions,
                stats: Stats::new(self.base.name_ref().clone()),
                map: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl<F, K> fmt::Debug for KeyedBulkheadBuilder<F, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBulkheadBuilder")
            .field("base", &self.base)
            .field("max_partitions", &self.max_partitions)
            .finish_non_exhaustive()
    }
}

/// The partitions of one keyed bulkhead.
struct Partitions<K> {
    limits: Limits,
    max_partitions: usize,
    stats: Arc<Stats>,
    map: Mutex<HashMap<K, Arc<Shared>>>,
}

impl<K: Eq + Hash> Partitions<K> {
    /// The partition for `key`, created (after dropping idle ones if the map
    /// is at its bound) when missing.
    fn get(&self, key: K) -> Result<Arc<Shared>, BulkheadFull> {
        {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(partition) = map.get(&key) {
                return Ok(partition.clone());
            }
            if map.len() >= self.max_partitions {
                // Under the lock nobody can clone a partition out of the map,
                // so a count of one means no caller is about to use it.
                map.retain(|_, p| Arc::strong_count(p) > 1 || !p.is_idle());
            }
            if map.len() < self.max_partitions {
                let partition = Shared::new(self.limits, self.stats.clone());
                map.insert(key, partition.clone());
                return Ok(partition);
            }
        }
        let reason = Reason::TooManyPartitions {
            max_partitions: self.max_partitions,
        };
        Err(self.stats.reject(self.limits.max_concurrent, reason))
    }

    fn with<T>(&self, key: &K, f: impl FnOnce(Option<&Shared>) -> T) -> T {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        f(map.get(key).map(|p| &**p))
    }
}

/// Applies a [`KeyedBulkhead`]: the limits of the builder, separately for
/// every key the key function returns. Clones share the partitions.
#[must_use]
pub struct KeyedBulkheadLayer<F, K> {
    key: Arc<F>,
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
            .field("max_partitions", &self.partitions.max_partitions)
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
    key: Arc<F>,
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
    F: Fn(&Req) -> K,
    K: Eq + Hash,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let key = (self.key)(&req);
        match self.partitions.get(key) {
            Ok(partition) => start(&partition, &mut self.inner, req),
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
            .with(key, |p| p.map_or(0, Shared::in_flight))
    }

    /// Permits of `key`'s partition free right now (all of them when the key
    /// has no partition).
    #[must_use]
    pub fn available(&self, key: &K) -> usize {
        let max = self.partitions.limits.max_concurrent;
        self.partitions
            .with(key, |p| p.map_or(max, |p| p.semaphore.available_permits()))
    }
}

impl<K> KeyedBulkheadHandle<K> {
    /// The number of partitions currently kept.
    #[must_use]
    pub fn partitions(&self) -> usize {
        self.partitions
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Calls holding a permit, summed over all partitions.
    #[must_use]
    pub fn in_flight_total(&self) -> usize {
        self.partitions
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|p| p.in_flight())
            .sum()
    }

    /// Partitions with no permit free right now (their next call queues or
    /// is rejected).
    #[must_use]
    pub fn full_partitions(&self) -> usize {
        self.partitions
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|p| p.semaphore.available_permits() == 0)
            .count()
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
