//! [`AdaptiveLimitHandle`]: the current limit, for health checks and dashboards.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::limiter::Limiter;

/// A cheap, cloneable view of one adaptive limit; every read is an atomic
/// load.
#[derive(Clone)]
pub struct AdaptiveLimitHandle {
    limiter: Arc<Limiter>,
}

impl AdaptiveLimitHandle {
    pub(crate) fn new(limiter: Arc<Limiter>) -> Self {
        Self { limiter }
    }

    /// The name given with
    /// [`AdaptiveLimitLayerBuilder::name`](super::AdaptiveLimitLayerBuilder::name).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.limiter.name
    }

    /// The algorithm's label: `aimd`, `vegas` or `gradient2`.
    #[must_use]
    pub fn algorithm(&self) -> &'static str {
        self.limiter.settings.algorithm.as_str()
    }

    /// The limit in force right now.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.limiter.limit()
    }

    /// Calls holding a place under the limit right now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.limiter.in_flight()
    }

    /// Calls waiting in the queue right now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.limiter.waiters.load(Ordering::Acquire)
    }

    /// Calls rejected since the layer was built.
    #[must_use]
    pub fn rejected_total(&self) -> u64 {
        self.limiter.rejected.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for AdaptiveLimitHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveLimitHandle")
            .field("name", &self.name())
            .field("algorithm", &self.algorithm())
            .field("limit", &self.limit())
            .field("in_flight", &self.in_flight())
            .field("rejected_total", &self.rejected_total())
            .finish()
    }
}

/// Healthy while the limit has room, degraded while it is reached (calls
/// queue or are rejected); the state names the limit, `limit 21`.
#[cfg(feature = "health")]
impl crate::health::HealthSource for AdaptiveLimitHandle {
    fn health(&self) -> crate::health::ComponentHealth {
        use crate::health::{ComponentHealth, Status};
        let limit = self.limit();
        let in_flight = self.in_flight();
        let status = if in_flight < limit {
            Status::Healthy
        } else {
            Status::Degraded
        };
        ComponentHealth::new("adaptive_limit", status)
            .with_state(format!("limit {limit}"))
            .with_in_flight(in_flight as u64)
            .with_rejections(self.rejected_total())
    }
}
