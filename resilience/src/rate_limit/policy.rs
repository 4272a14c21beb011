//! The decision shared by every local limiter, and the global (one-bucket) limiter.

use std::fmt;
use std::num::NonZeroU32;

use governor::NotUntil;
use governor::clock::Clock;
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};

use super::clock::GovernorClock;
use super::error::{ExceedsBurst, RateLimited, Refused};
use super::headers::RateLimitInfo;
use super::quota::Quota;
use crate::weight::{self, Unweighted, Weigh};

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
/// Lock-free: one atomic compare-and-swap per call, no allocation. Each call
/// takes one cell, or with [`weight`](Self::weight) what `W` weighs it at.
pub struct Global<W = Unweighted> {
    limiter: DirectLimiter,
    quota: Quota,
    weigh: W,
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
        Self {
            limiter,
            quota,
            weigh: Unweighted,
        }
    }

    /// Charges each call the cells `weigh` finds (a closure `Fn(&Req) -> u32`,
    /// or with feature `http` [`FromExtension`](crate::weight::FromExtension))
    /// instead of one, as the [`weight`](crate::weight) module describes; a
    /// call weighing more than the burst is refused at once with
    /// [`ExceedsBurst`](super::error::ExceedsBurst).
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use palisade_resilience::rate_limit::error::{ExceedsBurst, RateLimited};
    /// use palisade_resilience::rate_limit::{Global, Quota, RateLimitLayer};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
    /// let limiter = RateLimitLayer::new(Global::new(quota).weight(|rows: &u32| rows / 100));
    /// let svc = limiter.layer(service_fn(|rows: u32| async move { Ok::<_, std::io::Error>(rows) }));
    ///
    /// svc.clone().oneshot(800).await?; // 8 of the 10 cells
    /// assert!(svc.clone().oneshot(300).await.unwrap_err().is::<RateLimited>());
    /// assert!(svc.oneshot(2000).await.unwrap_err().is::<ExceedsBurst>());
    /// # Ok(())
    /// # }
    /// ```
    pub fn weight<W>(self, weigh: W) -> Global<W> {
        Global {
            limiter: self.limiter,
            quota: self.quota,
            weigh,
        }
    }
}

impl<W> Global<W> {
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

    /// Takes `weight` (> 1) cells at once, or none.
    #[cold]
    #[inline(never)]
    pub(crate) fn check_weighted(&self, weight: u32) -> Result<RateLimitInfo, Refused> {
        let n = NonZeroU32::new(weight).unwrap_or(NonZeroU32::MIN);
        match self.limiter.check_n(n) {
            Ok(Ok(snapshot)) => Ok(allowed(&snapshot, self.quota)),
            Ok(Err(not_until)) => Err(limited(&not_until, self.limiter.clock(), self.quota).into()),
            Err(_) => Err(ExceedsBurst::new(weight, self.quota.burst.get()).into()),
        }
    }
}

impl<Req, W: Weigh<Req>> Policy<Req> for Global<W> {
    #[inline]
    fn check(&self, req: &Req) -> Result<RateLimitInfo, Refused> {
        // The constant 1 when unweighted: this branch then folds away.
        match weight::of(&self.weigh, req) {
            1 => Ok(self.check_now()?),
            n => self.check_weighted(n),
        }
    }

    // Skips `allowed`: its division by the interval is a tenth of an allowed
    // call, and a layer without headers throws the result away.
    #[inline]
    fn admit(&self, req: &Req) -> Result<(), Refused> {
        match weight::of(&self.weigh, req) {
            1 => match self.limiter.check() {
                Ok(_) => Ok(()),
                Err(not_until) => Err(limited(&not_until, self.limiter.clock(), self.quota).into()),
            },
            n => self.check_weighted(n).map(drop),
        }
    }
}

impl<W> fmt::Debug for Global<W> {
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
