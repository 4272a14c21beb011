//! The state one adaptive limit shares between its services and in-flight
//! calls: the limit, the calls in flight, the sample window and the queue.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::algorithm::{Algorithm, Estimator, Sample};
use super::error::LimitReached;
use crate::clock::Clock;

/// Validated settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) algorithm: Algorithm,
    pub(crate) initial_limit: usize,
    pub(crate) min_limit: usize,
    pub(crate) max_limit: usize,
    pub(crate) window_nanos: u64,
    pub(crate) min_samples: u64,
    /// Zero whenever `max_wait` is zero: nobody may wait then.
    pub(crate) max_waiters: usize,
    pub(crate) max_wait: Duration,
}

#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) settings: Settings,
    pub(crate) name: Arc<str>,
    clock: Clock,
    /// The limit in force.
    limit: AtomicUsize,
    in_flight: AtomicUsize,
    /// Calls waiting in the queue right now.
    pub(crate) waiters: AtomicUsize,
    /// Woken when a permit is released or the limit rises.
    notify: Notify,
    window: Mutex<Window>,
    pub(crate) rejected: AtomicU64,
    #[cfg(feature = "metrics")]
    limit_gauge: metrics::Gauge,
}

/// The calls completed in the current sample window.
#[derive(Debug)]
struct Window {
    estimator: Estimator,
    start_nanos: u64,
    count: u64,
    rtt_sum_nanos: u64,
    max_in_flight: usize,
    dropped: bool,
}

impl Limiter {
    pub(crate) fn new(settings: Settings, name: Arc<str>) -> Arc<Self> {
        let clock = Clock::new();
        let estimator = Estimator::new(
            settings.algorithm,
            settings.initial_limit,
            settings.min_limit,
            settings.max_limit,
        );
        #[cfg(feature = "metrics")]
        let limit_gauge = {
            let gauge = metrics::gauge!("palisade_adaptive_limit", "name" => name.to_string());
            #[allow(clippy::cast_precision_loss)] // limits are far below 2^52
            gauge.set(settings.initial_limit as f64);
            gauge
        };
        Arc::new(Self {
            limit: AtomicUsize::new(estimator.limit()),
            window: Mutex::new(Window {
                estimator,
                start_nanos: clock.now_nanos(),
                count: 0,
                rtt_sum_nanos: 0,
                max_in_flight: 0,
                dropped: false,
            }),
            settings,
            name,
            clock,
            in_flight: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            notify: Notify::new(),
            rejected: AtomicU64::new(0),
            #[cfg(feature = "metrics")]
            limit_gauge,
        })
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// A permit if the limit has room and nobody waits for one.
    #[inline]
    pub(crate) fn try_acquire_first(self: &Arc<Self>) -> Option<Permit> {
        if self.waiters.load(Ordering::Relaxed) > 0 {
            return None;
        }
        self.try_acquire()
    }

    /// A permit if the limit has room, waiters or not.
    #[inline]
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        let limit = self.limit.load(Ordering::Relaxed);
        let before = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()?;
        Some(Permit {
            limiter: Arc::clone(self),
            start_nanos: self.clock.now_nanos(),
            in_flight: before + 1,
            released: false,
        })
    }

    /// Takes a place in the wait queue, if there is one left.
    pub(crate) fn enqueue(self: &Arc<Self>) -> Option<WaiterGuard> {
        let max = self.settings.max_waiters;
        self.waiters
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(WaiterGuard {
            limiter: Arc::clone(self),
        })
    }

    /// Waits until a permit is free (the caller bounds the wait).
    pub(crate) async fn acquire(self: Arc<Self>) -> Permit {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a release in between wakes us.
            notified.as_mut().enable();
            if let Some(permit) = self.try_acquire() {
                return permit;
            }
            notified.await;
        }
    }

    /// Records a rejection (counter, tracing, metrics) and returns its error.
    pub(crate) fn reject(&self, waited: Option<Duration>) -> LimitReached {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let limit = self.limit();
        tracing::debug!(
            name = &*self.name,
            limit,
            ?waited,
            "adaptive limit rejected a call"
        );
        #[cfg(feature = "metrics")]
        metrics::counter!(
            "palisade_adaptive_rejected_total",
            "name" => self.name.to_string(),
            "reason" => if waited.is_some() { "wait_expired" } else { "queue_full" },
        )
        .increment(1);
        LimitReached::new(limit, waited)
    }

    fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.waiters.load(Ordering::Acquire) > 0 {
            self.notify.notify_one();
        }
    }

    /// Adds one completed call to the window; closes the window (and moves
    /// the limit) once it is both old and full enough.
    fn record(&self, start_nanos: u64, in_flight: usize, dropped: bool) {
        let now = self.clock.now_nanos();
        let rtt = now.saturating_sub(start_nanos);
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        window.count += 1;
        window.rtt_sum_nanos = window.rtt_sum_nanos.saturating_add(rtt);
        window.max_in_flight = window.max_in_flight.max(in_flight);
        window.dropped |= dropped;
        if now.saturating_sub(window.start_nanos) < self.settings.window_nanos
            || window.count < self.settings.min_samples
        {
            return;
        }
        let sample = Sample {
            rtt_nanos: window.rtt_sum_nanos / window.count,
            max_in_flight: window.max_in_flight,
            dropped: window.dropped,
        };
        let before = window.estimator.limit();
        let after = window.estimator.update(sample);
        window.start_nanos = now;
        window.count = 0;
        window.rtt_sum_nanos = 0;
        window.max_in_flight = 0;
        window.dropped = false;
        drop(window);
        if after != before {
            self.limit.store(after, Ordering::Relaxed);
            tracing::trace!(
                name = &*self.name,
                before,
                after,
                ?sample,
                "adaptive limit moved"
            );
            #[cfg(feature = "metrics")]
            #[allow(clippy::cast_precision_loss)] // limits are far below 2^52
            self.limit_gauge.set(after as f64);
            if after > before && self.waiters.load(Ordering::Acquire) > 0 {
                self.notify.notify_waiters();
            }
        }
    }
}

/// A held place under the limit. [`finish`](Self::finish) records the call
/// in the sample window; dropped unfinished (the caller gave up), it only
/// frees the place, as Netflix's `onIgnore`.
#[derive(Debug)]
pub(crate) struct Permit {
    limiter: Arc<Limiter>,
    start_nanos: u64,
    in_flight: usize,
    released: bool,
}

impl Permit {
    /// Records the call (`dropped`: overloaded) and frees the place.
    pub(crate) fn finish(&mut self, dropped: bool) {
        if !self.released {
            self.released = true;
            self.limiter.release();
            self.limiter
                .record(self.start_nanos, self.in_flight, dropped);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.released {
            self.limiter.release();
        }
    }
}

/// A place in the wait queue; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct WaiterGuard {
    pub(crate) limiter: Arc<Limiter>,
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        self.limiter.waiters.fetch_sub(1, Ordering::AcqRel);
    }
}
