//! The optional cache of successful results, by key, for a time to live.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::clock::Clock;
use crate::key::KeyedMap;

/// How long results are kept and how many, from the builder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheSettings {
    pub(crate) ttl: Duration,
    pub(crate) max_entries: NonZeroUsize,
}

/// Successful results by key, at most `max_entries` of them (in the crate's
/// bounded keyed map: a new key in a full map evicts the least recently
/// stored of a few sampled ones).
pub(crate) struct Cache<K, T> {
    entries: KeyedMap<K, Mutex<Option<Cached<T>>>>,
    ttl_nanos: u64,
    clock: Clock,
}

struct Cached<T> {
    value: T,
    expires_nanos: u64,
}

impl<K: Hash + Eq + Clone, T: Clone> Cache<K, T> {
    pub(crate) fn new(settings: CacheSettings) -> Self {
        Self {
            entries: KeyedMap::new(settings.max_entries),
            ttl_nanos: u64::try_from(settings.ttl.as_nanos()).unwrap_or(u64::MAX),
            clock: Clock::new(),
        }
    }

    /// The result stored for `key`, if it has not expired.
    pub(crate) fn get(&self, key: &K) -> Option<T> {
        let now = self.clock.now_nanos();
        self.entries
            .peek(key, |slot| {
                let slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                slot.as_ref()
                    .filter(|cached| cached.expires_nanos > now)
                    .map(|cached| cached.value.clone())
            })
            .flatten()
    }

    /// Stores `value` for `key` until the time to live has passed.
    pub(crate) fn put(&self, key: &K, value: &T) {
        let expires_nanos = self.clock.now_nanos().saturating_add(self.ttl_nanos);
        // Every entry may be evicted, so there is always room.
        let _ = self.entries.get_or_insert(
            key,
            || Mutex::new(None),
            |_| true,
            |slot| {
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cached {
                    value: value.clone(),
                    expires_nanos,
                });
            },
        );
    }
}
