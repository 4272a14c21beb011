//! [`TunableRate`]: a global rate limit whose quota a registry can change.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::clock::Clock;
use crate::rate_limit::error::Refused;
use crate::rate_limit::{Global, Policy, Quota, RateLimitInfo};

/// A global (one-bucket) rate limit policy whose [`Quota`] can be replaced
/// at run time through a [`Registry`](super::Registry).
///
/// The limiter is an [`ArcSwap`] snapshot: each call reads it with one
/// lock-free load, then decides exactly as [`Global`] does. A new quota
/// replaces the bucket, which starts full (its burst is available at once);
/// calls already admitted are not affected. Clones share the limiter.
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
pub struct TunableRate {
    current: Arc<ArcSwap<Global>>,
    clock: Clock,
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
        }
    }

    /// The quota in effect.
    pub fn quota(&self) -> Quota {
        self.current.load().quota()
    }

    /// Replaces the quota (the registry serialises changes).
    pub(crate) fn set_quota(&self, quota: Quota) {
        self.current
            .store(Arc::new(Global::with_clock(quota, self.clock)));
    }
}

impl<Req> Policy<Req> for TunableRate {
    #[inline]
    fn check(&self, req: &Req) -> Result<RateLimitInfo, Refused> {
        Policy::<Req>::check(&**self.current.load(), req)
    }

    #[inline]
    fn admit(&self, req: &Req) -> Result<(), Refused> {
        Policy::<Req>::admit(&**self.current.load(), req)
    }
}

impl fmt::Debug for TunableRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunableRate")
            .field("quota", &self.quota())
            .finish_non_exhaustive()
    }
}
