//! [`MissingKey`]: a keyed layer could not find the key of a request.

use std::fmt;

/// A keyed layer (rate limiter, breaker, bulkhead) could not find the key of
/// a request, so it refused the request rather than pool it with every other
/// keyless one.
///
/// Pooling keyless requests is how a per-client limit silently becomes a
/// global one; [`PoolMissing`](super::PoolMissing) opts into it explicitly.
/// The `edge` module answers a server-side cause (the peer address was never
/// recorded, a closure found nothing) with `500` and a client-side cause (a
/// required header is absent or too long) with `400`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingKey {
    what: &'static str,
    by_client: bool,
}

impl MissingKey {
    /// The server is set up so that the key cannot be found (for example the
    /// peer address is not recorded): `what` says what is missing and how to
    /// provide it.
    #[must_use]
    pub const fn misconfigured(what: &'static str) -> Self {
        Self {
            what,
            by_client: false,
        }
    }

    /// The request lacks what the key is made of (for example a header):
    /// `what` says what the client should send.
    #[must_use]
    pub const fn from_client(what: &'static str) -> Self {
        Self {
            what,
            by_client: true,
        }
    }

    /// What is missing, and how to provide it.
    #[must_use]
    pub const fn what(&self) -> &'static str {
        self.what
    }

    /// Whether the request, rather than the server's set-up, is at fault.
    #[must_use]
    pub const fn is_client_error(&self) -> bool {
        self.by_client
    }
}

impl fmt::Display for MissingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the request has no key: {}", self.what)
    }
}

impl std::error::Error for MissingKey {}

/// Finds keys for one layer and logs the first request without one, at
/// `ERROR` (a set-up problem; one line per layer is enough to find it).
#[derive(Debug)]
pub(crate) struct KeyOf<E> {
    extractor: E,
    layer: &'static str,
    logged: std::sync::atomic::AtomicBool,
}

impl<E> KeyOf<E> {
    pub(crate) const fn new(extractor: E, layer: &'static str) -> Self {
        Self {
            extractor,
            layer,
            logged: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) const fn extractor(&self) -> &E {
        &self.extractor
    }

    /// The key of `req`.
    #[inline]
    pub(crate) fn extract<Req>(&self, req: &Req) -> Result<E::Key, MissingKey>
    where
        E: super::ExtractKey<Req>,
    {
        self.extractor
            .extract(req)
            .inspect_err(|missing| self.log(missing))
    }

    #[cold]
    fn log(&self, missing: &MissingKey) {
        if !self.logged.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::error!(
                layer = self.layer,
                client_error = missing.is_client_error(),
                "{missing}; the request is refused (logged once per layer)"
            );
        }
    }
}
