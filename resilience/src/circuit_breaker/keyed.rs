//! One breaker per key (host, endpoint, route), in a bounded map.
//!
//! Each call looks its key's breaker up in a map behind a `Mutex` (one lock,
//! one hash, no allocation for a known key), then takes the same lock-free
//! path as [`CircuitBreaker`](super::CircuitBreaker). A new key allocates its
//! breaker under the lock; when the map is full, the least recently used key
//! is found by a scan (O(`max_keys`)) and dropped, state and all.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::config::Settings;
use super::future::ResponseFuture;
use super::handle::CircuitBreakerHandle;
use super::state::Breaker;
use crate::BoxError;
use crate::classify::{Classify, ErrorsAreFailures};

/// Picks the key of a request. Implemented by closures `Fn(&Req) -> K` and,
/// under feature `http`, by [`ByAuthority`].
pub trait ExtractKey<Req> {
    /// The key.
    type Key;

    /// The key of `request`.
    fn extract(&self, request: &Req) -> Self::Key;
}

impl<Req, K, F> ExtractKey<Req> for F
where
    F: Fn(&Req) -> K,
{
    type Key = K;

    fn extract(&self, request: &Req) -> K {
        self(request)
    }
}

/// Keys HTTP requests by the authority (`host:port`) of their URI, or their
/// `Host` header for origin-form URIs; `""` when neither is present.
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, Default)]
pub struct ByAuthority;

#[cfg(feature = "http")]
impl<B> ExtractKey<http::Request<B>> for ByAuthority {
    type Key = String;

    fn extract(&self, request: &http::Request<B>) -> String {
        if let Some(authority) = request.uri().authority() {
            return authority.as_str().to_owned();
        }
        request
            .headers()
            .get(http::header::HOST)
            .and_then(|host| host.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

struct Entry {
    breaker: Arc<Breaker>,
    last_used: u64,
}

struct KeyMap<K> {
    entries: HashMap<K, Entry>,
    tick: u64,
}

/// The breakers of one keyed layer.
pub(crate) struct Registry<K> {
    settings: Settings,
    max_keys: usize,
    map: Mutex<KeyMap<K>>,
}

impl<K: Hash + Eq + Clone + fmt::Display> Registry<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, KeyMap<K>> {
        // Nothing panics while the lock is held, but a poisoned map is still
        // consistent, so keep serving.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn breaker(&self, key: K) -> Arc<Breaker> {
        let mut map = self.lock();
        map.tick += 1;
        let tick = map.tick;
        if let Some(entry) = map.entries.get_mut(&key) {
            entry.last_used = tick;
            return Arc::clone(&entry.breaker);
        }
        if map.entries.len() >= self.max_keys {
            let oldest = map
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                map.entries.remove(&oldest);
            }
        }
        let mut settings = self.settings.clone();
        settings.name = Arc::from(format!("{}:{key}", self.settings.name));
        let breaker = Arc::new(Breaker::new(settings));
        map.entries.insert(
            key,
            Entry {
                breaker: Arc::clone(&breaker),
                last_used: tick,
            },
        );
        breaker
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
        let map = self.registry.lock();
        map.entries
            .get(key)
            .map(|entry| CircuitBreakerHandle::new(Arc::clone(&entry.breaker)))
    }

    /// How many keys have a breaker.
    #[must_use]
    pub fn len(&self) -> usize {
        self.registry.lock().entries.len()
    }

    /// Whether no key has a breaker yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key with its breaker's handle, in no particular order.
    #[must_use]
    pub fn handles(&self) -> Vec<(K, CircuitBreakerHandle)> {
        let map = self.registry.lock();
        map.entries
            .iter()
            .map(|(key, entry)| {
                (
                    key.clone(),
                    CircuitBreakerHandle::new(Arc::clone(&entry.breaker)),
                )
            })
            .collect()
    }
}

impl<K> fmt::Debug for KeyedCircuitBreakerHandle<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreakerHandle")
            .field("name", &self.registry.settings.name)
            .field("max_keys", &self.registry.max_keys)
            .finish_non_exhaustive()
    }
}

/// One breaker per key, at most `max_keys` of them; from
/// [`CircuitBreakerBuilder::build_keyed`](super::CircuitBreakerBuilder::build_keyed).
/// Every service it makes shares the same breakers.
#[must_use]
pub struct KeyedCircuitBreakerLayer<K, X, C = ErrorsAreFailures> {
    registry: Arc<Registry<K>>,
    extractor: X,
    classifier: C,
}

impl<K, X, C> KeyedCircuitBreakerLayer<K, X, C> {
    pub(crate) fn from_parts(
        settings: Settings,
        extractor: X,
        classifier: C,
        max_keys: usize,
    ) -> Self {
        Self {
            registry: Arc::new(Registry {
                settings,
                max_keys,
                map: Mutex::new(KeyMap {
                    entries: HashMap::new(),
                    tick: 0,
                }),
            }),
            extractor,
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

impl<K, X: Clone, C: Clone> Clone for KeyedCircuitBreakerLayer<K, X, C> {
    fn clone(&self) -> Self {
        Self {
            registry: Arc::clone(&self.registry),
            extractor: self.extractor.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<K, X, C: fmt::Debug> fmt::Debug for KeyedCircuitBreakerLayer<K, X, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreakerLayer")
            .field("name", &self.registry.settings.name)
            .field("max_keys", &self.registry.max_keys)
            .field("classifier", &self.classifier)
            .finish_non_exhaustive()
    }
}

impl<S, K, X: Clone, C: Clone> Layer<S> for KeyedCircuitBreakerLayer<K, X, C> {
    type Service = KeyedCircuitBreaker<S, K, X, C>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedCircuitBreaker {
            inner,
            registry: Arc::clone(&self.registry),
            extractor: self.extractor.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

/// The service of a [`KeyedCircuitBreakerLayer`].
///
/// Its `poll_ready` is the inner service's (the key is only known from the
/// request); the breaker decides in `call`, and a rejection is an immediately
/// ready [`CircuitOpen`](super::error::CircuitOpen) error — the inner service
/// is not called.
#[must_use]
pub struct KeyedCircuitBreaker<S, K, X, C = ErrorsAreFailures> {
    inner: S,
    registry: Arc<Registry<K>>,
    extractor: X,
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
        let breaker = self.registry.breaker(self.extractor.extract(&request));
        let admission = breaker.admit();
        let inner = &mut self.inner;
        ResponseFuture::new(admission, &breaker, &self.classifier, || {
            inner.call(request)
        })
    }
}

impl<S: Clone, K, X: Clone, C: Clone> Clone for KeyedCircuitBreaker<S, K, X, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            registry: Arc::clone(&self.registry),
            extractor: self.extractor.clone(),
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
