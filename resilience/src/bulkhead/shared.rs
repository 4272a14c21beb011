//! The state one bulkhead (or one partition of a keyed bulkhead) shares
//! between all its services and in-flight calls.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

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
    pub(crate) semaphore: Semaphore,
    /// `limits.max_concurrent` is where the bulkhead started; this is the
    /// limit now (a registry may change it at run time).
    pub(crate) limits: Limits,
    max_concurrent: AtomicUsize,
    /// Permits still to take out of circulation after the limit was lowered
    /// while they were held: returned permits pay this debt before they go
    /// back to the semaphore.
    debt: AtomicUsize,
    /// Calls waiting in the queue right now.
    pub(crate) waiters: AtomicUsize,
    pub(crate) stats: Arc<Stats>,
}

impl Shared {
    pub(crate) fn new(limits: Limits, stats: Arc<Stats>) -> Arc<Self> {
        Arc::new(Self {
            semaphore: Semaphore::new(limits.max_concurrent),
            max_concurrent: AtomicUsize::new(limits.max_concurrent),
            debt: AtomicUsize::new(0),
            limits,
            waiters: AtomicUsize::new(0),
            stats,
        })
    }

    /// A permit of `weight` if that many are free right now. Tokio's
    /// semaphore is fair: while calls are queued, released permits go to
    /// them and this fails.
    #[inline]
    pub(crate) fn try_acquire(self: &Arc<Self>, weight: u32) -> Option<Permit> {
        self.semaphore.try_acquire_many(weight).ok()?.forget();
        Some(Permit::new(self.clone(), weight))
    }

    /// The limit on concurrent calls (the sum of their weights) now.
    #[inline]
    pub(crate) fn max_concurrent(&self) -> usize {
        self.max_concurrent.load(Ordering::Acquire)
    }

    /// Gives `weight` permits back, paying any debt from a lowered limit
    /// first.
    #[inline]
    fn release(&self, weight: u32) {
        let mut give = weight as usize;
        if self.debt.load(Ordering::Acquire) != 0 {
            let paid = take_up_to(&self.debt, give);
            give -= paid;
        }
        if give != 0 {
            self.semaphore.add_permits(give);
        }
    }

    /// Moves the limit to `max_concurrent` (at most [`Semaphore::MAX_PERMITS`],
    /// checked by the caller) without pausing any call: a higher limit adds
    /// permits at once (queued calls get them first); a lower one takes the
    /// free permits out at once and the rest as calls holding them finish.
    /// Callers serialise changes (the registry holds its lock).
    #[cfg(any(feature = "registry", all(test, loom)))]
    pub(crate) fn resize(&self, max_concurrent: usize) {
        let before = self.max_concurrent.swap(max_concurrent, Ordering::AcqRel);
        if max_concurrent > before {
            let grow = max_concurrent - before;
            // Permits not yet taken back are simply kept.
            let cancelled = take_up_to(&self.debt, grow);
            self.semaphore.add_permits(grow - cancelled);
        } else {
            let shrink = before - max_concurrent;
            let forgotten = self.semaphore.forget_permits(shrink);
            self.debt.fetch_add(shrink - forgotten, Ordering::AcqRel);
        }
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
        self.stats.reject(self.max_concurrent(), reason)
    }

    /// Permits in circulation: the limit plus those still owed after it was
    /// lowered.
    fn issued(&self) -> usize {
        self.max_concurrent() + self.debt.load(Ordering::Acquire)
    }

    /// Whether nothing holds or waits for a permit.
    pub(crate) fn is_idle(&self) -> bool {
        self.waiters.load(Ordering::Acquire) == 0
            && self.semaphore.available_permits() == self.issued()
    }

    /// Permits held right now (each call holds its weight).
    pub(crate) fn in_flight(&self) -> usize {
        self.issued()
            .saturating_sub(self.semaphore.available_permits())
    }
}

/// Subtracts up to `wanted` from `counter`; returns how much it took.
fn take_up_to(counter: &AtomicUsize, wanted: usize) -> usize {
    let mut taken = 0;
    let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |owed| {
        taken = owed.min(wanted);
        Some(owed - taken)
    });
    taken
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

/// `weight` held permits, taken out of the semaphore (`forget`) when
/// acquired; dropping the guard gives them back (and updates the gauge).
#[derive(Debug)]
pub(crate) struct Permit {
    shared: Arc<Shared>,
    weight: u32,
}

impl Permit {
    /// Guards `weight` permits already taken from `shared`'s semaphore.
    #[inline]
    pub(crate) fn new(shared: Arc<Shared>, weight: u32) -> Self {
        #[cfg(feature = "metrics")]
        shared.stats.in_flight_gauge.increment(f64::from(weight));
        Self { shared, weight }
    }
}

impl Drop for Permit {
    #[inline]
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        self.shared
            .stats
            .in_flight_gauge
            .decrement(f64::from(self.weight));
        self.shared.release(self.weight);
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
