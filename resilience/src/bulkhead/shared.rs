//! The state one bulkhead (or one partition of a keyed bulkhead) shares
//! between all its services and in-flight calls.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::{BulkheadFull, Reason};
use crate::sync::{AtomicU64, AtomicUsize, Ordering};

/// Validated settings, copied into every partition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_concurrent: usize,
    /// Zero whenever `max_wait` is zero: nobody may wait then.
    pub(crate) max_waiters: usize,
    pub(crate) max_wait: Duration,
}

/// Counters shared by every partition of one layer.
#[derive(Debug)]
pub(crate) struct Stats {
    pub(crate) name: Arc<str>,
    pub(crate) rejected: AtomicU64,
    #[cfg(feature = "metrics")]
    pub(crate) in_flight_gauge: metrics::Gauge,
}

impl Stats {
    pub(crate) fn new(name: Arc<str>) -> Arc<Self> {
        Arc::new(Self {
            #[cfg(feature = "metrics")]
            in_flight_gauge: metrics::gauge!("palisade_bulkhead_in_flight", "name" => name.to_string()),
            name,
            rejected: AtomicU64::new(0),
        })
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) semaphore: Arc<Semaphore>,
    pub(crate) limits: Limits,
    /// Calls waiting in the queue right now.
    pub(crate) waiters: AtomicUsize,
    pub(crate) stats: Arc<Stats>,
}

impl Shared {
    pub(crate) fn new(limits: Limits, stats: Arc<Stats>) -> Arc<Self> {
        Arc::new(Self {
            semaphore: Arc::new(Semaphore::new(limits.max_concurrent)),
            limits,
            waiters: AtomicUsize::new(0),
            stats,
        })
    }

    /// A permit if one is free right now. Tokio's semaphore is fair: while
    /// calls are queued, released permits go to them and this fails.
    #[inline]
    pub(crate) fn try_acquire(&self) -> Option<Permit> {
        let permit = self.semaphore.clone().try_acquire_owned().ok()?;
        Some(Permit::new(permit, &self.stats))
    }

    /// Takes a place in the wait queue, if there is one left.
    pub(crate) fn enqueue(self: &Arc<Self>) -> Option<WaiterGuard> {
        let max = self.limits.max_waiters;
        self.waiters
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(WaiterGuard {
            shared: self.clone(),
        })
    }

    /// Records a rejection (counter, tracing, metrics) and returns its error.
    pub(crate) fn reject(&self, reason: Reason) -> BulkheadFull {
        self.stats.reject(self.limits.max_concurrent, reason)
    }

    /// Whether nothing holds or waits for a permit.
    pub(crate) fn is_idle(&self) -> bool {
        self.waiters.load(Ordering::Acquire) == 0
            && self.semaphore.available_permits() == self.limits.max_concurrent
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.limits
            .max_concurrent
            .saturating_sub(self.semaphore.available_permits())
    }
}

impl Stats {
    pub(crate) fn reject(&self, max_concurrent: usize, reason: Reason) -> BulkheadFull {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            name = &*self.name,
            max_concurrent,
            reason = reason.as_str(),
            "bulkhead rejected a call"
        );
        #[cfg(feature = "metrics")]
        metrics::counter!(
            "palisade_bulkhead_rejected_total",
            "name" => self.name.to_string(),
            "reason" => reason.as_str(),
        )
        .increment(1);
        BulkheadFull::new(max_concurrent, reason)
    }
}

/// A held permit; dropping it frees the slot (and updates the gauge).
#[derive(Debug)]
pub(crate) struct Permit {
    _permit: OwnedSemaphorePermit,
    #[cfg(feature = "metrics")]
    gauge: metrics::Gauge,
}

impl Permit {
    #[inline]
    pub(crate) fn new(permit: OwnedSemaphorePermit, _stats: &Stats) -> Self {
        #[cfg(feature = "metrics")]
        _stats.in_flight_gauge.increment(1);
        Self {
            _permit: permit,
            #[cfg(feature = "metrics")]
            gauge: _stats.in_flight_gauge.clone(),
        }
    }
}

#[cfg(feature = "metrics")]
impl Drop for Permit {
    fn drop(&mut self) {
        self.gauge.decrement(1);
    }
}

/// A place in the wait queue; dropping it (permit obtained, wait expired or
/// caller gone) frees the place.
#[derive(Debug)]
pub(crate) struct WaiterGuard {
    pub(crate) shared: Arc<Shared>,
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        self.shared.waiters.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(all(test, loom))]
#[path = "loom_models.rs"]
mod loom_models;
