//! What one call costs: the weighted permits of the bulkhead and the rate
//! limiters.
//!
//! By default every call costs one permit (one concurrent slot of a
//! bulkhead, one cell of a rate limiter's bucket). A layer given a
//! [`Weigh`] — through `BulkheadLayerBuilder::weight`,
//! `RateLimitLayerBuilder::weight` (global or keyed),
//! `TunableRate::weight` or `RedisRateLimitLayerBuilder::weight` — charges
//! each call what it returns instead, so an export of 10,000 rows may cost
//! 10 while a lookup costs 1. A weight is a closure over the request, or
//! (feature `http`) the request's [`Weight`] extension through
//! [`FromExtension`]. A weight of 0 counts as 1: every call costs
//! something.
//!
//! A call heavier than the layer could ever admit (more than a bulkhead's
//! `max_concurrent`, more than a rate limiter's burst) is refused at once,
//! never left waiting forever: the bulkhead's `Reason::TooHeavy`, the rate
//! limiters' `ExceedsBurst`.
//!
//! ```
//! use palisade_resilience::weight::Weigh;
//!
//! let by_length = |request: &String| request.len() as u32;
//! assert_eq!(by_length.weigh(&"abc".to_string()), 3);
//! ```

/// Decides what a request costs (see the [module docs](self)).
///
/// Implemented by [`Unweighted`] (every call costs 1, the default), by any
/// `Fn(&Req) -> u32`, and with feature `http` by [`FromExtension`].
pub trait Weigh<Req> {
    /// The permits `request` takes; 0 is taken as 1.
    fn weigh(&self, request: &Req) -> u32;
}

/// Every call costs one permit: the default, compiled down to the constant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unweighted;

impl<Req> Weigh<Req> for Unweighted {
    #[inline(always)]
    fn weigh(&self, _request: &Req) -> u32 {
        1
    }
}

impl<Req, F> Weigh<Req> for F
where
    F: Fn(&Req) -> u32,
{
    #[inline]
    fn weigh(&self, request: &Req) -> u32 {
        self(request)
    }
}

/// The weight of `request` under `weigh`, at least 1.
#[inline(always)]
pub(crate) fn of<Req, W: Weigh<Req>>(weigh: &W, request: &Req) -> u32 {
    weigh.weigh(request).max(1)
}

/// A request extension giving the request's weight to a layer built with
/// [`FromExtension`]; requests without it cost 1.
///
/// ```
/// use std::num::NonZeroU32;
/// use palisade_resilience::weight::{FromExtension, Weigh, Weight};
///
/// let mut request = http::Request::new(());
/// assert_eq!(FromExtension.weigh(&request), 1);
/// request.extensions_mut().insert(Weight(NonZeroU32::new(5).unwrap()));
/// assert_eq!(FromExtension.weigh(&request), 5);
/// ```
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weight(pub std::num::NonZeroU32);

/// Weighs an `http::Request` by its [`Weight`] extension (1 without one).
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, Default)]
pub struct FromExtension;

#[cfg(feature = "http")]
impl<B> Weigh<http::Request<B>> for FromExtension {
    #[inline]
    fn weigh(&self, request: &http::Request<B>) -> u32 {
        request
            .extensions()
            .get::<Weight>()
            .map_or(1, |weight| weight.0.get())
    }
}
