//! A bounded cache of the `webhook-id`s seen inside the replay window.
//!
//! A captured delivery can be sent again while its timestamp is still inside
//! the scheme's tolerance; after that the signature check itself rejects it.
//! So an id only needs remembering for the window (longer if its timestamp
//! lies in the future, because it stays acceptable for longer), and the cache
//! can be bounded: when full, the oldest id is forgotten first.
//!
//! An id is reserved when its delivery is verified and kept only if the
//! receiver answers with a success; a failed or dropped delivery releases it
//! so the sender's retry (which reuses the id) is not taken for a replay.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// The seen-id cache, shared by every clone of a layer's service.
#[derive(Debug)]
pub(crate) struct ReplayCache {
    state: Mutex<State>,
    capacity: NonZeroUsize,
    window: Duration,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Ids in insertion order; an item whose `seq` no longer matches its
    /// entry is stale (released or re-inserted) and skipped.
    order: VecDeque<(u64, String)>,
    next_seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    seq: u64,
    expires: Instant,
}

impl ReplayCache {
    pub(crate) fn new(capacity: NonZeroUsize, window: Duration) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity,
            window,
        }
    }

    pub(crate) fn capacity(&self) -> NonZeroUsize {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements, so a panic elsewhere
        // while holding the lock leaves nothing to repair.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves `id`, or returns `None` if it is already remembered.
    ///
    /// `timestamp` is the verified timestamp and `now_unix` the verifier's
    /// clock: a timestamp ahead of the clock stays acceptable for longer, so
    /// its id is remembered for longer (up to twice the window).
    pub(crate) fn reserve(
        self: &Arc<Self>,
        id: &str,
        timestamp: Option<i64>,
        now_unix: i64,
    ) -> Option<ReplayGuard> {
        let now = Instant::now();
        let ahead = timestamp
            .and_then(|ts| u64::try_from(ts.saturating_sub(now_unix)).ok())
            .map_or(Duration::ZERO, Duration::from_secs)
            .min(self.window);
        let expires = now + self.window + ahead;

        let mut state = self.lock();
        if state.entries.get(id).is_some_and(|e| e.expires > now) {
            return None;
        }
        state.purge(now);
        while state.entries.len() >= self.capacity.get() {
            if !state.evict_oldest() {
                break;
            }
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.entries.insert(id.to_owned(), Entry { seq, expires });
        state.order.push_back((seq, id.to_owned()));
        if state.order.len() > self.capacity.get().saturating_mul(2) {
            state.compact();
        }
        drop(state);
        Some(ReplayGuard {
            cache: Arc::clone(self),
            id: id.to_owned(),
            seq,
            keep: false,
        })
    }

    fn release(&self, id: &str, seq: u64) {
        let mut state = self.lock();
        if state.entries.get(id).is_some_and(|e| e.seq == seq) {
            state.entries.remove(id);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

impl State {
    fn is_live(&self, seq: u64, id: &str) -> bool {
        self.entries.get(id).is_some_and(|e| e.seq == seq)
    }

    /// Drops stale and expired items from the front of the queue.
    fn purge(&mut self, now: Instant) {
        while let Some((seq, id)) = self.order.front() {
            match self.entries.get(id) {
                Some(entry) if entry.seq == *seq && entry.expires > now => break,
                Some(entry) if entry.seq == *seq => {
                    self.entries.remove(id);
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Forgets the oldest live id; false if there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((seq, id)) = self.order.pop_front() {
            if self.is_live(seq, &id) {
                self.entries.remove(&id);
                return true;
            }
        }
        false
    }

    /// Removes stale items, so released ids cannot grow the queue without
    /// bound while an old live id holds its front.
    fn compact(&mut self) {
        let entries = &self.entries;
        self.order
            .retain(|(seq, id)| entries.get(id).is_some_and(|e| e.seq == *seq));
    }
}

/// A reserved id. Dropped without [`keep`](Self::keep), it is released, so a
/// retry of a delivery that failed is accepted.
#[derive(Debug)]
pub(crate) struct ReplayGuard {
    cache: Arc<ReplayCache>,
    id: String,
    seq: u64,
    keep: bool,
}

impl ReplayGuard {
    /// Remembers the id until it expires.
    pub(crate) fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for ReplayGuard {
    fn drop(&mut self) {
        if !self.keep {
            self.cache.release(&self.id, self.seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn cache(capacity: usize) -> Arc<ReplayCache> {
        Arc::new(ReplayCache::new(
            NonZeroUsize::new(capacity).unwrap(),
            Duration::from_secs(300),
        ))
    }

    #[tokio::test(start_paused = true)]
    async fn a_kept_id_is_rejected_until_the_window_passes() {
        let cache = cache(8);
        cache.reserve("msg_1", Some(NOW), NOW).unwrap().keep();
        assert!(cache.reserve("msg_1", Some(NOW), NOW).is_none());
        assert!(cache.reserve("msg_2", Some(NOW), NOW).is_some());

        tokio::time::advance(Duration::from_secs(299)).await;
        assert!(cache.reserve("msg_1", Some(NOW), NOW).is_none());
        tokio::time::advance(Duration::from_secs(1)).await;
        cache.reserve("msg_1", Some(NOW), NOW).unwrap().keep();
        assert!(cache.reserve("msg_1", Some(NOW), NOW).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn future_timestamps_are_remembered_longer() {
        let cache = cache(8);
        cache.reserve("ahead", Some(NOW + 120), NOW).unwrap().keep();
        tokio::time::advance(Duration::from_secs(419)).await;
        assert!(cache.reserve("ahead", Some(NOW + 120), NOW).is_none());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(cache.reserve("ahead", Some(NOW + 120), NOW).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_released_id_can_be_delivered_again() {
        let cache = cache(8);
        let guard = cache.reserve("msg_1", Some(NOW), NOW).unwrap();
        // In flight: a concurrent duplicate is refused.
        assert!(cache.reserve("msg_1", Some(NOW), NOW).is_none());
        drop(guard);
        assert!(cache.reserve("msg_1", Some(NOW), NOW).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn when_full_the_oldest_id_is_forgotten_first() {
        let cache = cache(2);
        for id in ["a", "b", "c"] {
            cache.reserve(id, None, NOW).unwrap().keep();
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.reserve("b", None, NOW).is_none());
        assert!(cache.reserve("c", None, NOW).is_none());
        // "a" was evicted to make room for "c".
        assert!(cache.reserve("a", None, NOW).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn released_ids_do_not_grow_the_queue() {
        let cache = cache(2);
        cache.reserve("kept", None, NOW).unwrap().keep();
        for i in 0..1000 {
            drop(cache.reserve(&format!("failed-{i}"), None, NOW).unwrap());
        }
        assert!(cache.lock().order.len() <= 4);
        assert!(cache.reserve("kept", None, NOW).is_none());
    }
}
