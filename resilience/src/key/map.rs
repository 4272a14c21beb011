//! [`KeyedMap`]: per-key state (a breaker, a bulkhead partition, a rate-limit
//! bucket) in a map that never holds more than `max_keys` keys.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use foldhash::fast::RandomState;
use indexmap::IndexMap;

/// The default bound on the keys of a keyed layer.
pub const DEFAULT_MAX_KEYS: NonZeroUsize = match NonZeroUsize::new(10_000) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// At most this many shards, each behind its own lock.
const MAX_SHARDS: usize = 16;
/// Below this many keys per shard, use fewer shards: eviction is decided per
/// shard, so small maps stay close to a true least-recently-used order.
const MIN_KEYS_PER_SHARD: usize = 256;
/// Entries looked at to choose a victim (as Redis's approximated LRU): the
/// cost of an insertion into a full map is bounded by this, not by its size.
const EVICTION_SAMPLES: usize = 5;

/// A map from keys to shared per-key state, bounded to `max_keys` keys, used
/// by every keyed layer of this crate.
///
/// - **Known keys** take a shard's read lock: one hash, one lookup, no
///   allocation. Readers of different keys (and of the same key) proceed in
///   parallel.
/// - **New keys** take the shard's write lock. When the shard is full, a few
///   distinct entries (`EVICTION_SAMPLES`) are sampled and the least recently
///   used of those the layer allows to go (a bulkhead keeps partitions with
///   calls in flight) is removed — a bounded amount of work whatever the
///   size of the map, never a scan. If none of them may go, the new key is
///   refused ([`Full`]).
///
/// Memory therefore stays bounded under a flood of distinct keys: the map
/// holds at most `max_keys` entries (split evenly over up to 16 shards), each
/// its key, its state and 8 bytes of bookkeeping. Keys must own their data
/// (see [`KeyBytes`](super::KeyBytes)), so a key never keeps a request alive.
///
/// `EVICTION_SAMPLES` is 5.
pub(crate) struct KeyedMap<K, V> {
    shards: Box<[RwLock<Shard<K, V>>]>,
    hasher: RandomState,
    max_keys: NonZeroUsize,
}

struct Shard<K, V> {
    entries: IndexMap<K, Slot<V>, RandomState>,
    capacity: usize,
    /// Advanced by every insertion. An entry inserted in generation `g` is
    /// stamped `2g`, one used afterwards `2g + 1`: a use ranks above every
    /// insertion it followed, and the read path writes only when the stamp
    /// changes (once per key per generation).
    generation: u64,
    rng: u64,
}

struct Slot<V> {
    value: V,
    last_used: AtomicU64,
}

/// A new key was refused: the map is full and none of the sampled entries
/// may be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

impl<K: Hash + Eq, V> KeyedMap<K, V> {
    /// An empty map for at most `max_keys` keys.
    pub(crate) fn new(max_keys: NonZeroUsize) -> Self {
        let max = max_keys.get();
        let shards = (max / MIN_KEYS_PER_SHARD).clamp(1, MAX_SHARDS);
        // A power of two, so the shard is a mask of the hash.
        let shards = if shards.is_power_of_two() {
            shards
        } else {
            shards.next_power_of_two() / 2
        };
        let hasher = RandomState::default();
        let shards = (0..shards)
            .map(|i| {
                // Spread the remainder so the capacities add up to `max`.
                let capacity = max / shards + usize::from(i < max % shards);
                RwLock::new(Shard {
                    entries: IndexMap::with_hasher(RandomState::default()),
                    capacity,
                    generation: 0,
                    rng: hasher.hash_one(i) | 1,
                })
            })
            .collect();
        Self {
            shards,
            hasher,
            max_keys,
        }
    }

    fn shard(&self, key: &K) -> &RwLock<Shard<K, V>> {
        // Truncation is fine: only the low bits pick the shard.
        #[allow(clippy::cast_possible_truncation)]
        let hash = self.hasher.hash_one(key) as usize;
        &self.shards[hash & (self.shards.len() - 1)]
    }

    /// Runs `use_value` on `key`'s value, inserting `make()` first when the
    /// key is new. A full shard evicts its least recently used sampled entry
    /// for which `evictable` is true; when there is none the key is refused.
    #[inline]
    pub(crate) fn get_or_insert<R>(
        &self,
        key: &K,
        make: impl FnOnce() -> V,
        evictable: impl Fn(&V) -> bool,
        use_value: impl FnOnce(&V) -> R,
    ) -> Result<R, Full>
    where
        K: Clone,
    {
        let shard = self.shard(key);
        {
            let shard = read(shard);
            if let Some(slot) = shard.entries.get(key) {
                slot.touch(shard.generation);
                return Ok(use_value(&slot.value));
            }
        }
        self.insert(shard, key, make, &evictable, use_value)
    }

    #[cold]
    #[inline(never)]
    fn insert<R>(
        &self,
        shard: &RwLock<Shard<K, V>>,
        key: &K,
        make: impl FnOnce() -> V,
        evictable: &impl Fn(&V) -> bool,
        use_value: impl FnOnce(&V) -> R,
    ) -> Result<R, Full>
    where
        K: Clone,
    {
        let mut shard = write(shard);
        // Another caller may have inserted it between the two locks.
        if let Some(slot) = shard.entries.get(key) {
            slot.touch(shard.generation);
            return Ok(use_value(&slot.value));
        }
        if shard.entries.len() >= shard.capacity && !shard.evict(evictable) {
            return Err(Full);
        }
        shard.generation += 1;
        let slot = Slot {
            value: make(),
            last_used: AtomicU64::new(shard.generation * 2),
        };
        let (index, _) = shard.entries.insert_full(key.clone(), slot);
        Ok(use_value(&shard.entries[index].value))
    }

