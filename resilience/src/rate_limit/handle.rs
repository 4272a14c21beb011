//! [`RateLimitHandle`]: a limiter's counts for health checks and dashboards.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counts shared by every service of one layer and by its handles.
///
/// Each call costs one relaxed `fetch_add` (the counters are independent
/// totals, read only for reporting, so no ordering with other memory is
/// needed); no lock, no allocation.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    allowed: AtomicU64,
    limited: AtomicU64,
    backend_errors: AtomicU64,
    backend_failing: AtomicBool,
}

impl Stats {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    #[inline]
    pub(crate) fn record_allowed(&self) {
        self.allowed.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn record_limited(&self) {
        self.limited.fetch_add(1, Ordering::Relaxed);
    }

    /// The shared backend answered (whatever it decided).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    #[inline]
    pub(crate) fn record_backend_ok(&self) {
        // Load first so a healthy backend does not write the shared line on
        // every call.
        if self.backend_failing.load(Ordering::Relaxed) {
            self.backend_failing.store(false, Ordering::Relaxed);
        }
    }

    /// The shared backend failed or did not answer in time.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn record_backend_error(&self) {
        self.backend_errors.fetch_add(1, Ordering::Relaxed);
        self.backend_failing.store(true, Ordering::Relaxed);
    }
}

/// A cheap, cloneable view of one rate limiter's counts.
///
/// From [`RateLimitLayer::handle`](super::RateLimitLayer::handle),
/// [`RateLimit::handle`](super::RateLimit::handle) or, with feature `redis`,
/// `RedisRateLimitLayer::handle`. Every service built by the layer (and by
/// its clones) counts into the same totals; every read is one atomic load.
///
/// Calls a Redis limiter admits under `FailurePolicy::FailOpen` because Redis
/// did not answer are counted in [`backend_errors_total`](Self::backend_errors_total),
/// not in [`allowed_total`](Self::allowed_total): the limiter did not decide
/// them. A Redis call whose response future is dropped before Redis answers
/// is not counted at all.
#[derive(Clone)]
pub struct RateLimitHandle {
    stats: Arc<Stats>,
}

impl RateLimitHandle {
    pub(crate) fn new(stats: Arc<Stats>) -> Self {
        Self { stats }
    }

    /// Calls the limiter admitted since it was built.
    #[must_use]
    pub fn allowed_total(&self) -> u64 {
        self.stats.allowed.load(Ordering::Relaxed)
    }

    /// Calls rejected with [`RateLimited`](super::error::RateLimited) since
    /// the limiter was built.
    #[must_use]
    pub fn limited_total(&self) -> u64 {
        self.stats.limited.load(Ordering::Relaxed)
    }

    /// Calls to the shared backend (Redis) that failed or timed out since the
    /// limiter was built; always 0 for a local limiter.
    #[must_use]
    pub fn backend_errors_total(&self) -> u64 {
        self.stats.backend_errors.load(Ordering::Relaxed)
    }

    /// Whether the last call to the shared backend succeeded (true before the
    /// first call, and always for a local limiter, which has no backend).
    #[must_use]
    pub fn backend_available(&self) -> bool {
        !self.stats.backend_failing.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for RateLimitHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitHandle")
            .field("allowed_total", &self.allowed_total())
            .field("limited_total", &self.limited_total())
            .field("backend_errors_total", &self.backend_errors_total())
            .field("backend_available", &self.backend_available())
            .finish()
    }
}

/// Healthy while the limiter decides normally, degraded while its shared
/// backend is failing (the last call to it failed), as the
/// [health module](crate::health) describes. Rejections are the limited
/// calls. There is no success rate: a limiter that rejects is doing its job,
/// so a low admission rate must not mark it degraded.
#[cfg(feature = "health")]
impl crate::health::HealthSource for RateLimitHandle {
    fn health(&self) -> crate::health::ComponentHealth {
        use crate::health::{ComponentHealth, Status};
        let (status, state) = if self.backend_available() {
            (Status::Healthy, "ok")
        } else {
            (Status::Degraded, "backend_unavailable")
        };
        ComponentHealth::new("rate_limiter", status)
            .with_state(state)
            .with_rejections(self.limited_total())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_shared_by_clones() {
        let stats = Stats::new();
        let handle = RateLimitHandle::new(Arc::clone(&stats));
        let other = handle.clone();
        stats.record_allowed();
        stats.record_allowed();
        stats.record_limited();
        assert_eq!(other.allowed_total(), 2);
        assert_eq!(other.limited_total(), 1);
        assert_eq!(other.backend_errors_total(), 0);
        assert_eq!(handle.allowed_total(), 2);
    }

    #[test]
    fn the_last_backend_call_decides_availability() {
        let stats = Stats::new();
        let handle = RateLimitHandle::new(Arc::clone(&stats));
        assert!(handle.backend_available());
        stats.record_backend_error();
        stats.record_backend_error();
        assert!(!handle.backend_available());
        assert_eq!(handle.backend_errors_total(), 2);
        stats.record_backend_ok();
        assert!(handle.backend_available());
        assert_eq!(handle.backend_errors_total(), 2);
    }

    #[cfg(feature = "health")]
    #[test]
    fn health_follows_the_backend_and_reports_no_success_rate() {
        use crate::health::{HealthSource, Status};
        let stats = Stats::new();
        let handle = RateLimitHandle::new(Arc::clone(&stats));
        stats.record_limited();
        let health = handle.health();
        assert_eq!(health.status, Status::Healthy);
        assert_eq!(health.rejections, 1);
        assert_eq!(health.success_rate, None);
        stats.record_backend_error();
        let health = handle.health();
        assert_eq!(health.status, Status::Degraded);
        assert_eq!(health.state, "backend_unavailable");
    }
}
