//! One bucket per key, with stale keys purged on a call-count schedule.

use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;

use super::clock::TokioClock;
use super::error::RateLimited;
use super::headers::RateLimitInfo;
use super::key::{ExtractKey, KeyExtractor};
use super::policy::{Policy, allowed, limited};
use super::quota::{Quota, Validated};
use crate::ConfigError;

/// Requests without a key (`None` from the extractor) share one bucket, so a
/// missing header or address cannot be used to bypass the limit.
type KeyedLimiter<K> = governor::RateLimiter<
    Option<K>,
    DashMapStateStore<Option<K>>,
    TokioClock,
    StateInformationMiddleware,
>;

/// The default number of calls between two purges of stale keys.
pub const DEFAULT_PURGE_EVERY: u64 = 4096;

/// One bucket per key (client IP, API key, route, …) behind a sharded map.
///
/// # Bounded memory
///
/// Every `purge_every` calls (default [`DEFAULT_PURGE_EVERY`]), the call that
/// crosses the mark removes every key whose bucket has been full again for at
/// least one replenish interval (governor's `retain_recent`) and shrinks the
/// map. No background task is involved. Between two purges at most
/// `purge_every` new keys can be added, so the map holds at most the keys
/// active within the last refill window plus `purge_every`.
/// [`purge_stale`](Self::purge_stale) runs a purge on demand.
///
/// A call for a known key takes a shard read lock and one compare-and-swap;
/// only a new key allocates (a map entry, plus whatever the key owns).
pub struct Keyed<E: KeyExtractor> {
    limiter: KeyedLimiter<E::Key>,
    extractor: E,
    quota: Validated,
    purge_every: AtomicU64,
    calls: AtomicU64,
    purging: AtomicBool,
}

impl<E: KeyExtractor> Keyed<E> {
    /// A keyed limiter for `quota`, one bucket per key `extractor` finds.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the quota is invalid (see [`Quota::validate`]).
    pub fn new(quota: Quota, extractor: E) -> Result<Self, ConfigError> {
        let quota = quota.validate()?;
        let limiter =
            governor::RateLimiter::dashmap_with_clock(quota.to_governor(), TokioClock::new())
                .with_middleware::<StateInformationMiddleware>();
        Ok(Self {
            limiter,
            extractor,
            quota,
            purge_every: AtomicU64::new(DEFAULT_PURGE_EVERY),
            calls: AtomicU64::new(0),
            purging: AtomicBool::new(false),
        })
    }

    /// Purge stale keys every `calls` calls.
    pub fn set_purge_every(&self, calls: NonZeroU64) {
        self.purge_every.store(calls.get(), Ordering::Relaxed);
    }

    /// The validated quota.
    #[must_use]
    pub const fn quota(&self) -> Validated {
        self.quota
    }

    /// The key extractor.
    #[must_use]
    pub const fn extractor(&self) -> &E {
        &self.extractor
    }

    /// The number of keys currently tracked.
    #[must_use]
    pub fn key_count(&self) -> usize {
        self.limiter.len()
    }

    /// Removes keys whose bucket is full again and shrinks the map.
    ///
    /// Concurrent callers skip the purge while another one runs it.
    #[cold]
    pub fn purge_stale(&self) {
        if self
            .purging
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let before = self.limiter.len();
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        let after = self.limiter.len();
        self.purging.store(false, Ordering::Release);
        tracing::debug!(before, after, "rate limiter purged stale keys");
    }

    /// Takes one cell from `key`'s bucket (`None` is the shared bucket of
    /// requests without a key).
    ///
    /// # Errors
    ///
    /// [`RateLimited`] when that bucket is empty.
    #[inline]
    pub fn check_key(&self, key: &Option<E::Key>) -> Result<RateLimitInfo, RateLimited> {
        self.count_call();
        match self.limiter.check_key(key) {
            Ok(snapshot) => Ok(allowed(&snapshot, self.quota)),
            Err(not_until) => Err(limited(&not_until, self.limiter.clock(), self.quota)),
        }
    }

    /// `check_key` without the quota state of an allowed call.
    #[inline]
    fn admit_key(&self, key: &Option<E::Key>) -> Result<(), RateLimited> {
        self.count_call();
        match self.limiter.check_key(key) {
            Ok(_) => Ok(()),
            Err(not_until) => Err(limited(&not_until, self.limiter.clock(), self.quota)),
        }
    }

    #[inline]
    fn count_call(&self) {
        let calls = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if calls.is_multiple_of(self.purge_every.load(Ordering::Relaxed)) {
            self.purge_stale();
        }
    }
}

impl<Req, E: ExtractKey<Req>> Policy<Req> for Keyed<E> {
    #[inline]
    fn check(&self, req: &Req) -> Result<RateLimitInfo, RateLimited> {
        self.check_key(&self.extractor.extract(req))
    }

    #[inline]
    fn admit(&self, req: &Req) -> Result<(), RateLimited> {
        self.admit_key(&self.extractor.extract(req))
    }
}

impl<E: KeyExtractor + fmt::Debug> fmt::Debug for Keyed<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyed")
            .field("extractor", &self.extractor)
            .field("quota", &self.quota)
            .field("purge_every", &self.purge_every.load(Ordering::Relaxed))
            .field("keys", &self.limiter.len())
            .finish_non_exhaustive()
    }
}
