//! A short-lived cache of API keys read from the database, so that a busy
//! key is not looked up on every request.
//!
//! - Keyed by the token's public id; each entry holds the key and the
//!   **SHA-256 of its secret**, never the secret: a hit still hashes the
//!   presented secret and compares it in constant time, exactly as a lookup
//!   does, so a wrong secret is refused from the cache too.
//! - Only keys that exist are cached (an unknown id is never an entry), so
//!   the number of entries is bounded by the number of keys, and in any case
//!   by [`KEY_CACHE_CAPACITY`].
//! - An entry lives `ttl` from the lookup that filled it (a hit does not
//!   extend it). A revocation through this instance evicts the key at once
//!   ([`KeyCache::evict`]); one made elsewhere (another instance, or the
//!   database directly) is seen when the entry expires, within `ttl`. A
//!   `ttl` of zero turns the cache off.
//! - While the cache is on, every lookup is counted in
//!   `palisade_api_key_cache_total{result}`, `result` being `hit` or `miss`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use super::token::ApiToken;
use crate::store::keys::StoredKey;
use crate::store::{DbError, ServerDb};

/// How long a key read from the database is trusted by default.
pub const DEFAULT_KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// The most keys the cache holds.
pub const KEY_CACHE_CAPACITY: usize = 10_000;
/// The counter of cache lookups, labelled `result="hit"|"miss"`.
pub const KEY_CACHE_METRIC: &str = "palisade_api_key_cache_total";

/// A key and the hash of its secret, as the database holds them.
#[derive(Debug)]
struct Entry {
    key: Arc<StoredKey>,
    secret_hash: Box<[u8]>,
    expires: Instant,
}

/// The cache; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct KeyCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, Entry>>,
    /// Bumped by every eviction. A lookup that began before an eviction does
    /// not fill the cache with what it read: that might be the key as it
    /// was before its revocation.
    evictions: AtomicU64,
}

impl KeyCache {
    /// A cache trusting each key for `ttl`; zero turns it off.
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
            evictions: AtomicU64::new(0),
        }
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The key `token` names, when its secret matches: from the cache when
    /// the key was read less than `ttl` ago, else from `db` (and then
    /// cached). `None` for an unknown id or a wrong secret. A revoked key is
    /// returned as such; refusing it is the caller's decision.
    ///
    /// # Errors
    ///
    /// The database's error on a miss.
    pub(crate) async fn verify(
        &self,
        db: &ServerDb,
        token: &ApiToken,
    ) -> Result<Option<Arc<StoredKey>>, DbError> {
        if !self.enabled() {
            let found = db.key_with_hash(token.id()).await?;
            return Ok(found
                .filter(|(_, hash)| token.matches(hash))
                .map(|(key, _)| Arc::new(key)));
        }
        if let Some(verdict) = self.cached(token) {
            count("hit");
            return Ok(verdict);
        }
        count("miss");
        let evictions = self.evictions.load(Ordering::Acquire);
        let Some((key, hash)) = db.key_with_hash(token.id()).await? else {
            return Ok(None);
        };
        let matches = token.matches(&hash);
        let key = Arc::new(key);
        self.fill(evictions, Arc::clone(&key), hash.into_boxed_slice());
        Ok(matches.then_some(key))
    }

    /// `Some(verdict)` when the cache holds a live entry for the token's id.
    fn cached(&self, token: &ApiToken) -> Option<Option<Arc<StoredKey>>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(token.id())?;
        if entry.expires <= Instant::now() {
            return None;
        }
        Some(
            token
                .matches(&entry.secret_hash)
                .then(|| Arc::clone(&entry.key)),
        )
    }

    /// Caches `key` unless an eviction happened since `evictions` was read.
    fn fill(&self, evictions: u64, key: Arc<StoredKey>, secret_hash: Box<[u8]>) {
        let now = Instant::now();
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        // Read under the write lock, which `evict` also holds while bumping.
        if self.evictions.load(Ordering::Acquire) != evictions {
            return;
        }
        if entries.len() >= KEY_CACHE_CAPACITY && !entries.contains_key(&key.id) {
            entries.retain(|_, entry| entry.expires > now);
            if entries.len() >= KEY_CACHE_CAPACITY {
                // Still full of live keys: this one is read again next time.
                return;
            }
        }
        entries.insert(
            key.id.clone(),
            Entry {
                key,
                secret_hash,
                expires: now + self.ttl,
            },
        );
    }

    /// Forgets the key `id` at once (it was just revoked), and keeps
    /// lookups already under way from caching it again.
    pub(crate) fn evict(&self, id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.evictions.fetch_add(1, Ordering::AcqRel);
        entries.remove(id);
    }
}

