//! Our own errors, recognised in one place: [`find`] says whether an error
//! is a rejection by one of this crate's layers (and which), [`find_own`]
//! also recognises the errors of ours that are not rejections.
//!
//! A *rejection* means "not now": the layer refused the call without
//! reaching the inner service (or, for a timeout, gave up waiting), and the
//! same call may pass later. The fallback answers rejections
//! ([`Rejections`](crate::fallback::Rejections)), retry waits for their
//! [`retry_after`](Rejection::retry_after), and the HTTP edge maps them to
//! 503, 429 or 504. Every lookup walks the error's
//! [`source`](Error::source) chain, so wrapped errors are recognised too.
//!
//! | type (module)                         | variant                     | [`retry_after`](Rejection::retry_after) |
//! |---------------------------------------|-----------------------------|-------------------------------|
//! | `CircuitOpen` (`circuit_breaker`)     | [`Rejection::CircuitOpen`]  | until the next probe (Open); none in HalfOpen and ForcedOpen |
//! | `BulkheadFull` (`bulkhead`)           | [`Rejection::BulkheadFull`] | none: permits free as calls end, there is no schedule |
//! | `RateLimited` (`rate_limit`)          | [`Rejection::RateLimited`]  | until the next call can pass  |
//! | `Elapsed` (`timeout`)                 | [`Rejection::Elapsed`]      | none                          |
//! | `CoalesceFull` (`coalesce`)           | `Rejection::CoalesceFull`   | none: waiters leave as the shared call ends |
//! | `Throttled` (`throttle`)              | `Rejection::Throttled`      | none: refusals are random, the next call may pass |
//! | `LimitReached` (`adaptive`)           | `Rejection::LimitReached`   | none: places free as calls end |
//!
//! Each variant exists when its layer's feature is on. Errors of ours that
//! are not rejections ([`OwnError`]): the rate limiter's
//! `BackendUnavailable` (a broken dependency) and the chaos layer's
//! `ChaosError` (an injected bug).
//!
//! ```
//! use palisade_resilience::BoxError;
//! use palisade_resilience::rejection;
//!
//! let refused: BoxError = std::io::Error::other("connection refused").into();
//! assert!(rejection::find(&*refused).is_none());
//!
//! # #[cfg(feature = "rate-limit")] {
//! use std::time::Duration;
//! use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
//! use palisade_resilience::rejection::Rejection;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let limiter = RateLimitLayer::global(Quota::per_second(std::num::NonZeroU32::MIN));
//! let svc = limiter.layer(service_fn(|()| async { Ok::<_, BoxError>("ok") }));
//! svc.clone().oneshot(()).await?;
//! let err = svc.oneshot(()).await.unwrap_err();
//!
//! let found = rejection::find(&*err).expect("a rejection");
//! assert!(matches!(found, Rejection::RateLimited(_)));
//! assert_eq!(found.code(), "rate_limited");
//! assert!(found.retry_after().is_some_and(|wait| wait <= Duration::from_secs(1)));
//! # Ok(())
//! # }
//! # }
//! # #[cfg(not(feature = "rate-limit"))]
//! # fn main() {}
//! ```

#[cfg(feature = "retry")]
use std::any::Any;
use std::error::Error;
use std::time::Duration;

