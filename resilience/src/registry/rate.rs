//! [`TunableRate`]: a global rate limit whose quota a registry can change.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::clock::Clock;
use crate::rate_limit::error::Refused;
use crate::rate_limit::{Global, Policy, Quota, RateLimitInfo};
use crate::weight::{self, Unweighted, Weigh};

/// A global (one-bucket) rate limit policy whose [`Quota`] can be replaced
/// at run time through a [`Registry`](super::Registry).
///
/// The limiter is an [`ArcSwap`] snapshot: each call reads it with one
/// lock-free load, then decides exactly as [`Global`] does. A new quota
/// replaces the bucket, which starts full (its burst is available at once);
/// calls already admitted are not affected. Clones share the limiter. Each
/// call takes one cell, or with [`weight`](Self::weight) what `W` weighs it
/// at.
///
/// ```
/// use std::num::NonZeroU32;
/// use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
/// use palisade_resilience::registry::TunableRate;
///
/// let policy = TunableRate::new(Quota::per_second(NonZeroU32::new(100).unwrap()));
/// let layer = RateLimitLayer::new(policy.clone());
/// assert_eq!(policy.quota().burst_size(), 100);
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct TunableRate<W = Unweighted> {
    current: Arc<ArcSwap<Global>>,
    clock: Clock,
    weigh: W,
}

impl TunableRate {
    /// A limiter for `quota` on the default [`Clock`].
    #[must_use]
    pub fn new(quota: Quota) -> Self {
        Self::with_clock(quota, Clock::new())
    }

    /// A limiter for `quota` reading `clock`, as [`Global::with_clock`].
    #[must_use]
    pub fn with_clock(quota: Quota, clock: Clock) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(Global::with_clock(quota, clock))),
            clock,
            weigh: Unweighted,
        }
    }

    /// Charges each call the cells `weigh` finds, as
    /// [`Global::weight`] does (a call heavier than the burst in effect is
    /// refused with [`ExceedsBurst`](crate::rate_limit::error::ExceedsBurst)).
    pub fn weight<W>(self, weigh: W) -> TunableRate<W> {
        TunableRate {
            current: self.current,
            clock: self.clock,
            weigh,
        }
    }
}

impl<W> TunableRate<W> {
    /// The quota in effect.
    pub fn quota(&self) -> Quota {
        self.current.load().quota()
    }

    /// The same limiter without the weights: what a registry keeps to read
    /// and replace the quota.
    pub(crate) fn unweighted(&self) -> TunableRate {
        TunableRate {
            current: Arc::clone(&self.current),
            clock: self.clock,
            weigh: Unweighted,
        }
    }

    /// Replaces the quota (the registry serialises changes).
    pub(crate) fn set_quota(&self, quota: Quota) {
        self.current
            .store(Arc::new(Global::with_clock(quota, self.clock)));
    }
}

impl<Req, W: Weigh<Req>> Policy<Req> for TunableRate<W> {
    #[inline]
    fn check(&self, req: &Req) -> Result<RateLimitInfo, Refused> {
        match weight::of(&self.weigh, req) {
            1 => Policy::<Req>::check(&**self.current.load(), req),
            n => self.current.load().check_weighted(n),
        }
    }

    #[inline]
    fn admit(&self, req: &Req) -> Result<(), Refused> {
        match weight::of(&self.weigh, req) {
            1 => Policy::<Req>::admit(&**self.current.load(), req),
            n => self.current.load().check_weighted(n).map(drop),
        }
    }
}

impl<W> fmt::Debug for TunableRate<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunableRate")
            .field("quota", &self.quota())
            .finish_non_exhaustive()
    }
}
