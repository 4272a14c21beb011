//! [`BulkheadHandle`]: occupancy for health checks and dashboards.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::shared::Shared;

/// A cheap, cloneable view of one bulkhead's occupancy.
///
/// Obtained from [`BulkheadLayer::handle`](super::BulkheadLayer::handle) or
/// [`Bulkhead::handle`](super::Bulkhead::handle); every read is a few atomic
/// loads.
#[derive(Clone)]
pub struct BulkheadHandle {
    shared: Arc<Shared>,
}

impl BulkheadHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// The name given with [`BulkheadLayerBuilder::name`](super::BulkheadLayerBuilder::name).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.stats.name
    }

    /// The limit on concurrent calls (on the sum of their weights): the
    /// configured one, or the one a `registry::Registry` set since.
    #[must_use]
    pub fn max_concurrent(&self) -> usize {
        self.shared.max_concurrent()
    }

    /// Moves the limit (validated by the registry, which serialises
    /// changes); see [`BulkheadConfig`](crate::registry::BulkheadConfig).
    #[cfg(feature = "registry")]
    pub(crate) fn resize(&self, max_concurrent: usize) {
        self.shared.resize(max_concurrent);
    }

    /// The configured bound on queued calls (zero when `max_wait` is zero).
    #[must_use]
    pub fn max_waiters(&self) -> usize {
        self.shared.limits.max_waiters
    }

    /// The configured longest wait for a permit.
    #[must_use]
    pub fn max_wait(&self) -> Duration {
        self.shared.limits.max_wait
    }

    /// Calls holding a permit right now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    /// Permits free right now.
    #[must_use]
    pub fn available(&self) -> usize {
        self.shared.semaphore.available_permits()
    }

    /// Calls waiting in the queue right now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.shared.waiters.load(Ordering::Acquire)
    }

    /// Calls rejected since the bulkhead was built.
    #[must_use]
    pub fn rejected_total(&self) -> u64 {
        self.shared.stats.rejected.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for BulkheadHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadHandle")
            .field("name", &self.name())
            .field("max_concurrent", &self.max_concurrent())
            .field("in_flight", &self.in_flight())
            .field("waiting", &self.waiting())
            .field("rejected_total", &self.rejected_total())
            .finish()
    }
}

/// Healthy while a permit is free, degraded when none is (calls queue or are
/// rejected), as the [health module](crate::health) describes.
#[cfg(feature = "health")]
impl crate::health::HealthSource for BulkheadHandle {
    fn health(&self) -> crate::health::ComponentHealth {
        use crate::health::{ComponentHealth, Status};
        let (status, state) = if self.available() > 0 {
            (Status::Healthy, "available")
        } else {
            (Status::Degraded, "full")
        };
        ComponentHealth::new("bulkhead", status)
            .with_state(state)
            .with_in_flight(self.in_flight() as u64)
            .with_rejections(self.rejected_total())
    }
}
