//! [`CoalesceLayer`] and its builder.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::cache::CacheSettings;
use super::service::{Coalesce, Flights};
use crate::key::KeyOf;

/// How many callers may wait for one key's flight when none is set.
const DEFAULT_MAX_WAITERS: NonZeroUsize = match NonZeroUsize::new(1024) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// Applies [`Coalesce`]: concurrent calls with the same key share one inner
/// call.
///
/// Each service this layer makes has its own flights, shared by its clones:
/// two different upstreams wrapped by the same layer never share a call.
#[must_use]
#[derive(Debug, Clone)]
pub struct CoalesceLayer<X> {
    key: Arc<KeyOf<X>>,
    max_waiters: usize,
    pass_keyless: bool,
    cache: Option<CacheSettings>,
}

impl<X> CoalesceLayer<X> {
    /// Coalesces calls by the key `key` (any
    /// [`ExtractKey`](crate::key::ExtractKey), for example a closure
    /// `Fn(&Req) -> Option<K>`), with up to 1,024 waiters per key; a call
    /// without a key fails with [`MissingKey`](crate::key::MissingKey).
    pub fn new(key: X) -> Self {
        Self::builder(key).build()
    }

    /// A builder keyed by `key`, starting from 1,024 waiters per key.
    pub fn builder(key: X) -> CoalesceLayerBuilder<X> {
        CoalesceLayerBuilder {
            key,
            max_waiters: DEFAULT_MAX_WAITERS,
            pass_keyless: false,
            cache: None,
        }
    }
}

impl<S: Clone, X> Layer<S> for CoalesceLayer<X> {
    type Service = Coalesce<S, X>;

    fn layer(&self, inner: S) -> Self::Service {
        Coalesce {
            inner,
            key: Arc::clone(&self.key),
            max_waiters: self.max_waiters,
            pass_keyless: self.pass_keyless,
            cache: self.cache,
            flights: Arc::new(Flights::default()),
        }
    }
}

/// Settings for a [`CoalesceLayer`].
#[must_use]
#[derive(Debug, Clone)]
pub struct CoalesceLayerBuilder<X> {
    key: X,
    max_waiters: NonZeroUsize,
    pass_keyless: bool,
    cache: Option<CacheSettings>,
}

impl<X> CoalesceLayerBuilder<X> {
    /// How many callers may wait for a flight started by another (default
    /// 1,024); one more is refused with
    /// [`CoalesceFull`](super::error::CoalesceFull).
    pub const fn max_waiters(mut self, max_waiters: NonZeroUsize) -> Self {
        self.max_waiters = max_waiters;
        self
    }

    /// Calls whose key the extractor cannot find go to the inner service
    /// on their own instead of failing with
    /// [`MissingKey`](crate::key::MissingKey): for extractors that key only
    /// some requests (say, only `GET`s), by returning `None` for the others.
    pub const fn pass_keyless(mut self) -> Self {
        self.pass_keyless = true;
        self
    }

    /// Also keeps each successful response for `ttl` after its call ended,
    /// for at most `max_entries` keys: a call with a key whose response is
    /// cached is answered at once, without a flight. Errors are never
    /// cached; a zero `ttl` caches nothing. When the map is full, a new key
    /// evicts the least recently stored of a few sampled keys.
    pub const fn cache(mut self, ttl: Duration, max_entries: NonZeroUsize) -> Self {
        self.cache = Some(CacheSettings { ttl, max_entries });
        self
    }

    /// Builds the layer.
    pub fn build(self) -> CoalesceLayer<X> {
        CoalesceLayer {
            key: Arc::new(KeyOf::new(self.key, "coalesce")),
            max_waiters: self.max_waiters.get(),
            pass_keyless: self.pass_keyless,
            cache: self.cache,
        }
    }
}