fn count(result: &'static str) {
    metrics::counter!(KEY_CACHE_METRIC, "result" => result).increment(1);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::SystemTime;

    use super::*;
    use crate::api::Scope;

    fn stored(token: &ApiToken, revoked: bool) -> (Arc<StoredKey>, Box<[u8]>) {
        let key = StoredKey {
            id: token.id().to_owned(),
            name: "test".to_owned(),
            scope: Scope::Read,
            tier: "standard".to_owned(),
            created_at: SystemTime::UNIX_EPOCH,
            revoked_at: revoked.then_some(SystemTime::UNIX_EPOCH),
        };
        (Arc::new(key), token.secret_hash().into())
    }

    fn fill(cache: &KeyCache, token: &ApiToken) {
        let (key, hash) = stored(token, false);
        cache.fill(cache.evictions.load(Ordering::Acquire), key, hash);
    }

    /// A token with the same id as `token` and another secret.
    fn same_id_other_secret(token: &ApiToken) -> ApiToken {
        ApiToken::parse(&format!("pal_{}_{}", token.id(), "0".repeat(64))).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn an_entry_answers_until_its_ttl_has_passed() {
        let cache = KeyCache::new(Duration::from_secs(5));
        let token = ApiToken::generate().unwrap();
        assert!(cache.cached(&token).is_none(), "nothing cached yet");
        fill(&cache, &token);
        let hit = cache.cached(&token).unwrap().unwrap();
        assert_eq!(hit.id, token.id());
        tokio::time::advance(Duration::from_millis(4_999)).await;
        assert!(cache.cached(&token).is_some(), "still within the TTL");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(cache.cached(&token).is_none(), "expired: read it again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_wrong_secret_is_refused_from_the_cache() {
        let cache = KeyCache::new(Duration::from_secs(5));
        let token = ApiToken::generate().unwrap();
        fill(&cache, &token);
        let wrong = same_id_other_secret(&token);
        assert_eq!(cache.cached(&wrong), Some(None), "known id, wrong secret");
        assert!(cache.cached(&token).unwrap().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn an_eviction_forgets_the_key_and_stops_lookups_under_way() {
        let cache = KeyCache::new(Duration::from_secs(5));
        let token = ApiToken::generate().unwrap();
        fill(&cache, &token);
        cache.evict(token.id());
        assert!(cache.cached(&token).is_none(), "evicted at once");

        // A lookup read the key before the revocation and ends after it.
        let before = cache.evictions.load(Ordering::Acquire);
        cache.evict(token.id());
        let (key, hash) = stored(&token, false);
        cache.fill(before, key, hash);
        assert!(
            cache.cached(&token).is_none(),
            "the stale read is not cached"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_never_holds_more_than_its_capacity() {
        let cache = KeyCache::new(Duration::from_secs(5));
        for _ in 0..KEY_CACHE_CAPACITY + 10 {
            fill(&cache, &ApiToken::generate().unwrap());
        }
        assert_eq!(cache.entries.read().unwrap().len(), KEY_CACHE_CAPACITY);
        // Once the entries expire, new keys find room again.
        tokio::time::advance(Duration::from_secs(5)).await;
        let token = ApiToken::generate().unwrap();
        fill(&cache, &token);
        assert!(cache.cached(&token).is_some());
        assert_eq!(cache.entries.read().unwrap().len(), 1);
    }
}