/// A rejection by one of this crate's layers, borrowed from the error that
/// carries it; found by [`find`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Rejection<'a> {
    /// The breaker refused the call (feature `circuit-breaker`).
    #[cfg(feature = "circuit-breaker")]
    CircuitOpen(&'a crate::circuit_breaker::error::CircuitOpen),
    /// The bulkhead had no permit and no room to wait (feature `bulkhead`).
    #[cfg(feature = "bulkhead")]
    BulkheadFull(&'a crate::bulkhead::error::BulkheadFull),
    /// The rate limiter refused the call (feature `rate-limit`).
    #[cfg(feature = "rate-limit")]
    RateLimited(&'a crate::rate_limit::error::RateLimited),
    /// The timeout fired (feature `timeout`).
    #[cfg(feature = "timeout")]
    Elapsed(&'a crate::timeout::error::Elapsed),
    /// Too many callers already waited for the same key (feature `coalesce`).
    #[cfg(feature = "coalesce")]
    CoalesceFull(&'a crate::coalesce::error::CoalesceFull),
    /// Client-side throttling refused the call (feature `throttle`).
    #[cfg(feature = "throttle")]
    Throttled(&'a crate::throttle::error::Throttled),
    /// The adaptive concurrency limit was reached (feature `adaptive`).
    #[cfg(feature = "adaptive")]
    LimitReached(&'a crate::adaptive::error::LimitReached),
    // With none of the features on there is no rejection; the variant keeps
    // the lifetime used and cannot be built.
    #[cfg(not(any(
        feature = "circuit-breaker",
        feature = "bulkhead",
        feature = "rate-limit",
        feature = "timeout",
        feature = "coalesce",
        feature = "throttle",
        feature = "adaptive"
    )))]
    #[doc(hidden)]
    __None(std::convert::Infallible, std::marker::PhantomData<&'a ()>),
}

impl<'a> Rejection<'a> {
    /// How long the layer asks callers to wait before trying again, when it
    /// knows: the time until the breaker's next probe (Open only) or until
    /// the rate limiter admits the next call. `None` for a bulkhead (no
    /// schedule), a timeout, and a breaker in HalfOpen or ForcedOpen.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match *self {
            #[cfg(feature = "circuit-breaker")]
            Self::CircuitOpen(open) => open.retry_after(),
            #[cfg(feature = "bulkhead")]
            Self::BulkheadFull(_) => None,
            #[cfg(feature = "rate-limit")]
            Self::RateLimited(limited) => Some(limited.retry_after()),
            #[cfg(feature = "timeout")]
            Self::Elapsed(_) => None,
            #[cfg(feature = "coalesce")]
            Self::CoalesceFull(_) => None,
            #[cfg(feature = "throttle")]
            Self::Throttled(_) => None,
            #[cfg(feature = "adaptive")]
            Self::LimitReached(_) => None,
            #[cfg(not(any(
                feature = "circuit-breaker",
                feature = "bulkhead",
                feature = "rate-limit",
                feature = "timeout",
                feature = "coalesce",
                feature = "throttle",
                feature = "adaptive"
            )))]
            Self::__None(never, _) => match never {},
        }
    }

    /// A stable snake_case name: `circuit_open`, `bulkhead_full`,
    /// `rate_limited`, `timeout`, `coalesce_full`, `throttled` or `limit_reached` (the `code` of the HTTP edge's problem
    /// bodies).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match *self {
            #[cfg(feature = "circuit-breaker")]
            Self::CircuitOpen(_) => "circuit_open",
            #[cfg(feature = "bulkhead")]
            Self::BulkheadFull(_) => "bulkhead_full",
            #[cfg(feature = "rate-limit")]
            Self::RateLimited(_) => "rate_limited",
            #[cfg(feature = "timeout")]
            Self::Elapsed(_) => "timeout",
            #[cfg(feature = "coalesce")]
            Self::CoalesceFull(_) => "coalesce_full",
            #[cfg(feature = "throttle")]
            Self::Throttled(_) => "throttled",
            #[cfg(feature = "adaptive")]
            Self::LimitReached(_) => "limit_reached",
            #[cfg(not(any(
                feature = "circuit-breaker",
                feature = "bulkhead",
                feature = "rate-limit",
                feature = "timeout",
                feature = "coalesce",
                feature = "throttle",
                feature = "adaptive"
            )))]
            Self::__None(never, _) => match never {},
        }
    }

    /// The error itself.
    #[must_use]
    pub fn as_error(&self) -> &'a (dyn Error + 'static) {
        match *self {
            #[cfg(feature = "circuit-breaker")]
            Self::CircuitOpen(e) => e,
            #[cfg(feature = "bulkhead")]
            Self::BulkheadFull(e) => e,
            #[cfg(feature = "rate-limit")]
            Self::RateLimited(e) => e,
            #[cfg(feature = "timeout")]
            Self::Elapsed(e) => e,
            #[cfg(feature = "coalesce")]
            Self::CoalesceFull(e) => e,
            #[cfg(feature = "throttle")]
            Self::Throttled(e) => e,
            #[cfg(feature = "adaptive")]
            Self::LimitReached(e) => e,
            #[cfg(not(any(
                feature = "circuit-breaker",
                feature = "bulkhead",
                feature = "rate-limit",
                feature = "timeout",
                feature = "coalesce",
                feature = "throttle",
                feature = "adaptive"
            )))]
            Self::__None(never, _) => match never {},
        }
    }

    /// The rejection `error` itself is, without looking at its sources.
    // With none of the features on, nothing is recognised.
    #[allow(unused_variables)]
    fn of(error: &'a (dyn Error + 'static)) -> Option<Self> {
        #[cfg(feature = "circuit-breaker")]
        if let Some(e) = error.downcast_ref() {
            return Some(Self::CircuitOpen(e));
        }
        #[cfg(feature = "bulkhead")]
        if let Some(e) = error.downcast_ref() {
            return Some(Self::BulkheadFull(e));
        }
        #[cfg(feature = "rate-limit")]
        if let Some(e) = error.downcast_ref() {
            return Some(Self::RateLimited(e));
        }
        #[cfg(feature = "timeout")]
        if let Some(e) = error.downcast_ref() {
            return Some(Self::Elapsed(e));
        }
        #[cfg(feature = "coalesce")]
        if let Some(e) = error.downcast_ref() {
            return Some(Self::CoalesceFull(e));
        }
        #[cfg(feature = "throttle")]
        if let Some(e) = error.downcast_ref() {
            return Some(Self::Throttled(e));
        }
        #[cfg(feature = "adaptive")]
        if let Some(e) = error.downcast_ref() {
            return Some(Self::LimitReached(e));
        }
        None
    }
}

