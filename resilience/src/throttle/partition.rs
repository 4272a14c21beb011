//! Which window a request counts in: one for everything ([`Global`]) or one
//! per key ([`PerKey`]).

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::Arc;

use super::window::{AcceptWindow, WindowSettings};
use crate::key::{ExtractKey, KeyOf, KeyedMap, MissingKey};

/// Finds the [`AcceptWindow`] a request counts in; implemented by
/// [`Global`] and [`PerKey`].
pub trait Partition<Req> {
    /// The window of `req`.
    ///
    /// # Errors
    ///
    /// [`MissingKey`] when a keyed throttle finds no key in `req`.
    fn window(&self, req: &Req, settings: &WindowSettings)
    -> Result<Arc<AcceptWindow>, MissingKey>;
}

/// One window for every request.
#[derive(Debug)]
pub struct Global {
    pub(crate) window: Arc<AcceptWindow>,
}

impl<Req> Partition<Req> for Global {
    #[inline]
    fn window(&self, _: &Req, _: &WindowSettings) -> Result<Arc<AcceptWindow>, MissingKey> {
        Ok(Arc::clone(&self.window))
    }
}

/// One window per key (per upstream), at most `max_keys` of them in the
/// crate's bounded keyed map; a forgotten key comes back with an empty
/// window (nothing rejected).
pub struct PerKey<X, K> {
    key_of: KeyOf<X>,
    pub(crate) windows: KeyedMap<K, Arc<AcceptWindow>>,
    _key: PhantomData<fn() -> K>,
}

impl<X, K: Hash + Eq> PerKey<X, K> {
    pub(crate) fn new(extractor: X, max_keys: NonZeroUsize) -> Self {
        Self {
            key_of: KeyOf::new(extractor, "throttle"),
            windows: KeyedMap::new(max_keys),
            _key: PhantomData,
        }
    }
}

impl<Req, X, K> Partition<Req> for PerKey<X, K>
where
    X: ExtractKey<Req, Key = K>,
    K: Hash + Eq + Clone,
{
    #[inline]
    fn window(
        &self,
        req: &Req,
        settings: &WindowSettings,
    ) -> Result<Arc<AcceptWindow>, MissingKey> {
        let key = self.key_of.extract(req)?;
        // Every window may be evicted, so a full shard always makes room;
        // the fallback (a window of its own) is unreachable.
        Ok(self
            .windows
            .get_or_insert(
                &key,
                || Arc::new(AcceptWindow::new(settings)),
                |_| true,
                Arc::clone,
            )
            .unwrap_or_else(|_| Arc::new(AcceptWindow::new(settings))))
    }
}

impl<X: fmt::Debug, K> fmt::Debug for PerKey<X, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerKey")
            .field("key", self.key_of.extractor())
            .field("max_keys", &self.windows.max_keys())
            .finish_non_exhaustive()
    }
}
