//! Where new request ids come from.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use http::Request;
use rand::Rng;

use super::RequestIdValue;

/// Makes a request id for a request that came without a valid one.
///
/// Implemented by [`RandomRequestId`] (the default), [`RngRequestId`] (an
/// injected generator, for deterministic tests) and by closures
/// `FnMut() -> RequestIdValue`. A closure's captured state is cloned with the
/// service (servers clone it per connection), so a counter should live in an
/// `Arc<AtomicU64>` rather than a plain integer:
///
/// ```
/// use palisade_tracing_layer::request_id::{RequestIdLayer, RequestIdValue};
///
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let next = Arc::new(AtomicU64::new(1));
/// let layer = RequestIdLayer::new().make_request_id(move || {
///     let n = next.fetch_add(1, Ordering::Relaxed);
///     RequestIdValue::try_from(format!("req-{n}")).expect("visible ascii")
/// });
/// # let _ = layer;
/// ```
pub trait MakeRequestId {
    /// A new id for `request`.
    fn make_request_id<B>(&mut self, request: &Request<B>) -> RequestIdValue;
}

impl<F> MakeRequestId for F
where
    F: FnMut() -> RequestIdValue,
{
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> RequestIdValue {
        self()
    }
}

/// The default: 128 random bits from the OS-seeded thread-local generator
/// ([`rand::rng`]), as 32 lowercase hex digits.
///
/// Clones draw from the thread's generator, never from a copied state, so the
/// per-connection clones a server makes never repeat each other's ids.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> RequestIdValue {
        random_hex(&mut rand::rng())
    }
}

/// 32 lowercase hex digits from a generator you choose, such as a seeded
/// `SmallRng` in tests.
///
/// Clones share the one generator (behind a mutex), so clones of the service
/// continue one sequence rather than each repeating it.
///
/// ```
/// use palisade_tracing_layer::request_id::{MakeRequestId, RngRequestId};
/// use rand::{SeedableRng, rngs::SmallRng};
///
/// let mut a = RngRequestId::new(SmallRng::seed_from_u64(7));
/// let mut b = a.clone();
/// let request = http::Request::new(());
/// let first = a.make_request_id(&request);
/// let second = b.make_request_id(&request);
/// assert_eq!(first.as_str().len(), 32);
/// assert_ne!(first, second);
/// ```
pub struct RngRequestId<R> {
    rng: Arc<Mutex<R>>,
}

impl<R> RngRequestId<R> {
    /// Ids drawn from `rng`.
    pub fn new(rng: R) -> Self {
        Self {
            rng: Arc::new(Mutex::new(rng)),
        }
    }
}

impl<R> Clone for RngRequestId<R> {
    fn clone(&self) -> Self {
        Self {
            rng: Arc::clone(&self.rng),
        }
    }
}

impl<R> fmt::Debug for RngRequestId<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RngRequestId").finish_non_exhaustive()
    }
}

impl<R: Rng> MakeRequestId for RngRequestId<R> {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> RequestIdValue {
        // A panic while holding the lock cannot leave a generator half-updated
        // in a way that matters for ids, so a poisoned lock is used as is.
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        random_hex(&mut *rng)
    }
}

fn random_hex(rng: &mut impl Rng) -> RequestIdValue {
    let hi = u128::from(rng.next_u64());
    let lo = u128::from(rng.next_u64());
    RequestIdValue::hex((hi << 64) | lo)
}