/// An error one of this crate's layers originated: a [`Rejection`] ("not
/// now") or one of the errors that say something is broken; found by
/// [`find_own`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum OwnError<'a> {
    /// A rejection: the call may pass later.
    Rejection(Rejection<'a>),
    /// The rate limiter's shared backend (Redis) could not decide and the
    /// layer fails closed (feature `rate-limit`): a broken dependency, not a
    /// rejection.
    #[cfg(feature = "rate-limit")]
    BackendUnavailable(&'a crate::rate_limit::error::BackendUnavailable),
    /// A call weighed more than the rate limiter's burst (feature
    /// `rate-limit`): it can never pass, so it is not a rejection.
    #[cfg(feature = "rate-limit")]
    ExceedsBurst(&'a crate::rate_limit::error::ExceedsBurst),
    /// A fault injected by the chaos layer (feature `chaos`): it stands for
    /// a bug or a crash, not for "try later".
    #[cfg(feature = "chaos")]
    FaultInjected(&'a crate::chaos::error::ChaosError),
    /// A keyed layer found no key in the request
    /// ([`MissingKey`](crate::key::MissingKey)): a misconfiguration or a
    /// malformed request, not a rejection — retrying cannot help.
    MissingKey(&'a crate::key::MissingKey),
    /// The HTTP timeout found a malformed `x-request-timeout` header
    /// (features `timeout` and `http`): a bad request, not a rejection.
    #[cfg(all(feature = "timeout", feature = "http"))]
    InvalidTimeout(&'a crate::timeout::error::InvalidTimeout),
}

impl<'a> OwnError<'a> {
    /// The rejection, if this is one.
    #[must_use]
    pub fn rejection(&self) -> Option<Rejection<'a>> {
        match *self {
            Self::Rejection(rejection) => Some(rejection),
            #[allow(unreachable_patterns)] // with neither `rate-limit` nor `chaos`
            _ => None,
        }
    }

    fn of(error: &'a (dyn Error + 'static)) -> Option<Self> {
        if let Some(rejection) = Rejection::of(error) {
            return Some(Self::Rejection(rejection));
        }
        #[cfg(feature = "rate-limit")]
        if let Some(e) = error.downcast_ref() {
            return Some(Self::BackendUnavailable(e));
        }
        #[cfg(feature = "rate-limit")]
        if let Some(e) = error.downcast_ref() {
            return Some(Self::ExceedsBurst(e));
        }
        #[cfg(feature = "chaos")]
        if let Some(e) = error.downcast_ref() {
            return Some(Self::FaultInjected(e));
        }
        if let Some(e) = error.downcast_ref() {
            return Some(Self::MissingKey(e));
        }
        #[cfg(all(feature = "timeout", feature = "http"))]
        if let Some(e) = error.downcast_ref() {
            return Some(Self::InvalidTimeout(e));
        }
        None
    }
}

/// The first rejection by one of our layers in `error` and its
/// [`source`](Error::source) chain; `None` when the chain holds none (the
/// inner service's own errors, or our errors that are not rejections, such
/// as the rate limiter's `BackendUnavailable`).
///
/// ```
/// use palisade_resilience::BoxError;
/// use palisade_resilience::rejection;
///
/// let err: BoxError = "upstream said no".into();
/// assert!(rejection::find(&*err).is_none());
/// ```
#[must_use]
pub fn find<'a>(error: &'a (dyn Error + 'static)) -> Option<Rejection<'a>> {
    chain(error).find_map(Rejection::of)
}

/// The first error one of our layers originated in `error` and its
/// [`source`](Error::source) chain, rejection or not: what the HTTP edge
/// maps to a status.
///
/// ```
/// use palisade_resilience::BoxError;
/// use palisade_resilience::rejection;
///
/// let err: BoxError = std::io::Error::other("disk full").into();
/// assert!(rejection::find_own(&*err).is_none());
/// ```
#[must_use]
pub fn find_own<'a>(error: &'a (dyn Error + 'static)) -> Option<OwnError<'a>> {
    chain(error).find_map(OwnError::of)
}

/// Whether `error`, or any error in its [`source`](Error::source) chain, is
/// a rejection by one of our layers: `find(error).is_some()`.
///
/// ```
/// use palisade_resilience::BoxError;
/// use palisade_resilience::rejection::is_rejection;
///
/// let refused: BoxError = std::io::Error::other("connection refused").into();
/// assert!(!is_rejection(&*refused));
///
/// # #[cfg(feature = "timeout")] {
/// use std::time::Duration;
/// use palisade_resilience::timeout::error::Elapsed;
///
/// let timed_out: BoxError = Elapsed::new(Duration::from_secs(1)).into();
/// assert!(is_rejection(&*timed_out));
/// # }
/// ```
#[must_use]
pub fn is_rejection(error: &(dyn Error + 'static)) -> bool {
    find(error).is_some()
}

/// The rejection in an error of any type: a [`BoxError`](crate::BoxError)
/// (what our layers return) or one of the rejection types itself, searched
/// with [`find`]. Other types are not inspected. For predicates generic over
/// the error type, such as retry's.
#[cfg(feature = "retry")]
pub(crate) fn find_in<E: 'static>(error: &E) -> Option<Rejection<'_>> {
    let any: &dyn Any = error;
    if let Some(boxed) = any.downcast_ref::<crate::BoxError>() {
        return find(&**boxed);
    }
    if let Some(boxed) = any.downcast_ref::<Box<dyn Error + Send + 'static>>() {
        return find(&**boxed);
    }
    if let Some(boxed) = any.downcast_ref::<Box<dyn Error + 'static>>() {
        return find(&**boxed);
    }
    any_rejection(any)
}

// One of our rejection types, held directly.
#[cfg(feature = "retry")]
#[allow(unused_variables)] // with none of the features on, nothing is recognised
fn any_rejection(any: &dyn Any) -> Option<Rejection<'_>> {
    #[cfg(feature = "circuit-breaker")]
    if let Some(e) = any.downcast_ref() {
        return Some(Rejection::CircuitOpen(e));
    }
    #[cfg(feature = "bulkhead")]
    if let Some(e) = any.downcast_ref() {
        return Some(Rejection::BulkheadFull(e));
    }
    #[cfg(feature = "rate-limit")]
    if let Some(e) = any.downcast_ref() {
        return Some(Rejection::RateLimited(e));
    }
    #[cfg(feature = "timeout")]
    if let Some(e) = any.downcast_ref() {
        return Some(Rejection::Elapsed(e));
    }
    #[cfg(feature = "coalesce")]
    if let Some(e) = any.downcast_ref() {
        return Some(Rejection::CoalesceFull(e));
    }
    #[cfg(feature = "throttle")]
    if let Some(e) = any.downcast_ref() {
        return Some(Rejection::Throttled(e));
    }
    #[cfg(feature = "adaptive")]
    if let Some(e) = any.downcast_ref() {
        return Some(Rejection::LimitReached(e));
    }
    None
}

/// `error` and its sources, outermost first.
fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    #[derive(Debug)]
    struct Wrapper(crate::BoxError);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapped")
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&*self.0)
        }
    }

    #[cfg(feature = "adaptive")]
    #[test]
    fn a_wrapped_limit_reached_is_found_without_a_wait() {
        use crate::adaptive::error::LimitReached;

        let err = Wrapper(LimitReached::new(12, None).into());
        let found = find(&err).expect("found through the source chain");
        assert!(matches!(found, Rejection::LimitReached(_)));
        assert_eq!(found.retry_after(), None);
        assert_eq!(found.code(), "limit_reached");
    }

    #[cfg(feature = "circuit-breaker")]
    #[test]
    fn a_wrapped_circuit_open_is_found_with_its_wait() {
        use std::sync::Arc;

        use crate::circuit_breaker::{State, error::CircuitOpen};

        let open = CircuitOpen::new(Arc::from("db"), State::Open, Some(Duration::from_secs(7)));
        let err = Wrapper(open.into());
        let found = find(&err).expect("found through the source chain");
        assert!(matches!(found, Rejection::CircuitOpen(_)));
        assert_eq!(found.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(found.code(), "circuit_open");
        assert!(is_rejection(&err));
    }

    #[cfg(feature = "bulkhead")]
    #[test]
    fn bulkhead_full_has_no_schedule() {
        use crate::bulkhead::error::{BulkheadFull, Reason};

        let err: crate::BoxError = BulkheadFull::new(4, Reason::QueueFull).into();
        let found = find(&*err).expect("a rejection");
        assert_eq!(found.code(), "bulkhead_full");
        assert_eq!(found.retry_after(), None);
        assert!(found.as_error().is::<BulkheadFull>());
    }

    #[cfg(feature = "rate-limit")]
    #[test]
    fn backend_unavailable_is_ours_but_not_a_rejection() {
        use crate::rate_limit::error::BackendUnavailable;

        let err: crate::BoxError = BackendUnavailable::new(None).into();
        assert!(find(&*err).is_none());
        let own = find_own(&*err).expect("one of ours");
        assert!(matches!(own, OwnError::BackendUnavailable(_)));
        assert!(own.rejection().is_none());
    }

    #[cfg(all(feature = "timeout", feature = "retry"))]
    #[test]
    fn find_in_looks_into_boxes_and_bare_types() {
        use crate::timeout::error::Elapsed;

        let bare = Elapsed::new(Duration::from_secs(1));
        assert!(matches!(find_in(&bare), Some(Rejection::Elapsed(_))));
        let boxed: crate::BoxError = Box::new(Wrapper(bare.into()));
        assert!(matches!(find_in(&boxed), Some(Rejection::Elapsed(_))));
        assert!(find_in(&"a plain string").is_none());
        assert!(find_in(&std::io::Error::other("io")).is_none());
    }

    #[test]
    fn other_errors_are_not_ours() {
        let err = std::io::Error::other("connection reset");
        assert!(find(&err).is_none());
        assert!(find_own(&err).is_none());
        assert!(!is_rejection(&err));
    }
}
