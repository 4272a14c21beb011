//! The decision shared by every local limiter, and the global (one-bucket) limiter.

use std::fmt;

use governor::NotUntil;
use governor::clock::Clock;
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};

use super::clock::GovernorClock;
use super::error::{RateLimited, Refused};
use super::headers::RateLimitInfo;
use super::quota::Quota;

/// Decides whether a request may pass; implemented by [`Global`] and
/// [`Keyed`](super::Keyed).
pub trait Policy<Req> {
    /// Takes one cell for `req`, or reports how long to wait.
    ///
    /// # Errors
    ///
    /// [`Refused::Limited`] when the request is over the limit,
    /// [`Refused::MissingKey`] when a keyed policy finds no key.
    fn check(&self, req: &Req) -> Result<RateLimitInfo, Refused>;

    /// Takes one cell for `req` like [`check`](Self::check), without
    /// computing the quota state of an allowed call.
    ///
    /// The layer calls this instead of `check` when its responses carry no
    /// headers ([`ResponseHeaders::USES_INFO`](super::ResponseHeaders::USES_INFO)
    /// is false), so a policy whose `RateLimitInfo` costs something to build
    /// should override it; the default calls `check` and drops the info.
    ///
    /// # Errors
    ///
    /// As [`check`](Self::check).
    #[inline]
    fn admit(&self, req: &Req) -> Result<(), Refused> {
        self.check(req).map(drop)
    }
}

type DirectLimiter =
    governor::RateLimiter<NotKeyed, InMemoryState, GovernorClock, StateInformationMiddleware>;

/// One bucket for every request through the layer (and its clones).
///
/// Lock-free: one atomic compare-and-swap per call, no allocation.
pub struct Global {
    limiter: DirectLimiter,
    quota: Quota,
}

impl Global {
    /// A global limiter for `quota`.
    #[must_use]
    pub fn new(quota: Quota) -> Self {
        Self::with_clock(quota, crate::clock::Clock::new())
    }

    /// A global limiter for `quota` that reads `clock` (by default
    /// [`Clock::new`](crate::clock::Clock::new): `tokio::time` if it is
    /// paused when the limiter is built, else the TSC).
    #[must_use]
    pub fn with_clock(quota: Quota, clock: crate::clock::Clock) -> Self {
        let limiter = governor::RateLimiter::direct_with_clock(
            quota.to_governor(),
            GovernorClock::with(clock),
        )
        .with_middleware::<StateInformationMiddleware>();
        Self { limiter, quota }
    }

    /// The quota.
    pub const fn quota(&self) -> Quota {
        self.quota
    }

    /// Takes one cell, independent of any request.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] when the bucket is empty.
    #[inline]
    pub fn check_now(&self) -> Result<RateLimitInfo, RateLimited> {
        match self.limiter.check() {
            Ok(snapshot) => Ok(allowed(&snapshot, self.quota)),
            Err(not_until) => Err(limited(&not_until, self.limiter.clock(), self.quota)),
        }
    }
}

impl<Req> Policy<Req> for Global {
    #[inline]
    fn check(&self, _req: &Req) -> Result<RateLimitInfo, Refused> {
        Ok(self.check_now()?)
    }

    // Skips `allowed`: its division by the interval is a tenth of an allowed
    // call, and a layer without headers throws the result away.
    #[inline]
    fn admit(&self, _req: &Req) -> Result<(), Refused> {
        match self.limiter.check() {
            Ok(_) => Ok(()),
            Err(not_until) => Err(limited(&not_until, self.limiter.clock(), self.quota).into()),
        }
    }
}

impl fmt::Debug for Global {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Global")
            .field("quota", &self.quota)
            .finish_non_exhaustive()
    }
}

/// The headers of an allowed call.
///
/// governor's snapshot exposes the remaining capacity but not its timestamp,
/// so the reset is the time to earn back every used cell: exact when calls
/// land on interval boundaries, otherwise at most one interval too long.
#[inline]
pub(crate) fn allowed(snapshot: &StateSnapshot, quota: Quota) -> RateLimitInfo {
    let limit = quota.burst.get();
    let remaining = snapshot.remaining_burst_capacity().min(limit);
    RateLimitInfo {
        limit,
        remaining,
        reset: quota.replenish_1_per.saturating_mul(limit - remaining),
    }
}

/// The error of a rejected call: wait until the next cell, reset once the
/// whole burst is back (one wait plus `burst - 1` intervals).
///
/// Cold and out of line so the allowed path that calls it stays small enough
/// to inline into the service's `call`.
#[cold]
#[inline(never)]
pub(crate) fn limited(
    not_until: &NotUntil<Nanos>,
    clock: &GovernorClock,
    quota: Quota,
) -> RateLimited {
    let wait = not_until.wait_time_from(clock.now());
    let refill = quota.replenish_1_per.saturating_mul(quota.burst.get() - 1);
    RateLimited::new(wait, quota.burst.get(), wait.saturating_add(refill))
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use tower::{Layer, ServiceExt, service_fn};

    use super::*;
    use crate::rate_limit::RateLimitLayer;

    #[tokio::test(start_paused = true)]
    async fn admit_takes_the_same_cell_as_check() {
        let global = Global::new(
            Quota::per_second(NonZeroU32::new(4).unwrap())
                .burst(NonZeroU32::new(3).unwrap())
                .unwrap(),
        );
        assert_eq!(Policy::<()>::admit(&global, &()), Ok(()));
        assert_eq!(global.check_now().map(|info| info.remaining()), Ok(1));
        assert_eq!(Policy::<()>::admit(&global, &()), Ok(()));
        let Err(Refused::Limited(by_admit)) = Policy::<()>::admit(&global, &()) else {
            panic!("the third call is limited");
        };
        let by_check = global.check_now().unwrap_err();
        assert_eq!(by_admit, by_check);
        assert_eq!(by_admit.retry_after(), Duration::from_millis(250));
        assert_eq!(by_admit.info().reset(), Duration::from_millis(750));
    }

    /// A policy written before `admit` existed: only `check`.
    struct EveryOther(AtomicU32);

    impl Policy<u32> for EveryOther {
        fn check(&self, _: &u32) -> Result<RateLimitInfo, Refused> {
            if self.0.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
                Ok(RateLimitInfo {
                    limit: 1,
                    remaining: 0,
                    reset: Duration::from_secs(1),
                })
            } else {
                Err(RateLimited::new(Duration::from_secs(1), 1, Duration::from_secs(1)).into())
            }
        }
    }

    #[tokio::test]
    async fn a_check_only_policy_still_decides_without_headers() {
        let layer = RateLimitLayer::new(EveryOther(AtomicU32::new(0)));
        let svc = layer.layer(service_fn(|n: u32| async move {
            Ok::<_, std::convert::Infallible>(n)
        }));
        assert_eq!(svc.clone().oneshot(1).await.unwrap(), 1);
        let err = svc.clone().oneshot(2).await.unwrap_err();
        assert_eq!(
            err.downcast_ref::<RateLimited>()
                .map(RateLimited::retry_after),
            Some(Duration::from_secs(1))
        );
        assert_eq!(svc.oneshot(3).await.unwrap(), 3);
        assert_eq!(layer.policy().0.load(Ordering::Relaxed), 3);
        assert_eq!(
            (
                layer.handle().allowed_total(),
                layer.handle().limited_total()
            ),
            (2, 1)
        );
    }
}