    /// Runs `f` on `key`'s value if the key is present, without counting it
    /// as a use.
    pub(crate) fn peek<R>(&self, key: &K, f: impl FnOnce(&V) -> R) -> Option<R> {
        read(self.shard(key))
            .entries
            .get(key)
            .map(|slot| f(&slot.value))
    }
}

impl<K, V> KeyedMap<K, V> {
    /// Calls `f` for every key and value, shard by shard, in no particular order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for shard in &*self.shards {
            for (key, slot) in &read(shard).entries {
                f(key, &slot.value);
            }
        }
    }

    /// The number of keys.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| read(shard).entries.len())
            .sum()
    }

    /// The bound on the number of keys.
    pub(crate) const fn max_keys(&self) -> usize {
        self.max_keys.get()
    }
}

impl<K, V> Shard<K, V> {
    /// Removes the least recently used of a few sampled entries that
    /// `evictable` allows; false if none of them may go.
    fn evict(&mut self, evictable: &impl Fn(&V) -> bool) -> bool {
        let len = self.entries.len();
        let mut victim: Option<(usize, u64)> = None;
        // Distinct entries: a run from a random start. Drawn independently,
        // the same entry could fill several samples, and a key in use could
        // go because every sample but it was one newer entry.
        let start = if len <= EVICTION_SAMPLES {
            0
        } else {
            self.next_index(len)
        };
        for probe in 0..len.min(EVICTION_SAMPLES) {
            let index = (start + probe) % len;
            let Some((_, slot)) = self.entries.get_index(index) else {
                continue;
            };
            let used = slot.last_used.load(Ordering::Relaxed);
            if victim.is_none_or(|(_, oldest)| used < oldest) && evictable(&slot.value) {
                victim = Some((index, used));
            }
        }
        victim.is_some_and(|(index, _)| self.entries.swap_remove_index(index).is_some())
    }

    /// A pseudo-random index below `len` (xorshift64; the seed is random).
    fn next_index(&mut self, len: usize) -> usize {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        // `len` fits in u64, and the remainder is below `len`.
        #[allow(clippy::cast_possible_truncation)]
        let index = (x % len as u64) as usize;
        index
    }
}

impl<V> Slot<V> {
    #[inline]
    fn touch(&self, generation: u64) {
        let stamp = generation * 2 + 1;
        // Only write when it changes: a hot key's cache line stays shared.
        if self.last_used.load(Ordering::Relaxed) != stamp {
            self.last_used.store(stamp, Ordering::Relaxed);
        }
    }
}

// The map stays consistent whatever panics in a caller's closure, so a
// poisoned lock is still safe to use.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl<K, V> fmt::Debug for KeyedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedMap")
            .field("max_keys", &self.max_keys)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn map(max: usize) -> KeyedMap<u64, Arc<()>> {
        KeyedMap::new(NonZeroUsize::new(max).unwrap())
    }

    fn touch(map: &KeyedMap<u64, Arc<()>>, key: u64) -> Result<Arc<()>, Full> {
        map.get_or_insert(&key, || Arc::new(()), |_| true, Arc::clone)
    }

    #[test]
    fn a_million_distinct_keys_never_exceed_the_bound() {
        for (max, keys) in [
            (1, 10_000),
            (7, 10_000),
            (300, 100_000),
            (10_000, 1_000_000),
        ] {
            let map = map(max);
            for key in 0..keys {
                touch(&map, key).unwrap();
            }
            assert_eq!(map.len(), max, "max_keys = {max}");
        }
    }

    #[test]
    fn a_known_key_keeps_its_value() {
        let map = map(4);
        let first = touch(&map, 1).unwrap();
        let again = touch(&map, 1).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn recently_used_keys_survive_eviction() {
        // One shard below 512 keys: eviction samples every entry of a map of
        // five, so the least recently used one goes.
        let map = map(5);
        for key in 0..5 {
            touch(&map, key).unwrap();
        }
        // Use 0 after the others were inserted; 1 is now the oldest.
        touch(&map, 0).unwrap();
        touch(&map, 5).unwrap();
        assert!(map.peek(&0, |_| ()).is_some());
        assert!(map.peek(&1, |_| ()).is_none());
        assert_eq!(map.len(), 5);
    }

    #[test]
    fn a_key_is_refused_when_nothing_may_be_evicted() {
        let map = map(2);
        let held: Vec<_> = (0..2).map(|key| touch(&map, key).unwrap()).collect();
        let busy = |value: &Arc<()>| Arc::strong_count(value) == 1;
        assert_eq!(
            map.get_or_insert(&9, || Arc::new(()), busy, |_| ()),
            Err(Full)
        );
        drop(held);
        assert_eq!(map.get_or_insert(&9, || Arc::new(()), busy, |_| ()), Ok(()));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn capacities_add_up_to_max_keys() {
        for max in [1, 255, 256, 511, 512, 1000, 4097, 10_000, 1_000_000] {
            let map = map(max);
            let total: usize = map.shards.iter().map(|s| read(s).capacity).sum();
            assert_eq!(total, max);
            assert!(map.shards.len().is_power_of_two());
            assert!(map.shards.iter().all(|s| read(s).capacity >= 1));
        }
    }
}
