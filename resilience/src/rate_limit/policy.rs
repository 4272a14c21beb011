//! The decision shared by every local limiter, and the global (one-bucket) limiter.

use std::fmt;

use governor::NotUntil;
use governor::clock::Clock;
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};

use super::clock::TokioClock;
use super::error::RateLimited;
use super::headers::RateLimitInfo;
use super::quota::{Quota, Validated};
use crate::ConfigError;

/// Decides whether a request may pass; implemented by [`Global`] and
/// [`Keyed`](super::Keyed).
pub trait Policy<Req> {
    /// Takes one cell for `req`, or reports how long to wait.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] when the request is over the limit.
    fn check(&self, req: &Req) -> Result<RateLimitInfo, RateLimited>;
}

type DirectLimiter =
    governor::RateLimiter<NotKeyed, InMemoryState, TokioClock, StateInformationMiddleware>;

/// One bucket for every request through the layer (and its clones).
///
/// Lock-free: one atomic compare-and-swap per call, no allocation.
pub struct Global {
    limiter: DirectLimiter,
    quota: Validated,
}

impl Global {
    /// A global limiter for `quota`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the quota is invalid (see [`Quota::validate`]).
    pub fn new(quota: Quota) -> Result<Self, ConfigError> {
        let quota = quota.validate()?;
        let limiter =
            governor::RateLimiter::direct_with_clock(quota.to_governor(), TokioClock::new())
                .with_middleware::<StateInformationMiddleware>();
        Ok(Self { limiter, quota })
    }

    /// The validated quota.
    #[must_use]
    pub const fn quota(&self) -> Validated {
        self.quota
    }

    /// Takes one cell, independent of any request.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] when the bucket is empty.
    pub fn check_now(&self) -> Result<RateLimitInfo, RateLimited> {
        match self.limiter.check() {
            Ok(snapshot) => Ok(allowed(&snapshot, self.quota)),
            Err(not_until) => Err(limited(&not_until, self.limiter.clock(), self.quota)),
        }
    }
}

impl<Req> Policy<Req> for Global {
    #[inline]
    fn check(&self, _req: &Req) -> Result<RateLimitInfo, RateLimited> {
        self.check_now()
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
pub(crate) fn allowed(snapshot: &StateSnapshot, quota: Validated) -> RateLimitInfo {
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
pub(crate) fn limited(
    not_until: &NotUntil<Nanos>,
    clock: &TokioClock,
    quota: Validated,
) -> RateLimited {
    let wait = not_until.wait_time_from(clock.now());
    let refill = quota.replenish_1_per.saturating_mul(quota.burst.get() - 1);
    RateLimited::new(wait, quota.burst.get(), wait.saturating_add(refill))
}
