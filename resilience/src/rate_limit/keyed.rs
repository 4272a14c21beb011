//! One bucket per key, in the crate's bounded keyed map.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;

use governor::middleware::{NoOpMiddleware, StateInformationMiddleware};
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed, StateStore};

use super::clock::GovernorClock;
use super::error::{ExceedsBurst, Refused};
use super::headers::RateLimitInfo;
use super::policy::{Policy, allowed, limited};
use super::quota::Quota;
use crate::key::{ExtractKey, KeyOf, KeyedMap};
use crate::weight::{self, Unweighted, Weigh};

/// governor's GCRA over buckets kept in a [`KeyedMap`].
type KeyedLimiter<K> =
    governor::RateLimiter<K, Buckets<K>, GovernorClock, StateInformationMiddleware>;

/// One bucket per key (client IP, API key, route, …), at most `max_keys`
/// of them ([`DEFAULT_MAX_KEYS`](crate::key::DEFAULT_MAX_KEYS) unless set).
///
/// The buckets live in the crate's bounded keyed map (see
/// [`key`](crate::key)): a call for a known key takes a shard's read lock
/// and one compare-and-swap, and allocates nothing; a new key in a full map
/// replaces the least recently used of a few sampled keys. A replaced key
/// that comes back starts with a full bucket, so size `max_keys` above the
/// number of clients active within one refill of the burst. A request whose
/// key cannot be found is refused with [`MissingKey`](crate::key::MissingKey)
/// (see [`PoolMissing`](crate::key::PoolMissing) to share one bucket
/// instead).
///
/// Each call takes one cell of its key's bucket, or with
/// [`weight`](Self::weight) what `W` weighs it at.
pub struct Keyed<E, K: Hash + Eq + Clone, W = Unweighted> {
    limiter: KeyedLimiter<K>,
    /// The map inside `limiter` (governor does not lend its state store).
    buckets: Arc<KeyedMap<K, InMemoryState>>,
    key_of: KeyOf<E>,
    quota: Quota,
    weigh: W,
    _key: PhantomData<fn() -> K>,
}

impl<E, K: Hash + Eq + Clone> Keyed<E, K> {
    /// A keyed limiter for `quota`, one bucket per key `extractor` finds, at
    /// most `max_keys` keys.
    pub fn new(quota: Quota, extractor: E, max_keys: NonZeroUsize) -> Self {
        let buckets = Arc::new(KeyedMap::new(max_keys));
        let store = Buckets(Arc::clone(&buckets));
        let limiter = governor::RateLimiter::<_, _, _, NoOpMiddleware<Nanos>>::new(
            quota.to_governor(),
            store,
            GovernorClock::new(),
        )
        .with_middleware::<StateInformationMiddleware>();
        Self {
            limiter,
            buckets,
            key_of: KeyOf::new(extractor, "rate limiter"),
            quota,
            weigh: Unweighted,
            _key: PhantomData,
        }
    }

    /// Charges each call the cells `weigh` finds in its key's bucket (a
    /// closure `Fn(&Req) -> u32`, or with feature `http`
    /// [`FromExtension`](crate::weight::FromExtension)) instead of one, as
    /// the [`weight`](crate::weight) module describes; a call weighing more
    /// than the burst is refused at once with
    /// [`ExceedsBurst`](super::error::ExceedsBurst). Also
    /// [`RateLimitLayerBuilder::weight`](super::RateLimitLayerBuilder::weight).
    pub fn weight<W>(self, weigh: W) -> Keyed<E, K, W> {
        Keyed {
            limiter: self.limiter,
            buckets: self.buckets,
            key_of: self.key_of,
            quota: self.quota,
            weigh,
            _key: PhantomData,
        }
    }
}

impl<E, K: Hash + Eq + Clone, W> Keyed<E, K, W> {
    /// The quota.
    pub const fn quota(&self) -> Quota {
        self.quota
    }

    /// The key extractor.
    #[must_use]
    pub const fn extractor(&self) -> &E {
        self.key_of.extractor()
    }

    /// The number of keys currently tracked.
    #[must_use]
    pub fn key_count(&self) -> usize {
        self.buckets().len()
    }

    /// The most keys tracked at once.
    #[must_use]
    pub fn max_keys(&self) -> usize {
        self.buckets().max_keys()
    }

    fn buckets(&self) -> &KeyedMap<K, InMemoryState> {
        &self.buckets
    }

    /// Takes one cell from `key`'s bucket.
    ///
    /// # Errors
    ///
    /// [`RateLimited`](super::error::RateLimited) when that bucket is empty.
    #[inline]
    pub fn check_key(&self, key: &K) -> Result<RateLimitInfo, super::error::RateLimited> {
        match self.limiter.check_key(key) {
            Ok(snapshot) => Ok(allowed(&snapshot, self.quota)),
            Err(not_until) => Err(limited(&not_until, self.limiter.clock(), self.quota)),
        }
    }

    /// Takes `weight` cells from `key`'s bucket at once, or none.
    ///
    /// # Errors
    ///
    /// [`Refused::Limited`] when the bucket holds fewer cells,
    /// [`Refused::ExceedsBurst`] when even a full bucket could not.
    pub fn check_key_n(&self, key: &K, weight: u32) -> Result<RateLimitInfo, Refused> {
        let n = NonZeroU32::new(weight).unwrap_or(NonZeroU32::MIN);
        match self.limiter.check_key_n(key, n) {
            Ok(Ok(snapshot)) => Ok(allowed(&snapshot, self.quota)),
            Ok(Err(not_until)) => Err(limited(&not_until, self.limiter.clock(), self.quota).into()),
            Err(_) => Err(ExceedsBurst::new(weight, self.quota.burst.get()).into()),
        }
    }
}

impl<Req, E, K, W> Policy<Req> for Keyed<E, K, W>
where
    E: ExtractKey<Req, Key = K>,
    K: Hash + Eq + Clone,
    W: Weigh<Req>,
{
    #[inline]
    fn check(&self, req: &Req) -> Result<RateLimitInfo, Refused> {
        let key = self.key_of.extract(req)?;
        // The constant 1 when unweighted: the weighted branch folds away.
        match weight::of(&self.weigh, req) {
            1 => Ok(self.check_key(&key)?),
            n => self.check_key_n(&key, n),
        }
    }

    #[inline]
    fn admit(&self, req: &Req) -> Result<(), Refused> {
        let key = self.key_of.extract(req)?;
        match weight::of(&self.weigh, req) {
            1 => match self.limiter.check_key(&key) {
                Ok(_) => Ok(()),
                Err(not_until) => Err(limited(&not_until, self.limiter.clock(), self.quota).into()),
            },
            n => self.check_key_n(&key, n).map(drop),
        }
    }
}

impl<E, K: Hash + Eq + Clone, W> fmt::Debug for Keyed<E, K, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyed")
            .field("quota", &self.quota)
            .field("max_keys", &self.buckets.max_keys())
            .finish_non_exhaustive()
    }
}

/// governor's state store over the keyed map: one GCRA cell per key.
pub(super) struct Buckets<K>(Arc<KeyedMap<K, InMemoryState>>);

impl<K: Hash + Eq + Clone> StateStore for Buckets<K> {
    type Key = K;

    #[inline]
    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // Every bucket may be evicted, so a full shard always makes room and
        // the fallback (decide as for a new key, keep nothing) is unreachable.
        self.0
            .get_or_insert(
                key,
                InMemoryState::default,
                |_| true,
                |state| state.measure_and_replace(&NotKeyed::NonKey, &f),
            )
            .unwrap_or_else(|_| f(None).map(|(outcome, _)| outcome))
    }
}
