//! [`Coalesce`]: the service.

use std::any::Any;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

use tower_service::Service;

use super::cache::CacheSettings;
use super::flight::{Joined, Registry};
use super::future::ResponseFuture;
use crate::BoxError;
use crate::key::{ExtractKey, KeyOf};

/// Concurrent calls with the same key share one call of the inner service;
/// see the [module docs](super).
pub struct Coalesce<S, X> {
    pub(super) inner: S,
    pub(super) key: Arc<KeyOf<X>>,
    pub(super) max_waiters: usize,
    pub(super) pass_keyless: bool,
    pub(super) cache: Option<CacheSettings>,
    pub(super) flights: Arc<Flights>,
}

impl<S, X> Coalesce<S, X> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, consuming this one.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, X> Clone for Coalesce<S, X> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            key: Arc::clone(&self.key),
            max_waiters: self.max_waiters,
            pass_keyless: self.pass_keyless,
            cache: self.cache,
            flights: Arc::clone(&self.flights),
        }
    }
}

impl<S: fmt::Debug, X: fmt::Debug> fmt::Debug for Coalesce<S, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coalesce")
            .field("inner", &self.inner)
            .field("key", self.key.extractor())
            .field("max_waiters", &self.max_waiters)
            .field("pass_keyless", &self.pass_keyless)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl<S, X, Req> Service<Req> for Coalesce<S, X>
where
    S: Service<Req>,
    S::Future: Send + 'static,
    S::Response: Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    X: ExtractKey<Req>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, X::Key, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let key = match self.key.extract(&req) {
            Ok(key) => key,
            Err(_) if self.pass_keyless => {
                return ResponseFuture::passthrough(self.inner.call(req));
            }
            Err(missing) => return ResponseFuture::failed(missing.into()),
        };
        let registry = self.flights.registry::<X::Key, S::Response>(self.cache);
        if let Some(response) = registry.cached(&key) {
            return ResponseFuture::cached(response);
        }
        let inner = &mut self.inner;
        let joined = registry.join(key, self.max_waiters, || {
            let call = inner.call(req);
            Box::pin(async move { call.await.map_err(Into::into) })
        });
        match joined {
            Ok(Joined::Leader(flight, slot) | Joined::Follower(flight, slot)) => {
                ResponseFuture::flight(flight, slot)
            }
            Err(full) => {
                tracing::debug!(
                    max_waiters = full.max_waiters(),
                    "coalescing refused a call"
                );
                ResponseFuture::failed(full.into())
            }
        }
    }
}

/// The flights of one service and its clones, typed on first use (the
/// layer is built before the request and response types are known).
#[derive(Default)]
pub(crate) struct Flights {
    first: OnceLock<Arc<dyn Any + Send + Sync>>,
    /// For a service called with more than one request type.
    others: Mutex<Vec<Arc<dyn Any + Send + Sync>>>,
}

impl Flights {
    fn registry<K, T>(&self, cache: Option<CacheSettings>) -> Arc<Registry<K, T>>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        T: Clone + Send + Sync + 'static,
    {
        let first = self
            .first
            .get_or_init(|| Arc::new(Registry::<K, T>::new(cache)));
        if let Ok(registry) = Arc::clone(first).downcast::<Registry<K, T>>() {
            return registry;
        }
        let mut others = self.others.lock().unwrap_or_else(PoisonError::into_inner);
        for other in others.iter() {
            if let Ok(registry) = Arc::clone(other).downcast::<Registry<K, T>>() {
                return registry;
            }
        }
        let registry = Arc::new(Registry::<K, T>::new(cache));
        others.push(Arc::clone(&registry) as Arc<dyn Any + Send + Sync>);
        registry
    }
}

impl fmt::Debug for Flights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flights").finish_non_exhaustive()
    }
}
